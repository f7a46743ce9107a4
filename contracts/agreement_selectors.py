"""Reads of partnership agreements: lists, details, and which contract covers what.

The routing reads at the top (which contract is in force at a site, which obligation applies,
who answers for a repair) are what maintenance tickets are built on.
"""

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from contracts.models import (
    Contract,
    ContractStatus,
    Obligation,
    ObligationKind,
    PartyRole,
)
from partners.models import Partner
from sites.models import Site


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
