"""Partnership agreements (Perjanjian Kerja Sama, PKS): parties, co-funding, covered sites,
signed documents and the maintenance obligations the city holds partners to.

An amendment (addendum) is a new Contract row with the same number and the next version; when
it becomes active the version it amends is superseded, and every version stays readable.
"""

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.models import StatusChange, StoredPdf

FIRST_PARTY_DEFAULT = (
    "Pemerintah Provinsi DKI Jakarta c.q. Dinas Komunikasi, Informatika dan Statistik"
)


class ContractStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    LEGAL_REVIEW = "legal_review", _("Legal review")
    SIGNED = "signed", _("Signed")
    ACTIVE = "active", _("Active")
    EXPIRED = "expired", _("Expired")
    TERMINATED = "terminated", _("Terminated")
    # An active version replaced by its addendum: still readable, no longer in force.
    SUPERSEDED = "superseded", _("Superseded by an addendum")


CONTRACT_TRANSITIONS = {
    ContractStatus.DRAFT: {ContractStatus.LEGAL_REVIEW},
    # Legal review either passes the text for signature or returns it to draft with comments.
    ContractStatus.LEGAL_REVIEW: {ContractStatus.SIGNED, ContractStatus.DRAFT},
    ContractStatus.SIGNED: {ContractStatus.ACTIVE, ContractStatus.TERMINATED},
    ContractStatus.ACTIVE: {
        ContractStatus.EXPIRED,
        ContractStatus.TERMINATED,
        ContractStatus.SUPERSEDED,
    },
    ContractStatus.EXPIRED: set(),
    ContractStatus.TERMINATED: set(),
    ContractStatus.SUPERSEDED: set(),
}

# Versions that may still be edited (parties, shares, sites, obligations, documents).
EDITABLE_CONTRACT_STATUSES = {ContractStatus.DRAFT}
# Versions that bind the parties today or will once their term starts.
IN_FORCE_CONTRACT_STATUSES = {ContractStatus.SIGNED, ContractStatus.ACTIVE}


class RenewalTerms(models.TextChoices):
    NONE = "none", _("Ends at the term end")
    BY_ADDENDUM = "by_addendum", _("Renewable by addendum")
    AUTOMATIC = "automatic", _("Renews automatically unless a party objects")


class Contract(models.Model):
    """One version of a PKS between the city (Pihak Pertama) and one or more partners."""

    # Parties see their contracts: the scope path crosses a to-many relation (see ContractParty).
    scope_partner_path = "parties__partner"
    scope_through_many = True
    scope_kota_path = "kota"

    number = models.CharField(_("contract number"), max_length=60)
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    amends = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="amendments",
        verbose_name=_("amends"),
    )
    title = models.CharField(_("title"), max_length=200)
    application = models.ForeignKey(
        "contracts.HostingApplication",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contracts",
        verbose_name=_("from application"),
    )
    # The Sudin that follows the contract; the kota of its first site.
    kota = models.ForeignKey(
        "sites.Area",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        limit_choices_to={"level": "city"},
        verbose_name=_("kota"),
    )
    first_party = models.CharField(
        _("first party (Pihak Pertama)"), max_length=200, default=FIRST_PARTY_DEFAULT
    )
    first_party_signatory = models.CharField(_("signatory for the city"), max_length=150)
    first_party_signatory_title = models.CharField(
        _("signatory's position"), max_length=150, default="Kepala Dinas"
    )
    total_value = models.BigIntegerField(
        _("total value (Rp)"), default=0, validators=[MinValueValidator(0)]
    )
    term_start = models.DateField(_("term start"))
    term_end = models.DateField(_("term end"))
    renewal = models.CharField(
        _("renewal"), max_length=12, choices=RenewalTerms.choices, default=RenewalTerms.NONE
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ContractStatus.choices,
        default=ContractStatus.DRAFT,
        db_index=True,
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)
    termination_reason = models.TextField(_("termination reason"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["number", "version"], name="contract_number_version"),
            models.CheckConstraint(
                condition=models.Q(term_end__gte=models.F("term_start")),
                name="contract_term_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(total_value__gte=0), name="contract_total_nonneg"
            ),
            # Of one contract's versions, at most one is active, and at most one more is signed
            # and waiting to take over (an addendum supersedes the active one when it starts).
            models.UniqueConstraint(
                fields=["number"],
                condition=models.Q(status="active"),
                name="contract_one_version_active",
            ),
            models.UniqueConstraint(
                fields=["number"],
                condition=models.Q(status="signed"),
                name="contract_one_version_signed",
            ),
        ]

    def __str__(self) -> str:
        if self.version > 1:
            return f"{self.number} (addendum {self.version - 1})"
        return self.number


class ContractStatusChange(StatusChange):
    """One lifecycle step of a contract version (append-only)."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="status_changes")

    class Meta(StatusChange.Meta):
        pass


class PartyRole(models.TextChoices):
    HOST = "host", _("Host")
    FUNDER = "funder", _("Funder")
    MAINTAINER = "maintainer", _("Maintainer")
    POLE_OWNER = "pole_owner", _("Pole owner")


class ContractParty(models.Model):
    """A partner that is a party to a contract version, with its roles under it."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="parties")
    partner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="contract_parties",
        verbose_name=_("partner"),
    )
    roles = ArrayField(
        models.CharField(max_length=12, choices=PartyRole.choices),
        verbose_name=_("roles"),
    )
    signatory = models.CharField(_("signatory"), max_length=150, blank=True)
    signatory_title = models.CharField(_("signatory's position"), max_length=150, blank=True)

    class Meta:
        ordering = ["contract_id", "id"]
        verbose_name_plural = "contract parties"
        constraints = [
            models.UniqueConstraint(fields=["contract", "partner"], name="contract_party_unique"),
            models.CheckConstraint(condition=~models.Q(roles=[]), name="contract_party_has_a_role"),
        ]

    def __str__(self) -> str:
        return f"{self.partner} ({', '.join(self.roles)})"


class ShareKind(models.TextChoices):
    APBD = "apbd", _("APBD (provincial budget)")
    CASH = "cash", _("Cash")
    IN_KIND = "in_kind", _("In-kind")
    CSR = "csr", _("CSR")


class FundingShare(models.Model):
    """One contribution to a contract's total value (Rupiah, whole); the city's has no partner.

    The shares of a version must add up to its total before it can go to legal review.
    """

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="shares")
    partner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("contributor (empty: the city)"),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=ShareKind.choices)
    amount = models.BigIntegerField(_("amount (Rp)"), validators=[MinValueValidator(1)])
    description = models.CharField(_("description"), max_length=200, blank=True)

    class Meta:
        ordering = ["contract_id", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="share_amount_positive"),
            # APBD money is the city's; partner money is never APBD.
            models.CheckConstraint(
                condition=models.Q(kind="apbd", partner__isnull=True)
                | (~models.Q(kind="apbd") & models.Q(partner__isnull=False)),
                name="share_apbd_iff_city",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: Rp {self.amount}"


class ContractSite(models.Model):
    """A site a contract version covers; every camera on the site is covered with it.

    `in_force` is true only while the version is active, and a partial unique index makes a
    site (so each of its cameras) covered by at most one active contract at a time.
    """

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="covered_sites")
    site = models.ForeignKey(
        "sites.Site", on_delete=models.PROTECT, related_name="contract_entries"
    )
    in_force = models.BooleanField(default=False)

    class Meta:
        ordering = ["contract_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "site"], name="contract_site_unique"),
            models.UniqueConstraint(
                fields=["site"],
                condition=models.Q(in_force=True),
                name="site_one_contract_in_force",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site} under {self.contract}"


class DocumentKind(models.TextChoices):
    SIGNED = "signed", _("Signed agreement")
    ANNEX = "annex", _("Annex (lampiran)")
    DRAFT = "draft", _("Draft text")


def _contract_document_path(instance, filename: str) -> str:
    # A random name: the uploader's name never reaches the file system.
    return f"contract-documents/{uuid.uuid4().hex}.pdf"


class ContractDocument(StoredPdf):
    """A PDF of a contract version. Append-only: a document, once stored, never changes; the
    signed one is uploaded with the signing step and nothing is added after it."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(_("kind"), max_length=8, choices=DocumentKind.choices)
    file = models.FileField(upload_to=_contract_document_path, max_length=200)

    class Meta(StoredPdf.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["contract"],
                condition=models.Q(kind="signed"),
                name="contract_one_signed_document",
            ),
        ]


class ObligationKind(models.TextChoices):
    UPTIME = "uptime", _("Monthly uptime target (%)")
    ACKNOWLEDGE = "acknowledge", _("Acknowledge a ticket within (hours)")
    REPAIR = "repair", _("Repair within (hours)")
    INSPECTION = "inspection", _("Inspect every (days)")
    SIGNAGE = "signage", _("CCTV signage present (UU PDP Art. 17)")
    RETENTION = "retention", _("Keep footage for (days)")
    FEED = "feed", _("Deliver the feed to the city")


# What `value` means for each kind; kinds not listed carry no value.
OBLIGATION_VALUE_BOUNDS = {
    ObligationKind.UPTIME: (50, 100),
    ObligationKind.ACKNOWLEDGE: (1, 24 * 14),
    ObligationKind.REPAIR: (1, 24 * 60),
    ObligationKind.INSPECTION: (1, 366),
    ObligationKind.RETENTION: (1, 3650),
}


class Obligation(models.Model):
    """A duty under a contract version: what, how much, who answers for it, where it applies.

    With no sites listed it applies to every site the contract covers.
    """

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="obligations")
    kind = models.CharField(_("kind"), max_length=12, choices=ObligationKind.choices)
    value = models.DecimalField(
        _("value"),
        max_digits=6,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(9999)],
    )
    responsible = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("responsible party"),
    )
    sites = models.ManyToManyField(
        "sites.Site", blank=True, related_name="+", verbose_name=_("applies to sites")
    )
    notes = models.CharField(_("notes"), max_length=300, blank=True)

    class Meta:
        ordering = ["contract_id", "kind", "id"]

    def __str__(self) -> str:
        if self.value is None:
            return self.get_kind_display()
        return f"{self.get_kind_display()}: {self.value.normalize():f}"


class ContractReminder(models.Model):
    """An expiry reminder that went out (90, 30 or 7 days before the term end); one of each."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="reminders")
    days_before = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["contract_id", "-days_before"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "days_before"], name="contract_reminder_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract}: {self.days_before} days"
