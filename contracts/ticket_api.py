"""API of maintenance tickets: list, detail (history, evidence, clocks, allowed steps), opening
a ticket, every lifecycle step, and evidence downloads.

Reads go through contracts.ticket_selectors, so another partner's ticket answers 404 on every
route and step. Steps validate the shape and call one service, which decides who may act (403)
and whether the step is legal from the ticket's status now (409).
"""

from django.db.models import QuerySet
from django.http import FileResponse, Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from contracts import ticket_selectors, ticket_services
from contracts.models import MaintenanceTicket
from contracts.ticket_serializers import (
    TicketCreateSerializer,
    TicketDetailSerializer,
    TicketFilterSerializer,
    TicketNotePhotoSerializer,
    TicketNoteSerializer,
    TicketSerializer,
)
from partners.serializers import ReasonSerializer
from portal.api import ScopedViewSet
from portal.errors import ServiceError
from sites.health_api import NewestFirst
from sites.models import Camera


def _input(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


_STEP_RESPONSES = {
    200: TicketDetailSerializer,
    400: OpenApiResponse(description=_("A rule refused it (e.g. no note, not a JPEG/PNG photo).")),
    403: OpenApiResponse(description=_("You may see the ticket but not take this step.")),
    409: OpenApiResponse(
        description=_("Not allowed from the ticket's current status (someone acted first).")
    ),
}
_NOTE_STEP = {"request": TicketNoteSerializer, "responses": _STEP_RESPONSES}
_REASON_STEP = {"request": ReasonSerializer, "responses": _STEP_RESPONSES}
_PHOTO_STEP = {
    "request": {
        "multipart/form-data": TicketNotePhotoSerializer,
        "application/json": TicketNoteSerializer,
    },
    "responses": _STEP_RESPONSES,
}
_LIST_PARAMETERS = [
    OpenApiParameter(
        "status", str, description=_('A status, or "active" for tickets still being worked on.')
    ),
    OpenApiParameter("source", str),
    OpenApiParameter("responsible", int, description=_("Partner id.")),
    OpenApiParameter("kota", int, description=_("Area id of a kota.")),
    OpenApiParameter("contract", int),
    OpenApiParameter("overdue", bool, description=_("Only tickets with a clock past due.")),
    OpenApiParameter("q", str, description=_("Part of the reference or title.")),
]


class NewestOpenedFirst(NewestFirst):
    """Cursor pages in the selector's order, newest ticket first (opened_at is indexed)."""

    ordering = ("-opened_at", "-id")


@extend_schema_view(
    list=extend_schema(
        summary=_("Maintenance tickets you may see, newest first"), parameters=_LIST_PARAMETERS
    ),
    retrieve=extend_schema(summary=_("A ticket with its history, evidence and clocks")),
    create=extend_schema(
        request=TicketCreateSerializer,
        responses={201: TicketDetailSerializer},
        summary=_("Open a ticket on a site (officers, operators, the host or camera owner)"),
    ),
)
class TicketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = MaintenanceTicket.objects.all()
    serializer_class = TicketSerializer
    # Filters are the selector's (validated by TicketFilterSerializer), not a filterset.
    filter_backends: list = []
    pagination_class = NewestOpenedFirst

    def get_queryset(self) -> QuerySet[MaintenanceTicket]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return MaintenanceTicket.objects.none()
        filters = None
        if self.action == "list":
            filters = _input(TicketFilterSerializer, self.request.query_params)
        return ticket_selectors.ticket_list(user=self.request.user, filters=filters)

    def get_serializer_class(self):
        return TicketSerializer if self.action == "list" else TicketDetailSerializer

    def _detail(self, ticket: MaintenanceTicket, code: int = status.HTTP_200_OK) -> Response:
        fresh = MaintenanceTicket.objects.select_related(
            "site__kelurahan__parent", "camera", "responsible", "contract", "opened_by"
        ).get(pk=ticket.pk)
        context = self.get_serializer_context()
        return Response(TicketDetailSerializer(fresh, context=context).data, status=code)

    def create(self, request: Request) -> Response:
        data = _input(TicketCreateSerializer, request.data)
        site = ticket_selectors.ticket_site_choices(user=request.user).filter(pk=data["site"])
        site = site.select_related("host_partner").first()
        if site is None:
            raise ServiceError(_("Unknown site, or not one you can open tickets on."), field="site")
        camera = None
        if data["camera"] is not None:
            camera = Camera.objects.filter(pk=data["camera"], site=site).first()
            if camera is None:
                raise ServiceError(_("This camera is not on the chosen site."), field="camera")
        ticket = ticket_services.ticket_open(
            actor=request.user,
            site=site,
            camera=camera,
            title=data["title"],
            description=data["description"],
            resident_report=data["resident_report"],
        )
        return self._detail(ticket, status.HTTP_201_CREATED)

    def _note_step(self, request: Request, service) -> Response:
        ticket = service(
            ticket=self.get_object(),
            actor=request.user,
            note=_input(TicketNoteSerializer, request.data)["note"],
        )
        return self._detail(ticket)

    def _reason_step(self, request: Request, service) -> Response:
        ticket = service(
            ticket=self.get_object(),
            actor=request.user,
            reason=_input(ReasonSerializer, request.data)["reason"],
        )
        return self._detail(ticket)

    @extend_schema(**_NOTE_STEP, summary=_("Acknowledge: the acknowledge clock stops"))
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk=None) -> Response:
        return self._note_step(request, ticket_services.ticket_acknowledge)

    @extend_schema(**_NOTE_STEP, summary=_("Start work"))
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk=None) -> Response:
        return self._note_step(request, ticket_services.ticket_start_work)

    @extend_schema(**_PHOTO_STEP, summary=_("Resolve, with a note and an optional photo"))
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser, JSONParser])
    def resolve(self, request: Request, pk=None) -> Response:
        data = _input(TicketNotePhotoSerializer, request.data)
        ticket = ticket_services.ticket_resolve(
            ticket=self.get_object(), actor=request.user, note=data["note"], photo=data["photo"]
        )
        return self._detail(ticket)

    @extend_schema(
        request=_PHOTO_STEP["request"],
        responses={
            201: TicketDetailSerializer,
            **{code: body for code, body in _STEP_RESPONSES.items() if code != 200},
        },
        summary=_("Add a note (and a photo) without changing the status"),
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser, JSONParser])
    def note(self, request: Request, pk=None) -> Response:
        data = _input(TicketNotePhotoSerializer, request.data)
        ticket = self.get_object()
        ticket_services.ticket_add_note(
            ticket=ticket, actor=request.user, note=data["note"], photo=data["photo"]
        )
        return self._detail(ticket, status.HTTP_201_CREATED)

    @extend_schema(**_NOTE_STEP, summary=_("Verify a resolved ticket without a camera (officers)"))
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, pk=None) -> Response:
        return self._note_step(request, ticket_services.ticket_verify)

    @extend_schema(**_REASON_STEP, summary=_("Reopen a resolved ticket (officers)"))
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk=None) -> Response:
        return self._reason_step(request, ticket_services.ticket_reopen)

    @extend_schema(**_REASON_STEP, summary=_("Cancel a ticket opened in error (officers)"))
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk=None) -> Response:
        return self._reason_step(request, ticket_services.ticket_cancel)

    @extend_schema(
        responses={
            (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, description=_("The photo")),
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description=_("The photo")),
        },
        summary=_("Download a photo attached to the ticket"),
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"evidence/(?P<evidence_id>\d+)",
        url_name="evidence",
    )
    def evidence(self, request: Request, pk=None, evidence_id=None) -> FileResponse:
        ticket = self.get_object()
        evidence = ticket_selectors.ticket_evidence(ticket=ticket).filter(pk=evidence_id).first()
        if evidence is None:
            raise Http404
        content_type = "image/png" if evidence.extension == "png" else "image/jpeg"
        response = FileResponse(
            evidence.file.open("rb"),
            as_attachment=True,
            filename=f"{ticket.reference}-{evidence.pk}.{evidence.extension}",
            content_type=content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the contracts router."""
    router.register("tickets", TicketViewSet, basename="ticket")
