"""REST endpoints for residents' coverage requests.

Public (anonymous allowed): the list, one request, duplicates nearby, counts per kelurahan,
submitting, verifying, supporting, following and answering "is it working?". Reads are throttled
per client address by the database limiter (portal.ratelimit); writes are limited inside the
services, per address and per contact. Public responses carry no personal data.

Officers: the triage queue, ordered by priority, with the request's full fields, private notes
and one action per transition. Sudin officers see their kota; operators read only; residents
and partners are refused.
"""

import time

from django.conf import settings
from django.http import FileResponse, Http404
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied as DRFPermissionDenied
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import SAFE_METHODS, AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from portal import ratelimit
from portal.permissions import get_scoped_or_404
from portal.ratelimit import Limit, RateLimited, client_ip
from portal.roles import is_officer, is_operator
from sites import request_selectors, request_services
from sites.api import NewestIdFirst
from sites.models import CoverageRequest, ResidentContact, Site
from sites.request_serializers import (
    ContactSerializer,
    CountSerializer,
    DeclineSerializer,
    DeclineTemplateSerializer,
    FeedbackSerializer,
    MergeSerializer,
    NearbyQuerySerializer,
    NearbyRequestSerializer,
    NoteSerializer,
    NoteWriteSerializer,
    PlanSerializer,
    PublicFilterSerializer,
    PublicRequestDetailSerializer,
    PublicRequestSerializer,
    QueueFilterSerializer,
    QueueRequestDetailSerializer,
    QueueRequestSerializer,
    RequestReasonSerializer,
    ResidentActionSerializer,
    SubmitSerializer,
    SubmittedSerializer,
    VerifiedSerializer,
    VerifySerializer,
)

REFERENCE_REGEX = r"REQ-\d{4}-\d{6,}"
# The same session keys as the resident pages (sites.request_views), so a resident confirmed in
# one is confirmed in the other.
SESSION_CONTACT = "resident_contact_id"
SESSION_SINCE = "resident_verified_at"
RESIDENT_SESSION_SECONDS = 2 * 60 * 60


class ReadThrottle(BaseThrottle):
    """Anonymous reads per client address and hour (REQUEST_API_READS_PER_HOUR), counted in the
    database like every other limit; writes are limited by the services."""

    def allow_request(self, request, view) -> bool:
        if request.method not in SAFE_METHODS:
            return True
        key = f"req-api-read:ip:{ratelimit.ip_key(client_ip(request))}"
        try:
            ratelimit.hit(Limit(key, settings.REQUEST_API_READS_PER_HOUR))
        except RateLimited as limited:
            self.retry_after = limited.retry_after
            return False
        return True

    def wait(self) -> float | None:
        return getattr(self, "retry_after", None)


class PublicEndpoint:
    permission_classes = [AllowAny]
    throttle_classes = [ReadThrottle]

    def throttled(self, request, wait):
        # One error shape for every 429: {"detail", "code"} and Retry-After.
        raise RateLimited(retry_after=int(wait or 60))


def _session_contact(request: Request) -> ResidentContact | None:
    """The verified contact of a fresh resident session, if the request passes the CSRF check
    (a session is a credential: another site must not support requests in a resident's name)."""
    session = request.session
    contact_id = session.get(SESSION_CONTACT)
    if not contact_id or time.time() - session.get(SESSION_SINCE, 0) > RESIDENT_SESSION_SECONDS:
        return None
    try:
        SessionAuthentication().enforce_csrf(request._request)
    except DRFPermissionDenied:
        return None
    return request_selectors.resident_contact(contact_id=contact_id)


def _start_session(request: Request, contact: ResidentContact) -> None:
    session = request.session
    if session.get(SESSION_CONTACT) != contact.pk:
        session.cycle_key()
    session[SESSION_CONTACT] = contact.pk
    session[SESSION_SINCE] = time.time()


def _language(request: Request) -> str:
    return translation.get_language() or settings.LANGUAGE_CODE


def _check_email(hours: int) -> str:
    return _("We sent a link and a code to this email address. Confirm within %(hours)d hours.") % {
        "hours": hours
    }


_PUBLIC_ERRORS = {
    400: OpenApiResponse(description=_("Invalid input; {detail, code, errors}.")),
    429: OpenApiResponse(description=_("Too many requests; see Retry-After (seconds).")),
}


@extend_schema_view(
    list=extend_schema(
        parameters=[PublicFilterSerializer],
        summary=_("Public list of verified requests (no personal data; location rounded)"),
    ),
    retrieve=extend_schema(summary=_("One request's public fields and steps")),
)
class PublicRequestViewSet(
    PublicEndpoint, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = PublicRequestSerializer
    lookup_field = "reference"
    lookup_value_regex = REFERENCE_REGEX
    filter_backends = []
    # Cursor pages, newest first by id (the primary key index; the selector's created_at order
    # would sort every public request): no COUNT and no OFFSET over every request in the city.
    pagination_class = NewestIdFirst
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CoverageRequest.objects.none()
        if self.action == "retrieve":
            return request_selectors.public_request_list().select_related("merged_into")
        filters = PublicFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return request_selectors.public_request_list(filters=filters.validated_data).select_related(
            "merged_into"
        )

    def get_object(self) -> CoverageRequest:
        request = request_selectors.request_public(reference=self.kwargs["reference"])
        return (
            CoverageRequest.objects.select_related("kelurahan__parent__parent", "merged_into")
            .prefetch_related("status_changes")
            .get(pk=request.pk)
        )

    def get_serializer_class(self):
        return (
            PublicRequestDetailSerializer
            if self.action == "retrieve"
            else super().get_serializer_class()
        )

    @extend_schema(
        request={"multipart/form-data": SubmitSerializer, "application/json": SubmitSerializer},
        responses={202: SubmittedSerializer, **_PUBLIC_ERRORS},
        summary=_("Ask for a camera: confirmed by the emailed link or code before it counts"),
    )
    def create(self, request: Request) -> Response:
        serializer = SubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        coverage, _verification = request_services.request_submit(
            lat=data["lat"],
            lon=data["lon"],
            category=data["category"],
            description=data["description"],
            contact=data["contact"],
            name=data["name"],
            photo=data["photo"],
            consent=data["consent"],
            language=data.get("language") or _language(request),
            ip=client_ip(request),
            honeypot=data["website"],
        )
        body = {
            "reference": coverage.reference,
            "status": coverage.status,
            "detail": _check_email(settings.REQUEST_VERIFICATION_HOURS),
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[NearbyQuerySerializer],
        responses={200: NearbyRequestSerializer(many=True), **_PUBLIC_ERRORS},
        summary=_("Open requests near a spot (possible duplicates), nearest first"),
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def nearby(self, request: Request) -> Response:
        query = NearbyQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = request_selectors.requests_nearby(
            lat=query.validated_data["lat"],
            lon=query.validated_data["lon"],
            radius_m=query.validated_data.get("radius"),
        )
        return Response(NearbyRequestSerializer(rows, many=True).data)

    @extend_schema(
        request=VerifySerializer,
        responses={200: VerifiedSerializer, **_PUBLIC_ERRORS},
        summary=_("Confirm a contact with the emailed token, or the address and its code"),
    )
    @action(detail=False, methods=["post"])
    def verify(self, request: Request) -> Response:
        serializer = VerifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        verification = request_services.contact_verify(
            token=data["token"] or None,
            contact_value=data["contact"] or None,
            code=data["code"] or None,
            ip=client_ip(request),
        )
        _start_session(request, verification.contact)
        coverage = verification.request
        return Response(
            {
                "purpose": verification.purpose,
                "reference": coverage.reference if coverage else None,
                "status": coverage.status if coverage else None,
            }
        )

    @extend_schema(
        request=FeedbackSerializer,
        responses={200: PublicRequestSerializer, **_PUBLIC_ERRORS},
        summary=_("The requester answers “is it working?”: confirm, or reopen with a reason"),
    )
    @action(detail=False, methods=["post"])
    def feedback(self, request: Request) -> Response:
        serializer = FeedbackSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        coverage = request_services.request_feedback(**serializer.validated_data)
        return Response(PublicRequestSerializer(self._fresh(coverage)).data)

    def _fresh(self, coverage: CoverageRequest) -> CoverageRequest:
        return CoverageRequest.objects.select_related(
            "kelurahan__parent__parent", "merged_into"
        ).get(pk=coverage.pk)

    def _resident_action(self, request: Request, service, done: str) -> Response:
        coverage = self.get_object()
        serializer = ContactSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        given = serializer.validated_data["contact"].strip()
        # An address given explicitly is confirmed by email, even with a resident session.
        resident = None if given else _session_contact(request)
        result = service(
            request=coverage,
            contact_value=given or None,
            contact=resident,
            ip=client_ip(request),
            language=_language(request),
        )
        counted = resident is not None
        coverage.refresh_from_db(fields=["supports_count"])
        del result
        return Response(
            {
                "counted": counted,
                "detail": done if counted else _check_email(settings.REQUEST_VERIFICATION_HOURS),
                "supports_count": coverage.supports_count,
            },
            status=status.HTTP_200_OK if counted else status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        request=ContactSerializer,
        responses={
            200: ResidentActionSerializer,
            202: ResidentActionSerializer,
            409: OpenApiResponse(description=_("Already supported, own request, or closed.")),
            **_PUBLIC_ERRORS,
        },
        summary=_("Support an open request (once per verified resident)"),
    )
    @action(detail=True, methods=["post"])
    def support(self, request: Request, reference: str | None = None) -> Response:
        return self._resident_action(
            request, request_services.request_support, _("Your support is counted.")
        )

    @extend_schema(
        request=ContactSerializer,
        responses={200: ResidentActionSerializer, 202: ResidentActionSerializer, **_PUBLIC_ERRORS},
        summary=_("Follow a request: an email on every status change"),
    )
    @action(detail=True, methods=["post"])
    def follow(self, request: Request, reference: str | None = None) -> Response:
        return self._resident_action(
            request,
            request_services.request_follow,
            _("You now get an email when this request changes."),
        )


class RequestCountsView(PublicEndpoint, APIView):
    @extend_schema(
        responses={200: CountSerializer(many=True)},
        summary=_("Verified requests per kelurahan (merged duplicates counted once)"),
    )
    def get(self, request: Request) -> Response:
        rows = request_selectors.request_counts_by_kelurahan_cached()
        return Response(CountSerializer(rows, many=True).data)


# --- Officers -----------------------------------------------------------------------------------


class IsOfficerOrOperatorReading(BasePermission):
    """Officers triage; operators may look; nobody else sees the queue."""

    message = _("Only Kominfotik officers can use the request queue.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return is_officer(user) or (is_operator(user) and request.method in SAFE_METHODS)


_OFFICER_STEP = {
    "responses": {
        200: QueueRequestDetailSerializer,
        400: OpenApiResponse(description=_("Invalid input.")),
        403: OpenApiResponse(description=_("Not an officer for this request's kota.")),
        404: OpenApiResponse(description=_("Not in your scope.")),
        409: OpenApiResponse(description=_("Not allowed from the request's current status.")),
    }
}


@extend_schema_view(
    list=extend_schema(
        parameters=[QueueFilterSerializer],
        summary=_(
            "Requests to triage, most urgent first (supports over the threshold, then score)"
        ),
    ),
    retrieve=extend_schema(summary=_("One request with priority, notes and history")),
)
class RequestQueueViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    permission_classes = [IsOfficerOrOperatorReading]
    serializer_class = QueueRequestSerializer
    lookup_field = "reference"
    lookup_value_regex = REFERENCE_REGEX
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CoverageRequest.objects.none()
        filters = QueueFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return request_selectors.officer_queue(
            user=self.request.user, filters=filters.validated_data
        )

    def get_object(self) -> CoverageRequest:
        return request_selectors.officer_request(
            user=self.request.user, reference=self.kwargs["reference"]
        )

    def get_serializer_class(self):
        if self.action == "list":
            return QueueRequestSerializer
        return QueueRequestDetailSerializer

    def _body(self, coverage: CoverageRequest) -> Response:
        fresh = request_selectors.officer_request(
            user=self.request.user, reference=coverage.reference
        )
        return Response(QueueRequestDetailSerializer(fresh).data)

    def _step(self, request: Request, serializer_class, call) -> Response:
        coverage = self.get_object()
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        call(coverage, serializer.validated_data)
        return self._body(coverage)

    @extend_schema(request=RequestReasonSerializer, **_OFFICER_STEP, summary=_("Start the review"))
    @action(detail=True, methods=["post"])
    def review(self, request: Request, reference: str | None = None) -> Response:
        return self._step(
            request,
            RequestReasonSerializer,
            lambda coverage, data: request_services.request_start_review(
                request=coverage, actor=request.user, reason=data["reason"]
            ),
        )

    @extend_schema(request=PlanSerializer, **_OFFICER_STEP, summary=_("Plan: link to a site"))
    @action(detail=True, methods=["post"])
    def plan(self, request: Request, reference: str | None = None) -> Response:
        def call(coverage, data):
            site = get_scoped_or_404(
                request.user,
                Site.objects.select_related("kelurahan__parent"),
                pk=data["site"],
            )
            request_services.request_plan(
                request=coverage, actor=request.user, site=site, reason=data["reason"]
            )

        return self._step(request, PlanSerializer, call)

    @extend_schema(
        request=DeclineSerializer, **_OFFICER_STEP, summary=_("Decline (reason or template)")
    )
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, reference: str | None = None) -> Response:
        return self._step(
            request,
            DeclineSerializer,
            lambda coverage, data: request_services.request_decline(
                request=coverage,
                actor=request.user,
                reason=data["reason"],
                template=data["template"] or None,
            ),
        )

    @extend_schema(
        request=MergeSerializer, **_OFFICER_STEP, summary=_("Merge into another request")
    )
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, reference: str | None = None) -> Response:
        def call(coverage, data):
            into = request_selectors.officer_request(user=request.user, reference=data["into"])
            request_services.request_merge(
                request=coverage, into=into, actor=request.user, reason=data["reason"]
            )

        return self._step(request, MergeSerializer, call)

    @extend_schema(
        request=RequestReasonSerializer, **_OFFICER_STEP, summary=_("Reopen (reason required)")
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, reference: str | None = None) -> Response:
        return self._step(
            request,
            RequestReasonSerializer,
            lambda coverage, data: request_services.request_reopen(
                request=coverage, actor=request.user, reason=data["reason"]
            ),
        )

    @extend_schema(
        responses={200: DeclineTemplateSerializer(many=True)},
        summary=_("Reasons officers can decline with (codes for the decline action)"),
    )
    @action(detail=False, methods=["get"], url_path="decline-templates", pagination_class=None)
    def decline_templates(self, request: Request) -> Response:
        rows = request_selectors.decline_templates()
        return Response(DeclineTemplateSerializer(rows, many=True).data)

    @extend_schema(
        request=NoteWriteSerializer,
        responses={
            201: NoteSerializer,
            403: OpenApiResponse(description=_("Not an officer here.")),
        },
        summary=_("Add a private note"),
    )
    @action(detail=True, methods=["post"])
    def note(self, request: Request, reference: str | None = None) -> Response:
        coverage = self.get_object()
        serializer = NoteWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = request_services.request_add_note(
            request=coverage, actor=request.user, body=serializer.validated_data["body"]
        )
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(description=_("The photo.")),
            404: OpenApiResponse(description=_("No photo, or not in your scope.")),
        },
        summary=_("The resident's photo (officers only)"),
    )
    @action(detail=True, methods=["get"])
    def photo(self, request: Request, reference: str | None = None):
        coverage = self.get_object()
        if not coverage.photo:
            raise Http404
        content_type = "image/png" if coverage.photo_extension == "png" else "image/jpeg"
        return FileResponse(coverage.photo.open("rb"), content_type=content_type)


def register(router) -> None:
    router.register("requests", PublicRequestViewSet, basename="request")
    router.register("request-queue", RequestQueueViewSet, basename="request-queue")
