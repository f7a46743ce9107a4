"""REST endpoints for programmes, hosting applications, pole consent and the review queue.

Applications and candidate-site entries derive from portal.api.ScopedViewSet and read through
contracts.selectors, so another partner's application answers 404 on every route and action.
Programmes and response templates are city business, readable by everyone signed in. Views
validate the shape and call one service; services decide who may act (403) and which
transitions are legal (409, e.g. when another officer decided first).
"""

from django.db.models import QuerySet
from django.http import FileResponse, Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from contracts import selectors, services
from contracts.filters import ApplicationFilter, ApplicationSiteFilter, ProgrammeFilter
from contracts.models import (
    ApplicationSite,
    HostingApplication,
    Programme,
    ResponseTemplate,
)
from contracts.serializers import (
    ApplicationDecisionSerializer,
    ApplicationDetailSerializer,
    ApplicationSerializer,
    ApplicationSiteSerializer,
    ApplicationUpdateSerializer,
    ApplicationWriteSerializer,
    AttachmentSerializer,
    AttachmentUploadSerializer,
    ConsentInputSerializer,
    DecisionInputSerializer,
    NextStepSerializer,
    ProgrammeSerializer,
    ProgrammeStatusChangeSerializer,
    ProgrammeWriteSerializer,
    ResponseTemplateSerializer,
    SiteAddSerializer,
)
from partners.models import Partner, PartnerStatus
from partners.serializers import ReasonSerializer
from portal.api import ScopedViewSet
from portal.errors import ServiceError
from portal.permissions import get_scoped_or_404
from portal.roles import is_officer
from sites.models import Site, UtilityPole


class IsOfficer(permissions.BasePermission):
    message = _("Only Kominfotik officers can see the review queue.")

    def has_permission(self, request, view) -> bool:
        return is_officer(request.user)


def _input(serializer_class, request: Request, **kwargs) -> dict:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- Programmes -----------------------------------------------------------------------------

_PROGRAMME_STEP = {
    "request": ReasonSerializer,
    "responses": {
        200: ProgrammeSerializer,
        403: OpenApiResponse(description=_("Not an officer allowed to take this step.")),
        409: OpenApiResponse(description=_("Not allowed from the programme's current status.")),
    },
}


@extend_schema_view(
    create=extend_schema(
        request=ProgrammeWriteSerializer,
        responses={201: ProgrammeSerializer},
        summary=_("Draft a programme (officers)"),
    ),
    partial_update=extend_schema(
        request=ProgrammeWriteSerializer,
        responses={200: ProgrammeSerializer},
        summary=_("Edit a draft programme (officers)"),
    ),
)
class ProgrammeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Kominfotik's programmes: public to every signed-in user, written by officers."""

    queryset = Programme.objects.all()
    serializer_class = ProgrammeSerializer
    filterset_class = ProgrammeFilter
    search_fields = ["title"]
    ordering_fields = ["period_start", "created_at", "status", "title"]

    def get_queryset(self) -> QuerySet[Programme]:
        return selectors.programme_list(user=self.request.user).order_by("-period_start", "id")

    def create(self, request: Request) -> Response:
        programme = services.programme_create(
            actor=request.user, **_input(ProgrammeWriteSerializer, request)
        )
        return Response(ProgrammeSerializer(programme).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk=None) -> Response:
        programme = services.programme_update(
            programme=self.get_object(),
            actor=request.user,
            **_input(ProgrammeWriteSerializer, request, partial=True),
        )
        return Response(ProgrammeSerializer(programme).data)

    def _step(self, request: Request, service) -> Response:
        programme = service(
            programme=self.get_object(),
            actor=request.user,
            reason=_input(ReasonSerializer, request)["reason"],
        )
        return Response(ProgrammeSerializer(self.get_queryset().get(pk=programme.pk)).data)

    @extend_schema(**_PROGRAMME_STEP)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk=None) -> Response:
        return self._step(request, services.programme_submit)

    @extend_schema(**_PROGRAMME_STEP)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk=None) -> Response:
        return self._step(request, services.programme_approve)

    @extend_schema(**_PROGRAMME_STEP)
    @action(detail=True, methods=["post"], url_path="return")
    def return_(self, request: Request, pk=None) -> Response:
        return self._step(request, services.programme_return)

    @extend_schema(**_PROGRAMME_STEP)
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk=None) -> Response:
        return self._step(request, services.programme_activate)

    @extend_schema(**_PROGRAMME_STEP)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk=None) -> Response:
        return self._step(request, services.programme_close)

    @extend_schema(responses=ProgrammeStatusChangeSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def history(self, request: Request, pk=None) -> Response:
        changes = selectors.programme_history(programme=self.get_object())
        return Response(ProgrammeStatusChangeSerializer(changes, many=True).data)


# --- Applications ---------------------------------------------------------------------------


def _open_programme(programme_id: int | None) -> Programme | None:
    if programme_id is None:
        return None
    programme = Programme.objects.filter(pk=programme_id).first()
    if programme is None:
        raise ServiceError(_("Unknown programme."), field="programme")
    return programme


def _co_applicants(rows: list[dict]) -> list[tuple[Partner, int]]:
    # Co-applicants are other organisations the applicant cannot see through the scope; only
    # verified partners are found, and a missing or unverified one gets the same answer.
    ids = [row["partner"] for row in rows]
    found = Partner.objects.filter(pk__in=ids, status=PartnerStatus.VERIFIED).in_bulk()
    cleaned = []
    for row in rows:
        if row["partner"] not in found:
            raise ServiceError(
                _("Partner %(id)s is not a verified partner.") % {"id": row["partner"]},
                field="co_applicants",
            )
        cleaned.append((found[row["partner"]], row["cost_share"]))
    return cleaned


def _application_fields(data: dict) -> dict:
    fields = dict(data)
    if "programme" in fields:
        fields["programme"] = _open_programme(fields["programme"])
    if "co_applicants" in fields:
        fields["co_applicants"] = _co_applicants(fields["co_applicants"])
    return fields


_DECISION = {
    "request": DecisionInputSerializer,
    "responses": {
        200: ApplicationDetailSerializer,
        400: OpenApiResponse(description=_("A rule refused it (e.g. no comment given).")),
        403: OpenApiResponse(description=_("Not allowed to take this step (e.g. four-eyes).")),
        409: OpenApiResponse(
            description=_("Not allowed from the current status, e.g. another officer decided.")
        ),
    },
}


@extend_schema_view(
    list=extend_schema(summary=_("Applications you may see")),
    create=extend_schema(
        request=ApplicationWriteSerializer,
        responses={201: ApplicationDetailSerializer},
        summary=_("Start a draft application for one of your partners"),
    ),
    partial_update=extend_schema(
        request=ApplicationUpdateSerializer,
        responses={200: ApplicationDetailSerializer},
        summary=_("Edit a draft application"),
    ),
)
class ApplicationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = HostingApplication.objects.all()
    serializer_class = ApplicationSerializer
    filterset_class = ApplicationFilter
    search_fields = ["title", "applicant__name"]
    ordering_fields = ["created_at", "submitted_at", "status", "title"]

    def get_queryset(self) -> QuerySet[HostingApplication]:
        user = self.request.user
        if self.action == "list":
            return selectors.application_list(user=user)
        return selectors.application_detail_queryset(user=user)

    def get_serializer_class(self):
        return ApplicationSerializer if self.action == "list" else ApplicationDetailSerializer

    def _detail(self, application: HostingApplication, code: int = 200) -> Response:
        fresh = (
            selectors.application_detail_queryset(user=self.request.user)
            .filter(pk=application.pk)
            .first()
        )
        if fresh is None:  # e.g. a Sudin officer's view of an application whose kota changed
            return Response(status=status.HTTP_204_NO_CONTENT)
        context = self.get_serializer_context()
        return Response(ApplicationDetailSerializer(fresh, context=context).data, status=code)

    def create(self, request: Request) -> Response:
        data = _application_fields(_input(ApplicationWriteSerializer, request))
        applicant = get_scoped_or_404(request.user, Partner.objects.all(), pk=data.pop("applicant"))
        application = services.application_create(applicant=applicant, actor=request.user, **data)
        return self._detail(application, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk=None) -> Response:
        application = self.get_object()
        data = _application_fields(_input(ApplicationUpdateSerializer, request, partial=True))
        services.application_update(application=application, actor=request.user, **data)
        return self._detail(application)

    @extend_schema(
        request=SiteAddSerializer,
        responses={201: ApplicationSiteSerializer},
        summary=_("Add a candidate site (a pin on the map)"),
    )
    @action(detail=True, methods=["post"], url_path="sites", filter_backends=[])
    def add_site(self, request: Request, pk=None) -> Response:
        application = self.get_object()
        data = _input(SiteAddSerializer, request)
        pole_id = data.pop("pole")
        pole = None
        if pole_id is not None:
            # Poles sit on the public map; the consent step protects another owner's pole.
            pole = UtilityPole.objects.select_related("owner").filter(pk=pole_id).first()
            if pole is None:
                raise ServiceError(_("Unknown pole."), field="pole")
        entry = services.application_add_site(
            application=application, actor=request.user, pole=pole, **data
        )
        entry = selectors.application_site_list(user=request.user).get(pk=entry.pk)
        return Response(ApplicationSiteSerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None}, summary=_("Remove a candidate site"))
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"sites/(?P<site_id>\d+)",
        url_name="remove-site",
        filter_backends=[],
    )
    def remove_site(self, request: Request, pk=None, site_id=None) -> Response:
        application = self.get_object()
        site = Site.objects.filter(pk=site_id, application_entry__application=application).first()
        if site is None:
            raise Http404
        services.application_remove_site(application=application, actor=request.user, site=site)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer},
        summary=_("Attach a PDF"),
    )
    @action(
        detail=True,
        methods=["post"],
        parser_classes=[MultiPartParser, FormParser],
        filter_backends=[],
    )
    def attachments(self, request: Request, pk=None) -> Response:
        attachment = services.application_add_attachment(
            application=self.get_object(),
            actor=request.user,
            upload=_input(AttachmentUploadSerializer, request)["file"],
        )
        context = self.get_serializer_context()
        return Response(
            AttachmentSerializer(attachment, context=context).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description=_("The PDF"))
        }
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"attachments/(?P<attachment_id>\d+)/download",
        url_name="attachment-download",
        filter_backends=[],
    )
    def download_attachment(self, request: Request, pk=None, attachment_id=None) -> FileResponse:
        attachment = self.get_object().attachments.filter(pk=attachment_id).first()
        if attachment is None:
            raise Http404
        response = FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.original_name,
            content_type="application/pdf",
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def _decide(self, request: Request, service, *, templated: bool = False) -> Response:
        data = _input(DecisionInputSerializer, request)
        kwargs = {"comment": data["comment"]}
        if templated:
            kwargs["template"] = data["template"] or None
        application = service(application=self.get_object(), actor=request.user, **kwargs)
        return self._detail(application)

    @extend_schema(request=None, responses=_DECISION["responses"])
    @action(detail=True, methods=["post"], filter_backends=[])
    def submit(self, request: Request, pk=None) -> Response:
        application = services.application_submit(application=self.get_object(), actor=request.user)
        return self._detail(application)

    @extend_schema(**_DECISION)
    @action(detail=True, methods=["post"], url_path="start-review", filter_backends=[])
    def start_review(self, request: Request, pk=None) -> Response:
        return self._decide(request, services.application_start_review)

    @extend_schema(**_DECISION)
    @action(detail=True, methods=["post"], url_path="finish-technical-review", filter_backends=[])
    def finish_technical_review(self, request: Request, pk=None) -> Response:
        return self._decide(request, services.application_finish_technical_review)

    @extend_schema(**_DECISION)
    @action(detail=True, methods=["post"], filter_backends=[])
    def approve(self, request: Request, pk=None) -> Response:
        return self._decide(request, services.application_approve)

    @extend_schema(**_DECISION)
    @action(detail=True, methods=["post"], filter_backends=[])
    def reject(self, request: Request, pk=None) -> Response:
        return self._decide(request, services.application_reject, templated=True)

    @extend_schema(**_DECISION)
    @action(detail=True, methods=["post"], url_path="return", filter_backends=[])
    def return_(self, request: Request, pk=None) -> Response:
        return self._decide(request, services.application_return, templated=True)

    @extend_schema(**_DECISION)
    @action(detail=True, methods=["post"], filter_backends=[])
    def withdraw(self, request: Request, pk=None) -> Response:
        return self._decide(request, services.application_withdraw)

    @extend_schema(responses=ApplicationDecisionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def decisions(self, request: Request, pk=None) -> Response:
        rows = selectors.application_decisions(application=self.get_object())
        return Response(ApplicationDecisionSerializer(rows, many=True).data)

    @extend_schema(responses=NextStepSerializer(many=True))
    @action(
        detail=True,
        methods=["get"],
        url_path="next-steps",
        pagination_class=None,
        filter_backends=[],
    )
    def next_steps(self, request: Request, pk=None) -> Response:
        steps = selectors.application_next_steps(application=self.get_object())
        return Response(NextStepSerializer(steps, many=True).data)


# --- Candidate sites and pole consent -------------------------------------------------------

_CONSENT = {
    "request": ConsentInputSerializer,
    "responses": {
        200: ApplicationSiteSerializer,
        400: OpenApiResponse(description=_("Declining needs a comment.")),
        403: OpenApiResponse(description=_("Not a member of the pole's owner.")),
        409: OpenApiResponse(description=_("Already answered, or the application moved on.")),
    },
}


@extend_schema_view(list=extend_schema(summary=_("Candidate sites you may see")))
class ApplicationSiteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Candidate sites of visible applications, and those on your poles awaiting your answer."""

    queryset = ApplicationSite.objects.all()
    serializer_class = ApplicationSiteSerializer
    filterset_class = ApplicationSiteFilter
    ordering_fields = ["id", "pole_consent_at"]

    def get_queryset(self) -> QuerySet[ApplicationSite]:
        return selectors.application_site_list(user=self.request.user)

    def _answer(self, request: Request, service) -> Response:
        entry = service(
            entry=self.get_object(),
            actor=request.user,
            comment=_input(ConsentInputSerializer, request)["comment"],
        )
        return Response(ApplicationSiteSerializer(self.get_queryset().get(pk=entry.pk)).data)

    @extend_schema(**_CONSENT)
    @action(detail=True, methods=["post"], url_path="accept-pole", filter_backends=[])
    def accept_pole(self, request: Request, pk=None) -> Response:
        return self._answer(request, services.pole_consent_accept)

    @extend_schema(**_CONSENT)
    @action(detail=True, methods=["post"], url_path="decline-pole", filter_backends=[])
    def decline_pole(self, request: Request, pk=None) -> Response:
        return self._answer(request, services.pole_consent_decline)


# --- Review queue and response templates ----------------------------------------------------


@extend_schema_view(list=extend_schema(summary=_("Open applications for officers, oldest first")))
class ReviewQueueViewSet(mixins.ListModelMixin, ScopedViewSet):
    """Officers' queue; a Sudin officer sees only their kota."""

    queryset = HostingApplication.objects.all()
    serializer_class = ApplicationSerializer
    filterset_class = ApplicationFilter
    permission_classes = [permissions.IsAuthenticated, IsOfficer]
    ordering_fields = ["submitted_at", "status"]

    def get_queryset(self) -> QuerySet[HostingApplication]:
        return selectors.review_queue(user=self.request.user)


class ResponseTemplateViewSet(viewsets.ReadOnlyModelViewSet):
    """Common reasons for returning or rejecting, in Bahasa Indonesia and English."""

    queryset = ResponseTemplate.objects.all()
    serializer_class = ResponseTemplateSerializer
    lookup_field = "code"
    pagination_class = None
    filter_backends = []

    def get_queryset(self) -> QuerySet[ResponseTemplate]:
        return selectors.response_template_list()
