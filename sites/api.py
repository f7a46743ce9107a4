"""REST endpoints for Jakarta's administrative areas and the camera inventory.

Areas are public reference data, readable by anyone signed in; only officers write to them.
Poles, sites and cameras are partner-owned and scoped (portal.api.ScopedViewSet).
"""

import django_filters
from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from partners.models import Partner
from partners.serializers import StatusChangeSerializer
from portal.api import ScopedViewSet
from portal.errors import ServiceError
from portal.permissions import get_scoped_or_404
from sites import heartbeat_services, selectors, services
from sites.health_api import NewestFirst
from sites.models import Area, AreaLevel, Camera, HostKind, Site, SiteStatus, UtilityPole
from sites.serializers import (
    AreaDetailSerializer,
    AreaSerializer,
    CameraSerializer,
    CameraUpdateSerializer,
    CameraWriteSerializer,
    LocatedAreaSerializer,
    LocateQuerySerializer,
    PoleImportReportSerializer,
    PoleImportSerializer,
    PoleSerializer,
    PoleUpdateSerializer,
    PoleWriteSerializer,
    RawanSerializer,
    SiteProposeSerializer,
    SiteReasonSerializer,
    SiteSerializer,
    SiteUpdateSerializer,
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


# --- Inventory: poles, sites, cameras -------------------------------------------------------
# Every viewset derives from portal.api.ScopedViewSet: another partner's pole, site or camera
# answers 404 on every route. Filters take ids as plain numbers (never a ModelChoiceFilter,
# which would tell a stranger which ids exist); a kota narrows to its kelurahan ids
# (selectors.kelurahan_ids_in_kota says why).


class PoleFilter(django_filters.FilterSet):
    owner = django_filters.NumberFilter(field_name="owner_id")
    kelurahan = django_filters.CharFilter(
        field_name="kelurahan__code", label="Kelurahan (Kemendagri code, e.g. 31.71.01.1001)"
    )
    kota = django_filters.CharFilter(
        method="filter_kota", label="Kota (Kemendagri code, e.g. 31.71)"
    )
    has_free_slot = django_filters.BooleanFilter(
        method="filter_free_slot", label="Only poles with (true) or without (false) a free slot"
    )

    class Meta:
        model = UtilityPole
        fields = ["owner", "kelurahan", "kota", "has_free_slot"]

    def filter_kota(self, queryset, name: str, value: str):
        return queryset.filter(kelurahan_id__in=selectors.kelurahan_ids_in_kota(code=value))

    def filter_free_slot(self, queryset, name: str, value: bool | None):
        if value is None:
            return queryset
        free = Q(slots_used__lt=F("slots_total"))
        return queryset.filter(free if value else ~free)


class SiteFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=SiteStatus.choices)
    host_kind = django_filters.ChoiceFilter(choices=HostKind.choices)
    host_partner = django_filters.NumberFilter(field_name="host_partner_id")
    pole = django_filters.NumberFilter(field_name="pole_id")
    kelurahan = django_filters.CharFilter(field_name="kelurahan__code")
    kota = django_filters.CharFilter(
        method="filter_kota", label="Kota (Kemendagri code, e.g. 31.71)"
    )

    class Meta:
        model = Site
        fields = ["status", "host_kind", "host_partner", "pole", "kelurahan", "kota"]

    def filter_kota(self, queryset, name: str, value: str):
        return queryset.filter(kelurahan_id__in=selectors.kelurahan_ids_in_kota(code=value))


class CameraFilter(django_filters.FilterSet):
    site = django_filters.NumberFilter(field_name="site_id")
    owner = django_filters.NumberFilter(field_name="owner_id")
    site_status = django_filters.ChoiceFilter(
        field_name="site__status", choices=SiteStatus.choices, label="Status of the camera's site"
    )
    kota = django_filters.CharFilter(
        method="filter_kota", label="Kota of the camera's site (Kemendagri code, e.g. 31.71)"
    )

    class Meta:
        model = Camera
        fields = ["site", "owner", "site_status", "kota"]

    def filter_kota(self, queryset, name: str, value: str):
        return queryset.filter(site__kelurahan_id__in=selectors.kelurahan_ids_in_kota(code=value))


class NewestIdFirst(NewestFirst):
    """Cursor pages newest first by id, which the primary key index answers without a sort
    (ids are handed out in creation order; created_at has no index)."""

    ordering = ("-id",)


def _visible_partner(request: Request, partner_id: int) -> Partner:
    """A partner named in a request body, if the user may see it; 404 like any other object."""
    return get_scoped_or_404(
        request.user, Partner.objects.select_related("kelurahan__parent"), pk=partner_id
    )


@extend_schema_view(
    create=extend_schema(
        request=PoleWriteSerializer,
        responses={201: PoleSerializer},
        summary=_("Register a pole (pole owner's owners and staff)"),
    ),
    partial_update=extend_schema(
        request=PoleUpdateSerializer,
        responses={200: PoleSerializer},
        summary=_("Change a pole"),
    ),
)
class PoleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = UtilityPole.objects.select_related("owner", "kelurahan__parent__parent")
    serializer_class = PoleSerializer
    filterset_class = PoleFilter
    search_fields = ["code"]
    ordering_fields = ["code", "created_at", "slots_total"]

    def create(self, request: Request) -> Response:
        serializer = PoleWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        pole = services.pole_create(
            owner=_visible_partner(request, data.pop("owner")), actor=request.user, **data
        )
        return Response(PoleSerializer(pole).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk=None) -> Response:
        pole = self.get_object()
        serializer = PoleUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        pole = services.pole_update(pole=pole, actor=request.user, **serializer.validated_data)
        return Response(PoleSerializer(self.get_queryset().get(pk=pole.pk)).data)

    @extend_schema(
        request={"multipart/form-data": PoleImportSerializer},
        responses={
            200: PoleImportReportSerializer,
            400: OpenApiResponse(
                PoleImportReportSerializer,
                description=_("Rejected rows (nothing imported), or a bad file."),
            ),
            403: OpenApiResponse(description=_("Not an owner or staff of the pole owner.")),
        },
        summary=_("Import poles from CSV: every row or none"),
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        url_name="import",
        parser_classes=[MultiPartParser, FormParser],
        filter_backends=[],
        pagination_class=None,
    )
    def import_(self, request: Request) -> Response:
        serializer = PoleImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        report = services.poles_import_csv(
            owner=_visible_partner(request, serializer.validated_data["owner"]),
            actor=request.user,
            file=serializer.validated_data["file"],
        )
        body = PoleImportReportSerializer(report).data
        if report.errors:
            return Response(
                {
                    "detail": _("%(n)d row(s) rejected; nothing was imported.")
                    % {"n": len({error.row for error in report.errors})},
                    "code": "rows_rejected",
                    **body,
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(body)


_SITE_DECISION = {
    "request": SiteReasonSerializer,
    "responses": {
        200: SiteSerializer,
        400: OpenApiResponse(description=_("No reason given where one is required.")),
        403: OpenApiResponse(description=_("Not allowed to take this step on this site.")),
        409: OpenApiResponse(
            description=_("Not allowed from the site's current status, or the pole is full.")
        ),
    },
}


@extend_schema_view(
    create=extend_schema(
        request=SiteProposeSerializer,
        responses={201: SiteSerializer},
        summary=_("Propose a site"),
    ),
    partial_update=extend_schema(
        request=SiteUpdateSerializer,
        responses={200: SiteSerializer, 409: OpenApiResponse(description=_("Not proposed."))},
        summary=_("Edit a proposed site's address, notes or viewing direction"),
    ),
)
class SiteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = Site.objects.select_related("host_partner", "pole", "kelurahan__parent__parent")
    serializer_class = SiteSerializer
    filterset_class = SiteFilter
    search_fields = ["address"]
    ordering_fields = ["created_at", "status_changed_at", "status"]

    def create(self, request: Request) -> Response:
        serializer = SiteProposeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        host = _visible_partner(request, data.pop("host_partner"))
        pole_id = data.pop("pole")
        # Any pole may be named, not only the user's own: a site on another owner's pole goes
        # through that owner's consent in the hosting application.
        pole = UtilityPole.objects.filter(pk=pole_id).first() if pole_id else None
        if pole_id and pole is None:
            raise ServiceError(_("There is no pole with this id."), field="pole")
        site = services.site_propose(host_partner=host, actor=request.user, pole=pole, **data)
        return Response(self._body(site), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk=None) -> Response:
        site = self.get_object()
        serializer = SiteUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        site = services.site_update(site=site, actor=request.user, **serializer.validated_data)
        return Response(self._body(site))

    def _body(self, site: Site) -> dict:
        return SiteSerializer(self.queryset.get(pk=site.pk)).data

    def _step(self, request: Request, service, extra) -> Response:
        serializer = SiteReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        site = service(site=self.get_object(), actor=request.user, **extra(serializer))
        return Response(self._body(site))

    @extend_schema(**_SITE_DECISION, summary=_("An officer has surveyed the site"))
    @action(detail=True, methods=["post"])
    def survey(self, request: Request, pk=None) -> Response:
        return self._step(request, services.site_survey, extra=_as("notes"))

    @extend_schema(**_SITE_DECISION, summary=_("Approve (reserves a pole slot)"))
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk=None) -> Response:
        return self._step(request, services.site_approve, extra=_as("reason"))

    @extend_schema(**_SITE_DECISION, summary=_("Reject (reason required)"))
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk=None) -> Response:
        return self._step(request, services.site_reject, extra=_as("reason"))

    @extend_schema(**_SITE_DECISION, summary=_("Start installation"))
    @action(detail=True, methods=["post"], url_path="start-installation")
    def start_installation(self, request: Request, pk=None) -> Response:
        return self._step(request, services.site_start_installation, extra=_as(None))

    @extend_schema(**_SITE_DECISION, summary=_("Confirm installation (needs a camera)"))
    @action(detail=True, methods=["post"], url_path="confirm-installation")
    def confirm_installation(self, request: Request, pk=None) -> Response:
        return self._step(request, services.site_confirm_installation, extra=_as("reason"))

    @extend_schema(**_SITE_DECISION, summary=_("Suspend (reason required)"))
    @action(detail=True, methods=["post"])
    def suspend(self, request: Request, pk=None) -> Response:
        return self._step(request, services.site_suspend, extra=_as("reason"))

    @extend_schema(**_SITE_DECISION, summary=_("Resume a suspended site"))
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk=None) -> Response:
        return self._step(request, services.site_resume, extra=_as("reason"))

    @extend_schema(**_SITE_DECISION, summary=_("Decommission (reason required; frees the slot)"))
    @action(detail=True, methods=["post"])
    def decommission(self, request: Request, pk=None) -> Response:
        return self._step(request, services.site_decommission, extra=_as("reason"))

    @extend_schema(responses=StatusChangeSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def history(self, request: Request, pk=None) -> Response:
        changes = self.get_object().status_changes.select_related("actor")
        return Response(StatusChangeSerializer(changes, many=True).data)


def _as(keyword: str | None):
    """How the posted reason reaches a service: as `reason`, as `notes`, or not at all."""

    def extra(serializer: SiteReasonSerializer) -> dict:
        return {keyword: serializer.validated_data["reason"]} if keyword else {}

    return extra


@extend_schema_view(
    create=extend_schema(
        request=CameraWriteSerializer,
        responses={201: CameraSerializer},
        summary=_("Register a camera on an approved site"),
        description=_(
            "With push: true (a camera behind NAT), no address is needed and the answer also "
            "carries heartbeat_token, shown this once."
        ),
    ),
    partial_update=extend_schema(
        request=CameraUpdateSerializer,
        responses={200: CameraSerializer},
        summary=_("Change a camera; an empty password keeps the stored one"),
    ),
)
class CameraViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = Camera.objects.select_related("owner", "site")
    serializer_class = CameraSerializer
    filterset_class = CameraFilter
    search_fields = ["vendor", "model", "serial"]
    # Cursor pages, newest first: an officer's fleet list runs to 60,000 rows, so no COUNT and no
    # OFFSET. The order is fixed (a cursor keys on it), hence no ?ordering=.
    pagination_class = NewestIdFirst
    ordering_fields: list = []

    def create(self, request: Request) -> Response:
        serializer = CameraWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        site = get_scoped_or_404(
            request.user,
            Site.objects.select_related("kelurahan__parent", "host_partner"),
            pk=data.pop("site"),
        )
        owner = _visible_partner(request, data.pop("owner"))
        if data.pop("push", False):
            issued = heartbeat_services.camera_register_push(
                site=site, owner=owner, actor=request.user, **data
            )
            # The token exists only in this answer: the camera keeps it, the portal a hash.
            body = {**self._body(issued.key.camera), "heartbeat_token": issued.token}
            return Response(body, status=status.HTTP_201_CREATED)
        camera = services.camera_register(site=site, owner=owner, actor=request.user, **data)
        return Response(self._body(camera), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk=None) -> Response:
        camera = self.get_object()
        serializer = CameraUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        camera = services.camera_update(
            camera=camera, actor=request.user, **serializer.validated_data
        )
        return Response(self._body(camera))

    def _body(self, camera: Camera) -> dict:
        return CameraSerializer(self.queryset.get(pk=camera.pk)).data
