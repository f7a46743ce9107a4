"""Reads of partnership agreements: lists, details, and which contract covers what.

The routing reads at the top (which contract is in force at a site, which obligation applies,
who answers for a repair) are what maintenance tickets are built on.
"""

from datetime import timedelta

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from contracts.models import (
    Contract,
    ContractDocument,
    ContractParty,
    ContractSite,
    ContractStatus,
    ContractStatusChange,
    FundingShare,
    Obligation,
    ObligationKind,
    PartyRole,
)
from partners.models import Membership, Partner
from portal.permissions import scope_queryset
from portal.roles import is_officer
from sites.models import Camera, Site


def contract_in_force_for_site(*, site_id: int) -> Contract | None:
    """The active contract version covering the site, if any (at most one, by constraint)."""
    return (
        Contract.objects.filter(
            status=ContractStatus.ACTIVE,
            covered_sites__site_id=site_id,
            covered_sites__in_force=True,
        )
        .select_related("kota")
        .first()
    )


def obligation_for(*, contract: Contract, kind: str, site_id: int) -> Obligation | None:
    """The obligation of `kind` that applies at the site: one naming the site wins over one
    that applies contract-wide (no sites listed)."""
    return (
        Obligation.objects.filter(contract=contract, kind=kind)
        .filter(Q(sites__isnull=True) | Q(sites__id=site_id))
        .annotate(
            specific=Case(
                When(sites__id=site_id, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .select_related("responsible")
        .order_by("specific", "id")
        .first()
    )


def responsible_party(*, contract: Contract | None, site: Site) -> Partner:
    """Who must repair at `site`: the party the contract's repair obligation names, else its
    maintainer, else (and with no contract) the site's host."""
    if contract is not None:
        repair = obligation_for(contract=contract, kind=ObligationKind.REPAIR, site_id=site.pk)
        if repair is not None:
            return repair.responsible
        maintainer = (
            contract.parties.filter(roles__contains=[PartyRole.MAINTAINER])
            .select_related("partner")
            .order_by("id")
            .first()
        )
        if maintainer is not None:
            return maintainer.partner
    return site.host_partner


def contracts_in_force() -> QuerySet[Contract]:
    return Contract.objects.filter(status=ContractStatus.ACTIVE)


# --- Lists and details ----------------------------------------------------------------------


def _site_count() -> Subquery:
    return Subquery(
        ContractSite.objects.filter(contract=OuterRef("pk"))
        .order_by()
        .values("contract")
        .annotate(n=Count("pk"))
        .values("n"),
        output_field=IntegerField(),
    )


def _shares_total() -> Subquery:
    return Subquery(
        FundingShare.objects.filter(contract=OuterRef("pk"))
        .order_by()
        .values("contract")
        .annotate(total=Sum("amount"))
        .values("total"),
        output_field=BigIntegerField(),
    )


def _annotated(contracts: QuerySet[Contract]) -> QuerySet[Contract]:
    """Site count and shares total by subquery (joins would multiply each other's rows)."""
    return (
        contracts.select_related("kota", "amends")
        .prefetch_related(
            Prefetch(
                "parties",
                queryset=ContractParty.objects.select_related("partner").order_by("id"),
            )
        )
        .annotate(
            site_count=Coalesce(_site_count(), Value(0)),
            shares_total=Coalesce(_shares_total(), Value(0), output_field=BigIntegerField()),
        )
    )


def filter_contracts(contracts: QuerySet[Contract], filters: dict) -> QuerySet[Contract]:
    """Filters: status, partner (id), kota (code), expiring_within_days (active ones), q."""
    if filters.get("status"):
        contracts = contracts.filter(status=filters["status"])
    if filters.get("partner"):
        contracts = contracts.filter(
            pk__in=ContractParty.objects.filter(partner_id=filters["partner"]).values("contract")
        )
    if filters.get("kota"):
        contracts = contracts.filter(kota__code=filters["kota"])
    if filters.get("expiring_within_days") is not None:
        today = timezone.localdate()
        contracts = contracts.filter(
            status=ContractStatus.ACTIVE,
            term_end__gte=today,
            term_end__lte=today + timedelta(days=int(filters["expiring_within_days"])),
        )
    if filters.get("q"):
        q = filters["q"].strip()
        by_party = ContractParty.objects.filter(partner__name__icontains=q).values("contract")
        contracts = contracts.filter(
            Q(number__icontains=q) | Q(title__icontains=q) | Q(pk__in=by_party)
        )
    return contracts


def contract_list(*, user, filters: dict | None = None) -> QuerySet[Contract]:
    """The contract versions `user` may see: officers all (a Sudin officer their kota),
    operators all (read-only), partner members those their partner is a party to."""
    contracts = scope_queryset(user, Contract.objects.all())
    return _annotated(filter_contracts(contracts, filters or {})).order_by("-created_at", "-id")


def contract_detail_queryset(*, user) -> QuerySet[Contract]:
    covered = ContractSite.objects.select_related(
        "site__kelurahan__parent__parent", "site__pole__owner", "site__host_partner"
    ).annotate(camera_count=Count("site__cameras"))
    return (
        _annotated(scope_queryset(user, Contract.objects.all()))
        .prefetch_related(
            Prefetch("covered_sites", queryset=covered.order_by("id")),
            Prefetch(
                "shares", queryset=FundingShare.objects.select_related("partner").order_by("id")
            ),
            Prefetch(
                "obligations",
                queryset=Obligation.objects.select_related("responsible").prefetch_related("sites"),
            ),
            Prefetch(
                "documents",
                queryset=ContractDocument.objects.select_related("uploaded_by").order_by(
                    "uploaded_at", "id"
                ),
            ),
        )
        .select_related("application", "created_by")
    )


def contract_get(*, user, pk) -> Contract:
    """One visible contract version with everything its detail shows, or 404."""
    try:
        return contract_detail_queryset(user=user).get(pk=pk)
    except (Contract.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def contract_versions(*, user, contract: Contract) -> QuerySet[Contract]:
    """Every version of the contract's number that `user` may see, oldest first."""
    return (
        scope_queryset(user, Contract.objects.filter(number=contract.number))
        .select_related("created_by")
        .order_by("version")
    )


def contract_history(*, contract: Contract) -> QuerySet[ContractStatusChange]:
    """The append-only status log of one version, oldest first."""
    return contract.status_changes.select_related("actor").order_by("created_at", "id")


def contract_cameras(*, contract: Contract) -> QuerySet[Camera]:
    """The cameras on the sites the version covers."""
    return (
        Camera.objects.filter(site__contract_entries__contract=contract)
        .select_related("site", "owner", "health")
        .order_by("site_id", "id")
    )


def contracts_for_partner(*, user, partner: Partner) -> QuerySet[Contract]:
    """The contract versions (visible to `user`) that `partner` is a party to."""
    return contract_list(user=user, filters={"partner": partner.pk})


def may_download_documents(*, user, contract: Contract) -> bool:
    """Contract papers go to officers who may see the contract and to members of its parties;
    operators run the fleet and have no business with them."""
    if not user.is_authenticated:
        return False
    if is_officer(user):
        return scope_queryset(user, Contract.objects.filter(pk=contract.pk)).exists()
    return Membership.objects.filter(
        user=user, partner__contract_parties__contract=contract
    ).exists()


def contract_document_for_download(*, user, contract_pk, document_pk) -> ContractDocument:
    """A document of a visible contract that `user` may download, or 404 (never 403: a
    stranger learns nothing about which documents exist)."""
    contract = contract_get(user=user, pk=contract_pk)
    document = next((d for d in contract.documents.all() if str(d.pk) == str(document_pk)), None)
    if document is None or not may_download_documents(user=user, contract=contract):
        raise Http404
    return document
