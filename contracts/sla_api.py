"""API of SLA reports and breaches (read-only).

/api/breaches/ lists what portal.permissions lets the user see (partners: the breaches they
answer for); /api/sla-reports/contract/{id}/ and /api/sla-reports/partner/{id}/ return the
monthly report (?month=YYYY-MM, default the last complete month) to whoever may read the
contract or partner, everyone else gets a 404; /api/sla-evaluations/ is for officers.
"""

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import mixins, permissions, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from contracts import sla_selectors
from contracts.models import Breach, BreachKind, Contract, SlaEvaluation
from contracts.sla_forms import MonthField
from contracts.sla_serializers import (
    BreachSerializer,
    ContractSlaReportSerializer,
    PartnerSlaReportSerializer,
    SlaEvaluationSerializer,
)
from partners.models import Partner
from portal.api import ScopedReadOnlyViewSet, ScopedViewSet
from portal.errors import ServiceError
from portal.roles import is_officer

MONTH_PARAMETER = OpenApiParameter(
    "month",
    OpenApiTypes.STR,
    description="Month as YYYY-MM (default: the last complete month, Asia/Jakarta).",
    pattern=r"^\d{4}-\d{2}$",
)
NOT_VISIBLE = OpenApiResponse(description=_("Not found, or not yours to read."))


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2026-11"})
class MonthFilter(django_filters.Filter):
    """A month as YYYY-MM, filtered as its first day."""

    field_class = MonthField


class BreachFilter(django_filters.FilterSet):
    # Plain ids, never ModelChoiceFilters: those would answer 400 for a missing id and 200 for
    # an invisible one, telling a stranger which ids exist.
    kind = django_filters.ChoiceFilter(choices=BreachKind.choices, method="by")
    partner = django_filters.NumberFilter(method="by", label="Responsible partner id")
    kota = django_filters.CharFilter(method="by", label="Kota (Kemendagri code, e.g. 31.71)")
    contract = django_filters.NumberFilter(method="by", label="Contract (version) id")
    month_from = MonthFilter(method="by", label="From month (YYYY-MM)")
    month_to = MonthFilter(method="by", label="To month (YYYY-MM)")

    class Meta:
        model = Breach
        fields = ["kind", "partner", "kota", "contract", "month_from", "month_to"]

    def by(self, queryset, name: str, value):
        if name in {"partner", "contract"}:
            value = int(value)
        return sla_selectors.filter_breaches(queryset, {name: value})


class BreachViewSet(ScopedReadOnlyViewSet):
    """Missed obligations: clocks of tickets, inspections, months below the uptime target."""

    queryset = Breach.objects.select_related(
        "contract__kota", "responsible", "camera", "ticket", "obligation"
    ).order_by("-detected_at", "-id")
    serializer_class = BreachSerializer
    filterset_class = BreachFilter
    search_fields = ["contract__number", "responsible__name"]
    ordering_fields = ["detected_at", "period", "due_at"]


def _month(request: Request):
    value = request.query_params.get("month", "")
    if not value:
        return sla_selectors.previous_month()
    try:
        return sla_selectors.parse_month(value)
    except ValueError:
        raise ServiceError(_("Enter a month as YYYY-MM, e.g. 2026-11."), field="month") from None


class ContractSlaReportViewSet(ScopedViewSet):
    """A contract version's monthly SLA report."""

    queryset = Contract.objects.select_related("kota")
    serializer_class = ContractSlaReportSerializer
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        parameters=[MONTH_PARAMETER],
        responses={200: ContractSlaReportSerializer, 400: OpenApiResponse(), 404: NOT_VISIBLE},
        summary=_("Monthly SLA report of a contract version"),
    )
    def retrieve(self, request: Request, pk=None) -> Response:
        report = sla_selectors.contract_sla_report(
            contract=self.get_object(), month=_month(request)
        )
        return Response(ContractSlaReportSerializer(report).data)


class PartnerSlaReportViewSet(viewsets.GenericViewSet):
    """A partner's monthly SLA report over every contract version it was bound by."""

    queryset = Partner.objects.all()
    serializer_class = PartnerSlaReportSerializer
    filter_backends: list = []
    pagination_class = None

    def get_queryset(self) -> QuerySet[Partner]:
        return sla_selectors.report_partners(user=self.request.user)

    @extend_schema(
        parameters=[MONTH_PARAMETER],
        responses={200: PartnerSlaReportSerializer, 400: OpenApiResponse(), 404: NOT_VISIBLE},
        summary=_("Monthly SLA report of a partner"),
    )
    def retrieve(self, request: Request, pk=None) -> Response:
        report = sla_selectors.partner_sla_report(
            partner=self.get_object(), month=_month(request), user=request.user
        )
        return Response(PartnerSlaReportSerializer(report).data)


class IsOfficer(permissions.BasePermission):
    message = _("Only Kominfotik officers can see the SLA evaluations.")

    def has_permission(self, request, view) -> bool:
        return is_officer(request.user)


class SlaEvaluationFilter(django_filters.FilterSet):
    month = MonthFilter(field_name="month", label="Month (YYYY-MM)")
    contract = django_filters.NumberFilter(field_name="contract_id", label="Contract (version) id")

    class Meta:
        model = SlaEvaluation
        fields = ["month", "contract"]


class SlaEvaluationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Which contract versions the monthly evaluation has covered (officers; Sudin: their kota)."""

    queryset = SlaEvaluation.objects.all()
    serializer_class = SlaEvaluationSerializer
    permission_classes = [permissions.IsAuthenticated, IsOfficer]
    filterset_class = SlaEvaluationFilter
    ordering_fields = ["month", "evaluated_at"]

    def get_queryset(self) -> QuerySet[SlaEvaluation]:
        return sla_selectors.sla_evaluation_list(user=self.request.user)


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the contracts router."""
    router.register("breaches", BreachViewSet, basename="breach")
    router.register(
        "sla-reports/contract", ContractSlaReportViewSet, basename="sla-report-contract"
    )
    router.register("sla-reports/partner", PartnerSlaReportViewSet, basename="sla-report-partner")
    router.register("sla-evaluations", SlaEvaluationViewSet, basename="sla-evaluation")
