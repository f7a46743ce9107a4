"""Fill the stored priority of the coverage requests that exist (0017 added the columns).

A frozen copy of sites.request_selectors.priority_sql as it stood when the columns were added, so
this migration keeps working whatever that module becomes. From here on the services and the
daily task (sites.tasks.refresh_request_priorities) keep the columns current.
"""

import math
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import migrations
from django.utils import timezone

BATCH = 2000


def _degrees(radius_m: float) -> tuple[Decimal, Decimal]:
    dlat = radius_m / 111_320
    dlon = dlat / math.cos(math.radians(6.2))
    step = Decimal("0.000001")
    return Decimal(dlat).quantize(step) + step, Decimal(dlon).quantize(step) + step


def _haversine(lat_a: str, lon_a: str, lat_b: str, lon_b: str) -> str:
    return (
        "2 * 6371000 * ASIN(LEAST(1.0, SQRT("
        f"POWER(SIN(RADIANS({lat_b}::float8 - {lat_a}::float8) / 2), 2) + "
        f"COS(RADIANS({lat_a}::float8)) * COS(RADIANS({lat_b}::float8)) * "
        f"POWER(SIN(RADIANS({lon_b}::float8 - {lon_a}::float8) / 2), 2))))"
    )


def fill(apps, schema_editor):
    requests = apps.get_model("sites", "CoverageRequest")
    table = requests._meta.db_table
    site = apps.get_model("sites", "Site")._meta.db_table
    camera = apps.get_model("sites", "Camera")._meta.db_table
    area = apps.get_model("sites", "Area")._meta.db_table
    threshold = settings.REQUEST_SUPPORT_THRESHOLD
    near_lat, near_lon = _degrees(1000)
    recent_lat, recent_lon = _degrees(500)
    since = timezone.now() - timedelta(days=90)
    sql = f"""
        UPDATE {table} AS r SET priority_rawan = p.rawan, priority_distance_m = p.distance_m,
            priority_recent = p.recent, priority_score = s.score,
            priority_rank = s.score
                + CASE WHEN p.supports_count >= %(threshold)s THEN 100 ELSE 0 END
        FROM (
            SELECT q.id, q.supports_count, a.rawan_level AS rawan,
                (SELECT NULLIF(LEAST(MIN({_haversine("q.lat", "q.lon", "x.lat", "x.lon")}),
                                     1000.001), 1000.001)
                 FROM {site} x
                 WHERE x.status = 'active'
                   AND x.lat BETWEEN q.lat - %(near_lat)s AND q.lat + %(near_lat)s
                   AND x.lon BETWEEN q.lon - %(near_lon)s AND q.lon + %(near_lon)s
                   AND EXISTS (SELECT 1 FROM {camera} c WHERE c.site_id = x.id)) AS distance_m,
                (SELECT COUNT(*) FROM {table} o
                 WHERE o.id <> q.id AND o.status NOT IN ('unverified', 'merged')
                   AND o.created_at >= %(since)s
                   AND o.lat BETWEEN q.lat - %(recent_lat)s AND q.lat + %(recent_lat)s
                   AND o.lon BETWEEN q.lon - %(recent_lon)s AND q.lon + %(recent_lon)s
                   AND {_haversine("q.lat", "q.lon", "o.lat", "o.lon")} <= 500) AS recent
            FROM {table} q JOIN {area} a ON a.id = q.kelurahan_id
            WHERE q.id > %(after)s AND q.id <= %(last)s
            OFFSET 0  -- computed once: the parts are used twice below
        ) p
        CROSS JOIN LATERAL (
            SELECT LEAST(p.supports_count::float8, %(threshold)s) * 40.0 / %(threshold)s
                + p.rawan * 10.0
                + COALESCE(p.distance_m, 1000.0) * 20.0 / 1000.0
                + LEAST(p.recent, 10)::float8 * 1.0 AS score
        ) s
        WHERE r.id = p.id
    """
    after = 0
    while True:
        ids = list(
            requests.objects.filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not ids:
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                sql,
                {
                    "threshold": threshold,
                    "near_lat": near_lat,
                    "near_lon": near_lon,
                    "recent_lat": recent_lat,
                    "recent_lon": recent_lon,
                    "since": since,
                    "after": after,
                    "last": ids[-1],
                },
            )
        after = ids[-1]


class Migration(migrations.Migration):
    dependencies = [("sites", "0017_request_priority_fields")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
