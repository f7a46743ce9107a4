"""Shapes of the areas and inventory API. Lists stay light: boundaries only appear on one area's
detail; camera credentials are write-only and never appear in any response."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sites.models import Area, Camera, HostKind, Site, UtilityPole


class AreaRefSerializer(serializers.Serializer):
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class AreaSerializer(serializers.ModelSerializer):
    parent_code = serializers.CharField(
        source="parent.code", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Area
        fields = [
            "code",
            "name",
            "level",
            "parent_code",
            "lat",
            "lon",
            "rawan_level",
            "rawan_set_at",
        ]
        read_only_fields = fields


class AreaDetailSerializer(AreaSerializer):
    parent = AreaRefSerializer(read_only=True, allow_null=True)
    boundary = serializers.SerializerMethodField()

    class Meta(AreaSerializer.Meta):
        fields = [*AreaSerializer.Meta.fields, "parent", "boundary"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_boundary(self, area: Area) -> dict | None:
        """GeoJSON MultiPolygon ([lon, lat] pairs, closed rings); null above kelurahan level."""
        polygons = []
        for boundary in area.boundaries.all():
            ring = [[lon, lat] for lon, lat in boundary.ring]
            if ring and ring[0] != ring[-1]:
                ring.append(ring[0])
            polygons.append([ring])
        return {"type": "MultiPolygon", "coordinates": polygons} if polygons else None


class LocateQuerySerializer(serializers.Serializer):
    lat = serializers.FloatField(help_text="Latitude, e.g. -6.182041")
    lon = serializers.FloatField(help_text="Longitude, e.g. 106.863745")


class LocatedAreaSerializer(serializers.Serializer):
    kelurahan = AreaRefSerializer(source="*", read_only=True)
    kecamatan = AreaRefSerializer(source="parent", read_only=True)
    kota = AreaRefSerializer(source="parent.parent", read_only=True)
    rawan_level = serializers.IntegerField(read_only=True)


class RawanSerializer(serializers.Serializer):
    # The range is the service's rule; it answers with the field named.
    rawan_level = serializers.IntegerField()
    reason = serializers.CharField(max_length=2000, allow_blank=True)


# --- Inventory: poles, sites, cameras ---------------------------------------------------------
# Input serializers check shapes only; the services own the rules and name the field they refuse.

_DEGREES = {"max_digits": 12, "decimal_places": 8, "coerce_to_string": False}


class PoleSerializer(serializers.ModelSerializer):
    owner_name = serializers.CharField(source="owner.name", read_only=True)
    kelurahan = AreaRefSerializer(read_only=True)
    kota = AreaRefSerializer(source="kelurahan.parent.parent", read_only=True)
    slots_free = serializers.IntegerField(read_only=True)

    class Meta:
        model = UtilityPole
        fields = [
            "id",
            "owner",
            "owner_name",
            "code",
            "lat",
            "lon",
            "kelurahan",
            "kota",
            "power_available",
            "fibre_available",
            "slots_total",
            "slots_used",
            "slots_free",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PoleWriteSerializer(serializers.Serializer):
    owner = serializers.IntegerField(help_text="Id of the pole-owner partner (create only).")
    code = serializers.CharField(max_length=50)
    lat = serializers.DecimalField(**_DEGREES)
    lon = serializers.DecimalField(**_DEGREES)
    power_available = serializers.BooleanField(required=False, default=False)
    fibre_available = serializers.BooleanField(required=False, default=False)
    slots_total = serializers.IntegerField()


class PoleUpdateSerializer(PoleWriteSerializer):
    owner = None


class PoleImportSerializer(serializers.Serializer):
    owner = serializers.IntegerField(help_text="Id of the pole-owner partner.")
    file = serializers.FileField(
        help_text="UTF-8 CSV with the header "
        "code,lat,lon,power_available,fibre_available,slots_total"
    )


class RowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(read_only=True, help_text="Line in the file; the header is 1.")
    field = serializers.CharField(read_only=True)
    reason = serializers.CharField(read_only=True)


class PoleImportReportSerializer(serializers.Serializer):
    imported = serializers.BooleanField(read_only=True)
    rows = serializers.IntegerField(read_only=True)
    created = serializers.ListField(child=serializers.CharField(), read_only=True)
    updated = serializers.ListField(child=serializers.CharField(), read_only=True)
    errors = RowErrorSerializer(many=True, read_only=True)


class SiteSerializer(serializers.ModelSerializer):
    host_partner_name = serializers.CharField(source="host_partner.name", read_only=True)
    pole_code = serializers.CharField(source="pole.code", read_only=True, default=None)
    kelurahan = AreaRefSerializer(read_only=True)
    kota = AreaRefSerializer(source="kelurahan.parent.parent", read_only=True)

    class Meta:
        model = Site
        fields = [
            "id",
            "status",
            "lat",
            "lon",
            "kelurahan",
            "kota",
            "address",
            "host_partner",
            "host_partner_name",
            "host_kind",
            "pole",
            "pole_code",
            "viewing_direction",
            "notes",
            "holds_pole_slot",
            "status_changed_at",
            "created_at",
        ]
        read_only_fields = fields


class SiteProposeSerializer(serializers.Serializer):
    host_partner = serializers.IntegerField(help_text="Id of the partner hosting the site.")
    lat = serializers.DecimalField(**_DEGREES)
    lon = serializers.DecimalField(**_DEGREES)
    address = serializers.CharField(max_length=300)
    host_kind = serializers.ChoiceField(choices=HostKind.choices)
    pole = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="Pole id when host_kind is pole."
    )
    viewing_direction = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=359
    )
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class SiteUpdateSerializer(serializers.Serializer):
    address = serializers.CharField(max_length=300, required=False)
    viewing_direction = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=359
    )
    notes = serializers.CharField(required=False, allow_blank=True)


class SiteReasonSerializer(serializers.Serializer):
    # Optional here: the service says which decisions need one (reject, suspend, decommission).
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class CameraSerializer(serializers.ModelSerializer):
    """A camera as shown back: never the username or password, only whether they are set."""

    owner_name = serializers.CharField(source="owner.name", read_only=True)
    site_status = serializers.CharField(source="site.status", read_only=True)
    has_credentials = serializers.SerializerMethodField()

    class Meta:
        model = Camera
        fields = [
            "id",
            "site",
            "site_status",
            "owner",
            "owner_name",
            "vendor",
            "model",
            "serial",
            "resolution",
            "rtsp_url",
            "snapshot_url",
            "onvif_url",
            "has_credentials",
            "installed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_has_credentials(self, camera: Camera) -> bool:
        return bool(camera.username or camera.password_encrypted)


class CameraWriteSerializer(serializers.Serializer):
    site = serializers.IntegerField(help_text="Id of an approved (or later) site.")
    owner = serializers.IntegerField(help_text="Id of the partner owning the camera.")
    vendor = serializers.CharField(max_length=80)
    model = serializers.CharField(max_length=80)
    serial = serializers.CharField(max_length=80)
    resolution = serializers.CharField(max_length=20)
    rtsp_url = serializers.CharField(max_length=300, required=False, allow_blank=True)
    snapshot_url = serializers.CharField(max_length=300, required=False, allow_blank=True)
    onvif_url = serializers.CharField(max_length=300, required=False, allow_blank=True)
    username = serializers.CharField(
        max_length=80, required=False, allow_blank=True, write_only=True
    )
    password = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        write_only=True,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="Write-only; stored encrypted. On update, empty keeps the stored password.",
    )
    push = serializers.BooleanField(
        required=False,
        default=False,
        write_only=True,
        help_text=(
            "The camera is behind NAT and sends heartbeats: no address needed, and the answer "
            "carries its heartbeat_token, shown this once."
        ),
    )


class CameraUpdateSerializer(CameraWriteSerializer):
    site = None
    push = None  # switching is POST /api/health/cameras/{id}/heartbeat-key/ (or .../revoke/)
    owner = None
