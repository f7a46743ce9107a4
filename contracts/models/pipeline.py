"""The deal pipeline: Kominfotik programmes and hosting applications with their approval steps.

Partnership contracts (PKS) live in agreements.py, maintenance tickets in tickets.py.
"""

import uuid

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.models import StatusChange, StoredPdf


class FundingSource(models.TextChoices):
    APBD = "apbd", _("APBD (provincial budget)")
    CSR = "csr", _("CSR")
    PARTNER_CASH = "partner_cash", _("Partner cash")
    IN_KIND = "in_kind", _("In-kind")


# --- Programmes ---------------------------------------------------------------------------------


class ProgrammeStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")
    ACTIVE = "active", _("Active")
    CLOSED = "closed", _("Closed")


PROGRAMME_TRANSITIONS = {
    ProgrammeStatus.DRAFT: {ProgrammeStatus.SUBMITTED},
    ProgrammeStatus.SUBMITTED: {ProgrammeStatus.APPROVED, ProgrammeStatus.DRAFT},
    ProgrammeStatus.APPROVED: {ProgrammeStatus.ACTIVE},
    ProgrammeStatus.ACTIVE: {ProgrammeStatus.CLOSED},
    ProgrammeStatus.CLOSED: set(),
}


class Programme(models.Model):
    """Kominfotik's proposal to put cameras in target (typically rawan) kelurahan."""

    # Programmes are city business, visible to every signed-in user; no partner owns one.
    scope_partner_path = None
    scope_kota_path = None

    title = models.CharField(_("title"), max_length=200)
    rationale = models.TextField(_("rationale"))
    target_kelurahan = models.ManyToManyField(
        "sites.Area",
        related_name="programmes",
        verbose_name=_("target kelurahan"),
        limit_choices_to={"level": "village"},
    )
    camera_target = models.PositiveIntegerField(
        _("camera target"), validators=[MinValueValidator(1)]
    )
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ProgrammeStatus.choices,
        default=ProgrammeStatus.DRAFT,
        db_index=True,
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_start", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gte=models.F("period_start")),
                name="programme_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class ProgrammeBudget(models.Model):
    """One funding source's amount in a programme's budget (Rupiah, whole)."""

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="budget")
    source = models.CharField(_("funding source"), max_length=16, choices=FundingSource.choices)
    amount = models.BigIntegerField(_("amount (Rp)"), validators=[MinValueValidator(0)])

    class Meta:
        ordering = ["programme_id", "source"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "source"], name="budget_source_unique"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="budget_amount_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.source}: Rp {self.amount}"


class ProgrammeStatusChange(StatusChange):
    """One lifecycle step of a programme (append-only)."""

    programme = models.ForeignKey(
        Programme, on_delete=models.PROTECT, related_name="status_changes"
    )

    class Meta(StatusChange.Meta):
        pass


# --- Hosting applications -----------------------------------------------------------------------


class ApplicationStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    TECHNICAL_REVIEW = "technical_review", _("Technical review")
    LEGAL_REVIEW = "legal_review", _("Legal review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# Review steps can return an application to draft with comments; draft/submitted can be withdrawn.
APPLICATION_TRANSITIONS = {
    ApplicationStatus.DRAFT: {ApplicationStatus.SUBMITTED, ApplicationStatus.WITHDRAWN},
    ApplicationStatus.SUBMITTED: {
        ApplicationStatus.TECHNICAL_REVIEW,
        ApplicationStatus.DRAFT,
        ApplicationStatus.REJECTED,
        ApplicationStatus.WITHDRAWN,
    },
    ApplicationStatus.TECHNICAL_REVIEW: {
        ApplicationStatus.LEGAL_REVIEW,
        ApplicationStatus.DRAFT,
        ApplicationStatus.REJECTED,
    },
    ApplicationStatus.LEGAL_REVIEW: {
        ApplicationStatus.APPROVED,
        ApplicationStatus.DRAFT,
        ApplicationStatus.REJECTED,
    },
    ApplicationStatus.APPROVED: set(),
    ApplicationStatus.REJECTED: set(),
    ApplicationStatus.WITHDRAWN: set(),
}

OPEN_APPLICATION_STATUSES = {
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.TECHNICAL_REVIEW,
    ApplicationStatus.LEGAL_REVIEW,
}


class HostingApplication(models.Model):
    """A partner's (or a corridor of partners') offer to host or co-fund cameras."""

    scope_partner_path = "applicant"
    scope_kota_path = "kota"

    applicant = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name=_("applicant"),
    )
    programme = models.ForeignKey(
        Programme,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="applications",
        verbose_name=_("programme"),
    )
    title = models.CharField(_("title"), max_length=200)
    # The kota of the first candidate site: the Sudin that reviews it and the queue's filter.
    kota = models.ForeignKey(
        "sites.Area",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("kota"),
    )
    cofunding_cash = models.BigIntegerField(
        _("cash offered (Rp)"), default=0, validators=[MinValueValidator(0)]
    )
    cofunding_in_kind = models.BigIntegerField(
        _("in-kind value offered (Rp)"), default=0, validators=[MinValueValidator(0)]
    )
    cofunding_csr = models.BigIntegerField(
        _("CSR funds offered (Rp)"), default=0, validators=[MinValueValidator(0)]
    )
    maintenance_commitment = models.TextField(_("maintenance commitment"))
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=ApplicationStatus.choices,
        default=ApplicationStatus.DRAFT,
        db_index=True,
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    submitted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Four-eyes: whoever finished the technical review may not approve.
    technical_reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    cofunding_cash__gte=0, cofunding_in_kind__gte=0, cofunding_csr__gte=0
                ),
                name="application_cofunding_nonneg",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class ApplicationParty(models.Model):
    """A co-applicant in a corridor application, with its share of the cost (Rp)."""

    application = models.ForeignKey(
        HostingApplication, on_delete=models.CASCADE, related_name="parties"
    )
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="corridor_applications"
    )
    cost_share = models.BigIntegerField(
        _("cost share (Rp)"), default=0, validators=[MinValueValidator(0)]
    )

    class Meta:
        ordering = ["application_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["application", "partner"], name="party_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.partner} in {self.application}"


class PoleConsent(models.TextChoices):
    NOT_NEEDED = "not_needed", _("Not needed")
    PENDING = "pending", _("Awaiting the pole owner")
    ACCEPTED = "accepted", _("Accepted by the pole owner")
    DECLINED = "declined", _("Declined by the pole owner")


class ApplicationSite(models.Model):
    """A candidate site of an application (a `proposed` Site) and how many cameras it takes."""

    application = models.ForeignKey(
        HostingApplication, on_delete=models.CASCADE, related_name="candidate_sites"
    )
    site = models.OneToOneField(
        "sites.Site", on_delete=models.PROTECT, related_name="application_entry"
    )
    cameras_planned = models.PositiveSmallIntegerField(
        _("cameras planned"), validators=[MinValueValidator(1)]
    )
    # A site on another partner's pole needs that owner's consent before review can finish.
    pole_consent = models.CharField(
        _("pole owner's consent"),
        max_length=16,
        choices=PoleConsent.choices,
        default=PoleConsent.NOT_NEEDED,
    )
    pole_consent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    pole_consent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["application_id", "id"]

    def __str__(self) -> str:
        return f"{self.site} ×{self.cameras_planned}"


class ApplicationDecision(StatusChange):
    """One recorded step of an application's review (append-only): actor, step, decision, comment.

    `old_status`/`new_status` give the step and where it led; `decision` names what was decided.
    """

    application = models.ForeignKey(
        HostingApplication, on_delete=models.PROTECT, related_name="decisions"
    )
    decision = models.CharField(_("decision"), max_length=20)

    class Meta(StatusChange.Meta):
        pass


def _attachment_path(instance, filename: str) -> str:
    # A random name: the uploader's name never reaches the file system.
    return f"application-attachments/{uuid.uuid4().hex}.pdf"


class ApplicationAttachment(StoredPdf):
    """A PDF attached to an application (drawings, letters), stored outside the web root."""

    application = models.ForeignKey(
        HostingApplication, on_delete=models.PROTECT, related_name="attachments"
    )
    file = models.FileField(upload_to=_attachment_path, max_length=200)

    class Meta(StoredPdf.Meta):
        pass


class ResponseTemplate(models.Model):
    """A reusable reason for returning or rejecting an application, in both languages."""

    code = models.SlugField(_("code"), unique=True)
    title = models.CharField(_("title"), max_length=120)
    body_id = models.TextField(_("text (Bahasa Indonesia)"))
    body_en = models.TextField(_("text (English)"))

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title
