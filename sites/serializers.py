"""Shapes of the areas API. Lists stay light: boundaries only appear on one area's detail."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sites.models import Area


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
