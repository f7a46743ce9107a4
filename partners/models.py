"""Partner organisations, their members, verification history, documents and camera networks."""

import ipaddress
import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from partners.validators import validate_nib, validate_npwp
from portal.models import StatusChange, StoredPdf


class PartnerKind(models.TextChoices):
    BUSINESS = "business", _("Business")
    POLE_OWNER = "pole_owner", _("Utility-pole owner")
    DEVELOPER = "developer", _("Property developer")
    COMMUNITY = "community", _("Community group")


# Kinds that are legal entities and must carry NIB and NPWP.
LEGAL_ENTITY_KINDS = {PartnerKind.BUSINESS, PartnerKind.POLE_OWNER, PartnerKind.DEVELOPER}


class CommunityType(models.TextChoices):
    RT_RW = "rt_rw", _("RT/RW")
    LMK = "lmk", _("LMK (Lembaga Musyawarah Kelurahan)")
    KARANG_TARUNA = "karang_taruna", _("Karang Taruna")
    FKDM = "fkdm", _("FKDM (Forum Kewaspadaan Dini Masyarakat)")


class PartnerStatus(models.TextChoices):
    REGISTERED = "registered", _("Registered")
    VERIFIED = "verified", _("Verified")
    REJECTED = "rejected", _("Rejected")
    SUSPENDED = "suspended", _("Suspended")


# Allowed verification transitions: current status -> statuses it may move to.
PARTNER_TRANSITIONS = {
    PartnerStatus.REGISTERED: {PartnerStatus.VERIFIED, PartnerStatus.REJECTED},
    PartnerStatus.VERIFIED: {PartnerStatus.SUSPENDED},
    PartnerStatus.SUSPENDED: {PartnerStatus.VERIFIED},
    PartnerStatus.REJECTED: set(),
}


class Partner(models.Model):
    """An organisation that hosts, funds or maintains cameras."""

    scope_partner_path = ""
    scope_kota_path = "kelurahan__parent__parent"

    kind = models.CharField(_("kind"), max_length=16, choices=PartnerKind.choices)
    name = models.CharField(_("name"), max_length=200)
    legal_name = models.CharField(_("legal name"), max_length=200, blank=True)
    nib = models.CharField(_("NIB"), max_length=13, blank=True, validators=[validate_nib])
    npwp = models.CharField(_("NPWP"), max_length=16, blank=True, validators=[validate_npwp])
    community_type = models.CharField(
        _("community type"), max_length=16, choices=CommunityType.choices, blank=True
    )
    rt_number = models.CharField(_("RT"), max_length=3, blank=True)
    rw_number = models.CharField(_("RW"), max_length=3, blank=True)
    sk_number = models.CharField(_("decree (SK) number"), max_length=100, blank=True)
    # The kelurahan of the registered address (for community groups: the one they serve).
    kelurahan = models.ForeignKey(
        "sites.Area",
        on_delete=models.PROTECT,
        related_name="partners",
        limit_choices_to={"level": "village"},
        verbose_name=_("kelurahan"),
    )
    address = models.TextField(_("address"))
    contact_name = models.CharField(_("contact person"), max_length=150)
    contact_email = models.EmailField(_("contact email"))
    contact_phone = models.CharField(_("contact phone"), max_length=20)
    website = models.URLField(_("website"), blank=True)

    status = models.CharField(
        _("status"),
        max_length=16,
        choices=PartnerStatus.choices,
        default=PartnerStatus.REGISTERED,
        db_index=True,
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        permissions = [
            ("manage_partner_members", "Can invite and remove the partner's members"),
            ("manage_partner_documents", "Can upload the partner's documents"),
            ("manage_partner_networks", "Can propose the partner's camera networks"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["nib"], condition=~models.Q(nib=""), name="partner_nib_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PartnerStatusChange(StatusChange):
    """One verification decision on a partner (append-only)."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="status_changes")

    class Meta(StatusChange.Meta):
        pass


class MemberRole(models.TextChoices):
    OWNER = "owner", _("Owner")
    STAFF = "staff", _("Staff")
    TECHNICIAN = "technician", _("Technician")


class Membership(models.Model):
    """A user's role in a partner organisation."""

    scope_partner_path = "partner"
    scope_kota_path = "partner__kelurahan__parent__parent"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=MemberRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["partner_id", "role", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "partner"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.partner} ({self.role})"


class Invitation(models.Model):
    """An emailed invitation to join a partner; the token is the only secret in the link."""

    scope_partner_path = "partner"
    scope_kota_path = "partner__kelurahan__parent__parent"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("email"))
    role = models.CharField(_("role"), max_length=16, choices=MemberRole.choices)
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            # At most one pending invitation per address per partner.
            models.UniqueConstraint(
                fields=["partner", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_pending_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.partner}"


class DocumentKind(models.TextChoices):
    DEED = "deed", _("Deed of establishment (akta)")
    NIB = "nib", _("NIB certificate")
    NPWP = "npwp", _("NPWP card")
    DECREE = "decree", _("Decree (SK)")
    OTHER = "other", _("Other")


def _document_path(instance, filename: str) -> str:
    # A random name: the uploader's name never reaches the file system.
    return f"partner-documents/{uuid.uuid4().hex}.pdf"


class PartnerDocument(StoredPdf):
    """A supporting PDF for verification, stored outside the web root with its SHA-256."""

    scope_partner_path = "partner"
    scope_kota_path = "partner__kelurahan__parent__parent"

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(_("kind"), max_length=16, choices=DocumentKind.choices)
    file = models.FileField(upload_to=_document_path, max_length=200)

    class Meta(StoredPdf.Meta):
        pass


class NetworkStatus(models.TextChoices):
    PENDING = "pending", _("Pending approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    REVOKED = "revoked", _("Revoked")


NETWORK_TRANSITIONS = {
    NetworkStatus.PENDING: {NetworkStatus.APPROVED, NetworkStatus.REJECTED},
    NetworkStatus.APPROVED: {NetworkStatus.REVOKED},
    NetworkStatus.REJECTED: set(),
    NetworkStatus.REVOKED: set(),
}


class CameraNetwork(models.Model):
    """An address range (CIDR + ports) for a partner's cameras: the health checker's allowlist."""

    scope_partner_path = "partner"
    scope_kota_path = "partner__kelurahan__parent__parent"

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="networks")
    cidr = models.CharField(_("network (CIDR)"), max_length=43)
    ports = ArrayField(models.PositiveIntegerField(), verbose_name=_("ports"))
    description = models.CharField(_("description"), max_length=200, blank=True)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=NetworkStatus.choices,
        default=NetworkStatus.PENDING,
        db_index=True,
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["partner_id", "cidr", "id"]

    def __str__(self) -> str:
        return f"{self.cidr} ports {','.join(map(str, self.ports))}"

    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.cidr)


class CameraNetworkStatusChange(StatusChange):
    """One decision on a camera network (append-only)."""

    network = models.ForeignKey(
        CameraNetwork, on_delete=models.PROTECT, related_name="status_changes"
    )

    class Meta(StatusChange.Meta):
        pass
