"""Every write to partnership agreements (PKS) goes through here.

A contract version is edited only while it is a draft; each lifecycle step is one service that
goes through portal.audit.transition (row lock, transition table, one append-only
ContractStatusChange). Officers draft and steer contracts (a Sudin officer only in their kota);
the legal reviewer returns or signs, an approver may sign too, never the officer who sent the
version to legal review (four-eyes). Which site a contract covers *today* is ContractSite.in_force,
switched only by activation, supersession, expiry and termination; a partial unique index keeps
a site under at most one active contract, and the services check first to say so plainly.

Versions: an addendum is a new version of the same number. The database lets at most one version
of a number be active and one more be signed; a signed addendum takes over when it is activated
(on its start date, or by an officer): in one transaction the predecessor is superseded and the
addendum's sites come into force, so a site conflict undoes both.
"""

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from contracts import tasks
from contracts.models import (
    CONTRACT_TRANSITIONS,
    EDITABLE_CONTRACT_STATUSES,
    IN_FORCE_CONTRACT_STATUSES,
    OBLIGATION_VALUE_BOUNDS,
    ApplicationStatus,
    Contract,
    ContractDocument,
    ContractParty,
    ContractReminder,
    ContractSite,
    ContractStatus,
    ContractStatusChange,
    DocumentKind,
    FundingShare,
    HostingApplication,
    Obligation,
    ObligationKind,
    PartyRole,
    RenewalTerms,
    ShareKind,
)
from contracts.templatetags.money import rupiah
from partners.models import Partner, PartnerStatus
from portal.audit import transition
from portal.documents import read_pdf, store_pdf
from portal.errors import Conflict, PermissionDenied, ServiceError, full_clean_or_raise
from portal.roles import Role, is_city_officer, is_sudin_officer, role_names
from sites.models import Area, AreaLevel, Site, SiteStatus

logger = logging.getLogger(__name__)

# Only sites the city has approved can be put under a contract.
COVERABLE_SITE_STATUSES = {SiteStatus.APPROVED, SiteStatus.INSTALLING, SiteStatus.ACTIVE}
# Parties hear about these steps of their contract by email.
EMAILED_STATUSES = {
    ContractStatus.SIGNED,
    ContractStatus.ACTIVE,
    ContractStatus.TERMINATED,
    ContractStatus.EXPIRED,
}
DEFAULT_TERM_YEARS = 5
DEFAULT_FIRST_PARTY_SIGNATORY = "Kepala Dinas Komunikasi, Informatika dan Statistik"
_NUMBER_FORMAT = "PKS/{seq:04d}/DISKOMINFOTIK/{year}"
# pg_advisory_xact_lock key: drafts numbered at the same moment take turns, never the same number.
_NUMBER_LOCK_KEY = 7_301_842_551
_UPDATABLE_FIELDS = {
    "number",
    "title",
    "term_start",
    "term_end",
    "total_value",
    "first_party",
    "first_party_signatory",
    "first_party_signatory_title",
    "renewal",
    "kota",
}
_DOCUMENT_STATUSES = {ContractStatus.DRAFT, ContractStatus.LEGAL_REVIEW}


# --- Shared checks --------------------------------------------------------------------------


def _label(value: str) -> str:
    return str(dict(ContractStatus.choices).get(value, value))


# Who returns a text from legal review, and who may sign or terminate for the city.
LEGAL_ROLES = {Role.OFFICER_LEGAL}
SIGNING_ROLES = {Role.OFFICER_LEGAL, Role.OFFICER_APPROVER}


def officer_for(user, kota_id: int | None) -> bool:
    """City officers act on any contract; a Sudin officer only on one in their own kota."""
    if is_city_officer(user):
        return True
    return is_sudin_officer(user) and kota_id is not None and kota_id == user.kota_id


def has_role(user, roles: set[str]) -> bool:
    return user.is_authenticated and (user.is_superuser or bool(role_names(user) & roles))


def _require_officer(actor, kota_id: int | None) -> None:
    if not officer_for(actor, kota_id):
        raise PermissionDenied(_("Only a Kominfotik officer for this kota can do this."))


def _require_role(actor, roles: set[str], message: str) -> None:
    if not has_role(actor, roles):
        raise PermissionDenied(message)


def _lock_draft(contract: Contract, what: str) -> Contract:
    """The contract's row, locked; only a draft may change (a Conflict says what it is now)."""
    locked = Contract.objects.select_for_update().get(pk=contract.pk)
    if locked.status not in EDITABLE_CONTRACT_STATUSES:
        raise Conflict(
            _("%(what)s only while the contract is a draft; it is now “%(status)s”.")
            % {"what": what, "status": _label(locked.status)},
            code="invalid_transition",
        )
    return locked


def _edit(contract: Contract, actor, what: str) -> Contract:
    _require_officer(actor, contract.kota_id)
    return _lock_draft(contract, what)


def _whole_rupiah(value, field: str, *, minimum: int) -> int:
    """A Rupiah amount: a whole number (digits in a string are fine), at least `minimum`."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ServiceError(_("Amounts are whole Rupiah: enter a whole number."), field=field)
    if value < minimum:
        if minimum > 0:
            raise ServiceError(_("The amount must be more than Rp 0."), field=field)
        raise ServiceError(_("Amounts cannot be negative."), field=field)
    return value


def _kota(value) -> Area | None:
    if value is None or value == "":
        return None
    if isinstance(value, Area):
        area = value
    else:
        area = Area.objects.filter(code=str(value), level=AreaLevel.CITY).first()
    if area is None or area.level != AreaLevel.CITY:
        raise ServiceError(_("Choose a kota (Kemendagri code, e.g. 31.71)."), field="kota")
    return area


def _site_kota_id(site: Site) -> int:
    return Area.objects.values_list("parent__parent_id", flat=True).get(pk=site.kelurahan_id)


def _check_term(term_start: date, term_end: date) -> None:
    if term_end < term_start:
        raise ServiceError(_("The term cannot end before it starts."), field="term_end")


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


def _log(contract: Contract, *, actor, old: str, new: str, reason: str = "") -> None:
    ContractStatusChange.objects.create(
        contract=contract, actor=actor, old_status=old, new_status=new, reason=reason
    )


def _next_number(year: int) -> str:
    """The next "PKS/<seq>/DISKOMINFOTIK/<year>" number; callers hold the numbering lock."""
    prefix, suffix = "PKS/", f"/DISKOMINFOTIK/{year}"
    numbers = Contract.objects.filter(
        number__startswith=prefix, number__endswith=suffix, version=1
    ).values_list("number", flat=True)
    used = [number[len(prefix) : -len(suffix)] for number in numbers]
    highest = max((int(seq) for seq in used if seq.isdigit()), default=0)
    return _NUMBER_FORMAT.format(seq=highest + 1, year=year)


def _save_new(contract: Contract) -> Contract:
    full_clean_or_raise(contract, exclude=["created_by"])
    try:
        with transaction.atomic():
            contract.save()
    except IntegrityError:
        raise ServiceError(
            _("A contract with number %(number)s already exists.") % {"number": contract.number},
            field="number",
        ) from None
    return contract


# --- Drafting -------------------------------------------------------------------------------


@transaction.atomic
def contract_create(
    *,
    actor,
    number: str,
    title: str,
    term_start: date,
    term_end: date,
    total_value: int,
    first_party_signatory: str,
    first_party_signatory_title: str = "Kepala Dinas",
    renewal: str = RenewalTerms.NONE,
    application: HostingApplication | None = None,
    kota=None,
) -> Contract:
    """An officer drafts a contract by hand (version 1 of a new number).

    A Sudin officer drafts only for their own kota (their kota is assumed when none is given).
    """
    area = _kota(kota)
    if area is None and is_sudin_officer(actor):
        area = actor.kota
    if area is None and application is not None:
        area = application.kota
    _require_officer(actor, area.pk if area else None)
    number = (number or "").strip()
    if not number:
        raise ServiceError(_("Give the contract a number."), field="number")
    if Contract.objects.filter(number=number).exists():
        raise ServiceError(
            _("A contract with number %(number)s already exists.") % {"number": number},
            field="number",
        )
    if application is not None and application.status != ApplicationStatus.APPROVED:
        raise ServiceError(
            _("A contract can only follow an approved application."), field="application"
        )
    _check_term(term_start, term_end)
    contract = Contract(
        number=number,
        version=1,
        title=(title or "").strip(),
        application=application,
        kota=area,
        first_party_signatory=(first_party_signatory or "").strip(),
        first_party_signatory_title=(first_party_signatory_title or "").strip(),
        total_value=_whole_rupiah(total_value, "total_value", minimum=0),
        term_start=term_start,
        term_end=term_end,
        renewal=renewal,
        status=ContractStatus.DRAFT,
        status_changed_at=timezone.now(),
        created_by=actor,
    )
    _save_new(contract)
    _log(contract, actor=actor, old="", new=ContractStatus.DRAFT)
    return contract


def _merge_party(parties: dict[int, tuple[Partner, list[str]]], partner: Partner, role: str):
    entry = parties.setdefault(partner.pk, (partner, []))
    if role not in entry[1]:
        entry[1].append(role)


@transaction.atomic
def contract_draft_from_application(
    *, application: HostingApplication, actor, term_start: date | None = None
) -> Contract:
    """Draft a contract from an approved application with parties, sites and co-funding filled in.

    The applicant hosts, funds and maintains; co-applicants fund; owners of the poles its sites
    use are pole owners. It covers the application's approved sites; each offered amount becomes
    a share and the total is their sum. The term runs five years from today. One application
    has at most one contract that is not terminated.
    """
    _require_officer(actor, application.kota_id)
    locked = HostingApplication.objects.select_for_update().get(pk=application.pk)
    if locked.status != ApplicationStatus.APPROVED:
        raise ServiceError(
            _("Only an approved application can become a contract."),
            field="application",
            code="application_not_approved",
        )
    existing = (
        Contract.objects.filter(application=locked)
        .exclude(status=ContractStatus.TERMINATED)
        .order_by("version")
        .first()
    )
    if existing is not None:
        raise Conflict(
            _("This application already has contract %(number)s (%(status)s).")
            % {"number": existing.number, "status": _label(existing.status)},
            code="contract_exists",
        )
    sites = list(
        Site.objects.filter(
            application_entry__application=locked, status__in=COVERABLE_SITE_STATUSES
        )
        .select_related("pole__owner")
        .order_by("pk")
    )
    parties: dict[int, tuple[Partner, list[str]]] = {}
    for role in (PartyRole.HOST, PartyRole.FUNDER, PartyRole.MAINTAINER):
        _merge_party(parties, locked.applicant, role)
    co_applicants = list(locked.parties.select_related("partner").order_by("pk"))
    for party in co_applicants:
        _merge_party(parties, party.partner, PartyRole.FUNDER)
    for site in sites:
        if site.pole is not None:
            _merge_party(parties, site.pole.owner, PartyRole.POLE_OWNER)

    offered = _("Offered in application #%(id)s") % {"id": locked.pk}
    shares = [
        FundingShare(partner=locked.applicant, kind=kind, amount=amount, description=offered)
        for kind, amount in (
            (ShareKind.CASH, locked.cofunding_cash),
            (ShareKind.IN_KIND, locked.cofunding_in_kind),
            (ShareKind.CSR, locked.cofunding_csr),
        )
        if amount > 0
    ]
    shares += [
        FundingShare(
            partner=party.partner, kind=ShareKind.CASH, amount=party.cost_share, description=offered
        )
        for party in co_applicants
        if party.cost_share > 0
    ]
    start = term_start or timezone.localdate()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_NUMBER_LOCK_KEY])
    contract = Contract(
        number=_next_number(start.year),
        version=1,
        title=_("Partnership agreement: %(title)s") % {"title": locked.title},
        application=locked,
        kota_id=locked.kota_id,
        first_party_signatory=DEFAULT_FIRST_PARTY_SIGNATORY,
        total_value=sum(share.amount for share in shares),
        term_start=start,
        term_end=_add_years(start, DEFAULT_TERM_YEARS),
        status=ContractStatus.DRAFT,
        status_changed_at=timezone.now(),
        created_by=actor,
    )
    contract.title = contract.title[:200]
    _save_new(contract)
    ContractParty.objects.bulk_create(
        ContractParty(contract=contract, partner=partner, roles=roles)
        for partner, roles in parties.values()
    )
    for share in shares:
        share.contract = contract
    FundingShare.objects.bulk_create(shares)
    ContractSite.objects.bulk_create(ContractSite(contract=contract, site=site) for site in sites)
    _log(
        contract,
        actor=actor,
        old="",
        new=ContractStatus.DRAFT,
        reason=_("Drafted from application #%(id)s.") % {"id": locked.pk},
    )
    return contract


@transaction.atomic
def contract_update(*, contract: Contract, actor, **fields) -> Contract:
    """Edit a draft's own fields (number only on a first version)."""
    unknown = set(fields) - _UPDATABLE_FIELDS
    if unknown:
        raise ServiceError(f"Unknown fields: {', '.join(sorted(unknown))}")
    locked = _edit(contract, actor, _("The contract can be edited"))
    if "kota" in fields:
        area = _kota(fields.pop("kota"))
        if is_sudin_officer(actor) and (area is None or area.pk != actor.kota_id):
            raise PermissionDenied(_("A Sudin officer keeps contracts in their own kota."))
        locked.kota = area
    if "number" in fields:
        number = (fields.pop("number") or "").strip()
        if number != locked.number:
            if locked.version != 1:
                raise ServiceError(
                    _("An addendum keeps the number of the contract it amends."), field="number"
                )
            if Contract.objects.filter(number=number).exclude(pk=locked.pk).exists():
                raise ServiceError(
                    _("A contract with number %(number)s already exists.") % {"number": number},
                    field="number",
                )
            locked.number = number
    if "total_value" in fields:
        fields["total_value"] = _whole_rupiah(fields["total_value"], "total_value", minimum=0)
    for name, value in fields.items():
        setattr(locked, name, value.strip() if isinstance(value, str) else value)
    _check_term(locked.term_start, locked.term_end)
    full_clean_or_raise(locked, exclude=["created_by"])
    try:
        with transaction.atomic():
            locked.save()
    except IntegrityError:
        raise ServiceError(
            _("A contract with number %(number)s already exists.") % {"number": locked.number},
            field="number",
        ) from None
    return locked


# --- Parties and co-funding -----------------------------------------------------------------


def _roles(roles: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for role in roles or []:
        if role not in PartyRole.values:
            raise ServiceError(_("Unknown role: %(role)s.") % {"role": role}, field="roles")
        if role not in cleaned:
            cleaned.append(role)
    if not cleaned:
        raise ServiceError(_("Give the party at least one role."), field="roles")
    return cleaned


@transaction.atomic
def contract_set_party(
    *,
    contract: Contract,
    actor,
    partner: Partner,
    roles: Iterable[str],
    signatory: str = "",
    signatory_title: str = "",
) -> ContractParty:
    """Add a verified partner as a party, or replace an existing party's roles and signatory."""
    locked = _edit(contract, actor, _("Parties can be changed"))
    if partner.status != PartnerStatus.VERIFIED:
        raise ServiceError(
            _("%(name)s is not a verified partner.") % {"name": partner.name}, field="partner"
        )
    party, _created = ContractParty.objects.update_or_create(
        contract=locked,
        partner=partner,
        defaults={
            "roles": _roles(roles),
            "signatory": (signatory or "").strip(),
            "signatory_title": (signatory_title or "").strip(),
        },
    )
    return party


@transaction.atomic
def contract_remove_party(*, contract: Contract, actor, partner: Partner) -> None:
    """Drop a party that holds no share and answers for no obligation."""
    locked = _edit(contract, actor, _("Parties can be changed"))
    party = ContractParty.objects.filter(contract=locked, partner=partner).first()
    if party is None:
        raise ServiceError(_("This partner is not a party to the contract."), field="partner")
    if FundingShare.objects.filter(contract=locked, partner=partner).exists():
        raise ServiceError(
            _("%(name)s still has a funding share: remove it first.") % {"name": partner.name},
            field="partner",
        )
    if Obligation.objects.filter(contract=locked, responsible=partner).exists():
        raise ServiceError(
            _("%(name)s is responsible for an obligation: remove it first.")
            % {"name": partner.name},
            field="partner",
        )
    party.delete()


@transaction.atomic
def contract_add_share(
    *,
    contract: Contract,
    actor,
    kind: str,
    amount,
    partner: Partner | None = None,
    description: str = "",
) -> FundingShare:
    """Add a contribution: APBD is the city's (no partner); any other kind comes from a party."""
    locked = _edit(contract, actor, _("Co-funding can be changed"))
    if kind not in ShareKind.values:
        raise ServiceError(_("Unknown kind of contribution."), field="kind")
    amount = _whole_rupiah(amount, "amount", minimum=1)
    if kind == ShareKind.APBD and partner is not None:
        raise ServiceError(
            _("APBD money is the city's: leave the contributor empty."), field="partner"
        )
    if kind != ShareKind.APBD:
        if partner is None:
            raise ServiceError(
                _("Name the party that contributes (only APBD comes from the city)."),
                field="partner",
            )
        if not ContractParty.objects.filter(contract=locked, partner=partner).exists():
            raise ServiceError(
                _("%(name)s is not a party to the contract: add it as a party first.")
                % {"name": partner.name},
                field="partner",
            )
    share = FundingShare(
        contract=locked,
        partner=partner,
        kind=kind,
        amount=amount,
        description=(description or "").strip(),
    )
    full_clean_or_raise(share)
    share.save()
    return share


@transaction.atomic
def contract_remove_share(*, contract: Contract, actor, share: FundingShare) -> None:
    locked = _edit(contract, actor, _("Co-funding can be changed"))
    deleted, _rows = FundingShare.objects.filter(pk=share.pk, contract=locked).delete()
    if not deleted:
        raise ServiceError(_("This share is not part of the contract."), field="share")


def _shares_total(contract: Contract) -> int:
    total = FundingShare.objects.filter(contract=contract).aggregate(total=Sum("amount"))
    return total["total"] or 0


# --- Covered sites --------------------------------------------------------------------------


def _covering_elsewhere(contract: Contract, site_ids: Iterable[int]) -> ContractSite | None:
    """An entry of another contract (not a version of this one) that binds one of the sites."""
    return (
        ContractSite.objects.filter(
            site_id__in=list(site_ids), contract__status__in=IN_FORCE_CONTRACT_STATUSES
        )
        .exclude(contract__number=contract.number)
        .select_related("contract", "site")
        .order_by("pk")
        .first()
    )


def _covered_message(entry: ContractSite) -> str:
    return _(
        "%(site)s is already covered by contract %(number)s (%(status)s); a site is covered by "
        "one contract at a time."
    ) % {
        "site": entry.site.address,
        "number": str(entry.contract),
        "status": _label(entry.contract.status),
    }


@transaction.atomic
def contract_add_site(*, contract: Contract, actor, site: Site) -> ContractSite:
    """Cover an approved site (and so its cameras) that no other binding contract covers."""
    locked = _edit(contract, actor, _("Sites can be added"))
    if site.status not in COVERABLE_SITE_STATUSES:
        raise ServiceError(
            _("Only an approved, installing or active site can be covered; this one is %(s)s.")
            % {"s": site.get_status_display()},
            field="site",
        )
    kota_id = _site_kota_id(site)
    if is_sudin_officer(actor) and kota_id != actor.kota_id:
        raise PermissionDenied(_("This site is outside your kota."))
    if ContractSite.objects.filter(contract=locked, site=site).exists():
        raise ServiceError(_("The contract already covers this site."), field="site")
    other = _covering_elsewhere(locked, [site.pk])
    if other is not None:
        raise Conflict(_covered_message(other), code="site_covered", field="site")
    entry = ContractSite.objects.create(contract=locked, site=site)
    if locked.kota_id is None:
        Contract.objects.filter(pk=locked.pk).update(kota_id=kota_id)
        contract.kota_id = kota_id
    return entry


@transaction.atomic
def contract_remove_site(*, contract: Contract, actor, site: Site) -> None:
    locked = _edit(contract, actor, _("Sites can be removed"))
    entry = ContractSite.objects.filter(contract=locked, site=site).first()
    if entry is None:
        raise ServiceError(_("The contract does not cover this site."), field="site")
    named_in = Obligation.objects.filter(contract=locked, sites=site).first()
    if named_in is not None:
        raise ServiceError(
            _("The obligation “%(obligation)s” names this site: remove that obligation first.")
            % {"obligation": str(named_in)},
            field="site",
        )
    entry.delete()


# --- Obligations ----------------------------------------------------------------------------


def _obligation_value(kind: str, value) -> Decimal | None:
    bounds = OBLIGATION_VALUE_BOUNDS.get(kind)
    if bounds is None:
        if value is not None and value != "":
            raise ServiceError(_("This kind of obligation takes no value."), field="value")
        return None
    if value is None or value == "" or isinstance(value, bool):
        raise ServiceError(_("This kind of obligation needs a value."), field="value")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ServiceError(_("Enter a number."), field="value") from None
    if not number.is_finite() or number.as_tuple().exponent < -2:
        raise ServiceError(_("Enter a number with at most two decimals."), field="value")
    low, high = bounds
    if not low <= number <= high:
        raise ServiceError(
            _("The value must be between %(low)s and %(high)s.") % {"low": low, "high": high},
            field="value",
        )
    return number


@transaction.atomic
def contract_add_obligation(
    *,
    contract: Contract,
    actor,
    kind: str,
    value=None,
    responsible: Partner,
    sites: Iterable[Site] = (),
    notes: str = "",
) -> Obligation:
    """A duty owed by a party, contract-wide (no sites) or at some of the covered sites.

    One obligation of a kind per site: a second contract-wide one, or one naming a site that
    another of the same kind names, is refused (tickets must find exactly one clock).
    """
    locked = _edit(contract, actor, _("Obligations can be changed"))
    if kind not in ObligationKind.values:
        raise ServiceError(_("Unknown kind of obligation."), field="kind")
    number = _obligation_value(kind, value)
    if not ContractParty.objects.filter(contract=locked, partner=responsible).exists():
        raise ServiceError(
            _("The responsible partner must be a party to the contract."), field="responsible"
        )
    site_list = list(sites or [])
    site_ids = {site.pk for site in site_list}
    covered = set(
        ContractSite.objects.filter(contract=locked, site_id__in=site_ids).values_list(
            "site_id", flat=True
        )
    )
    if site_ids - covered:
        raise ServiceError(
            _("An obligation can only name sites the contract covers."), field="sites"
        )
    same_kind = Obligation.objects.filter(contract=locked, kind=kind)
    if not site_ids and same_kind.filter(sites__isnull=True).exists():
        raise ServiceError(
            _("The contract already has this obligation for all its sites."), field="kind"
        )
    if site_ids and same_kind.filter(sites__in=site_ids).exists():
        raise ServiceError(
            _("One of these sites already has an obligation of this kind."), field="sites"
        )
    obligation = Obligation(
        contract=locked,
        kind=kind,
        value=number,
        responsible=responsible,
        notes=(notes or "").strip(),
    )
    full_clean_or_raise(obligation)
    obligation.save()
    if site_list:
        obligation.sites.set(site_list)
    return obligation


@transaction.atomic
def contract_remove_obligation(*, contract: Contract, actor, obligation: Obligation) -> None:
    locked = _edit(contract, actor, _("Obligations can be changed"))
    found = Obligation.objects.filter(pk=obligation.pk, contract=locked).first()
    if found is None:
        raise ServiceError(_("This obligation is not part of the contract."), field="obligation")
    found.delete()


# --- Documents ------------------------------------------------------------------------------


@transaction.atomic
def contract_add_document(
    *, contract: Contract, actor, upload: UploadedFile, kind: str
) -> ContractDocument:
    """Attach a draft text or an annex (PDF) while the contract is drafted or in legal review.

    The signed agreement comes only with the signing step, and nothing is added after it.
    """
    _require_officer(actor, contract.kota_id)
    if kind not in {DocumentKind.DRAFT, DocumentKind.ANNEX}:
        raise ServiceError(
            _("The signed agreement is uploaded when the contract is signed."), field="kind"
        )
    locked = Contract.objects.select_for_update().get(pk=contract.pk)
    if locked.status not in _DOCUMENT_STATUSES:
        raise Conflict(
            _("Documents can no longer be added: the contract is “%(status)s”.")
            % {"status": _label(locked.status)},
            code="invalid_transition",
        )
    document = ContractDocument(contract=locked, kind=kind, uploaded_by=actor)
    return store_pdf(record=document, upload=upload)


# --- Lifecycle ------------------------------------------------------------------------------


def _step(
    *,
    contract: Contract,
    actor,
    to: str,
    reason: str = "",
    extra: Mapping[str, object] | None = None,
    check: Callable[[Contract], None] | None = None,
    after: Callable[[Contract], None] | None = None,
) -> Contract:
    """One guarded step, recorded as a ContractStatusChange; parties are told of some by email."""

    def recorded(locked: Contract, row: ContractStatusChange) -> None:
        if row.new_status in EMAILED_STATUSES:
            tasks.send_contract_status_email.delay_on_commit(row.pk)
        if after is not None:
            after(locked)

    return transition(
        instance=contract,
        to=to,
        allowed=CONTRACT_TRANSITIONS,
        log_model=ContractStatusChange,
        log_fields={"contract": contract},
        actor=actor,
        reason=(reason or "").strip(),
        extra={"status_changed_at": timezone.now(), **(extra or {})},
        check=check,
        after=recorded,
        conflict_message=_(
            "The contract is now “%(old)s”, so it cannot move to “%(new)s”. "
            "Someone may have acted on it first: reload it to see."
        ),
    )


def _check_ready_for_review(locked: Contract) -> None:
    if not locked.parties.exists():
        raise ServiceError(_("Add at least one partner as a party."), code="incomplete")
    if not locked.covered_sites.exists():
        raise ServiceError(_("Add at least one site the contract covers."), code="incomplete")
    total = _shares_total(locked)
    if total != locked.total_value:
        raise ServiceError(
            _(
                "The co-funding shares add up to %(shares)s, but the contract's total value is "
                "%(total)s: they must be equal."
            )
            % {"shares": rupiah(total), "total": rupiah(locked.total_value)},
            code="shares_mismatch",
            field="total_value",
        )
    if not locked.obligations.exists():
        raise ServiceError(
            _("Add at least one obligation (e.g. repair time or uptime)."), code="incomplete"
        )


def contract_submit_for_review(*, contract: Contract, actor, reason: str = "") -> Contract:
    """A complete draft goes to the legal reviewer: parties, sites, obligations, and shares that
    add up exactly to the total value."""
    _require_officer(actor, contract.kota_id)
    return _step(
        contract=contract,
        actor=actor,
        to=ContractStatus.LEGAL_REVIEW,
        reason=reason,
        check=_check_ready_for_review,
    )


def contract_return(*, contract: Contract, actor, reason: str) -> Contract:
    """The legal reviewer sends the text back to draft, saying what must change."""
    _require_role(actor, LEGAL_ROLES, _("Only a Kominfotik legal reviewer can return a contract."))
    if not (reason or "").strip():
        raise ServiceError(_("Say what must change before it comes back."), field="reason")
    return _step(contract=contract, actor=actor, to=ContractStatus.DRAFT, reason=reason)


def submitted_by(contract: Contract) -> int | None:
    """The officer who last sent the version to legal review (four-eyes: not its signer)."""
    row = (
        ContractStatusChange.objects.filter(
            contract=contract, new_status=ContractStatus.LEGAL_REVIEW
        )
        .order_by("-created_at", "-id")
        .first()
    )
    return row.actor_id if row else None


def _set_in_force(contract: Contract, value: bool) -> None:
    ContractSite.objects.filter(contract=contract).update(in_force=value)


def _supersede_predecessor(contract: Contract, actor) -> None:
    """If the version this one amends is active, it is superseded (its sites leave force)."""
    if contract.amends_id is None:
        return
    previous = Contract.objects.select_for_update().get(pk=contract.amends_id)
    if previous.status != ContractStatus.ACTIVE:
        return
    _step(
        contract=previous,
        actor=actor,
        to=ContractStatus.SUPERSEDED,
        reason=_("Superseded by addendum %(n)s.") % {"n": contract.version - 1},
        after=lambda locked: _set_in_force(locked, False),
    )


def _put_sites_in_force(locked: Contract) -> None:
    site_ids = list(locked.covered_sites.values_list("site_id", flat=True))
    other = (
        ContractSite.objects.filter(site_id__in=site_ids, in_force=True)
        .exclude(contract=locked)
        .select_related("contract", "site")
        .order_by("pk")
        .first()
    )
    if other is not None:
        raise Conflict(_covered_message(other), code="site_covered")
    try:
        with transaction.atomic():
            _set_in_force(locked, True)
    except IntegrityError:
        # Another contract covering one of these sites became active at the same moment.
        raise Conflict(
            _("One of the sites was just put under another active contract; reload to see."),
            code="site_covered",
        ) from None


def _activate(contract: Contract, actor, reason: str = "") -> Contract:
    """signed → active, sites in force; an active predecessor is superseded first (the same
    transaction, so a site conflict undoes the supersession too)."""
    with transaction.atomic():
        _supersede_predecessor(contract, actor)
        return _step(
            contract=contract,
            actor=actor,
            to=ContractStatus.ACTIVE,
            reason=reason,
            after=_put_sites_in_force,
        )


def contract_sign(
    *, contract: Contract, actor, signed_pdf: UploadedFile, signed_at: datetime | None = None
) -> Contract:
    """Record the signature: legal review → signed, with the signed PDF (SHA-256 kept).

    Signed by the legal reviewer or an approver, never by the officer who sent it to review.
    It comes into force (and an addendum supersedes its predecessor) when it is activated.
    """
    _require_role(
        actor,
        SIGNING_ROLES,
        _("Only a Kominfotik legal reviewer or approver can sign a contract."),
    )
    read_pdf(signed_pdf)  # a wrong file is refused before anything is locked
    signed_at = signed_at or timezone.now()
    if signed_at > timezone.now() + timedelta(minutes=5):
        raise ServiceError(_("The signing date cannot be in the future."), field="signed_at")

    def check(locked: Contract) -> None:
        if submitted_by(locked) == actor.pk:
            raise PermissionDenied(
                _("Four-eyes rule: you sent this contract to legal review, so someone else signs.")
            )

    def store(locked: Contract) -> None:
        document = ContractDocument(contract=locked, kind=DocumentKind.SIGNED, uploaded_by=actor)
        store_pdf(record=document, upload=signed_pdf)

    return _step(
        contract=contract,
        actor=actor,
        to=ContractStatus.SIGNED,
        extra={"signed_at": signed_at},
        check=check,
        after=store,
    )


def contract_activate(
    *, contract: Contract, actor, reason: str = "", today: date | None = None
) -> Contract:
    """A signed contract whose term has started comes into force (its sites with it).

    Officers may do it by hand; apply_contract_terms does it on the start date.
    """
    if actor is not None:
        _require_officer(actor, contract.kota_id)
    today = today or timezone.localdate()
    if contract.term_start > today:
        raise ServiceError(
            _("The term starts on %(date)s; the contract becomes active on that day.")
            % {"date": contract.term_start.isoformat()},
            code="term_not_started",
        )
    return _activate(contract, actor, reason)


def contract_terminate(*, contract: Contract, actor, reason: str) -> Contract:
    """End a signed or active contract early, with the reason; its sites leave force."""
    _require_role(
        actor,
        SIGNING_ROLES,
        _("Only a Kominfotik legal reviewer or approver can terminate a contract."),
    )
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("Give the reason for terminating the contract."), field="reason")
    return _step(
        contract=contract,
        actor=actor,
        to=ContractStatus.TERMINATED,
        reason=reason,
        extra={"termination_reason": reason},
        after=lambda locked: _set_in_force(locked, False),
    )


def contract_expire(*, contract: Contract, actor=None, reason: str = "") -> Contract:
    """The term ended (system step): the contract and its coverage end."""
    return _step(
        contract=contract,
        actor=actor,
        to=ContractStatus.EXPIRED,
        reason=reason,
        after=lambda locked: _set_in_force(locked, False),
    )


# --- Amendments -----------------------------------------------------------------------------


@transaction.atomic
def contract_amend(*, contract: Contract, actor, reason: str) -> Contract:
    """Start an addendum: a draft copy (version + 1) of an active version, with its parties,
    shares, sites (not yet in force) and obligations. The active version stays in force until
    the addendum is signed."""
    _require_officer(actor, contract.kota_id)
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("Say why the contract is amended."), field="reason")
    locked = Contract.objects.select_for_update().get(pk=contract.pk)
    if locked.status != ContractStatus.ACTIVE:
        raise Conflict(
            _("Only an active contract can be amended; this version is “%(status)s”.")
            % {"status": _label(locked.status)},
            code="invalid_transition",
        )
    versions = Contract.objects.filter(number=locked.number)
    pending = versions.filter(
        status__in=[ContractStatus.DRAFT, ContractStatus.LEGAL_REVIEW, ContractStatus.SIGNED]
    ).first()
    if pending is not None:
        raise Conflict(
            _("Addendum %(n)s is already being prepared; finish or drop that one first.")
            % {"n": pending.version - 1},
            code="amendment_open",
        )
    draft = Contract.objects.create(
        number=locked.number,
        version=versions.aggregate(top=Max("version"))["top"] + 1,
        amends=locked,
        title=locked.title,
        application=locked.application,
        kota=locked.kota,
        first_party=locked.first_party,
        first_party_signatory=locked.first_party_signatory,
        first_party_signatory_title=locked.first_party_signatory_title,
        total_value=locked.total_value,
        term_start=locked.term_start,
        term_end=locked.term_end,
        renewal=locked.renewal,
        status=ContractStatus.DRAFT,
        status_changed_at=timezone.now(),
        created_by=actor,
    )
    ContractParty.objects.bulk_create(
        ContractParty(
            contract=draft,
            partner_id=party.partner_id,
            roles=party.roles,
            signatory=party.signatory,
            signatory_title=party.signatory_title,
        )
        for party in locked.parties.all()
    )
    FundingShare.objects.bulk_create(
        FundingShare(
            contract=draft,
            partner_id=share.partner_id,
            kind=share.kind,
            amount=share.amount,
            description=share.description,
        )
        for share in locked.shares.all()
    )
    ContractSite.objects.bulk_create(
        ContractSite(contract=draft, site_id=entry.site_id, in_force=False)
        for entry in locked.covered_sites.all()
    )
    for obligation in locked.obligations.prefetch_related("sites"):
        copy = Obligation.objects.create(
            contract=draft,
            kind=obligation.kind,
            value=obligation.value,
            responsible_id=obligation.responsible_id,
            notes=obligation.notes,
        )
        copy.sites.set(obligation.sites.all())
    _log(draft, actor=actor, old="", new=ContractStatus.DRAFT, reason=reason)
    return draft


# --- Scheduled work -------------------------------------------------------------------------


def _renew(contract: Contract, today: date) -> Contract | None:
    """Automatic renewal: a new term of the original length starts the day after the old one
    ended (repeated if the task was away longer than a term). term_start/term_end always name
    the current term; the log row (active → active) keeps the old one. Expiry reminders start
    over for the new term."""
    with transaction.atomic():
        locked = Contract.objects.select_for_update().get(pk=contract.pk)
        if locked.status != ContractStatus.ACTIVE or locked.term_end >= today:
            return None
        length = locked.term_end - locked.term_start
        old_start, old_end = locked.term_start, locked.term_end
        while locked.term_end < today:
            locked.term_start = locked.term_end + timedelta(days=1)
            locked.term_end = locked.term_start + length
        Contract.objects.filter(pk=locked.pk).update(
            term_start=locked.term_start, term_end=locked.term_end
        )
        ContractReminder.objects.filter(contract=locked).delete()
        _log(
            locked,
            actor=None,
            old=ContractStatus.ACTIVE,
            new=ContractStatus.ACTIVE,
            reason=_(
                "Renewed automatically: the term %(old_start)s – %(old_end)s is followed by "
                "%(start)s – %(end)s."
            )
            % {
                "old_start": old_start.isoformat(),
                "old_end": old_end.isoformat(),
                "start": locked.term_start.isoformat(),
                "end": locked.term_end.isoformat(),
            },
        )
    return locked


def apply_contract_terms(*, today: date | None = None) -> dict[str, int]:
    """System: signed contracts whose term has started become active; active ones past their
    term end expire (or, with automatic renewal, run for another term of the same length).

    Each contract is its own transaction; one that cannot be activated (a site under another
    contract) is skipped and logged, and tried again next run. Safe to run twice."""
    today = today or timezone.localdate()
    counts = {"activated": 0, "expired": 0, "renewed": 0, "skipped": 0}
    starting = Contract.objects.filter(status=ContractStatus.SIGNED, term_start__lte=today)
    for contract in starting.order_by("term_start", "pk"):
        try:
            _activate(contract, None, _("The term started on %(d)s.") % {"d": contract.term_start})
        except ServiceError as error:
            counts["skipped"] += 1
            logger.warning("contract %s not activated: %s", contract.pk, error.message)
        else:
            counts["activated"] += 1
    ending = Contract.objects.filter(status=ContractStatus.ACTIVE, term_end__lt=today)
    for contract in ending.order_by("term_end", "pk"):
        if contract.renewal == RenewalTerms.AUTOMATIC:
            counts["renewed"] += _renew(contract, today) is not None
            continue
        try:
            contract_expire(
                contract=contract,
                reason=_("The term ended on %(d)s.") % {"d": contract.term_end},
            )
        except ServiceError as error:  # e.g. an officer terminated it a moment ago
            counts["skipped"] += 1
            logger.warning("contract %s not expired: %s", contract.pk, error.message)
        else:
            counts["expired"] += 1
    return counts


def send_contract_expiry_reminders(*, today: date | None = None) -> int:
    """Remind parties and officers of active contracts ending within 90, 30 or 7 days.

    Each threshold is reminded once per contract (ContractReminder is unique per contract and
    threshold, so two workers cannot both send one). A contract first seen inside several
    thresholds (e.g. 20 days left, nothing sent yet) gets one reminder for the nearest; the
    larger ones are recorded as covered by it. Returns how many reminders were sent.
    """
    today = today or timezone.localdate()
    thresholds = sorted(settings.CONTRACT_EXPIRY_REMINDER_DAYS)
    widest = max(thresholds)
    sent = 0
    due = Contract.objects.filter(
        status=ContractStatus.ACTIVE,
        term_end__gte=today,
        term_end__lte=today + timedelta(days=widest),
    )
    for contract in due.order_by("term_end", "pk"):
        days_left = (contract.term_end - today).days
        nearest = next(days for days in thresholds if days_left <= days)
        with transaction.atomic():
            now = timezone.now()
            reminder, created = ContractReminder.objects.get_or_create(
                contract=contract, days_before=nearest, defaults={"sent_at": now}
            )
            if not created:
                continue
            ContractReminder.objects.bulk_create(
                [
                    ContractReminder(contract=contract, days_before=days, sent_at=now)
                    for days in thresholds
                    if days > nearest
                ],
                ignore_conflicts=True,
            )
            tasks.send_contract_expiry_reminder_email.delay_on_commit(reminder.pk)
        sent += 1
    return sent
