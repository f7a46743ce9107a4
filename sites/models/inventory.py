"""The camera inventory: utility poles, sites (where a camera hangs) and cameras."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.models import StatusChange


class UtilityPole(models.Model):
    """A pole of a pole-owner partner that can carry camera attachments."""

    scope_partner_path = "owner"
    scope_kota_path = "kelurahan__parent__parent"

    owner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="poles",
        verbose_name=_("owner"),
    )
    code = models.CharField(_("owner's pole code"), max_length=50)
    lat = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6)
    lon = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6)
    kelurahan = models.ForeignKey(
        "sites.Area", on_delete=models.PROTECT, related_name="poles", verbose_name=_("kelurahan")
    )
    power_available = models.BooleanField(_("power available"), default=False)
    fibre_available = models.BooleanField(_("fibre available"), default=False)
    slots_total = models.PositiveSmallIntegerField(
        _("attachment slots"), validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    # Only the slot services change this, with a conditional UPDATE, so it never overshoots.
    slots_used = models.PositiveSmallIntegerField(_("slots in use"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["owner_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "code"], name="pole_code_unique_per_owner"),
            models.CheckConstraint(
                condition=models.Q(slots_used__lte=models.F("slots_total")),
                name="pole_slots_used_within_total",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def slots_free(self) -> int:
        return self.slots_total - self.slots_used


class HostKind(models.TextChoices):
    BUILDING = "building", _("Building")
    POLE = "pole", _("Utility pole")
    COMMUNITY_POST = "community_post", _("Community post (pos RW/siskamling)")
    PUBLIC_SPACE = "public_space", _("Public space")


class SiteStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    SURVEYED = "surveyed", _("Surveyed")
    APPROVED = "approved", _("Approved")
    INSTALLING = "installing", _("Installing")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    DECOMMISSIONED = "decommissioned", _("Decommissioned")
    REJECTED = "rejected", _("Rejected")


SITE_TRANSITIONS = {
    SiteStatus.PROPOSED: {SiteStatus.SURVEYED, SiteStatus.APPROVED, SiteStatus.REJECTED},
    SiteStatus.SURVEYED: {SiteStatus.APPROVED, SiteStatus.REJECTED},
    SiteStatus.APPROVED: {SiteStatus.INSTALLING, SiteStatus.DECOMMISSIONED},
    SiteStatus.INSTALLING: {SiteStatus.ACTIVE, SiteStatus.DECOMMISSIONED},
    SiteStatus.ACTIVE: {SiteStatus.SUSPENDED, SiteStatus.DECOMMISSIONED},
    SiteStatus.SUSPENDED: {SiteStatus.ACTIVE, SiteStatus.DECOMMISSIONED},
    SiteStatus.DECOMMISSIONED: set(),
    SiteStatus.REJECTED: set(),
}

# A site on a pole holds one of the pole's slots while in one of these statuses.
POLE_SLOT_HOLDING_STATUSES = {
    SiteStatus.APPROVED,
    SiteStatus.INSTALLING,
    SiteStatus.ACTIVE,
    SiteStatus.SUSPENDED,
}


class Site(models.Model):
    """A place where cameras are (or are proposed to be) mounted."""

    scope_partner_path = "host_partner"
    scope_kota_path = "kelurahan__parent__parent"

    lat = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6)
    lon = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6)
    kelurahan = models.ForeignKey(
        "sites.Area", on_delete=models.PROTECT, related_name="sites", verbose_name=_("kelurahan")
    )
    address = models.CharField(_("address"), max_length=300)
    host_partner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="hosted_sites",
        verbose_name=_("host partner"),
    )
    host_kind = models.CharField(_("host kind"), max_length=16, choices=HostKind.choices)
    pole = models.ForeignKey(
        UtilityPole,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sites",
        verbose_name=_("pole"),
    )
    viewing_direction = models.PositiveSmallIntegerField(
        _("viewing direction (degrees from north)"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(359)],
    )
    notes = models.TextField(_("notes"), blank=True)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=SiteStatus.choices,
        default=SiteStatus.PROPOSED,
        db_index=True,
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # True while this site holds one of its pole's slots (see POLE_SLOT_HOLDING_STATUSES).
    holds_pole_slot = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            # Nearest active site to a point (request priority, planning): a bounding box on
            # the active sites only.
            models.Index(fields=["status", "lat", "lon"], name="site_status_lat_lon"),
            # Site lists are newest first.
            models.Index(fields=["-created_at", "id"], name="site_newest"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(host_kind="pole", pole__isnull=False)
                | (~models.Q(host_kind="pole") & models.Q(pole__isnull=True)),
                name="site_pole_iff_host_kind_pole",
            ),
        ]

    def __str__(self) -> str:
        return self.address


class SiteStatusChange(StatusChange):
    """One lifecycle step of a site (append-only)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="status_changes")

    class Meta(StatusChange.Meta):
        pass


class Camera(models.Model):
    """A camera on a site. Credentials are write-only and stored encrypted."""

    scope_partner_path = "owner"
    scope_kota_path = "site__kelurahan__parent__parent"

    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="cameras", verbose_name=_("site")
    )
    owner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="cameras",
        verbose_name=_("owning partner"),
    )
    vendor = models.CharField(_("vendor"), max_length=80)
    model = models.CharField(_("model"), max_length=80)
    serial = models.CharField(_("serial number"), max_length=80)
    resolution = models.CharField(_("resolution"), max_length=20, help_text=_("e.g. 1920x1080"))
    rtsp_url = models.CharField(_("RTSP URL"), max_length=300, blank=True)
    snapshot_url = models.CharField(_("HTTP snapshot URL"), max_length=300, blank=True)
    onvif_url = models.CharField(_("ONVIF endpoint"), max_length=300, blank=True)
    username = models.CharField(_("username"), max_length=80, blank=True)
    # Fernet token (portal.crypto); never serialised, never shown back.
    password_encrypted = models.TextField(blank=True, editable=False)
    installed_at = models.DateTimeField(_("installed at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["site_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["vendor", "serial"], name="camera_serial_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.vendor} {self.model} ({self.serial})"
