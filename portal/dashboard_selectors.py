"""Reads behind the dashboards (officer, partner, operator) and the coverage-gap planner.

Every function costs a fixed number of queries whatever the data size: counts are GROUP BY
aggregates, lists are sliced in SQL. Officer figures go through portal.permissions (a Sudin
officer sees their kota only). Partner figures are narrowed to the user's own partners
explicitly, because a user may be an officer and a partner member at once and the partner
section must still show only that partner's cameras, tickets and contracts.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Least, TruncDate
from django.utils import timezone

from contracts import agreement_selectors, sla_selectors, ticket_selectors
from contracts import selectors as contract_selectors
from contracts.models import (
    OPEN_APPLICATION_STATUSES,
    ApplicationStatus,
    Contract,
    ContractParty,
    HostingApplication,
    MaintenanceTicket,
)
from portal.permissions import partner_ids_for, scope_queryset
from portal.roles import is_officer, is_operator, is_sudin_officer
from sites import health_selectors
from sites.models import (
    OPEN_REQUEST_STATUSES,
    Area,
    AreaBoundary,
    AreaLevel,
    Camera,
    CameraHealth,
    CoverageRequest,
    HealthRollup,
    HealthStatus,
    HealthSweep,
    RawanLevel,
    RollupPeriod,
)

# --- Who sees what ----------------------------------------------------------------------------


def is_partner_member(user) -> bool:
    return user.is_authenticated and partner_ids_for(user).exists()


def may_watch_live(user) -> bool:
    """The operator view is for the NOC and officers; partners have their own dashboard."""
    return user.is_authenticated and (is_operator(user) or is_officer(user))


def _kota_id(user) -> int | None:
    """The kota a Sudin officer is limited to; None for everyone city-wide."""
    return user.kota_id if is_sudin_officer(user) else None


# --- Pipeline ---------------------------------------------------------------------------------

PIPELINE_STEPS = (
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.TECHNICAL_REVIEW,
    ApplicationStatus.LEGAL_REVIEW,
)
# Age since submission, the same clock as the review deadline (REVIEW_DEADLINE_DAYS).
AGE_BUCKETS = (("under_7", 0, 7), ("7_to_14", 7, 14), ("over_14", 14, None))


@dataclass
class PipelineRow:
    status: str
    label: str
    buckets: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.buckets.values())

    @property
    def cells(self) -> list[int]:
        return [self.buckets[name] for name, _low, _high in AGE_BUCKETS]


def _bucket_filter(now: datetime, low: int, high: int | None) -> Q:
    """Under 7 days: submitted after now-7d; 7–14: between now-14d and now-7d inclusive;
    over 14: before now-14d."""
    if low == 0:
        return Q(submitted_at__gt=now - timedelta(days=high))
    if high is None:
        return Q(submitted_at__lt=now - timedelta(days=low))
    return Q(
        submitted_at__lte=now - timedelta(days=low), submitted_at__gte=now - timedelta(days=high)
    )


@dataclass
class Pipeline:
    rows: list[PipelineRow]
    # Open longer than REVIEW_DEADLINE_DAYS since submission (the review queue's "overdue").
    overdue: int

    @property
    def waiting(self) -> int:
        return sum(row.total for row in self.rows)


def pipeline(*, user, now: datetime | None = None) -> Pipeline:
    """Open applications per review step and age bucket, and how many are overdue (one query)."""
    now = now or timezone.now()
    applications = scope_queryset(user, HostingApplication.objects.all()).filter(
        status__in=OPEN_APPLICATION_STATUSES
    )
    deadline = now - timedelta(days=settings.REVIEW_DEADLINE_DAYS)
    counts = {
        row["status"]: row
        for row in applications.values("status")
        .annotate(
            overdue=Count("pk", filter=Q(submitted_at__lt=deadline)),
            **{
                name: Count("pk", filter=_bucket_filter(now, low, high))
                for name, low, high in AGE_BUCKETS
            },
        )
        .order_by()
    }
    rows = []
    for status in PIPELINE_STEPS:
        found = counts.get(status, {})
        rows.append(
            PipelineRow(
                status=status,
                label=ApplicationStatus(status).label,
                buckets={name: found.get(name, 0) for name, _low, _high in AGE_BUCKETS},
            )
        )
    return Pipeline(rows=rows, overdue=sum(row["overdue"] for row in counts.values()))


def oldest_reviews(*, user, limit: int = 10) -> list[HostingApplication]:
    """The applications that have waited longest for a decision (one query)."""
    return list(contract_selectors.review_queue(user=user)[:limit])


# --- Coverage-gap planner ---------------------------------------------------------------------

# Kilometres per degree near Jakarta (6° S): a degree of latitude is 110.57 km and a degree of
# longitude 111.32 km × cos(latitude); good to well under 1 % over a kelurahan.
_KM_PER_DEGREE_LAT = 110.574
_KM_PER_DEGREE_LON_EQUATOR = 111.320
# Cameras that are known not to be watching anything do not cover their kelurahan.
NOT_COVERING = (HealthStatus.DOWN, HealthStatus.UPSTREAM_DOWN)
GAP_CACHE_SECONDS = 300
AREA_CACHE_SECONDS = 24 * 3600
GAP_RANKED = 20


def kelurahan_km2() -> dict[int, float]:
    """Each kelurahan's land area in km², from its boundary rings (cached: boundaries are
    reference data). PostgreSQL measures each ring in square degrees; we scale by the
    kelurahan's latitude. Holes are not stored, so lakes count as land — fine for a density."""
    cached = cache.get("dashboard:kelurahan-km2")
    if cached is not None:
        return cached
    table, area_table = AreaBoundary._meta.db_table, Area._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT b.area_id, a.lat, SUM(area(path(b.ring)))
            FROM {table} AS b JOIN {area_table} AS a ON a.id = b.area_id
            GROUP BY b.area_id, a.lat
            """
        )
        rows = cursor.fetchall()
    result = {
        area_id: float(square_degrees)
        * _KM_PER_DEGREE_LAT
        * _KM_PER_DEGREE_LON_EQUATOR
        * math.cos(math.radians(float(lat)))
        for area_id, lat, square_degrees in rows
    }
    cache.set("dashboard:kelurahan-km2", result, AREA_CACHE_SECONDS)
    return result


def gap_score(*, rawan_level: int, cameras_per_km2: float, demand: int) -> float:
    """Where the next camera does most good, higher first:

        (1 + rawan level) × 1 / (1 + working cameras per km²) × (1 + ln(1 + demand))

    - rawan level 0–3 set by Kominfotik; +1 so a non-rawan kelurahan with many residents asking
      still ranks above an empty one, but a high-rawan one weighs four times as much;
    - coverage counts only cameras that are not down: a dead camera covers nothing;
    - demand is open requests plus their supports. It grows with the logarithm: supports cost a
      resident one click, and one loud kelurahan must not push every other one off the list.
    """
    need = 1 + rawan_level
    coverage = 1 / (1 + cameras_per_km2)
    return need * coverage * (1 + math.log1p(demand))


@dataclass
class GapRow:
    """One kelurahan in the planner, with the figures behind its score (the reasons)."""

    area_id: int
    code: str
    name: str
    kota_name: str
    rawan_level: int
    km2: float
    cameras: int
    working: int
    open_requests: int
    supports: int
    score: float = 0.0
    rank: int = 0
    reasons: list[str] = field(default_factory=list)

    @property
    def rawan_label(self) -> str:
        return RawanLevel(self.rawan_level).label

    @property
    def cameras_per_km2(self) -> float:
        return self.working / self.km2 if self.km2 else 0.0

    @property
    def demand(self) -> int:
        return self.open_requests + self.supports

    @property
    def working_share(self) -> float | None:
        """Share (%) of the kelurahan's cameras currently not down; None without cameras."""
        return 100 * self.working / self.cameras if self.cameras else None


def _kelurahan(user) -> QuerySet[Area]:
    villages = Area.objects.filter(level=AreaLevel.VILLAGE)
    kota_id = _kota_id(user)
    if kota_id is not None:
        villages = villages.filter(parent__parent_id=kota_id)
    return villages


def gap_rows(*, user) -> list[GapRow]:
    """Every kelurahan in the user's scope with its gap score, best place for a camera first.

    Four queries however many cameras and requests: kelurahan, cameras by kelurahan, open
    requests by kelurahan, and the areas' km² (cached)."""
    villages = list(
        _kelurahan(user)
        .values("id", "code", "name", "rawan_level", kota_name=F("parent__parent__name"))
        .order_by("code")
    )
    ids = [row["id"] for row in villages]
    # Cameras are counted for the planner whoever owns them: the gap is the city's.
    cameras = {
        row["site__kelurahan_id"]: row
        for row in Camera.objects.filter(
            site__status__in=health_selectors.FLEET_SITE_STATUSES, site__kelurahan_id__in=ids
        )
        .values("site__kelurahan_id")
        .annotate(
            total=Count("pk"),
            not_working=Count("pk", filter=Q(health__status__in=NOT_COVERING)),
        )
        .order_by()
    }
    requests = {
        row["kelurahan_id"]: row
        for row in CoverageRequest.objects.filter(
            status__in=OPEN_REQUEST_STATUSES, kelurahan_id__in=ids
        )
        .values("kelurahan_id")
        .annotate(count=Count("pk"), supports=Sum("supports_count"))
        .order_by()
    }
    km2 = kelurahan_km2()
    rows = []
    for village in villages:
        camera_row = cameras.get(village["id"], {"total": 0, "not_working": 0})
        request_row = requests.get(village["id"], {"count": 0, "supports": 0})
        row = GapRow(
            area_id=village["id"],
            code=village["code"],
            name=village["name"],
            kota_name=village["kota_name"] or "",
            rawan_level=village["rawan_level"],
            km2=km2.get(village["id"], 0.0),
            cameras=camera_row["total"],
            working=camera_row["total"] - camera_row["not_working"],
            open_requests=request_row["count"],
            supports=request_row["supports"] or 0,
        )
        row.score = round(
            gap_score(
                rawan_level=row.rawan_level,
                cameras_per_km2=row.cameras_per_km2,
                demand=row.demand,
            ),
            3,
        )
        rows.append(row)
    rows.sort(key=lambda r: (-r.score, r.code))
    for rank, row in enumerate(rows, start=1):
        row.rank = rank
    return rows


def gap_ranking(*, user, limit: int = GAP_RANKED) -> list[GapRow]:
    return gap_rows(user=user)[:limit]


def _gap_cache_key(user) -> str:
    kota_id = _kota_id(user)
    return f"dashboard:gap-map:{kota_id or 'city'}"


def gap_map(*, user) -> dict:
    """The choropleth as GeoJSON: one MultiPolygon per kelurahan with its score and figures.

    Coordinates keep 5 decimals (about 1 m) and properties use short keys; the result is cached
    per scope for GAP_CACHE_SECONDS (the planner is for tomorrow's decisions, not live data)."""
    key = _gap_cache_key(user)
    cached = cache.get(key)
    if cached is not None:
        return cached
    rows = {row.area_id: row for row in gap_rows(user=user)}
    rings: dict[int, list] = {}
    for area_id, ring in (
        AreaBoundary.objects.filter(area_id__in=list(rows))
        .order_by("id")
        .values_list("area_id", "ring")
    ):
        rings.setdefault(area_id, []).append(
            [[[round(lon, 5), round(lat, 5)] for lon, lat in _closed(ring)]]
        )
    top = max((row.score for row in rows.values()), default=0) or 1
    features = []
    for area_id, row in rows.items():
        if area_id not in rings:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "MultiPolygon", "coordinates": rings[area_id]},
                "properties": {
                    "code": row.code,
                    "name": row.name,
                    "score": row.score,
                    # 0–1 against the highest score in scope, for the colour ramp.
                    "level": round(row.score / top, 3),
                    "rank": row.rank,
                    "rawan": row.rawan_level,
                    "cameras": row.cameras,
                    "working": row.working,
                    "per_km2": round(row.cameras_per_km2, 2),
                    "requests": row.open_requests,
                    "supports": row.supports,
                },
            }
        )
    result = {"type": "FeatureCollection", "features": features}
    cache.set(key, result, GAP_CACHE_SECONDS)
    return result


def _closed(ring: list) -> list:
    """GeoJSON rings repeat their first point at the end."""
    return ring if ring and ring[0] == ring[-1] else [*ring, ring[0]]


# --- SLA breaches and fleet -------------------------------------------------------------------

BREACH_DAYS = 30


def recent_breaches(*, user, days: int = BREACH_DAYS) -> dict:
    """Breaches detected in the last `days`, counted by partner, kota and kind (4 queries)."""
    since = timezone.now() - timedelta(days=days)
    breaches = sla_selectors.breach_list(user=user).filter(detected_at__gte=since)
    counts = sla_selectors.breach_counts(breaches)
    counts["total"] = sum(row["count"] for row in counts["by_kind"])
    return counts


def availability_by_day(*, cameras: QuerySet[Camera], days: int = 30) -> list[tuple]:
    """(date, availability %) of these cameras per day from the daily roll-ups (one query).
    Maintenance is left out of the count, as in HealthRollup.availability."""
    since = timezone.now() - timedelta(days=days)
    rows = (
        HealthRollup.objects.filter(
            period=RollupPeriod.DAY, period_start__gte=since, camera__in=cameras.values("pk")
        )
        .annotate(day=TruncDate("period_start"))
        .values("day")
        .annotate(
            good=Sum(F("up_seconds") + F("degraded_seconds")),
            counted=Sum(F("up_seconds") + F("degraded_seconds") + F("down_seconds")),
        )
        .order_by("day")
    )
    return [
        (row["day"], round(100 * row["good"] / row["counted"], 2)) for row in rows if row["counted"]
    ]


def sweep_durations(limit: int = 50) -> list[tuple]:
    """(start, seconds) of the latest finished sweeps, oldest first (one query)."""
    sweeps = health_selectors.sweep_list().filter(finished_at__isnull=False)[:limit]
    rows = [(s.started_at, s.duration.total_seconds()) for s in sweeps]
    return list(reversed(rows))


# --- Partner ----------------------------------------------------------------------------------

CONTRACT_EXPIRY_DAYS = 90
# Worst first: a camera that is down is the partner's job; upstream down is its pole or link.
_BAD_ORDER = {HealthStatus.DOWN: 0, HealthStatus.UPSTREAM_DOWN: 1, HealthStatus.DEGRADED: 2}


def my_cameras(user) -> QuerySet[Camera]:
    """In-service cameras owned by the user's partners."""
    return Camera.objects.filter(
        site__status__in=health_selectors.FLEET_SITE_STATUSES, owner__in=partner_ids_for(user)
    ).order_by()


def status_counts(cameras: QuerySet[Camera]) -> dict[str, int]:
    """Cameras per health status; never checked counts as unknown (one query)."""
    counts = {
        status: Count("pk", filter=Q(health__status=status))
        for status in HealthStatus.values
        if status != HealthStatus.UNKNOWN
    }
    counts[HealthStatus.UNKNOWN] = Count(
        "pk", filter=Q(health__isnull=True) | Q(health__status=HealthStatus.UNKNOWN)
    )
    return cameras.aggregate(**counts)


def failing_cameras(cameras: QuerySet[Camera], limit: int = 20) -> list[CameraHealth]:
    """Health rows of the cameras that are down, upstream down or degraded, worst and longest
    first (one query)."""
    rank = Case(
        *[When(status=status, then=Value(order)) for status, order in _BAD_ORDER.items()],
        output_field=IntegerField(),
    )
    return list(
        CameraHealth.objects.filter(camera__in=cameras.values("pk"), status__in=list(_BAD_ORDER))
        .select_related("camera__site__kelurahan", "camera__owner")
        .annotate(rank=rank)
        .order_by("rank", F("changed_at").asc(nulls_first=True), "camera_id")[:limit]
    )


def my_tickets(*, user, limit: int = 20) -> list[MaintenanceTicket]:
    """Active tickets routed to or hosted by the user's partners, next clock due first, each
    with `clocks` (contracts.ticket_selectors.ticket_clocks). One query."""
    partner_ids = partner_ids_for(user)
    next_due = Least(
        Case(
            When(acknowledged_at__isnull=True, then=F("acknowledge_due_at")),
            output_field=DateTimeField(),
        ),
        Case(When(resolved_at__isnull=True, then=F("repair_due_at")), output_field=DateTimeField()),
    )
    tickets = list(
        ticket_selectors.ticket_list(user=user, filters={"status": "active"})
        .filter(Q(responsible__in=partner_ids) | Q(site__host_partner__in=partner_ids))
        .annotate(next_due_at=next_due)
        .order_by(F("next_due_at").asc(nulls_last=True), "opened_at", "id")[:limit]
    )
    now = timezone.now()
    for ticket in tickets:
        ticket.clocks = [
            clock
            for clock in ticket_selectors.ticket_clocks(ticket=ticket, now=now)
            if clock["state"] != "none"
        ]
    return tickets


def my_expiring_contracts(*, user, days: int = CONTRACT_EXPIRY_DAYS) -> list[Contract]:
    """Active contracts of the user's partners ending within `days`, soonest first (2 queries)."""
    mine = ContractParty.objects.filter(partner__in=partner_ids_for(user)).values("contract")
    return list(
        agreement_selectors.contract_list(user=user, filters={"expiring_within_days": days})
        .filter(pk__in=mine)
        .order_by("term_end", "id")
    )


def my_applications(*, user, limit: int = 10) -> list[HostingApplication]:
    """The latest applications of the user's partners (officers too see only their own here)."""
    return list(
        contract_selectors.application_list(user=user).filter(applicant__in=partner_ids_for(user))[
            :limit
        ]
    )


# --- Operator live feed -----------------------------------------------------------------------

LIVE_CHANGES = 20
LIVE_INCIDENTS = 20


def _local(moment: datetime | None) -> datetime | None:
    """Times in WIB; JsonResponse writes them as ISO 8601 with the +07:00 offset."""
    return timezone.localtime(moment) if moment else None


def live_status(*, user) -> dict:
    """What /operator/live.json answers (7 queries): counts by status and kota, open upstream
    incidents, the latest status changes and the latest sweep."""
    summary = health_selectors.fleet_summary(user)
    incidents = health_selectors.upstream_incidents(user).filter(ended_at__isnull=True)
    open_incidents = list(incidents[:LIVE_INCIDENTS])
    changes = health_selectors.recent_changes(user, LIVE_CHANGES)
    sweep = HealthSweep.objects.order_by("-started_at", "-id").first()
    labels = dict(HealthStatus.choices)
    return {
        "generated_at": _local(timezone.now()),
        "statuses": [{"value": value, "label": str(label)} for value, label in labels.items()],
        "totals": summary.totals,
        "total": summary.total,
        "by_kota": [
            {
                "code": row["key"],
                "name": row["name"],
                "total": row["total"],
                "counts": row["counts"],
            }
            for row in summary.by_kota
        ],
        "incidents": [
            {
                "id": incident.pk,
                "owner": incident.owner.name if incident.owner else None,
                "place": incident.pole.code if incident.pole else incident.segment,
                "started_at": _local(incident.started_at),
                "cameras_affected": incident.cameras_affected,
            }
            for incident in open_incidents
        ],
        "changes": [
            {
                "id": change.pk,
                "camera_id": change.camera_id,
                "camera": str(change.camera),
                "owner": change.camera.owner.name,
                "old_status": change.old_status,
                "new_status": change.new_status,
                "new_label": str(labels.get(change.new_status, change.new_status)),
                "reason": change.reason,
                "at": _local(change.created_at),
            }
            for change in changes
        ],
        "sweep": None
        if sweep is None
        else {
            "id": sweep.pk,
            "status": sweep.status,
            "started_at": _local(sweep.started_at),
            "finished_at": _local(sweep.finished_at),
            "duration_seconds": (sweep.finished_at - sweep.started_at).total_seconds()
            if sweep.finished_at
            else None,
            "cameras": sweep.cameras,
            "checks": sweep.checks,
        },
    }
