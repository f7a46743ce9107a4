"""Jakarta's administrative areas (Kemendagri codes) with kelurahan boundaries and rawan levels."""

from django.conf import settings
from django.contrib.postgres.indexes import GistIndex
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.models import StatusChange
from sites.fields import PolygonField


class AreaLevel(models.TextChoices):
    PROVINCE = "province", _("Province")
    CITY = "city", _("City (kota/kabupaten)")
    DISTRICT = "district", _("District (kecamatan)")
    VILLAGE = "village", _("Village (kelurahan)")


class RawanLevel(models.IntegerChoices):
    NONE = 0, _("Not rawan")
    LOW = 1, _("Low")
    MEDIUM = 2, _("Medium")
    HIGH = 3, _("High")


class Area(models.Model):
    """One node of the province → kota → kecamatan → kelurahan tree."""

    code = models.CharField(_("Kemendagri code"), max_length=13, unique=True)
    level = models.CharField(_("level"), max_length=8, choices=AreaLevel.choices, db_index=True)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    name = models.CharField(_("name"), max_length=100)
    # A point guaranteed inside the area (a label point, not a centroid).
    lat = models.DecimalField(max_digits=9, decimal_places=6)
    lon = models.DecimalField(max_digits=9, decimal_places=6)
    rawan_level = models.PositiveSmallIntegerField(
        _("rawan level"),
        choices=RawanLevel.choices,
        default=RawanLevel.NONE,
        validators=[MaxValueValidator(3)],
    )
    rawan_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    rawan_set_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rawan_level__gte=0, rawan_level__lte=3),
                name="area_rawan_level_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AreaBoundary(models.Model):
    """One ring of a kelurahan's boundary (a MultiPolygon becomes several rows), GiST-indexed."""

    area = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="boundaries")
    ring = PolygonField()

    class Meta:
        indexes = [GistIndex(fields=["ring"], name="areaboundary_ring_gist")]

    def __str__(self) -> str:
        return f"boundary of {self.area_id}"


class RawanLevelChange(StatusChange):
    """Who set an area's rawan level, when, from what to what and why (append-only)."""

    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="rawan_changes")

    class Meta(StatusChange.Meta):
        pass
