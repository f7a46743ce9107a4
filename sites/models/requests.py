"""Residents' coverage requests: a pin on the map asking for a camera, its supporters and
followers, and the verified contacts that make a resident's voice count.

Personal data (UU PDP No. 27/2022) lives only in ResidentContact (encrypted) and the request's
name and photo; never a NIK. A resident is known by a verified email or phone, not an account.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.models import StatusChange


class ContactKind(models.TextChoices):
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone (SMS)")


class ResidentContact(models.Model):
    """A resident's email address or phone number, stored encrypted and found by a keyed hash."""

    kind = models.CharField(_("kind"), max_length=8, choices=ContactKind.choices)
    # HMAC of the normalised value: lets us find a returning resident without decrypting.
    value_hash = models.CharField(max_length=64, unique=True)
    value_encrypted = models.TextField()
    name = models.CharField(_("name"), max_length=120, blank=True)
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"contact {self.pk} ({self.kind})"


class VerificationPurpose(models.TextChoices):
    SUBMIT = "submit", _("Confirm a new request")
    SUPPORT = "support", _("Confirm a support")
    FOLLOW = "follow", _("Confirm following a request")
    ACCESS = "access", _("See my data")


class ContactVerification(models.Model):
    """A one-time link (and short code) sent to a contact; using it confirms what is pending."""

    contact = models.ForeignKey(
        ResidentContact, on_delete=models.CASCADE, related_name="verifications"
    )
    purpose = models.CharField(max_length=8, choices=VerificationPurpose.choices)
    # What the verification confirms (the new request, or the request to support or follow).
    request = models.ForeignKey(
        "sites.CoverageRequest",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    token_hash = models.CharField(max_length=64, unique=True)
    code_hash = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.purpose} for contact {self.contact_id}"


class RequestCategory(models.TextChoices):
    THEFT = "theft", _("Theft")
    VIOLENCE = "violence", _("Violence")
    SEXUAL_VIOLENCE = "sexual_violence", _("Sexual violence")
    VANDALISM = "vandalism", _("Vandalism")
    TRAFFIC = "traffic", _("Traffic")
    OTHER = "other", _("Other")


class RequestStatus(models.TextChoices):
    # Waiting for the contact to be confirmed: not public, not counted.
    UNVERIFIED = "unverified", _("Awaiting confirmation")
    SUBMITTED = "submitted", _("Submitted")
    UNDER_REVIEW = "under_review", _("Under review")
    PLANNED = "planned", _("Planned")
    INSTALLED = "installed", _("Installed")
    CONFIRMED = "confirmed", _("Confirmed working")
    REOPENED = "reopened", _("Reopened")
    DECLINED = "declined", _("Declined")
    MERGED = "merged", _("Merged into another request")


REQUEST_TRANSITIONS = {
    RequestStatus.UNVERIFIED: {RequestStatus.SUBMITTED},
    RequestStatus.SUBMITTED: {
        RequestStatus.UNDER_REVIEW,
        RequestStatus.DECLINED,
        RequestStatus.MERGED,
    },
    RequestStatus.UNDER_REVIEW: {
        RequestStatus.PLANNED,
        RequestStatus.DECLINED,
        RequestStatus.MERGED,
    },
    RequestStatus.PLANNED: {
        RequestStatus.INSTALLED,
        RequestStatus.UNDER_REVIEW,
        RequestStatus.DECLINED,
    },
    # Installed when the linked site becomes active; the requester then confirms or reopens.
    RequestStatus.INSTALLED: {RequestStatus.CONFIRMED, RequestStatus.REOPENED},
    RequestStatus.CONFIRMED: {RequestStatus.REOPENED},
    RequestStatus.REOPENED: {
        RequestStatus.UNDER_REVIEW,
        RequestStatus.PLANNED,
        RequestStatus.DECLINED,
    },
    RequestStatus.DECLINED: set(),
    RequestStatus.MERGED: set(),
}

# Requests residents may still support and that show as open on the map and in duplicates.
OPEN_REQUEST_STATUSES = {
    RequestStatus.SUBMITTED,
    RequestStatus.UNDER_REVIEW,
    RequestStatus.PLANNED,
    RequestStatus.REOPENED,
}
# Closed: the clock for purging personal data runs from `closed_at`.
CLOSED_REQUEST_STATUSES = {
    RequestStatus.CONFIRMED,
    RequestStatus.DECLINED,
    RequestStatus.MERGED,
}


def _request_photo_path(instance, filename: str) -> str:
    return f"request-photos/{uuid.uuid4().hex}.{instance.photo_extension or 'jpg'}"


class CoverageRequest(models.Model):
    """A resident's request for camera coverage at a spot, tracked publicly by its reference."""

    # Officers see all (Sudin: their kota); no partner owns a request.
    scope_partner_path = None
    scope_kota_path = "kelurahan__parent__parent"

    reference = models.CharField(_("reference"), max_length=20, unique=True)
    lat = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6)
    lon = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6)
    kelurahan = models.ForeignKey(
        "sites.Area",
        on_delete=models.PROTECT,
        related_name="coverage_requests",
        verbose_name=_("kelurahan"),
    )
    category = models.CharField(_("category"), max_length=16, choices=RequestCategory.choices)
    description = models.TextField(_("description"), max_length=2000)
    # Personal data, purged after closure: the requester's contact, name and photo.
    contact = models.ForeignKey(
        ResidentContact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="requests",
    )
    requester_name = models.CharField(_("name"), max_length=120, blank=True)
    photo = models.FileField(upload_to=_request_photo_path, max_length=200, blank=True)
    photo_extension = models.CharField(max_length=4, blank=True)
    consent_at = models.DateTimeField(_("privacy notice accepted"))
    privacy_notice_version = models.CharField(max_length=20)
    personal_data_purged_at = models.DateTimeField(null=True, blank=True)

    status = models.CharField(
        _("status"),
        max_length=16,
        choices=RequestStatus.choices,
        default=RequestStatus.UNVERIFIED,
        db_index=True,
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_requests",
        verbose_name=_("merged into"),
    )
    site = models.ForeignKey(
        "sites.Site",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="coverage_requests",
        verbose_name=_("planned site"),
    )
    decline_reason = models.TextField(_("reason for declining"), blank=True)
    # Counted once per verified contact; kept on the row so lists and the queue sort cheaply.
    supports_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    # The officers' priority and its parts (sites.request_selectors.priority_of), stored so the
    # queue reads its first page from an index: scored per page view, two correlated subqueries
    # a row, it took seconds over a city's open requests. Written only by
    # sites.request_services.requests_priority_refresh: when an input changes (supports, a
    # request verified or merged nearby, a site with cameras going active or not, a rawan level)
    # and periodically for everything, since the 90-day window moves on its own.
    priority_rawan = models.PositiveSmallIntegerField(default=0)
    # Metres to the nearest active site with a camera; empty when none is within 1 km.
    priority_distance_m = models.FloatField(null=True, blank=True)
    priority_recent = models.PositiveIntegerField(default=0)
    priority_score = models.FloatField(default=0)
    # The queue's order in one column: the score, plus 100 from REQUEST_SUPPORT_THRESHOLD
    # supports on (below it a score stays under 100), so "over the threshold first, then by
    # score" is a single descending key.
    priority_rank = models.FloatField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The public list and the officers' lists are newest first.
            models.Index(fields=["-created_at", "-id"], name="request_newest"),
            models.Index(fields=["status", "kelurahan"], name="request_status_kelurahan"),
            models.Index(fields=["lat", "lon"], name="request_lat_lon"),
            # The officers' queue of open requests, most urgent first (officer_queue's order).
            models.Index(
                fields=["-priority_rank", "created_at", "id"],
                condition=models.Q(status__in=sorted(OPEN_REQUEST_STATUSES)),
                name="request_queue_open",
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class RequestStatusChange(StatusChange):
    """One lifecycle step of a coverage request (append-only); actor is empty for a resident."""

    request = models.ForeignKey(
        CoverageRequest, on_delete=models.PROTECT, related_name="status_changes"
    )

    class Meta(StatusChange.Meta):
        pass


class RequestSupport(models.Model):
    """A verified resident's support of a request (one per contact and request)."""

    request = models.ForeignKey(CoverageRequest, on_delete=models.CASCADE, related_name="supports")
    contact = models.ForeignKey(ResidentContact, on_delete=models.CASCADE, related_name="supports")
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "contact"], name="support_once"),
        ]

    def __str__(self) -> str:
        return f"support of {self.request_id} by {self.contact_id}"


class RequestFollow(models.Model):
    """A contact that gets an email on every status change of a request."""

    request = models.ForeignKey(CoverageRequest, on_delete=models.CASCADE, related_name="follows")
    contact = models.ForeignKey(ResidentContact, on_delete=models.CASCADE, related_name="follows")
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "contact"], name="follow_once"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} follows {self.request_id}"


class RequestNote(models.Model):
    """An officer's private note on a request; never shown to residents or the public."""

    request = models.ForeignKey(CoverageRequest, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(_("note"), max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"note on {self.request_id}"


class DeclineTemplate(models.Model):
    """A reusable reason for declining a request, in both languages."""

    code = models.SlugField(_("code"), unique=True)
    title = models.CharField(_("title"), max_length=120)
    body_id = models.TextField(_("text (Bahasa Indonesia)"))
    body_en = models.TextField(_("text (English)"))

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title
