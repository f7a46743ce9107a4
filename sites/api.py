"""REST endpoints for Jakarta's administrative areas: browse, locate a point, set rawan levels.

Areas are public reference data, readable by anyone signed in; only officers write to them.
"""

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from sites import selectors, services
from sites.models import Area, AreaLevel
from sites.serializers import (
    AreaDetailSerializer,
    AreaSerializer,
    LocatedAreaSerializer,
    LocateQuerySerializer,
    RawanSerializer,
)


class AreaFilter(django_filters.FilterSet):
    level = django_filters.ChoiceFilter(choices=AreaLevel.choices)
    parent = django_filters.CharFilter(
        field_name="parent__code", label="Parent area (Kemendagri code, e.g. 31.71)"
    )

    class Meta:
        model = Area
        fields = ["level", "parent"]


class AreaViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Area.objects.select_related("parent")
    serializer_class = AreaSerializer
    filterset_class = AreaFilter
    search_fields = ["name"]
    ordering_fields = ["code", "name", "rawan_level"]
    lookup_field = "code"
    lookup_value_regex = r"[0-9.]+"

    def get_queryset(self) -> QuerySet[Area]:
        areas = super().get_queryset()
        if self.action == "retrieve":
            areas = areas.prefetch_related("boundaries")
        return areas

    def get_serializer_class(self):
        return AreaDetailSerializer if self.action == "retrieve" else AreaSerializer

    @extend_schema(
        parameters=[LocateQuerySerializer],
        responses={
            200: LocatedAreaSerializer,
            400: OpenApiResponse(description=_("Missing coordinates, or outside DKI Jakarta.")),
        },
        summary=_("The kelurahan, kecamatan and kota at a point"),
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def locate(self, request: Request) -> Response:
        query = LocateQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        kelurahan = selectors.kelurahan_at(
            lat=query.validated_data["lat"], lon=query.validated_data["lon"]
        )
        return Response(LocatedAreaSerializer(kelurahan).data)

    @extend_schema(
        request=RawanSerializer,
        responses={
            200: AreaSerializer,
            403: OpenApiResponse(description=_("Not an officer for this area.")),
        },
        summary=_("Set how crime-prone (rawan) a kelurahan is"),
    )
    @action(detail=True, methods=["post"])
    def rawan(self, request: Request, code: str | None = None) -> Response:
        serializer = RawanSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        area = services.area_set_rawan(
            area=self.get_object(),
            actor=request.user,
            level=serializer.validated_data["rawan_level"],
            reason=serializer.validated_data["reason"],
        )
        return Response(AreaSerializer(area).data)
