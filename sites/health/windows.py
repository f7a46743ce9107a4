"""Maintenance windows: which cameras are inside one at a given time.

A window names one camera, a site, a partner's whole fleet or a kota; a recurring window repeats
its first occurrence (starts_at → ends_at) every day or week until `repeat_until` (a date in
Asia/Jakarta). Occurrences are expanded in SQL, so one query answers for a whole batch however
many cameras a partner- or kota-wide window covers. Jakarta keeps no daylight saving time, so a
day is always 86,400 seconds and the arithmetic below is exact.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Q, QuerySet

from portal.permissions import partner_ids_for
from portal.roles import is_city_officer, is_operator, is_sudin_officer
from sites.models import Area, Camera, MaintenanceWindow, Site

WINDOW = MaintenanceWindow._meta.db_table
CAMERA = Camera._meta.db_table
SITE = Site._meta.db_table
AREA = Area._meta.db_table


def occurrences_sql(start: str, end: str) -> str:
    """A subquery of (camera_id, occ_start, occ_end): every occurrence of a live window that
    overlaps [start, end), one row per camera it covers. `start` and `end` are SQL expressions
    (placeholders) of type timestamptz; the range should be short (an hour, an instant).

    Only occurrences k whose start falls near the range are generated: k runs from the one
    that may still be open at `start` to the one that begins before `end`.
    """
    period = "CASE w.recurrence WHEN 'daily' THEN 86400 WHEN 'weekly' THEN 604800 ELSE NULL END"
    return f"""
        SELECT covered.camera_id, occ.occ_start, occ.occ_end
        FROM {WINDOW} AS w
        CROSS JOIN LATERAL (
            SELECT w.starts_at + k * make_interval(secs => coalesce({period}, 0)) AS occ_start,
                w.ends_at + k * make_interval(secs => coalesce({period}, 0)) AS occ_end
            FROM generate_series(
                CASE WHEN {period} IS NULL THEN 0 ELSE greatest(0, floor(
                    extract(epoch FROM ({start}) - w.ends_at) / {period})::int) END,
                CASE WHEN {period} IS NULL THEN 0 ELSE greatest(0, ceil(
                    extract(epoch FROM ({end}) - w.starts_at) / {period})::int) END
            ) AS k
        ) AS occ
        CROSS JOIN LATERAL (
            SELECT c.id AS camera_id FROM {CAMERA} AS c WHERE c.id = w.camera_id
            UNION ALL
            SELECT c.id FROM {CAMERA} AS c WHERE c.site_id = w.site_id
            UNION ALL
            SELECT c.id FROM {CAMERA} AS c WHERE c.owner_id = w.partner_id
            UNION ALL
            SELECT c.id FROM {CAMERA} AS c
                JOIN {SITE} AS s ON s.id = c.site_id
                JOIN {AREA} AS kel ON kel.id = s.kelurahan_id
                JOIN {AREA} AS kec ON kec.id = kel.parent_id
            WHERE kec.parent_id = w.kota_id
        ) AS covered
        WHERE w.cancelled_at IS NULL
            AND w.starts_at < ({end})
            AND occ.occ_start < ({end}) AND occ.occ_end > ({start})
            AND (w.recurrence = 'none' OR w.repeat_until IS NULL
                 OR (occ.occ_start AT TIME ZONE 'Asia/Jakarta')::date <= w.repeat_until)
    """


def active_window_camera_ids(camera_ids: Iterable[int], at: datetime) -> set[int]:
    """The cameras among `camera_ids` inside a live maintenance window at `at` (one query)."""
    ids = list(camera_ids)
    if not ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT DISTINCT o.camera_id
            FROM ({occurrences_sql("%(at)s", "%(just_after)s")}) AS o
            WHERE o.camera_id = ANY(%(ids)s::bigint[])
            """,
            {"at": at, "just_after": at + timedelta(microseconds=1), "ids": ids},
        )
        return {camera_id for (camera_id,) in cursor.fetchall()}


def visible_windows(user) -> QuerySet[MaintenanceWindow]:
    """Windows `user` may see: officers and operators all; a Sudin officer those touching their
    kota (and partner-wide ones); a partner member those of its cameras, sites and fleet, plus
    kota-wide ones (city work that explains its cameras' status, no other partner's data)."""
    windows = MaintenanceWindow.objects.select_related("camera", "site", "partner", "kota")
    if not user.is_authenticated:
        return windows.none()
    if is_city_officer(user) or is_operator(user):
        return windows
    if is_sudin_officer(user):
        return windows.filter(
            Q(kota=user.kota_id)
            | Q(partner__isnull=False)
            | Q(camera__site__kelurahan__parent__parent=user.kota_id)
            | Q(site__kelurahan__parent__parent=user.kota_id)
        )
    partners = partner_ids_for(user)
    return windows.filter(
        Q(partner__in=partners)
        | Q(camera__owner__in=partners)
        | Q(site__host_partner__in=partners)
        | Q(kota__isnull=False)
    )
