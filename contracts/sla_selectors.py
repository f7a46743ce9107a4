"""Reads behind the monthly SLA: when a contract version was active in a month, each camera's
availability from the daily health roll-ups, the contract and partner reports, and breach lists.

When a version counts as active (kept simple on purpose):
- From the first ContractStatusChange row that made it `active` to the first row that moved it
  away from `active` (expired, terminated, superseded), or to the month's end while it still is.
- A version with no such row (rows written directly, e.g. imported) counts as active from its
  term start while its status is one only an active version reaches (active, expired,
  superseded), until its last status change (or term end); a terminated version without the
  row is taken never to have been active.
- Whole days (Asia/Jakarta) are counted, from the day it became active up to the day before it
  stopped: when an addendum takes over, the changeover day counts for the new version only, so
  no camera-day is counted under two versions.

Availability = (up + degraded) / (up + degraded + down) × 100 over the days counted, truncated to
two decimals (so "99.00" shown is never below the true value and the comparison with a two-decimal
target is exact); maintenance and unknown time are left out, and a camera with no counted time
has "no data" (it is never a breach).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.db.models import (
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from contracts.models import (
    Breach,
    Contract,
    ContractSite,
    ContractStatus,
    ContractStatusChange,
    MaintenanceTicket,
    Obligation,
    ObligationKind,
    SlaEvaluation,
    TicketStatus,
)
from partners.models import Partner
from portal.permissions import scope_queryset
from portal.roles import is_officer, is_operator, is_sudin_officer
from sites.health.rollups import day_start
from sites.models import Camera, HealthRollup, Outage, RollupPeriod

# Statuses a version reaches only by having been active.
_WAS_ACTIVE = {ContractStatus.ACTIVE, ContractStatus.EXPIRED, ContractStatus.SUPERSEDED}
_MAY_HAVE_BEEN_ACTIVE = _WAS_ACTIVE | {ContractStatus.TERMINATED}
OUTAGES_IN_EVIDENCE = 50
_CENT = Decimal("0.01")


class CameraSla:
    """What a camera's month looked like against its target (one row of a report)."""

    MET = "met"
    MISSED = "missed"
    NO_DATA = "no_data"
    NO_TARGET = "no_target"

    @staticmethod
    def labels() -> dict[str, str]:
        return {
            CameraSla.MET: _("Met"),
            CameraSla.MISSED: _("Missed"),
            CameraSla.NO_DATA: _("No data"),
            CameraSla.NO_TARGET: _("No target"),
        }


# --- months -------------------------------------------------------------------------------


def parse_month(value: str) -> date:
    """ "2026-11" → date(2026, 11, 1); ValueError for anything else."""
    year, _sep, month = (value or "").strip().partition("-")
    if not (len(year) == 4 and year.isdigit() and len(month) == 2 and month.isdigit()):
        raise ValueError(value)
    return date(int(year), int(month), 1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def previous_month(today: date | None = None) -> date:
    """The last complete month (in Asia/Jakarta)."""
    today = today or timezone.localdate()
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


# --- when a version was active -------------------------------------------------------------


@dataclass(frozen=True)
class ActiveWindow:
    """The days of a month a contract version was active: [start, end)."""

    start: date
    end: date

    @property
    def start_at(self) -> datetime:
        return day_start(self.start)

    @property
    def end_at(self) -> datetime:
        return day_start(self.end)


def with_activity(contracts: QuerySet[Contract]) -> QuerySet[Contract]:
    """Annotate when each version first became active and first stopped being active."""
    log = ContractStatusChange.objects.filter(contract=OuterRef("pk")).order_by("created_at", "id")
    return contracts.annotate(
        activated_at=Subquery(
            log.filter(new_status=ContractStatus.ACTIVE).values("created_at")[:1]
        ),
        deactivated_at=Subquery(
            log.filter(old_status=ContractStatus.ACTIVE).values("created_at")[:1]
        ),
    )


def active_window(contract: Contract, month: date) -> ActiveWindow | None:
    """The days of `month` the version was active (None: not at all). `contract` comes from
    `with_activity`; without its annotations the status log is read here."""
    if not hasattr(contract, "activated_at"):
        contract = with_activity(Contract.objects.filter(pk=contract.pk)).get()
    if contract.activated_at is not None:
        start = timezone.localdate(contract.activated_at)
        end = timezone.localdate(contract.deactivated_at) if contract.deactivated_at else None
    elif contract.status in _WAS_ACTIVE:
        start = contract.term_start
        if contract.status == ContractStatus.ACTIVE:
            end = None
        elif contract.status_changed_at is not None:
            end = timezone.localdate(contract.status_changed_at)
        else:
            end = contract.term_end + timedelta(days=1)
    else:
        return None
    first, after = month, next_month(month)
    start, end = max(start, first), min(end or after, after)
    return ActiveWindow(start, end) if start < end else None


def contracts_active_in(
    *, month: date, contracts: QuerySet[Contract] | None = None, uptime_only: bool = False
) -> list[tuple[Contract, ActiveWindow]]:
    """The versions (of `contracts`, default all) active at some point in `month`."""
    contracts = Contract.objects.all() if contracts is None else contracts
    # A version that left `active` before the month began changed status for the last time
    # then (every status after active is final), so it can be dropped in SQL.
    candidates = contracts.filter(status__in=_MAY_HAVE_BEEN_ACTIVE).filter(
        Q(status=ContractStatus.ACTIVE)
        | Q(status_changed_at__isnull=True)
        | Q(status_changed_at__gte=day_start(month))
    )
    if uptime_only:
        candidates = candidates.filter(
            Exists(
                Obligation.objects.filter(
                    contract=OuterRef("pk"), kind=ObligationKind.UPTIME, value__isnull=False
                )
            )
        )
    active = []
    for contract in with_activity(candidates.select_related("kota")).order_by("number", "version"):
        window = active_window(contract, month)
        if window is not None:
            active.append((contract, window))
    return active


# --- availability per camera ----------------------------------------------------------------


@dataclass
class CameraMonth:
    """One camera of a contract, the uptime obligation that applies to it and its seconds."""

    camera: Camera
    obligation: Obligation | None
    up: int = 0
    degraded: int = 0
    down: int = 0
    maintenance: int = 0
    unknown: int = 0
    outages: int = 0

    @property
    def counted(self) -> int:
        return self.up + self.degraded + self.down

    @property
    def availability(self) -> Decimal | None:
        if not self.counted:
            return None
        share = Decimal(self.up + self.degraded) * 100 / Decimal(self.counted)
        return share.quantize(_CENT, rounding=ROUND_DOWN)

    @property
    def target(self) -> Decimal | None:
        return self.obligation.value if self.obligation is not None else None

    @property
    def status(self) -> str:
        availability = self.availability
        if self.target is None:
            return CameraSla.NO_TARGET
        if availability is None:
            return CameraSla.NO_DATA
        return CameraSla.MISSED if availability < self.target else CameraSla.MET


def _uptime_obligations(contract: Contract) -> tuple[list[Obligation], dict[int, set[int]]]:
    obligations = list(
        Obligation.objects.filter(
            contract=contract, kind=ObligationKind.UPTIME, value__isnull=False
        ).select_related("responsible")
    )
    sites: dict[int, set[int]] = {obligation.pk: set() for obligation in obligations}
    through = Obligation.sites.through.objects.filter(obligation_id__in=sites)
    for obligation_id, site_id in through.values_list("obligation_id", "site_id"):
        sites[obligation_id].add(site_id)
    return obligations, sites


def _applicable(
    site_id: int, obligations: list[Obligation], sites: dict[int, set[int]]
) -> Obligation | None:
    """An obligation naming the site wins over one applying contract-wide (as obligation_for)."""
    named = [o for o in obligations if site_id in sites[o.pk]]
    wide = [o for o in obligations if not sites[o.pk]]
    return min(named or wide, key=lambda o: o.pk, default=None)


def contract_cameras(*, contract: Contract) -> QuerySet[Camera]:
    """Every camera on the sites the version covers (in force or not: history stays readable)."""
    covered = ContractSite.objects.filter(contract=contract).values("site_id")
    return (
        Camera.objects.filter(site_id__in=covered)
        .select_related("site__kelurahan__parent__parent")
        .order_by("site__kelurahan__name", "site_id", "id")
    )


def camera_months(
    *, contract: Contract, window: ActiveWindow | None, with_outages: bool = False
) -> list[CameraMonth]:
    """Each covered camera with its applicable uptime obligation and its seconds per state over
    the window, summed from daily roll-ups in one grouped query (not a query per camera)."""
    obligations, sites = _uptime_obligations(contract)
    cameras = contract_cameras(contract=contract)
    rows = {
        camera.pk: CameraMonth(camera, _applicable(camera.site_id, obligations, sites))
        for camera in cameras
    }
    if window is None or not rows:
        return list(rows.values())
    sums = (
        HealthRollup.objects.filter(
            camera_id__in=cameras.values("pk"),
            period=RollupPeriod.DAY,
            period_start__gte=window.start_at,
            period_start__lt=window.end_at,
        )
        .values("camera_id")
        .annotate(
            up=Sum("up_seconds"),
            degraded=Sum("degraded_seconds"),
            down=Sum("down_seconds"),
            maintenance=Sum("maintenance_seconds"),
            unknown=Sum("unknown_seconds"),
        )
        .order_by()
    )
    for total in sums:
        row = rows[total["camera_id"]]
        for state in ("up", "degraded", "down", "maintenance", "unknown"):
            setattr(row, state, total[state] or 0)
    if with_outages:
        counts = (
            _outages_overlapping(camera_ids=cameras.values("pk"), window=window)
            .values("camera_id")
            .annotate(count=Count("id"))
            .order_by()
        )
        for count in counts:
            rows[count["camera_id"]].outages = count["count"]
    return list(rows.values())


def _outages_overlapping(*, camera_ids, window: ActiveWindow) -> QuerySet[Outage]:
    return Outage.objects.filter(camera_id__in=camera_ids, started_at__lt=window.end_at).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=window.start_at)
    )


def _local_iso(moment: datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat() if moment else None


def outages_for_evidence(*, camera_ids: list[int], window: ActiveWindow) -> dict[int, list[dict]]:
    """The first outages (by start) overlapping the window, at most 50 per camera, with their
    times in WIB as the evidence records them."""
    ranked = (
        _outages_overlapping(camera_ids=camera_ids, window=window)
        .annotate(
            rank=Window(RowNumber(), partition_by=F("camera_id"), order_by=[F("started_at"), "id"])
        )
        .filter(rank__lte=OUTAGES_IN_EVIDENCE)
        .order_by("camera_id", "started_at", "id")
        .values("id", "camera_id", "started_at", "ended_at")
    )
    found: dict[int, list[dict]] = {camera_id: [] for camera_id in camera_ids}
    for outage in ranked:
        found[outage["camera_id"]].append(
            {
                "id": outage["id"],
                "started_at": _local_iso(outage["started_at"]),
                "ended_at": _local_iso(outage["ended_at"]),
            }
        )
    return found


# --- reports --------------------------------------------------------------------------------


def _hours(seconds: int) -> Decimal:
    return (Decimal(seconds) / 3600).quantize(_CENT, rounding=ROUND_HALF_UP)


def _percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / whole).quantize(_CENT, rounding=ROUND_HALF_UP)


def _camera_row(line: CameraMonth) -> dict:
    site = line.camera.site
    kelurahan = site.kelurahan
    status = line.status
    return {
        "camera_id": line.camera.pk,
        "camera": str(line.camera),
        "site_id": site.pk,
        "site": site.address,
        "kelurahan": kelurahan.name,
        "kecamatan": kelurahan.parent.name if kelurahan.parent_id else "",
        "kota": kelurahan.parent.parent.name if kelurahan.parent_id else "",
        "availability": line.availability,
        "target": line.target,
        "status": status,
        "status_label": CameraSla.labels()[status],
        "counted_hours": _hours(line.counted),
        "down_hours": _hours(line.down),
        "maintenance_hours": _hours(line.maintenance),
        "outages": line.outages,
    }


def _ticket_figures(*, contract: Contract, month: date, now: datetime) -> dict:
    """Tickets opened in the month and how their clocks went. A clock counts once it is
    decided: the step was done, or its deadline has passed; a cancelled ticket's do not."""
    tickets = MaintenanceTicket.objects.filter(
        contract=contract,
        opened_at__gte=day_start(month),
        opened_at__lt=day_start(next_month(month)),
    )
    clocked = ~Q(status=TicketStatus.CANCELLED)
    figures = tickets.aggregate(
        opened=Count("id"),
        acknowledge_clocks=Count(
            "id",
            filter=clocked
            & Q(acknowledge_due_at__isnull=False)
            & (Q(acknowledged_at__isnull=False) | Q(acknowledge_due_at__lte=now)),
        ),
        acknowledged_in_time=Count(
            "id",
            filter=clocked
            & Q(
                acknowledge_due_at__isnull=False,
                acknowledged_at__isnull=False,
                acknowledged_at__lte=F("acknowledge_due_at"),
            ),
        ),
        repair_clocks=Count(
            "id",
            filter=clocked
            & Q(repair_due_at__isnull=False)
            & (Q(resolved_at__isnull=False) | Q(repair_due_at__lte=now)),
        ),
        repaired_in_time=Count(
            "id",
            filter=clocked
            & Q(
                repair_due_at__isnull=False,
                resolved_at__isnull=False,
                resolved_at__lte=F("repair_due_at"),
            ),
        ),
    )
    figures["acknowledged_in_time_pct"] = _percent(
        figures["acknowledged_in_time"], figures["acknowledge_clocks"]
    )
    figures["repaired_in_time_pct"] = _percent(
        figures["repaired_in_time"], figures["repair_clocks"]
    )
    return figures


def _in_month(breaches: QuerySet[Breach], month: date) -> QuerySet[Breach]:
    """Uptime breaches by their month; clock breaches by when the clock ran out."""
    return breaches.annotate(happened_at=Coalesce("due_at", "detected_at")).filter(
        Q(period=month)
        | Q(
            period__isnull=True,
            happened_at__gte=day_start(month),
            happened_at__lt=day_start(next_month(month)),
        )
    )


def _breach_row(breach: Breach) -> dict:
    return {
        "id": breach.pk,
        "kind": breach.kind,
        "kind_label": breach.get_kind_display(),
        "responsible_id": breach.responsible_id,
        "responsible": breach.responsible.name,
        "camera": str(breach.camera) if breach.camera_id else "",
        "ticket": breach.ticket.reference if breach.ticket_id else "",
        "target": breach.target,
        "measured": breach.measured,
        "due_at": breach.due_at,
        "detected_at": breach.detected_at,
    }


def _summary(lines: list[CameraMonth]) -> dict:
    counts = dict.fromkeys(CameraSla.labels(), 0)
    for line in lines:
        counts[line.status] += 1
    up = sum(line.up + line.degraded for line in lines)
    counted = sum(line.counted for line in lines)
    return {
        "cameras": len(lines),
        **counts,
        "availability": (
            (Decimal(up) * 100 / counted).quantize(_CENT, rounding=ROUND_DOWN) if counted else None
        ),
        "down_hours": _hours(sum(line.down for line in lines)),
        "maintenance_hours": _hours(sum(line.maintenance for line in lines)),
        "outages": sum(line.outages for line in lines),
    }


def contract_sla_report(
    *,
    contract: Contract,
    month: date,
    window: ActiveWindow | None = None,
    now: datetime | None = None,
) -> dict:
    """A contract version's month: per camera availability vs target, its ticket clocks and the
    breaches recorded. The caller has checked the reader may see the contract."""
    now = now or timezone.now()
    if window is None:
        window = active_window(contract, month)
    lines = camera_months(contract=contract, window=window, with_outages=True)
    evaluation = SlaEvaluation.objects.filter(contract=contract, month=month).first()
    breaches = _in_month(
        Breach.objects.filter(contract=contract).select_related("responsible", "camera", "ticket"),
        month,
    ).order_by("kind", "detected_at", "id")
    return {
        "contract": {
            "id": contract.pk,
            "number": contract.number,
            "version": contract.version,
            "label": str(contract),
            "title": contract.title,
            "status": contract.status,
            "status_label": contract.get_status_display(),
            "kota": contract.kota.name if contract.kota_id else "",
        },
        "month": month,
        "active": window is not None,
        "whole_month": window == ActiveWindow(month, next_month(month)),
        "active_from": window.start if window else None,
        "active_until": window.end - timedelta(days=1) if window else None,
        "evaluated_at": evaluation.evaluated_at if evaluation else None,
        "cameras": [_camera_row(line) for line in lines],
        "summary": _summary(lines),
        "tickets": _ticket_figures(contract=contract, month=month, now=now),
        "breaches": [_breach_row(breach) for breach in breaches],
    }


_TOTALLED = (
    "cameras",
    CameraSla.MET,
    CameraSla.MISSED,
    CameraSla.NO_DATA,
    CameraSla.NO_TARGET,
    "outages",
)
_TICKETS_TOTALLED = (
    "opened",
    "acknowledge_clocks",
    "acknowledged_in_time",
    "repair_clocks",
    "repaired_in_time",
)


def partner_contracts(*, partner: Partner, user=None) -> QuerySet[Contract]:
    """Versions where the partner is a party or answers for an obligation (as `user` sees them:
    a Sudin officer only those of their kota)."""
    contracts = Contract.objects.filter(
        Q(pk__in=Contract.objects.filter(parties__partner=partner).values("pk"))
        | Q(pk__in=Obligation.objects.filter(responsible=partner).values("contract_id"))
    )
    if user is not None and is_sudin_officer(user):
        contracts = contracts.filter(kota_id=user.kota_id)
    return contracts


def partner_sla_report(
    *, partner: Partner, month: date, user=None, now: datetime | None = None
) -> dict:
    """One section per contract version the partner was bound by in `month`, and totals."""
    now = now or timezone.now()
    sections = [
        contract_sla_report(contract=contract, month=month, window=window, now=now)
        for contract, window in contracts_active_in(
            month=month, contracts=partner_contracts(partner=partner, user=user)
        )
    ]
    totals = {key: sum(s["summary"][key] for s in sections) for key in _TOTALLED}
    for key in ("down_hours", "maintenance_hours"):
        totals[key] = sum((s["summary"][key] for s in sections), Decimal("0.00"))
    tickets = {key: sum(s["tickets"][key] for s in sections) for key in _TICKETS_TOTALLED}
    tickets["acknowledged_in_time_pct"] = _percent(
        tickets["acknowledged_in_time"], tickets["acknowledge_clocks"]
    )
    tickets["repaired_in_time_pct"] = _percent(
        tickets["repaired_in_time"], tickets["repair_clocks"]
    )
    breaches = [b for s in sections for b in s["breaches"]]
    totals["breaches"] = len(breaches)
    totals["breaches_responsible"] = sum(b["responsible_id"] == partner.pk for b in breaches)
    return {
        "partner": {"id": partner.pk, "name": partner.name},
        "month": month,
        "contracts": sections,
        "totals": totals,
        "tickets": tickets,
    }


# --- who may read -------------------------------------------------------------------------


def contract_for_report(*, user, pk: int) -> Contract:
    """A contract the user may read: its parties' members, officers (Sudin: their kota) and
    operators; anyone else's contract is a 404."""
    contracts = scope_queryset(user, Contract.objects.select_related("kota"))
    contract = contracts.filter(pk=pk).first()
    if contract is None:
        raise Http404
    return contract


def report_partners(*, user) -> QuerySet[Partner]:
    """Partners whose SLA report the user may read: officers and operators any (a Sudin officer
    then sees only the contracts of their kota), members their own partners."""
    if is_officer(user) or is_operator(user):
        return Partner.objects.all().order_by("name", "id")
    return scope_queryset(user, Partner.objects.all()).order_by("name", "id")


def partner_for_report(*, user, pk: int) -> Partner:
    partner = report_partners(user=user).filter(pk=pk).first()
    if partner is None:
        raise Http404
    return partner


# --- breaches ------------------------------------------------------------------------------


def breach_list(*, user, filters: dict | None = None) -> QuerySet[Breach]:
    """Breaches the user may see (partners: those they answer for; Sudin officers: their kota),
    newest first, filtered as `filter_breaches` describes."""
    breaches = scope_queryset(
        user,
        Breach.objects.select_related(
            "contract__kota", "responsible", "camera", "ticket", "obligation"
        ),
    )
    return filter_breaches(breaches, filters or {}).order_by("-detected_at", "-id")


def filter_breaches(breaches: QuerySet[Breach], filters: dict) -> QuerySet[Breach]:
    """By kind, partner (responsible id), kota (code), contract (id) and month_from/month_to
    (first days; an uptime breach by its month, a clock breach by when the clock ran out)."""
    filters = {key: value for key, value in filters.items() if value not in (None, "")}
    if filters.get("kind"):
        breaches = breaches.filter(kind=filters["kind"])
    if filters.get("partner"):
        breaches = breaches.filter(responsible_id=filters["partner"])
    if filters.get("kota"):
        breaches = breaches.filter(contract__kota__code=filters["kota"])
    if filters.get("contract"):
        breaches = breaches.filter(contract_id=filters["contract"])
    month_from, month_to = filters.get("month_from"), filters.get("month_to")
    if month_from or month_to:
        breaches = breaches.annotate(happened_at=Coalesce("due_at", "detected_at"))
        if month_from:
            breaches = breaches.filter(
                Q(period__gte=month_from)
                | Q(period__isnull=True, happened_at__gte=day_start(month_from))
            )
        if month_to:
            after = next_month(month_to)
            breaches = breaches.filter(
                Q(period__lt=after) | Q(period__isnull=True, happened_at__lt=day_start(after))
            )
    return breaches


def breach_counts(breaches: QuerySet[Breach]) -> dict:
    """How many of these breaches each partner and each kota has, most first."""
    by_partner = (
        breaches.values("responsible_id", "responsible__name")
        .annotate(count=Count("id"))
        .order_by("-count", "responsible__name")
    )
    by_kota = (
        breaches.values("contract__kota__code", "contract__kota__name")
        .annotate(count=Count("id"))
        .order_by("-count", "contract__kota__code")
    )
    by_kind = breaches.values("kind").annotate(count=Count("id")).order_by("kind")
    return {"by_partner": list(by_partner), "by_kota": list(by_kota), "by_kind": list(by_kind)}


def sla_evaluation_list(*, user) -> QuerySet[SlaEvaluation]:
    """Monthly evaluation runs, for officers (a Sudin officer: their kota's contracts)."""
    if not is_officer(user):
        return SlaEvaluation.objects.none()
    evaluations = SlaEvaluation.objects.select_related("contract__kota")
    if is_sudin_officer(user):
        evaluations = evaluations.filter(contract__kota_id=user.kota_id)
    return evaluations.order_by("-month", "contract__number", "contract__version")
