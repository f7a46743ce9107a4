"""Reads behind the city map (issue #7): a compact camera payload for 60,000 cameras.

A DRF serializer over 60,000 features would be megabytes and seconds. Instead one SQL query
returns the rows in camera-id order and they are packed into parallel arrays:

- `ids`, `lat`, `lon`: delta-encoded integers (each value minus the previous one; the first is
  absolute). Positions are degrees x 1e5 (about 1 m). Cameras of one site share a position, so
  every second delta is 0 and the whole thing gzips well.
- `status`: one character per camera, in the same order (STATUS_CODES).
- for officers and operators only, `host` (an index per camera) into `partners` (names).

`status_payload` is the same status string on its own, for the 60-second refresh; the browser
applies it in place while `set` (which cameras, in which order) is unchanged.

Both are rebuilt once per sweep: `map_version` is one cheap query whose answer changes when a
sweep finishes, a camera's health changes, or the set of cameras on active sites changes.
"""

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, IntegerField, Min, Sum
from django.db.models.functions import Cast, Round

from portal.roles import is_officer, is_operator
from sites.models import Camera, CameraHealth, HealthSweep, SiteStatus, SweepStatus
from sites.models.health import HealthStatus
from sites.models.requests import RequestCategory
from sites.request_selectors import public_request_list

POSITION_SCALE = 100_000  # degrees -> integers, about 1 m
REQUEST_SCALE = 1_000  # public request positions: 3 decimals, about 110 m (as everywhere else)
STATUS_CODES = {
    HealthStatus.UP: "u",
    HealthStatus.DOWN: "d",
    HealthStatus.DEGRADED: "g",
    HealthStatus.UPSTREAM_DOWN: "x",
    HealthStatus.MAINTENANCE: "m",
    HealthStatus.UNKNOWN: "?",
}
# The browser turns codes back into states (and states into colours and legend labels).
CODE_STATES = {code: str(state) for state, code in STATUS_CODES.items()}
PUBLIC, STAFF = "public", "staff"

_VERSION_SQL = """
SELECT
    (SELECT max(id) FROM {sweep} WHERE status = %s),
    count(c.id), coalesce(max(c.id), 0), coalesce(sum(c.id), 0),
    (SELECT max(changed_at) FROM {health})
FROM {camera} c JOIN {site} s ON s.id = c.site_id
WHERE s.status = %s
"""


def map_variant(user) -> str:
    """Officers and operators also see who hosts each camera; everyone else status and position."""
    if user.is_authenticated and (is_officer(user) or is_operator(user)):
        return STAFF
    return PUBLIC


def _version_now() -> dict:
    sql = _VERSION_SQL.format(
        sweep=HealthSweep._meta.db_table,
        health=CameraHealth._meta.db_table,
        camera=Camera._meta.db_table,
        site=Camera._meta.get_field("site").related_model._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [SweepStatus.FINISHED, SiteStatus.ACTIVE])
        sweep, count, max_id, id_sum, changed = cursor.fetchone()
    changed_us = int(changed.timestamp() * 1_000_000) if changed else 0
    # The sum of ids tells a swap apart (one site deactivated, another of equal size activated).
    camera_set = f"{count}.{max_id}.{id_sum}"
    return {"version": f"{sweep or 0}.{camera_set}.{changed_us}", "set": camera_set}


def map_version() -> dict:
    """{"version", "set"}: what the cached payloads are keyed by.

    Remembered for MAP_VERSION_TTL seconds (default 10) so that a burst of map loads costs no
    query at all; a new sweep therefore shows at most that much later. 0 asks every time.
    """
    ttl = settings.MAP_VERSION_TTL
    if ttl <= 0:
        return _version_now()
    version = cache.get("map:version")
    if version is None:
        version = _version_now()
        cache.set("map:version", version, ttl)
    return version


def _deltas(values: list[int]) -> list[int]:
    previous, out = 0, []
    for value in values:
        out.append(value - previous)
        previous = value
    return out


def _scaled(field: str, scale: int) -> Cast:
    return Cast(Round(F(field) * scale), IntegerField())


def camera_payload(*, variant: str = PUBLIC, version: dict | None = None) -> dict:
    """Every camera on an active site, packed (see the module docstring). One query."""
    version = version or _version_now()
    fields = ["id", "lat_i", "lon_i", "health__status"]
    if variant == STAFF:
        fields.append("site__host_partner__name")
    rows = (
        Camera.objects.filter(site__status=SiteStatus.ACTIVE)
        .annotate(
            lat_i=_scaled("site__lat", POSITION_SCALE),
            lon_i=_scaled("site__lon", POSITION_SCALE),
        )
        .order_by("id")
        .values_list(*fields)
    )
    rows = list(rows)
    codes = STATUS_CODES
    payload = {
        "version": version["version"],
        "set": version["set"],
        "count": len(rows),
        "scale": POSITION_SCALE,
        "states": CODE_STATES,
        "ids": _deltas([row[0] for row in rows]),
        "lat": _deltas([row[1] for row in rows]),
        "lon": _deltas([row[2] for row in rows]),
        "status": "".join(codes.get(row[3], "?") for row in rows),
    }
    if variant == STAFF:
        index: dict[str, int] = {}
        payload["host"] = [index.setdefault(row[4], len(index)) for row in rows]
        payload["partners"] = list(index)
    return payload


def status_payload(*, version: dict | None = None) -> dict:
    """The status string alone, in the order of `camera_payload`. One query."""
    version = version or _version_now()
    states = (
        Camera.objects.filter(site__status=SiteStatus.ACTIVE)
        .order_by("id")
        .values_list("health__status", flat=True)
    )
    return {
        "version": version["version"],
        "set": version["set"],
        "status": "".join(STATUS_CODES.get(state, "?") for state in states),
    }


def request_payload() -> dict:
    """Open, verified coverage requests, grouped per public (3-decimal) point and category.

    No personal data: a point, a category, how many requests and supports, and a reference only
    where the point holds a single request (so the popup can link to its public page).
    """
    categories = [str(choice) for choice in RequestCategory.values]
    rows = (
        public_request_list(filters={"status": "open"})
        .order_by()
        .annotate(
            lat_i=_scaled("lat", REQUEST_SCALE),
            lon_i=_scaled("lon", REQUEST_SCALE),
        )
        .values("lat_i", "lon_i", "category")
        .annotate(n=Count("id"), supports=Sum("supports_count"), ref=Min("reference"))
        .order_by("lat_i", "lon_i", "category")
    )
    points = [
        [
            row["lat_i"],
            row["lon_i"],
            categories.index(row["category"]) if row["category"] in categories else -1,
            row["n"],
            row["supports"] or 0,
            row["ref"] if row["n"] == 1 else None,
        ]
        for row in rows
    ]
    return {"scale": REQUEST_SCALE, "categories": categories, "points": points}
