"""Accounts: the user model and the append-only audit base every lifecycle reuses."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A person who signs in: officer, operator, partner member or resident."""

    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    # A Sudin (suku dinas) officer works for one kota and sees only its data.
    kota = models.ForeignKey(
        "sites.Area",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        limit_choices_to={"level": "city"},
        verbose_name=_("kota (Sudin scope)"),
    )
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )

    def __str__(self) -> str:
        return self.full_name or self.username


class StatusChange(models.Model):
    """Abstract append-only record of one lifecycle transition (actor, time, old, new, reason).

    Concrete tables are protected by a database trigger (portal.audit.AppendOnly) so that no code
    path, not even the admin, can rewrite history. Rows double as an outbox for notifications.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    old_status = models.CharField(max_length=32, blank=True)
    new_status = models.CharField(max_length=32)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        abstract = True
        ordering = ["created_at", "id"]


class StoredPdf(models.Model):
    """Abstract: an uploaded PDF's metadata; subclasses declare `file` with their upload_to.

    Written only through portal.documents.store_pdf, which checks the file first.
    """

    original_name = models.CharField(_("file name"), max_length=120)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-uploaded_at", "id"]

    def __str__(self) -> str:
        return self.original_name


class RateLimitBucket(models.Model):
    """Hits on one rate-limited key (an IP or a contact and an action) in one time window.

    In the database, not process memory, so every web worker counts against the same limit.
    """

    key = models.CharField(max_length=120)
    window_start = models.DateTimeField()
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-window_start", "key"]
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="ratelimit_bucket_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.key} @ {self.window_start:%H:%M}: {self.hits}"
