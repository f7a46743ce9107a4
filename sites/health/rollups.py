"""Hourly and daily roll-ups: seconds each camera spent in each state, for availability %.

The CameraStatusChange timeline is the source: a camera's state at the hour's start is its last
change before it (unknown if none), and each change inside the hour starts a new span. Time
inside a maintenance window counts as maintenance whatever the camera did, so planned work never
lowers availability; upstream_down counts as down (the camera could not be seen, whatever the
cause). Every function is one statement and idempotent: a rerun overwrites the same rows.
"""

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from sites.health.windows import occurrences_sql
from sites.models import CameraHealth, CameraStatusChange, HealthRollup, RollupPeriod

ROLLUP = HealthRollup._meta.db_table
CHANGE = CameraStatusChange._meta.db_table
HEALTH = CameraHealth._meta.db_table
HOUR = timedelta(hours=1)

_UPSERT = """
    ON CONFLICT (camera_id, period, period_start) DO UPDATE SET
        up_seconds = EXCLUDED.up_seconds,
        degraded_seconds = EXCLUDED.degraded_seconds,
        down_seconds = EXCLUDED.down_seconds,
        maintenance_seconds = EXCLUDED.maintenance_seconds,
        unknown_seconds = EXCLUDED.unknown_seconds
"""


def _seconds(expression: str, condition: str) -> str:
    return f"coalesce(round(sum({expression}) FILTER (WHERE {condition})), 0)::int"


def rollup_hour(hour_start: datetime) -> int:
    """Write (or rewrite) the hourly row of every checked camera for this hour; returns rows."""
    if hour_start.minute or hour_start.second or hour_start.microsecond:
        raise ValueError("hour_start must be on the hour")
    start, end = "%(start)s::timestamptz", "%(end)s::timestamptz"
    unplanned = "s.total - s.planned"
    known = "'up', 'degraded', 'down', 'upstream_down', 'maintenance'"
    sql = f"""
        WITH cams AS (
            -- Cameras already checked by the hour's end; the rest have no history to roll up.
            SELECT h.camera_id FROM {HEALTH} AS h
            WHERE EXISTS (
                SELECT 1 FROM {CHANGE} AS c
                WHERE c.camera_id = h.camera_id AND c.created_at < {end}
            )
        ),
        events AS (
            SELECT cams.camera_id, {start} AS at, 0 AS ord, 0::bigint AS id,
                coalesce(last.new_status, 'unknown') AS status
            FROM cams
            LEFT JOIN LATERAL (
                SELECT c.new_status FROM {CHANGE} AS c
                WHERE c.camera_id = cams.camera_id AND c.created_at < {start}
                ORDER BY c.created_at DESC, c.id DESC
                LIMIT 1
            ) AS last ON true
            UNION ALL
            SELECT c.camera_id, c.created_at, 1, c.id, c.new_status
            FROM {CHANGE} AS c
            JOIN cams ON cams.camera_id = c.camera_id
            WHERE c.created_at >= {start} AND c.created_at < {end}
        ),
        spans AS (
            SELECT camera_id, status, at,
                LEAD(at, 1, {end}) OVER (PARTITION BY camera_id ORDER BY at, ord, id) AS until
            FROM events
        ),
        planned AS (
            SELECT o.camera_id,
                range_agg(tstzrange(greatest(o.occ_start, {start}), least(o.occ_end, {end})))
                    AS ranges
            FROM ({occurrences_sql(start, end)}) AS o
            GROUP BY o.camera_id
        ),
        split AS (
            SELECT spans.camera_id, spans.status,
                extract(epoch FROM spans.until - spans.at) AS total,
                coalesce((
                    SELECT sum(extract(epoch FROM upper(r) - lower(r)))
                    FROM unnest(tstzmultirange(tstzrange(spans.at, spans.until)) * p.ranges) AS r
                ), 0) AS planned
            FROM spans
            LEFT JOIN planned AS p ON p.camera_id = spans.camera_id
        )
        INSERT INTO {ROLLUP} AS r (
            camera_id, period, period_start, up_seconds, degraded_seconds, down_seconds,
            maintenance_seconds, unknown_seconds
        )
        SELECT s.camera_id, %(period)s, {start},
            {_seconds(unplanned, "s.status = 'up'")},
            {_seconds(unplanned, "s.status = 'degraded'")},
            {_seconds(unplanned, "s.status IN ('down', 'upstream_down')")},
            coalesce(round(sum(s.planned) + coalesce(
                sum({unplanned}) FILTER (WHERE s.status = 'maintenance'), 0)), 0)::int,
            {_seconds(unplanned, f"s.status NOT IN ({known})")}
        FROM split AS s
        GROUP BY s.camera_id
        {_UPSERT}
    """
    with connection.cursor() as cursor:
        cursor.execute(
            sql, {"start": hour_start, "end": hour_start + HOUR, "period": RollupPeriod.HOUR}
        )
        return cursor.rowcount


def day_start(day: date) -> datetime:
    """Midnight of `day` in the portal's time zone (Asia/Jakarta)."""
    return timezone.make_aware(datetime.combine(day, time.min))


def rollup_day(day: date) -> int:
    """Sum the day's hourly rows (local midnight to midnight) into one row per camera."""
    start = day_start(day)
    columns = (
        "up_seconds",
        "degraded_seconds",
        "down_seconds",
        "maintenance_seconds",
        "unknown_seconds",
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {ROLLUP} AS r (camera_id, period, period_start, {", ".join(columns)})
            SELECT camera_id, %(day)s, %(start)s, {", ".join(f"sum({c})" for c in columns)}
            FROM {ROLLUP}
            WHERE period = %(hour)s AND period_start >= %(start)s AND period_start < %(end)s
            GROUP BY camera_id
            {_UPSERT}
            """,
            {
                "day": RollupPeriod.DAY,
                "hour": RollupPeriod.HOUR,
                "start": start,
                "end": start + timedelta(days=1),
            },
        )
        return cursor.rowcount


def purge_hourly(older_than_days: int | None = None, now: datetime | None = None) -> int:
    """Delete hourly rows past retention; the daily rows keep the history."""
    days = settings.HEALTH_HOURLY_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted, _ = HealthRollup.objects.filter(
        period=RollupPeriod.HOUR, period_start__lt=cutoff
    ).delete()
    return deleted


def previous_hour(now: datetime | None = None) -> datetime:
    """The start of the last complete hour."""
    now = now or timezone.now()
    return now.replace(minute=0, second=0, microsecond=0) - HOUR


def previous_day(now: datetime | None = None) -> date:
    """Yesterday in Asia/Jakarta."""
    return timezone.localdate(now or timezone.now()) - timedelta(days=1)


def recent_days(camera_id: int, days: int = 30) -> list[HealthRollup]:
    """The camera's last `days` daily roll-ups, oldest first (the caller has checked access)."""
    rows = HealthRollup.objects.filter(camera_id=camera_id, period=RollupPeriod.DAY).order_by(
        "-period_start"
    )[:days]
    return list(reversed(rows))
