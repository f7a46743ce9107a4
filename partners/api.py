"""REST endpoints for partners, members, invitations, documents and camera networks.

Every viewset derives from portal.api.ScopedViewSet, so another partner's rows answer 404 on
every detail route and action. Views validate the shape and call one service; the services
decide who may do what (403) and which transitions are legal (409).
"""

from django.db.models import QuerySet
from django.http import FileResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from partners import services
from partners.filters import (
    CameraNetworkFilter,
    DocumentFilter,
    InvitationFilter,
    MembershipFilter,
    PartnerFilter,
)
from partners.models import CameraNetwork, Invitation, Membership, Partner, PartnerDocument
from partners.serializers import (
    CameraNetworkRequestSerializer,
    CameraNetworkSerializer,
    DocumentSerializer,
    DocumentUploadSerializer,
    InvitationAcceptSerializer,
    InvitationCreateSerializer,
    InvitationSerializer,
    MembershipRoleSerializer,
    MembershipSerializer,
    PartnerSerializer,
    PartnerWriteSerializer,
    ReasonSerializer,
    StatusChangeSerializer,
)
from portal.api import ScopedViewSet
from portal.permissions import get_scoped_or_404, partner_ids_for
from portal.roles import is_officer, is_operator


def _visible_partner(request: Request, partner_id: int) -> Partner:
    """The partner named in a request body, if the user may see it; 404 like any other object."""
    return get_scoped_or_404(
        request.user, Partner.objects.select_related("kelurahan__parent"), pk=partner_id
    )


def _reason(request: Request) -> str:
    serializer = ReasonSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["reason"]


_DECISION = {
    "request": ReasonSerializer,
    "responses": {
        200: PartnerSerializer,
        400: OpenApiResponse(description=_("No reason given.")),
        403: OpenApiResponse(description=_("Not an officer for this partner's kota.")),
        409: OpenApiResponse(description=_("Not allowed from the partner's current status.")),
    },
}


# --- Partners -------------------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(
        request=PartnerWriteSerializer,
        responses={201: PartnerSerializer},
        summary=_("Register a partner; you become its owner"),
    ),
    partial_update=extend_schema(
        request=PartnerWriteSerializer, responses={200: PartnerSerializer}
    ),
)
class PartnerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = Partner.objects.select_related("kelurahan__parent__parent")
    serializer_class = PartnerSerializer
    filterset_class = PartnerFilter
    search_fields = ["name", "legal_name", "nib"]
    ordering_fields = ["name", "created_at", "status"]

    def create(self, request: Request) -> Response:
        serializer = PartnerWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        partner = services.partner_register(user=request.user, **serializer.validated_data)
        return Response(PartnerSerializer(partner).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk=None) -> Response:
        partner = self.get_object()
        serializer = PartnerWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        partner = services.partner_update(
            partner=partner, actor=request.user, **serializer.validated_data
        )
        return Response(PartnerSerializer(partner).data)

    def _decide(self, request: Request, service) -> Response:
        partner = service(partner=self.get_object(), actor=request.user, reason=_reason(request))
        return Response(PartnerSerializer(partner).data)

    @extend_schema(**_DECISION)
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, pk=None) -> Response:
        return self._decide(request, services.partner_verify)

    @extend_schema(**_DECISION)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk=None) -> Response:
        return self._decide(request, services.partner_reject)

    @extend_schema(**_DECISION)
    @action(detail=True, methods=["post"])
    def suspend(self, request: Request, pk=None) -> Response:
        return self._decide(request, services.partner_suspend)

    @extend_schema(**_DECISION)
    @action(detail=True, methods=["post"])
    def reinstate(self, request: Request, pk=None) -> Response:
        return self._decide(request, services.partner_reinstate)

    @extend_schema(responses=StatusChangeSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def history(self, request: Request, pk=None) -> Response:
        changes = self.get_object().status_changes.select_related("actor")
        return Response(StatusChangeSerializer(changes, many=True).data)


# --- Members and invitations ----------------------------------------------------------------


@extend_schema_view(
    partial_update=extend_schema(
        request=MembershipRoleSerializer,
        responses={200: MembershipSerializer},
        summary=_("Change a member's role (owners only)"),
    ),
    destroy=extend_schema(summary=_("Remove a member (owners), or leave the partner yourself")),
)
class MembershipViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = Membership.objects.select_related("user", "partner")
    serializer_class = MembershipSerializer
    filterset_class = MembershipFilter
    ordering_fields = ["created_at", "role"]

    def partial_update(self, request: Request, pk=None) -> Response:
        membership = self.get_object()
        serializer = MembershipRoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.membership_change_role(
            membership=membership, actor=request.user, role=serializer.validated_data["role"]
        )
        return Response(MembershipSerializer(membership).data)

    def destroy(self, request: Request, pk=None) -> Response:
        services.membership_remove(membership=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary=_("Pending invitations")),
    create=extend_schema(
        request=InvitationCreateSerializer,
        responses={201: InvitationSerializer},
        summary=_("Invite someone by email (owners only)"),
    ),
)
class InvitationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = Invitation.objects.filter(
        accepted_at__isnull=True, revoked_at__isnull=True
    ).select_related("invited_by")
    serializer_class = InvitationSerializer
    filterset_class = InvitationFilter
    ordering_fields = ["created_at", "expires_at", "email"]

    def create(self, request: Request) -> Response:
        serializer = InvitationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        invitation = services.invitation_create(
            partner=_visible_partner(request, data["partner"]),
            actor=request.user,
            email=data["email"],
            role=data["role"],
        )
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: InvitationSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk=None) -> Response:
        invitation = services.invitation_revoke(invitation=self.get_object(), actor=request.user)
        return Response(InvitationSerializer(invitation).data)

    @extend_schema(
        request=InvitationAcceptSerializer,
        responses={200: MembershipSerializer},
        summary=_("Accept an invitation sent to your email address"),
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def accept(self, request: Request) -> Response:
        # Not a scoped lookup: the invitee is not a member yet. The token is the secret, and
        # the service checks that it was sent to the signed-in user's address.
        serializer = InvitationAcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.invitation_accept(
            token=serializer.validated_data["token"], user=request.user
        )
        return Response(MembershipSerializer(membership).data)


# --- Documents ------------------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(
        request={"multipart/form-data": DocumentUploadSerializer},
        responses={201: DocumentSerializer},
        summary=_("Upload a supporting PDF"),
    ),
)
class DocumentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = PartnerDocument.objects.select_related("uploaded_by")
    serializer_class = DocumentSerializer
    filterset_class = DocumentFilter
    ordering_fields = ["uploaded_at", "kind", "original_name"]
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[PartnerDocument]:
        documents = super().get_queryset()
        user = self.request.user
        if is_operator(user) and not is_officer(user):
            # The NOC watches camera health; partners' legal papers are for officers and members.
            documents = documents.filter(partner__in=partner_ids_for(user))
        return documents

    def create(self, request: Request) -> Response:
        serializer = DocumentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        document = services.document_upload(
            partner=_visible_partner(request, data["partner"]),
            actor=request.user,
            kind=data["kind"],
            upload=data["file"],
        )
        body = DocumentSerializer(document, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description=_("The PDF")
            ),
        }
    )
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk=None) -> FileResponse:
        document = self.get_object()
        response = FileResponse(
            document.file.open("rb"),
            as_attachment=True,
            filename=document.original_name,
            content_type="application/pdf",
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response


# --- Camera networks ------------------------------------------------------------------------

_NETWORK_DECISION = {
    "request": ReasonSerializer,
    "responses": {
        200: CameraNetworkSerializer,
        400: OpenApiResponse(description=_("No reason given, or the partner is not verified.")),
        403: OpenApiResponse(description=_("Not an officer.")),
        409: OpenApiResponse(description=_("Not allowed from the network's current status.")),
    },
}


@extend_schema_view(
    create=extend_schema(
        request=CameraNetworkRequestSerializer,
        responses={201: CameraNetworkSerializer},
        summary=_("Propose a camera network (CIDR and ports)"),
    ),
)
class CameraNetworkViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = CameraNetwork.objects.select_related("partner")
    serializer_class = CameraNetworkSerializer
    filterset_class = CameraNetworkFilter
    search_fields = ["cidr", "description"]
    ordering_fields = ["created_at", "cidr", "status"]

    def create(self, request: Request) -> Response:
        serializer = CameraNetworkRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        network = services.network_request(
            partner=_visible_partner(request, data["partner"]),
            actor=request.user,
            cidr=data["cidr"],
            ports=data["ports"],
            description=data["description"],
        )
        return Response(CameraNetworkSerializer(network).data, status=status.HTTP_201_CREATED)

    def _decide(self, request: Request, service) -> Response:
        network = service(network=self.get_object(), actor=request.user, reason=_reason(request))
        return Response(CameraNetworkSerializer(network).data)

    @extend_schema(**_NETWORK_DECISION)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk=None) -> Response:
        return self._decide(request, services.network_approve)

    @extend_schema(**_NETWORK_DECISION)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk=None) -> Response:
        return self._decide(request, services.network_reject)

    @extend_schema(**_NETWORK_DECISION)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk=None) -> Response:
        return self._decide(request, services.network_revoke)

    @extend_schema(responses=StatusChangeSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def history(self, request: Request, pk=None) -> Response:
        changes = self.get_object().status_changes.select_related("actor")
        return Response(StatusChangeSerializer(changes, many=True).data)
