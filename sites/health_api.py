"""REST endpoints for fleet health: the summary, status changes, outages, a camera's state, sweeps,
upstream incidents, maintenance windows, and push heartbeats.

Every viewset derives from portal.api.ScopedViewSet, so a partner reads only rows of its own
cameras and another partner's camera answers 404; sweeps are for officers and operators. Filters
take ids as plain numbers (never a ModelChoiceFilter, which would reveal which ids exist).

The one endpoint without a session is POST /api/heartbeats/, where a camera in push mode (behind
NAT) authenticates with its own bearer token (sites.heartbeat_services).
"""

import json

import django_filters
from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from partners.models import Partner
from portal.api import ScopedViewSet
from portal.errors import ServiceError
from portal.permissions import get_scoped_or_404
from sites import health_selectors as selectors
from sites import heartbeat_services, maintenance_services
from sites.health import windows
from sites.models import (
    Area,
    AreaLevel,
    Camera,
    CameraHeartbeatKey,
    CameraStatusChange,
    HealthStatus,
    HealthSweep,
    MaintenanceWindow,
    Outage,
    Site,
    UpstreamIncident,
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


class HeartbeatKeySerializer(serializers.ModelSerializer):
    """A camera's heartbeat key without its token (which is shown once, when issued)."""

    # A plain string in the schema: as a second name for HealthStatus it would be a second enum.
    reported_status = serializers.CharField(
        read_only=True, help_text="What the last heartbeat said: up or degraded."
    )

    class Meta:
        model = CameraHeartbeatKey
        fields = [
            "camera",
            "token_prefix",
            "issued_at",
            "revoked_at",
            "last_heartbeat_at",
            "reported_status",
            "reported_reason",
        ]
        read_only_fields = fields


class IssuedHeartbeatKeySerializer(HeartbeatKeySerializer):
    token = serializers.CharField(
        read_only=True,
        help_text="Shown only now: configure the camera with it; the portal keeps only a hash.",
    )

    class Meta(HeartbeatKeySerializer.Meta):
        fields = [*HeartbeatKeySerializer.Meta.fields, "token"]
        read_only_fields = fields


class CameraHealthSerializer(serializers.Serializer):
    camera = serializers.IntegerField(source="camera_id")
    status = serializers.ChoiceField(choices=HealthStatus.choices)
    reason = serializers.CharField()
    changed_at = serializers.DateTimeField(allow_null=True)
    checked_at = serializers.DateTimeField(allow_null=True)
    latency_ms = serializers.IntegerField(allow_null=True)
    availability_30d = serializers.DecimalField(max_digits=5, decimal_places=2)
    open_outage = OutageSerializer(allow_null=True)
    heartbeat = HeartbeatKeySerializer(
        allow_null=True, help_text="Push mode (behind NAT): the live heartbeat key; null if probed."
    )


class UpstreamIncidentSerializer(serializers.ModelSerializer):
    partner = serializers.IntegerField(source="owner_id", read_only=True, allow_null=True)
    partner_name = serializers.CharField(source="owner.name", read_only=True, allow_null=True)
    pole_code = serializers.CharField(source="pole.code", read_only=True, allow_null=True)

    class Meta:
        model = UpstreamIncident
        fields = [
            "id",
            "partner",
            "partner_name",
            "pole",
            "pole_code",
            "segment",
            "started_at",
            "ended_at",
            "cameras_affected",
            "sweep",
        ]


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


class IncidentFilter(django_filters.FilterSet):
    partner = django_filters.NumberFilter(field_name="owner_id")
    pole = django_filters.NumberFilter(field_name="pole_id")
    open = django_filters.BooleanFilter(
        field_name="ended_at", lookup_expr="isnull", label="Only open (true) or closed (false)"
    )

    class Meta:
        model = UpstreamIncident
        fields = ["partner", "pole", "open"]


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
            "heartbeat": selectors.heartbeat_key(camera),
        }
        return Response(CameraHealthSerializer(body).data)

    # Push mode: the camera's owners and staff, or an officer, switch it to heartbeats.

    @extend_schema(
        request=None,
        responses={
            201: IssuedHeartbeatKeySerializer,
            403: OpenApiResponse(
                description=_(
                    "Not an owner or staff member of the camera's partner, nor an officer."
                )
            ),
            409: OpenApiResponse(description=_("The camera already sends heartbeats.")),
        },
        parameters=[OpenApiParameter("camera_id", int, OpenApiParameter.PATH)],
        summary=_("Switch a camera to push heartbeats; its token is shown this once"),
    )
    @action(detail=True, methods=["post"], url_path="heartbeat-key", url_name="heartbeat-key")
    def heartbeat_key(self, request: Request, camera_id: str | None = None) -> Response:
        issued = heartbeat_services.heartbeat_key_issue(
            camera=self.get_object(), actor=request.user
        )
        return Response(_issued(issued), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={
            200: IssuedHeartbeatKeySerializer,
            403: OpenApiResponse(
                description=_(
                    "Not an owner or staff member of the camera's partner, nor an officer."
                )
            ),
            409: OpenApiResponse(description=_("The camera is not in push mode.")),
        },
        parameters=[OpenApiParameter("camera_id", int, OpenApiParameter.PATH)],
        summary=_("A new heartbeat token; the old one stops working now"),
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="heartbeat-key/rotate",
        url_name="heartbeat-key-rotate",
    )
    def rotate_heartbeat_key(self, request: Request, camera_id: str | None = None) -> Response:
        issued = heartbeat_services.heartbeat_key_rotate(
            camera=self.get_object(), actor=request.user
        )
        return Response(_issued(issued))

    @extend_schema(
        request=None,
        responses={
            200: HeartbeatKeySerializer,
            403: OpenApiResponse(
                description=_(
                    "Not an owner or staff member of the camera's partner, nor an officer."
                )
            ),
            409: OpenApiResponse(description=_("The camera is not in push mode.")),
        },
        parameters=[OpenApiParameter("camera_id", int, OpenApiParameter.PATH)],
        summary=_("Revoke the heartbeat token: the camera is probed again"),
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="heartbeat-key/revoke",
        url_name="heartbeat-key-revoke",
    )
    def revoke_heartbeat_key(self, request: Request, camera_id: str | None = None) -> Response:
        key = heartbeat_services.heartbeat_key_revoke(camera=self.get_object(), actor=request.user)
        return Response(HeartbeatKeySerializer(key).data)


def _issued(issued: heartbeat_services.IssuedKey) -> dict:
    return {**HeartbeatKeySerializer(issued.key).data, "token": issued.token}


@extend_schema(summary=_("Upstream incidents (a pole or segment down), newest first"))
class UpstreamIncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = UpstreamIncident.objects.select_related("owner", "pole").order_by(
        "-started_at", "-id"
    )
    serializer_class = UpstreamIncidentSerializer
    permission_classes = [WatchesFleet]
    filterset_class = IncidentFilter
    search_fields: list = []
    ordering_fields = ["started_at", "ended_at", "cameras_affected"]


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


# --- push heartbeats ------------------------------------------------------------------------

HEARTBEAT_MAX_BYTES = 1024


@extend_schema_field({"type": "string", "enum": ["ok", "degraded"], "default": "ok"})
class HeartbeatStatusField(serializers.ChoiceField):
    """Described inline: a component enum named after "status" would collide with the others."""


class HeartbeatSerializer(serializers.Serializer):
    """What a camera may say about itself; an empty body means "ok"."""

    status = HeartbeatStatusField(choices=["ok", "degraded"], default="ok")
    reason = serializers.ChoiceField(
        choices=list(heartbeat_services.DEGRADED_REASONS),
        required=False,
        allow_blank=True,
        help_text="Required when degraded.",
    )


class HeartbeatReceiptSerializer(serializers.Serializer):
    camera = serializers.IntegerField(source="camera_id")
    received_at = serializers.DateTimeField(source="last_heartbeat_at")
    status = serializers.CharField(source="reported_status")
    reason = serializers.CharField(source="reported_reason")
    timeout_seconds = serializers.SerializerMethodField(
        help_text="Without a heartbeat for this long, the camera counts as failing."
    )

    def get_timeout_seconds(self, key) -> int:
        return settings.HEALTH_HEARTBEAT_TIMEOUT


def _bearer_token(request: Request) -> str:
    scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _heartbeat_body(request: Request) -> dict:
    """The JSON body, read by hand: bounded before a byte is read, whatever the content type."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = HEARTBEAT_MAX_BYTES + 1
    if length > HEARTBEAT_MAX_BYTES:
        raise ServiceError(
            _("A heartbeat body is at most %(limit)d bytes.") % {"limit": HEARTBEAT_MAX_BYTES},
            code="too_large",
        )
    raw = request.body
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise ServiceError(_("The heartbeat body must be a JSON object."), code="invalid_json")
    return body


class HeartbeatView(APIView):
    """A camera in push mode says it is alive. No session, no CSRF: the camera's bearer token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    # Documents the body; it is parsed by _heartbeat_body, never through request.data.
    parser_classes = [JSONParser]

    @extend_schema(
        request=HeartbeatSerializer,
        responses={
            200: HeartbeatReceiptSerializer,
            400: OpenApiResponse(description=_("Body too large, not JSON, or invalid.")),
            401: OpenApiResponse(description=_("Token missing, unknown or revoked.")),
            429: OpenApiResponse(description=_("Too soon after the last heartbeat; not recorded.")),
        },
        auth=[],
        summary=_("A camera behind NAT reports that it is alive"),
        description=_(
            "Send 'Authorization: Bearer <token>' with the token issued for the camera. At most "
            "one heartbeat per 10 seconds is recorded; send one at least every few minutes."
        ),
    )
    def post(self, request: Request) -> Response:
        key = heartbeat_services.heartbeat_authenticate(token=_bearer_token(request))
        data = HeartbeatSerializer(data=_heartbeat_body(request))
        data.is_valid(raise_exception=True)
        degraded = data.validated_data["status"] == "degraded"
        key = heartbeat_services.heartbeat_record(
            key=key,
            status=HealthStatus.DEGRADED if degraded else HealthStatus.UP,
            reason=data.validated_data.get("reason", "") if degraded else "",
        )
        return Response(HeartbeatReceiptSerializer(key).data)

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if isinstance(exc, heartbeat_services.HeartbeatRefused):
            response["WWW-Authenticate"] = 'Bearer realm="heartbeats"'
        elif isinstance(exc, heartbeat_services.HeartbeatTooSoon):
            response["Retry-After"] = str(exc.retry_after)
        return response
