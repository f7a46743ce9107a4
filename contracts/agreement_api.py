"""API of partnership agreements (contracts, parties, shares, sites, obligations, documents).

Contracts derive from portal.api.ScopedViewSet and read through contracts.agreement_selectors,
so a contract another partner is party to answers 404 on every route and action. Each write
validates the shape and calls one service; the services decide who may act (403: a party's
member or an operator asking for an officer's step) and which transitions are legal (409).
Documents download only for the contract's parties' members and officers (404 for others).
"""

import django_filters
from django.db.models import QuerySet
from django.http import FileResponse, Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from contracts import agreement_selectors as selectors
from contracts import agreement_services as services
from contracts.agreement_serializers import (
    ContractCameraSerializer,
    ContractDetailSerializer,
    ContractDocumentSerializer,
    ContractDocumentUploadSerializer,
    ContractFromApplicationSerializer,
    ContractObligationInputSerializer,
    ContractObligationSerializer,
    ContractPartyInputSerializer,
    ContractSerializer,
    ContractShareInputSerializer,
    ContractSignInputSerializer,
    ContractSiteInputSerializer,
    ContractStatusChangeSerializer,
    ContractUpdateSerializer,
    ContractWriteSerializer,
)
from contracts.models import Contract, ContractStatus
from contracts.selectors import application_get
from partners.models import Partner, PartnerStatus
from partners.serializers import ReasonSerializer
from portal.api import ScopedViewSet
from portal.errors import ServiceError
from portal.permissions import scope_queryset
from sites.models import Site


class ContractFilter(django_filters.FilterSet):
    """Partner ids are plain numbers: a ModelChoiceFilter would tell a stranger which exist."""

    status = django_filters.ChoiceFilter(choices=ContractStatus.choices, method="by")
    partner = django_filters.NumberFilter(method="by", label="Party partner id")
    kota = django_filters.CharFilter(method="by", label="Kota (Kemendagri code, e.g. 31.71)")
    expiring_within_days = django_filters.NumberFilter(
        method="by", min_value=0, label="Active and ending within this many days"
    )
    q = django_filters.CharFilter(method="by", label="Number, title or party name contains")

    class Meta:
        model = Contract
        fields = ["status", "partner", "kota", "expiring_within_days", "q"]

    def by(self, queryset, name: str, value):
        if name in {"partner", "expiring_within_days"}:
            value = int(value)
        return selectors.filter_contracts(queryset, {name: value})


def _input(serializer_class, request: Request, **kwargs) -> dict:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _verified_partner(partner_id: int) -> Partner:
    # A missing and an unverified partner get the same answer: ids say nothing to a stranger.
    partner = Partner.objects.filter(pk=partner_id, status=PartnerStatus.VERIFIED).first()
    if partner is None:
        raise ServiceError(
            _("Partner %(id)s is not a verified partner.") % {"id": partner_id}, field="partner"
        )
    return partner


def _party(contract: Contract, partner_id: int | None, field: str) -> Partner | None:
    if partner_id is None:
        return None
    party = next((p for p in contract.parties.all() if p.partner_id == partner_id), None)
    if party is None:
        raise ServiceError(_("This partner is not a party to the contract."), field=field)
    return party.partner


def _covered_site(contract: Contract, site_id) -> Site | None:
    entry = next((e for e in contract.covered_sites.all() if str(e.site_id) == str(site_id)), None)
    return entry.site if entry else None


_STEP_RESPONSES = {
    200: ContractDetailSerializer,
    400: OpenApiResponse(description=_("A rule refused it (e.g. shares do not add up).")),
    403: OpenApiResponse(description=_("Not allowed to take this step (role, kota, four-eyes).")),
    409: OpenApiResponse(description=_("Not allowed from the contract's current status.")),
}
_EDIT_RESPONSES = {
    400: OpenApiResponse(description=_("A rule refused it.")),
    403: OpenApiResponse(description=_("Only officers for the contract's kota edit drafts.")),
    409: OpenApiResponse(description=_("The contract is no longer a draft.")),
}


@extend_schema_view(
    list=extend_schema(summary=_("Contract versions you may see")),
    retrieve=extend_schema(
        summary=_("A contract version with parties, shares, sites, obligations and documents")
    ),
    create=extend_schema(
        request=ContractWriteSerializer,
        responses={201: ContractDetailSerializer, **_EDIT_RESPONSES},
        summary=_("Draft a contract by hand (officers)"),
    ),
    partial_update=extend_schema(
        request=ContractUpdateSerializer,
        responses={200: ContractDetailSerializer, **_EDIT_RESPONSES},
        summary=_("Edit a draft contract (officers)"),
    ),
)
class ContractViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Partnership agreements (PKS): every version of every contract you are party to, or all
    of them for officers (a Sudin officer: their kota) and operators (read-only)."""

    queryset = Contract.objects.all()
    serializer_class = ContractSerializer
    filterset_class = ContractFilter
    search_fields = ["number", "title"]
    ordering_fields = ["created_at", "term_end", "term_start", "status", "number"]

    def get_queryset(self) -> QuerySet[Contract]:
        user = self.request.user
        if self.action == "list":
            return selectors.contract_list(user=user)
        return selectors.contract_detail_queryset(user=user)

    def get_serializer_class(self):
        return ContractSerializer if self.action == "list" else ContractDetailSerializer

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        contract = getattr(self, "_contract", None)
        if contract is not None:
            user = self.request.user
            context["may_download"] = selectors.may_download_documents(user=user, contract=contract)
            context["versions"] = selectors.contract_versions(user=user, contract=contract)
        return context

    def get_object(self) -> Contract:
        self._contract = super().get_object()
        return self._contract

    def _detail(self, contract: Contract, code: int = 200) -> Response:
        fresh = selectors.contract_detail_queryset(user=self.request.user).filter(pk=contract.pk)
        self._contract = fresh.first()
        if self._contract is None:  # e.g. a Sudin officer moved the draft to another kota
            return Response(status=status.HTTP_204_NO_CONTENT)
        serializer = ContractDetailSerializer(self._contract, context=self.get_serializer_context())
        return Response(serializer.data, status=code)

    def create(self, request: Request) -> Response:
        data = dict(_input(ContractWriteSerializer, request))
        application_id = data.pop("application", None)
        if application_id is not None:
            data["application"] = application_get(user=request.user, pk=application_id)
        contract = services.contract_create(actor=request.user, **data)
        return self._detail(contract, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk=None) -> Response:
        contract = self.get_object()
        data = _input(ContractUpdateSerializer, request, partial=True)
        services.contract_update(contract=contract, actor=request.user, **data)
        return self._detail(contract)

    @extend_schema(
        request=ContractFromApplicationSerializer,
        responses={201: ContractDetailSerializer, **_EDIT_RESPONSES},
        summary=_("Draft a contract from an approved application (officers)"),
    )
    @action(detail=False, methods=["post"], url_path="from-application", filter_backends=[])
    def from_application(self, request: Request) -> Response:
        application_id = _input(ContractFromApplicationSerializer, request)["application"]
        application = application_get(user=request.user, pk=application_id)
        contract = services.contract_draft_from_application(
            application=application, actor=request.user
        )
        return self._detail(contract, status.HTTP_201_CREATED)

    # --- Draft contents -------------------------------------------------------------------

    @extend_schema(
        request=ContractPartyInputSerializer,
        responses={200: ContractDetailSerializer, **_EDIT_RESPONSES},
        summary=_("Add a party, or replace a party's roles and signatory"),
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def parties(self, request: Request, pk=None) -> Response:
        contract = self.get_object()
        data = dict(_input(ContractPartyInputSerializer, request))
        partner = _verified_partner(data.pop("partner"))
        services.contract_set_party(contract=contract, actor=request.user, partner=partner, **data)
        return self._detail(contract)

    @extend_schema(request=None, responses={204: None, **_EDIT_RESPONSES})
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"parties/(?P<partner_id>\d+)",
        url_name="remove-party",
        filter_backends=[],
    )
    def remove_party(self, request: Request, pk=None, partner_id=None) -> Response:
        contract = self.get_object()
        party = next((p for p in contract.parties.all() if str(p.partner_id) == partner_id), None)
        if party is None:
            raise Http404
        services.contract_remove_party(contract=contract, actor=request.user, partner=party.partner)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=ContractShareInputSerializer,
        responses={200: ContractDetailSerializer, **_EDIT_RESPONSES},
        summary=_("Add a co-funding share"),
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def shares(self, request: Request, pk=None) -> Response:
        contract = self.get_object()
        data = dict(_input(ContractShareInputSerializer, request))
        data["partner"] = _party(contract, data["partner"], "partner")
        services.contract_add_share(contract=contract, actor=request.user, **data)
        return self._detail(contract)

    @extend_schema(request=None, responses={204: None, **_EDIT_RESPONSES})
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"shares/(?P<share_id>\d+)",
        url_name="remove-share",
        filter_backends=[],
    )
    def remove_share(self, request: Request, pk=None, share_id=None) -> Response:
        contract = self.get_object()
        share = next((s for s in contract.shares.all() if str(s.pk) == share_id), None)
        if share is None:
            raise Http404
        services.contract_remove_share(contract=contract, actor=request.user, share=share)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=ContractSiteInputSerializer,
        responses={200: ContractDetailSerializer, **_EDIT_RESPONSES},
        summary=_("Cover a site (and its cameras)"),
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def sites(self, request: Request, pk=None) -> Response:
        contract = self.get_object()
        site_id = _input(ContractSiteInputSerializer, request)["site"]
        site = scope_queryset(request.user, Site.objects.all()).filter(pk=site_id).first()
        if site is None:
            raise ServiceError(_("Unknown site."), field="site")
        services.contract_add_site(contract=contract, actor=request.user, site=site)
        return self._detail(contract)

    @extend_schema(request=None, responses={204: None, **_EDIT_RESPONSES})
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"sites/(?P<site_id>\d+)",
        url_name="remove-site",
        filter_backends=[],
    )
    def remove_site(self, request: Request, pk=None, site_id=None) -> Response:
        contract = self.get_object()
        site = _covered_site(contract, site_id)
        if site is None:
            raise Http404
        services.contract_remove_site(contract=contract, actor=request.user, site=site)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=ContractObligationInputSerializer,
        responses={201: ContractObligationSerializer, **_EDIT_RESPONSES},
        summary=_("Add an obligation owed by a party"),
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def obligations(self, request: Request, pk=None) -> Response:
        contract = self.get_object()
        data = dict(_input(ContractObligationInputSerializer, request))
        data["responsible"] = _party(contract, data["responsible"], "responsible")
        sites = [_covered_site(contract, site_id) for site_id in data.pop("sites")]
        if None in sites:
            raise ServiceError(
                _("An obligation can only name sites the contract covers."), field="sites"
            )
        obligation = services.contract_add_obligation(
            contract=contract, actor=request.user, sites=sites, **data
        )
        return Response(
            ContractObligationSerializer(obligation).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=None, responses={204: None, **_EDIT_RESPONSES})
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"obligations/(?P<obligation_id>\d+)",
        url_name="remove-obligation",
        filter_backends=[],
    )
    def remove_obligation(self, request: Request, pk=None, obligation_id=None) -> Response:
        contract = self.get_object()
        obligation = next(
            (o for o in contract.obligations.all() if str(o.pk) == obligation_id), None
        )
        if obligation is None:
            raise Http404
        services.contract_remove_obligation(
            contract=contract, actor=request.user, obligation=obligation
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    # --- Documents ------------------------------------------------------------------------

    @extend_schema(
        request={"multipart/form-data": ContractDocumentUploadSerializer},
        responses={201: ContractDocumentSerializer, **_EDIT_RESPONSES},
        summary=_("Attach a draft text or an annex (PDF) before signing"),
    )
    @action(
        detail=True,
        methods=["post"],
        parser_classes=[MultiPartParser, FormParser],
        filter_backends=[],
    )
    def documents(self, request: Request, pk=None) -> Response:
        contract = self.get_object()
        data = _input(ContractDocumentUploadSerializer, request)
        document = services.contract_add_document(
            contract=contract, actor=request.user, upload=data["file"], kind=data["kind"]
        )
        context = {**self.get_serializer_context(), "may_download": True}
        return Response(
            ContractDocumentSerializer(document, context=context).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description=_("The PDF")
            ),
            404: OpenApiResponse(description=_("Only parties' members and officers get it.")),
        }
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"documents/(?P<document_id>\d+)/download",
        url_name="document-download",
        filter_backends=[],
    )
    def download_document(self, request: Request, pk=None, document_id=None) -> FileResponse:
        document = selectors.contract_document_for_download(
            user=request.user, contract_pk=pk, document_pk=document_id
        )
        response = FileResponse(
            document.file.open("rb"),
            as_attachment=True,
            filename=document.original_name,
            content_type="application/pdf",
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response

    # --- Lifecycle ------------------------------------------------------------------------

    def _step(self, request: Request, service, **kwargs) -> Response:
        contract = self.get_object()
        service(contract=contract, actor=request.user, **kwargs)
        return self._detail(contract)

    def _reason(self, request: Request) -> str:
        return _input(ReasonSerializer, request)["reason"]

    @extend_schema(request=ReasonSerializer, responses=_STEP_RESPONSES)
    @action(detail=True, methods=["post"], filter_backends=[])
    def submit(self, request: Request, pk=None) -> Response:
        """Send a complete draft to legal review (shares must add up to the total)."""
        return self._step(
            request, services.contract_submit_for_review, reason=self._reason(request)
        )

    @extend_schema(request=ReasonSerializer, responses=_STEP_RESPONSES)
    @action(detail=True, methods=["post"], url_path="return", filter_backends=[])
    def return_(self, request: Request, pk=None) -> Response:
        """Legal review returns the text to draft (a reason is required)."""
        return self._step(request, services.contract_return, reason=self._reason(request))

    @extend_schema(
        request={"multipart/form-data": ContractSignInputSerializer}, responses=_STEP_RESPONSES
    )
    @action(
        detail=True,
        methods=["post"],
        parser_classes=[MultiPartParser, FormParser],
        filter_backends=[],
    )
    def sign(self, request: Request, pk=None) -> Response:
        """Record the signature with the signed PDF (four-eyes: not the officer who sent it)."""
        data = _input(ContractSignInputSerializer, request)
        return self._step(
            request,
            services.contract_sign,
            signed_pdf=data["signed_pdf"],
            signed_at=data["signed_at"],
        )

    @extend_schema(request=ReasonSerializer, responses=_STEP_RESPONSES)
    @action(detail=True, methods=["post"], filter_backends=[])
    def activate(self, request: Request, pk=None) -> Response:
        """Bring a signed contract into force once its term has started."""
        return self._step(request, services.contract_activate, reason=self._reason(request))

    @extend_schema(request=ReasonSerializer, responses=_STEP_RESPONSES)
    @action(detail=True, methods=["post"], filter_backends=[])
    def terminate(self, request: Request, pk=None) -> Response:
        """End a signed or active contract early (a reason is required)."""
        return self._step(request, services.contract_terminate, reason=self._reason(request))

    @extend_schema(
        request=ReasonSerializer,
        responses={201: ContractDetailSerializer, **_EDIT_RESPONSES},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def amend(self, request: Request, pk=None) -> Response:
        """Start an addendum: a draft copy (next version) of an active contract."""
        addendum = services.contract_amend(
            contract=self.get_object(), actor=request.user, reason=self._reason(request)
        )
        return self._detail(addendum, status.HTTP_201_CREATED)

    @extend_schema(responses=ContractStatusChangeSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def history(self, request: Request, pk=None) -> Response:
        """The version's status log, oldest first."""
        changes = selectors.contract_history(contract=self.get_object())
        return Response(ContractStatusChangeSerializer(changes, many=True).data)

    @extend_schema(responses=ContractCameraSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def cameras(self, request: Request, pk=None) -> Response:
        """The cameras on the sites the version covers."""
        cameras = selectors.contract_cameras(contract=self.get_object())
        return Response(ContractCameraSerializer(cameras, many=True).data)


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the contracts router."""
    router.register("contracts", ContractViewSet, basename="contract")
