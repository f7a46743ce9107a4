"""Reads of fleet health for the operator pages and the API.

Everything a partner, officer or operator sees goes through portal.permissions.scope_queryset: a
partner counts and reads only its own cameras, a Sudin officer only cameras in their kota. The
sweep engine (sites.health) writes the rows; a camera it has not checked yet has no CameraHealth
row and counts as "unknown".
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone

from portal.permissions import partner_ids_for, scope_queryset
from portal.roles import is_officer, is_operator
from sites.health import windows
from sites.health.sweeps import CHECKED_SITE_STATUSES
from sites.models import (
    Camera,
    CameraHealth,
    CameraHeartbeatKey,
    CameraStatusChange,
    HealthStatus,
    HealthSweep,
    Outage,
    UpstreamIncident,
)

# The fleet is what the sweeps check: cameras on deployed sites. Proposed or decommissioned
# sites' cameras are never checked and would only swell the "unknown" count.
FLEET_SITE_STATUSES = CHECKED_SITE_STATUSES
KOTA_PATH = "site__kelurahan__parent__parent"


def may_watch_fleet(user) -> bool:
    """Officers, operators and partner members; a resident has no fleet to watch."""
    if not user.is_authenticated:
        return False
    return may_see_sweeps(user) or partner_ids_for(user).exists()


def may_see_sweeps(user) -> bool:
    """Sweeps describe the whole city's checker, so only officers and operators see them."""
    return user.is_authenticated and (is_officer(user) or is_operator(user))


def _status_counts() -> dict[str, Count]:
    """One COUNT per status; a camera without a health row (the LEFT JOIN gives NULL) is unknown."""
    counts = {
        status: Count("pk", filter=Q(health__status=status))
        for status in HealthStatus.values
        if status != HealthStatus.UNKNOWN
    }
    counts[HealthStatus.UNKNOWN] = Count(
        "pk", filter=Q(health__isnull=True) | Q(health__status=HealthStatus.UNKNOWN)
    )
    return counts


@dataclass
class FleetSummary:
    """Camera counts by health status: overall, per kota and per owning partner."""

    totals: dict[str, int]
    by_kota: list[dict] = field(default_factory=list)
    by_partner: list[dict] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.totals.values())


def fleet_cameras(user) -> QuerySet[Camera]:
    """The in-service cameras `user` may see."""
    cameras = Camera.objects.filter(site__status__in=FLEET_SITE_STATUSES)
    return scope_queryset(user, cameras).order_by()


def _rows(grouped: QuerySet, key: str, name: str) -> list[dict]:
    rows = []
    for row in grouped:
        counts = {status: row[status] for status in HealthStatus.values}
        rows.append(
            {
                "key": row[key],
                "name": row[name],
                "total": sum(counts.values()),
                "counts": counts,
                # The same numbers in HealthStatus order, for table cells.
                "cells": list(counts.values()),
            }
        )
    return rows


def fleet_summary(user) -> FleetSummary:
    """Counts by status, by kota and by partner: three GROUP BY queries, whatever the fleet size."""
    cameras = fleet_cameras(user)
    counts = _status_counts()
    totals = cameras.aggregate(**counts)
    by_kota = (
        cameras.values(kota_code=F(f"{KOTA_PATH}__code"), kota_name=F(f"{KOTA_PATH}__name"))
        .annotate(**counts)
        .order_by("kota_code")
    )
    by_partner = (
        cameras.values("owner_id", partner_name=F("owner__name"))
        .annotate(**counts)
        .order_by("partner_name", "owner_id")
    )
    return FleetSummary(
        totals={status: totals[status] for status in HealthStatus.values},
        by_kota=_rows(by_kota, "kota_code", "kota_name"),
        by_partner=_rows(by_partner, "owner_id", "partner_name"),
    )


def camera_health(camera: Camera) -> CameraHealth:
    """The camera's latest state; an unsaved "unknown" row when it has never been checked."""
    try:
        return camera.health
    except CameraHealth.DoesNotExist:
        return CameraHealth(camera=camera, status=HealthStatus.UNKNOWN)


def status_changes(user) -> QuerySet[CameraStatusChange]:
    """Every status change `user` may see, newest first."""
    changes = CameraStatusChange.objects.select_related(
        "camera__owner", f"camera__{KOTA_PATH}"
    ).order_by("-created_at", "-id")
    return scope_queryset(user, changes)


def outages(user) -> QuerySet[Outage]:
    """Every outage `user` may see, newest first."""
    return scope_queryset(user, Outage.objects.select_related("camera__owner")).order_by(
        "-started_at", "-id"
    )


def upstream_incidents(user) -> QuerySet[UpstreamIncident]:
    """Every upstream incident `user` may see (a partner: its own cameras'), newest first."""
    incidents = UpstreamIncident.objects.select_related("owner", "pole")
    return scope_queryset(user, incidents).order_by("-started_at", "-id")


def heartbeat_key(camera: Camera) -> CameraHeartbeatKey | None:
    """The camera's live heartbeat key (it is in push mode), or None (it is probed)."""
    return CameraHeartbeatKey.objects.filter(camera=camera, revoked_at__isnull=True).first()


def recent_changes(user, limit: int = 20) -> list[CameraStatusChange]:
    return list(status_changes(user)[:limit])


@dataclass
class CameraHistory:
    changes: Page
    outages: Page


def camera_history(user, camera: Camera, *, page: int = 1, per_page: int = 25) -> CameraHistory:
    """The camera's status changes and outages, newest first, one page of each."""
    changes = status_changes(user).filter(camera=camera)
    camera_outages = outages(user).filter(camera=camera)
    return CameraHistory(
        changes=Paginator(changes, per_page).get_page(page),
        outages=Paginator(camera_outages, per_page).get_page(page),
    )


def camera_availability(
    user, camera: Camera, days: int = 30, *, now: datetime | None = None
) -> Decimal:
    """Percentage of the last `days` the camera was not in an outage, to two decimals, with time
    inside its maintenance windows left out of both the count and the window.

    The window starts at installation when that is more recent. Time before the first check and
    open outages up to now count as they stand. One statement: the windows' occurrences and the
    outages become PostgreSQL multiranges, so overlapping windows count once and an outage
    during planned work costs nothing.
    """
    now = now or timezone.now()
    start = now - timedelta(days=days)
    if camera.installed_at and camera.installed_at > start:
        start = camera.installed_at
    if now <= start:
        return Decimal("100.00")
    # Only outages the user may see (the caller already found the camera in their scope).
    outage_sql, outage_params = (
        outages(user).filter(camera=camera).values("started_at", "ended_at").query.sql_with_params()
    )
    # The window SQL repeats its bounds: it reads them from the CTE, so each is passed once.
    occurrences = windows.occurrences_sql("(SELECT a FROM span)", "(SELECT b FROM span)")
    seconds = "(SELECT coalesce(sum(extract(epoch FROM upper(r) - lower(r))), 0) FROM unnest({}) r)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH span AS (
                SELECT %s::timestamptz AS a, %s::timestamptz AS b,
                       tstzmultirange(tstzrange(%s::timestamptz, %s::timestamptz)) AS s
            ),
            planned AS (
                SELECT coalesce(range_agg(tstzrange(o.occ_start, o.occ_end)),
                                '{{}}'::tstzmultirange) * (SELECT s FROM span) AS m
                FROM ({occurrences}) AS o WHERE o.camera_id = %s
            ),
            down AS (
                SELECT coalesce(range_agg(tstzrange(d.started_at,
                                                    coalesce(d.ended_at, 'infinity'))),
                                '{{}}'::tstzmultirange) * (SELECT s FROM span) AS m
                FROM ({outage_sql}) AS d
            )
            SELECT {seconds.format("(SELECT s FROM span)")} - {seconds.format("planned.m")},
                   {seconds.format("down.m - planned.m")}
            FROM planned, down
            """,
            [start, now, start, now, camera.pk, *outage_params],
        )
        window_seconds, down_seconds = cursor.fetchone()
    if window_seconds <= 0:
        return Decimal("100.00")  # all of it planned work: nothing was missed
    share = Decimal(1) - Decimal(down_seconds) / Decimal(window_seconds)
    return (share * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def sweep_list(limit: int | None = None) -> QuerySet[HealthSweep]:
    """The latest sweeps, newest first (operators and officers only; callers check the role)."""
    sweeps = HealthSweep.objects.annotate(
        duration=ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    ).order_by("-started_at", "-id")
    return sweeps[:limit] if limit else sweeps
