"""REST endpoints for fleet health: the summary, status changes, outages, a camera's state, sweeps.

Read-only. Every viewset derives from portal.api.ScopedViewSet, so a partner reads only rows of
its own cameras and another partner's camera answers 404; sweeps are for officers and operators.
Filters take ids as plain numbers (never a ModelChoiceFilter, which would reveal which ids exist).
"""

import django_filters
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from partners.models import Partner
from portal.api import ScopedViewSet
from portal.permissions import get_scoped_or_404
from sites import health_selectors as selectors
from sites import maintenance_services
from sites.health import windows
from sites.models import (
    Area,
    AreaLevel,
    Camera,
    CameraStatusChange,
    HealthStatus,
    HealthSweep,
    MaintenanceWindow,
    Outage,
    Site,
    WindowRecurrence,
)

AVAILABILITY_DAYS = 30


class WatchesFleet(BasePermission):
    message = _("Only officers, operators and partner members see fleet health.")

    def has_permission(self, request, view) -> bool:
        return selectors.may_watch_fleet(request.user)


class SeesSweeps(BasePermission):
    message = _("Only officers and operators see health sweeps.")

    def has_permission(self, request, view) -> bool:
        return selectors.may_see_sweeps(request.user)


# --- serializers ----------------------------------------------------------------------------


class StatusCountsSerializer(serializers.Serializer):
    unknown = serializers.IntegerField()
    up = serializers.IntegerField()
    degraded = serializers.IntegerField()
    down = serializers.IntegerField()
    maintenance = serializers.IntegerField()
    upstream_down = serializers.IntegerField()


class KotaCountsSerializer(serializers.Serializer):
    code = serializers.CharField(source="key")
    name = serializers.CharField()
    total = serializers.IntegerField()
    counts = StatusCountsSerializer()


class PartnerCountsSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="key")
    name = serializers.CharField()
    total = serializers.IntegerField()
    counts = StatusCountsSerializer()


class FleetSummarySerializer(serializers.Serializer):
    total = serializers.IntegerField()
    totals = StatusCountsSerializer()
    by_kota = KotaCountsSerializer(many=True)
    by_partner = PartnerCountsSerializer(many=True)


class CameraStatusChangeSerializer(serializers.ModelSerializer):
    partner = serializers.IntegerField(source="camera.owner_id", read_only=True)
    kota = serializers.CharField(source="camera.site.kelurahan.parent.parent.code", read_only=True)

    class Meta:
        model = CameraStatusChange
        fields = [
            "id",
            "camera",
            "partner",
            "kota",
            "old_status",
            "new_status",
            "reason",
            "created_at",
            "sweep",
        ]


class OutageSerializer(serializers.ModelSerializer):
    partner = serializers.IntegerField(source="camera.owner_id", read_only=True)

    class Meta:
        model = Outage
        fields = ["id", "camera", "partner", "started_at", "ended_at", "reason"]


class CameraHealthSerializer(serializers.Serializer):
    camera = serializers.IntegerField(source="camera_id")
    status = serializers.ChoiceField(choices=HealthStatus.choices)
    reason = serializers.CharField()
    changed_at = serializers.DateTimeField(allow_null=True)
    checked_at = serializers.DateTimeField(allow_null=True)
    latency_ms = serializers.IntegerField(allow_null=True)
    availability_30d = serializers.DecimalField(max_digits=5, decimal_places=2)
    open_outage = OutageSerializer(allow_null=True)


class HealthSweepSerializer(serializers.ModelSerializer):
    duration_ms = serializers.SerializerMethodField()

    class Meta:
        model = HealthSweep
        fields = [
            "id",
            "status",
            "started_at",
            "finished_at",
            "duration_ms",
            "cameras",
            "batches",
            "batches_done",
            "checks",
            "changes",
            "probe_ms",
            "db_write_ms",
        ]

    def get_duration_ms(self, sweep: HealthSweep) -> int | None:
        duration = getattr(sweep, "duration", None)
        return None if duration is None else round(duration.total_seconds() * 1000)


# --- filters --------------------------------------------------------------------------------


class ChangeFilter(django_filters.FilterSet):
    camera = django_filters.NumberFilter(field_name="camera_id")
    partner = django_filters.NumberFilter(field_name="camera__owner_id")
    kota = django_filters.CharFilter(
        field_name="camera__site__kelurahan__parent__parent__code",
        label="Kota (Kemendagri code, e.g. 31.71)",
    )
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = CameraStatusChange
        fields = ["camera", "partner", "kota", "since"]


class OutageFilter(django_filters.FilterSet):
    camera = django_filters.NumberFilter(field_name="camera_id")
    open = django_filters.BooleanFilter(
        field_name="ended_at", lookup_expr="isnull", label="Only open (true) or closed (false)"
    )

    class Meta:
        model = Outage
        fields = ["camera", "open"]


class NewestFirst(CursorPagination):
    """Stable pages while the outbox grows: new rows never shift the next page."""

    ordering = ("-created_at", "-id")
    page_size = 50


# --- viewsets -------------------------------------------------------------------------------


class FleetViewSet(ScopedViewSet):
    queryset = Camera.objects.all()
    permission_classes = [WatchesFleet]
    pagination_class = None
    filter_backends: list = []

    @extend_schema(
        responses=FleetSummarySerializer,
        summary=_("Cameras in service by health status: overall, per kota, per partner"),
    )
    def list(self, request: Request) -> Response:
        summary = selectors.fleet_summary(request.user)
        body = {
            "total": summary.total,
            "totals": summary.totals,
            "by_kota": summary.by_kota,
            "by_partner": summary.by_partner,
        }
        return Response(FleetSummarySerializer(body).data)


@extend_schema(summary=_("Camera status changes, newest first (cursor pages)"))
class StatusChangeViewSet(mixins.ListModelMixin, ScopedViewSet):
    queryset = CameraStatusChange.objects.select_related("camera__site__kelurahan__parent__parent")
    serializer_class = CameraStatusChangeSerializer
    permission_classes = [WatchesFleet]
    pagination_class = NewestFirst
    filterset_class = ChangeFilter
    search_fields: list = []
    ordering_fields: list = []


@extend_schema(summary=_("Camera outages, newest first"))
class OutageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = Outage.objects.select_related("camera").order_by("-started_at", "-id")
    serializer_class = OutageSerializer
    permission_classes = [WatchesFleet]
    filterset_class = OutageFilter
    search_fields: list = []
    ordering_fields = ["started_at", "ended_at"]


class CameraHealthViewSet(ScopedViewSet):
    queryset = Camera.objects.select_related("health")
    permission_classes = [WatchesFleet]
    lookup_url_kwarg = "camera_id"
    lookup_value_regex = r"[0-9]+"
    filter_backends: list = []

    @extend_schema(
        responses=CameraHealthSerializer,
        parameters=[OpenApiParameter("camera_id", int, OpenApiParameter.PATH)],
        summary=_("A camera's current health and its availability over 30 days"),
    )
    def retrieve(self, request: Request, camera_id: str | None = None) -> Response:
        camera = self.get_object()
        health = selectors.camera_health(camera)
        body = {
            "camera_id": camera.pk,
            "status": health.status,
            "reason": health.reason,
            "changed_at": health.changed_at,
            "checked_at": health.checked_at,
            "latency_ms": health.latency_ms,
            "availability_30d": selectors.camera_availability(
                request.user, camera, days=AVAILABILITY_DAYS
            ),
            "open_outage": selectors.outages(request.user)
            .filter(camera=camera, ended_at__isnull=True)
            .first(),
        }
        return Response(CameraHealthSerializer(body).data)


@extend_schema(summary=_("Health sweeps, newest first (officers and operators)"))
class SweepViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    # Not partner data: ScopedViewSet's scoping leaves it whole for the roles SeesSweeps admits.
    queryset = HealthSweep.objects.all()
    serializer_class = HealthSweepSerializer
    permission_classes = [SeesSweeps]
    filter_backends: list = []

    def get_queryset(self):
        return selectors.sweep_list()


# --- maintenance windows --------------------------------------------------------------------


class MaintenanceWindowSerializer(serializers.ModelSerializer):
    kota = serializers.CharField(source="kota.code", read_only=True, allow_null=True)

    class Meta:
        model = MaintenanceWindow
        fields = [
            "id",
            "camera",
            "site",
            "partner",
            "kota",
            "starts_at",
            "ends_at",
            "recurrence",
            "repeat_until",
            "reason",
            "created_at",
            "cancelled_at",
        ]
        read_only_fields = fields


class WindowCreateSerializer(serializers.Serializer):
    """Exactly one of camera, site, partner (ids) or kota (Kemendagri code); the service checks."""

    camera = serializers.IntegerField(required=False)
    site = serializers.IntegerField(required=False)
    partner = serializers.IntegerField(required=False)
    kota = serializers.CharField(required=False, help_text="Kemendagri code, e.g. 31.71")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    recurrence = serializers.ChoiceField(
        choices=WindowRecurrence.choices, default=WindowRecurrence.NONE
    )
    repeat_until = serializers.DateField(required=False, allow_null=True)
    reason = serializers.CharField(max_length=200)


@extend_schema(summary=_("Maintenance windows: planned work, no alerts, not counted as downtime"))
class MaintenanceWindowViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = MaintenanceWindowSerializer
    permission_classes = [WatchesFleet]
    filter_backends: list = []

    def get_queryset(self):
        # A window may name a camera, site, partner or kota, so its visibility is not one
        # scope path: sites.health.windows.visible_windows applies the same rules per scope.
        return windows.visible_windows(self.request.user).order_by("-starts_at", "-id")

    @extend_schema(request=WindowCreateSerializer, responses={201: MaintenanceWindowSerializer})
    def create(self, request: Request) -> Response:
        data = WindowCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        user = request.user
        # Ids the user cannot see answer 404, exactly like ids that do not exist.
        lookups = {
            "camera": lambda pk: get_scoped_or_404(user, Camera.objects.all(), pk=pk),
            "site": lambda pk: get_scoped_or_404(user, Site.objects.all(), pk=pk),
            "partner": lambda pk: get_scoped_or_404(user, Partner.objects.all(), pk=pk),
            "kota": lambda code: get_object_or_404(Area, level=AreaLevel.CITY, code=code),
        }
        scope = {key: find(fields.pop(key)) for key, find in lookups.items() if key in fields}
        window = maintenance_services.window_create(actor=user, **scope, **fields)
        return Response(MaintenanceWindowSerializer(window).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=MaintenanceWindowSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        window = maintenance_services.window_cancel(actor=request.user, window=self.get_object())
        return Response(MaintenanceWindowSerializer(window).data)
