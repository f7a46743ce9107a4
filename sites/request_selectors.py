"""Reads of residents' coverage requests: public lists (no personal data), duplicates nearby,
counts per kelurahan, and the officers' queue ordered by priority.

Public reads never include an unverified request. What they return is the request row; the
serializers and templates show only public fields, with the location rounded (see
`public_point`). The officers' queue is scoped like everything else (portal.permissions): a
Sudin officer sees their kota, an operator everything read-only, anyone else nothing.
"""

import math
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.errors import ServiceError
from portal.permissions import scope_queryset
from portal.roles import is_officer, is_operator
from sites.models import (
    OPEN_REQUEST_STATUSES,
    Area,
    Camera,
    CoverageRequest,
    DeclineTemplate,
    RequestStatus,
    ResidentContact,
    Site,
    SiteStatus,
)
from sites.selectors import kelurahan_ids_in_kota

EARTH_RADIUS_M = 6_371_000
_METRES_PER_DEGREE = 111_320
# Priority: a request far from any camera scores like one 1 km away (and no further).
CAMERA_DISTANCE_CAP_M = 1000
RECENT_NEARBY_RADIUS_M = 500
RECENT_NEARBY_DAYS = 90
RECENT_NEARBY_CAP = 10
# Points out of 100: supports (up to the threshold) 40, rawan level 30, distance to the nearest
# active camera 20, other recent requests nearby 10.
POINTS = {"supports": 40, "rawan": 30, "distance_to_camera_m": 20, "recent_nearby": 10}
# Public coordinates: 3 decimals, about 110 m, so a pin never points at one house.
PUBLIC_COORDINATE_STEP = Decimal("0.001")
NOT_PUBLIC = {RequestStatus.UNVERIFIED}
COUNTS_CACHE_SECONDS = 60


def public_point(value) -> Decimal:
    return Decimal(value).quantize(PUBLIC_COORDINATE_STEP, rounding=ROUND_HALF_UP)


def haversine_m(lat1, lon1, lat2, lon2) -> float:
    """Great-circle distance in metres."""
    phi1, phi2 = math.radians(float(lat1)), math.radians(float(lat2))
    dphi = phi2 - phi1
    dlmb = math.radians(float(lon2) - float(lon1))
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _degrees(radius_m: float, lat: float) -> tuple[Decimal, Decimal]:
    """Half-sides (in degrees of latitude and longitude) of a box holding the circle.

    Decimals, like the columns: compared with a float, a numeric column would be cast and its
    index left unused.
    """
    dlat = radius_m / _METRES_PER_DEGREE
    dlon = dlat / max(0.01, math.cos(math.radians(lat)))
    step = Decimal("0.000001")
    return Decimal(dlat).quantize(step) + step, Decimal(dlon).quantize(step) + step


def _number(value, field: str, low: float, high: float) -> float:
    try:
        number = float(Decimal(str(value)))
    except (ArithmeticError, ValueError, TypeError):
        raise ServiceError(_("Give the location in decimal degrees."), field=field) from None
    if not (low <= number <= high) or math.isnan(number):
        raise ServiceError(_("This location is out of range."), field=field)
    return number


# --- Public ------------------------------------------------------------------------------------


def public_request_list(*, filters: dict | None = None) -> QuerySet[CoverageRequest]:
    """Verified requests, newest first. Filters: status (one or a list, or "open"), category,
    kelurahan and kota (Kemendagri codes)."""
    filters = filters or {}
    requests = (
        CoverageRequest.objects.exclude(status__in=NOT_PUBLIC)
        .select_related("kelurahan__parent__parent")
        .order_by("-created_at", "-id")
    )
    status = filters.get("status")
    if status == "open":
        requests = requests.filter(status__in=OPEN_REQUEST_STATUSES)
    elif isinstance(status, list | tuple | set):
        requests = requests.filter(status__in=status)
    elif status:
        requests = requests.filter(status=status)
    if category := filters.get("category"):
        requests = requests.filter(category=category)
    if kelurahan := filters.get("kelurahan"):
        requests = requests.filter(kelurahan__code=kelurahan)
    if kota := filters.get("kota"):
        requests = requests.filter(kelurahan_id__in=kelurahan_ids_in_kota(code=kota))
    return requests


def request_public(*, reference: str) -> CoverageRequest:
    """A request by its reference for anyone to see; 404 while it is unverified."""
    found = (
        public_request_list(filters={}).select_related("merged_into").filter(reference=reference)
    ).first()
    if found is None:
        raise Http404
    return found


def requests_nearby(*, lat, lon, radius_m: int | None = None) -> list[dict]:
    """Open, verified requests within `radius_m` (REQUEST_DUPLICATE_RADIUS_M), nearest first:
    what a resident is offered to support instead of filing a duplicate. Public fields only;
    the distance is rounded to 10 m so that it does not give the exact pin away."""
    lat = _number(lat, "lat", -90, 90)
    lon = _number(lon, "lon", -180, 180)
    radius = min(int(radius_m or settings.REQUEST_DUPLICATE_RADIUS_M), 5000)
    dlat, dlon = _degrees(radius, lat)
    lat, lon = Decimal(str(lat)), Decimal(str(lon))
    candidates = CoverageRequest.objects.filter(
        status__in=OPEN_REQUEST_STATUSES,
        lat__range=(lat - dlat, lat + dlat),
        lon__range=(lon - dlon, lon + dlon),
    ).select_related("kelurahan")
    found = []
    for item in candidates:
        distance = haversine_m(lat, lon, item.lat, item.lon)
        if distance <= radius:
            found.append((distance, item))
    found.sort(key=lambda pair: (pair[0], pair[1].pk))
    return [
        {
            "reference": item.reference,
            "category": item.category,
            "category_label": item.get_category_display(),
            "status": item.status,
            "status_label": item.get_status_display(),
            "lat": public_point(item.lat),
            "lon": public_point(item.lon),
            "kelurahan_code": item.kelurahan.code,
            "kelurahan_name": item.kelurahan.name,
            "supports_count": item.supports_count,
            "created": timezone.localdate(item.created_at),
            "distance_m": int(round(distance, -1)),
        }
        for distance, item in found
    ]


def request_counts_by_kelurahan() -> list[dict]:
    """Per kelurahan with verified requests: total, open, installed (or confirmed), declined
    and supports. Merged duplicates are not counted twice."""
    # Grouped by the key alone and named afterwards: grouping a city's requests by the joined
    # names sorted them on disk.
    rows = (
        CoverageRequest.objects.exclude(status__in=NOT_PUBLIC | {RequestStatus.MERGED})
        .values("kelurahan_id")
        .annotate(
            total=Count("id"),
            open=Count("id", filter=Q(status__in=OPEN_REQUEST_STATUSES)),
            installed=Count(
                "id", filter=Q(status__in=[RequestStatus.INSTALLED, RequestStatus.CONFIRMED])
            ),
            declined=Count("id", filter=Q(status=RequestStatus.DECLINED)),
            supports=Sum("supports_count"),
        )
        .order_by()
    )
    counts = {row["kelurahan_id"]: row for row in rows}
    areas = Area.objects.filter(pk__in=counts).select_related("parent__parent").order_by("code")
    kota = {area.pk: area.parent.parent if area.parent else None for area in areas}
    return [
        {
            "code": area.code,
            "name": area.name,
            "kota_code": kota[area.pk].code if kota[area.pk] else None,
            "kota_name": kota[area.pk].name if kota[area.pk] else None,
            "total": counts[area.pk]["total"],
            "open": counts[area.pk]["open"],
            "installed": counts[area.pk]["installed"],
            "declined": counts[area.pk]["declined"],
            "supports": counts[area.pk]["supports"] or 0,
        }
        for area in areas
    ]


def request_counts_by_kelurahan_cached() -> list[dict]:
    """request_counts_by_kelurahan, at most COUNTS_CACHE_SECONDS old, for the public API:
    counting every verified request in the city on each call cost more than everything else
    (the public list page caches its rendered table the same way; the map's request layer,
    portal.map_views, too)."""
    return cache.get_or_set(
        "requests:counts-by-kelurahan", request_counts_by_kelurahan, COUNTS_CACHE_SECONDS
    )


def decline_templates() -> QuerySet[DeclineTemplate]:
    return DeclineTemplate.objects.all()


# --- Residents' own data ------------------------------------------------------------------------


def resident_contact(*, contact_id: int | None) -> ResidentContact | None:
    """The verified contact a resident's session holds, or None."""
    if not contact_id:
        return None
    return ResidentContact.objects.filter(pk=contact_id, verified_at__isnull=False).first()


def resident_requests(*, contact: ResidentContact) -> QuerySet[CoverageRequest]:
    """The requests a resident made, supports or follows (for their own pages)."""
    return (
        CoverageRequest.objects.filter(
            Q(contact=contact) | Q(supports__contact=contact) | Q(follows__contact=contact)
        )
        .select_related("kelurahan")
        .distinct()
        .order_by("-created_at", "-id")
    )


# --- Officers -----------------------------------------------------------------------------------


def _haversine_sql(lat_a: str, lon_a: str, lat_b: str, lon_b: str) -> str:
    return (
        f"2 * {EARTH_RADIUS_M} * ASIN(LEAST(1.0, SQRT("
        f"POWER(SIN(RADIANS({lat_b}::float8 - {lat_a}::float8) / 2), 2) + "
        f"COS(RADIANS({lat_a}::float8)) * COS(RADIANS({lat_b}::float8)) * "
        f"POWER(SIN(RADIANS({lon_b}::float8 - {lon_a}::float8) / 2), 2))))"
    )


def _box_sql(lat_a: str, lon_a: str, lat_b: str, lon_b: str) -> str:
    # The bounding box lets the (lat, lon) index answer first; the distance is then exact.
    return (
        f"{lat_b} BETWEEN {lat_a} - %s AND {lat_a} + %s "
        f"AND {lon_b} BETWEEN {lon_a} - %s AND {lon_a} + %s"
    )


def _camera_distance_sql(alias: str) -> tuple[str, list]:
    """Metres from request row `alias` to the nearest active site with a camera, or NULL if
    none is within the cap."""
    site, camera = Site._meta.db_table, Camera._meta.db_table
    r_lat, r_lon = f"{alias}.lat", f"{alias}.lon"
    dlat, dlon = _degrees(CAMERA_DISTANCE_CAP_M, 6.2)
    distance = _haversine_sql(r_lat, r_lon, "s.lat", "s.lon")
    sql = (
        f"SELECT MIN({distance}) FROM {site} s WHERE s.status = %s AND "
        + _box_sql(r_lat, r_lon, "s.lat", "s.lon")
        + f" AND EXISTS (SELECT 1 FROM {camera} c WHERE c.site_id = s.id)"
    )
    cap = CAMERA_DISTANCE_CAP_M + 0.001
    return (
        f"(SELECT NULLIF(LEAST(d, %s), %s) FROM ({sql}) AS nearest(d))",
        [cap, cap, SiteStatus.ACTIVE.value, dlat, dlat, dlon, dlon],
    )


def _recent_nearby_sql(alias: str, now) -> tuple[str, list]:
    """Other verified requests of the 90 days before `now` within 500 m of request row `alias`
    (merged duplicates left out)."""
    request = CoverageRequest._meta.db_table
    r_lat, r_lon = f"{alias}.lat", f"{alias}.lon"
    dlat, dlon = _degrees(RECENT_NEARBY_RADIUS_M, 6.2)
    sql = (
        f"SELECT COUNT(*) FROM {request} o WHERE o.id <> {alias}.id "
        "AND o.status NOT IN (%s, %s) AND o.created_at >= %s AND "
        + _box_sql(r_lat, r_lon, "o.lat", "o.lon")
        + f" AND {_haversine_sql(r_lat, r_lon, 'o.lat', 'o.lon')} <= %s"
    )
    return (
        f"({sql})",
        [
            RequestStatus.UNVERIFIED.value,
            RequestStatus.MERGED.value,
            now - timedelta(days=RECENT_NEARBY_DAYS),
            dlat,
            dlat,
            dlon,
            dlon,
            RECENT_NEARBY_RADIUS_M,
        ],
    )


def priority_sql(*, ids: list[int], now) -> tuple[str, list]:
    """A query of (id, rawan, distance_m, recent, score, rank) for the requests `ids` as of
    `now`: the priority officers see, out of 100 (POINTS), and the queue's sort key
    (CoverageRequest.priority_rank). Two correlated subqueries a row, so it is run set-based
    by sites.request_services to store the result, never per page view."""
    request, area = CoverageRequest._meta.db_table, Area._meta.db_table
    distance_sql, distance_params = _camera_distance_sql("q")
    recent_sql, recent_params = _recent_nearby_sql("q", now)
    threshold = float(settings.REQUEST_SUPPORT_THRESHOLD)
    cap = float(CAMERA_DISTANCE_CAP_M)
    score = (
        "LEAST(p.supports_count::float8, %s) * %s + p.rawan * %s"
        " + COALESCE(p.distance_m, %s) * %s + LEAST(p.recent, %s)::float8 * %s"
    )
    score_params = [
        threshold,
        POINTS["supports"] / threshold,
        POINTS["rawan"] / 3,
        cap,
        POINTS["distance_to_camera_m"] / cap,
        RECENT_NEARBY_CAP,
        POINTS["recent_nearby"] / RECENT_NEARBY_CAP,
    ]
    # MATERIALIZED: each part is used twice below, and a subquery the planner pulled up would
    # run its correlated subqueries once per use.
    sql = (
        "WITH p AS MATERIALIZED ("
        f"SELECT q.id, q.supports_count, a.rawan_level AS rawan, {distance_sql} AS distance_m,"
        f" {recent_sql} AS recent"
        f" FROM {request} q JOIN {area} a ON a.id = q.kelurahan_id WHERE q.id = ANY(%s))"
        " SELECT p.id, p.rawan, p.distance_m, p.recent, s.score,"
        " s.score + CASE WHEN p.supports_count >= %s THEN 100 ELSE 0 END AS rank"
        f" FROM p CROSS JOIN LATERAL (SELECT {score} AS score) s"
    )
    params = [
        *distance_params,
        *recent_params,
        list(ids),
        settings.REQUEST_SUPPORT_THRESHOLD,
        *score_params,
    ]
    return sql, params


def requests_near(*, lat, lon, radius_m: float) -> QuerySet[CoverageRequest]:
    """Requests inside the box around the circle of `radius_m` (a few outside the circle too):
    those whose priority a change at (lat, lon) may move."""
    dlat, dlon = _degrees(radius_m, float(lat))
    lat, lon = Decimal(str(lat)), Decimal(str(lon))
    return CoverageRequest.objects.filter(
        lat__range=(lat - dlat, lat + dlat), lon__range=(lon - dlon, lon + dlon)
    )


def priority_of(request: CoverageRequest) -> dict:
    """{"score", "parts", "points", "above_threshold"} from the priority stored on the row."""
    threshold = settings.REQUEST_SUPPORT_THRESHOLD
    distance = request.priority_distance_m
    parts = {
        "supports": request.supports_count,
        "rawan": request.priority_rawan,
        "distance_to_camera_m": None if distance is None else int(round(distance)),
        "recent_nearby": request.priority_recent,
    }
    points = {
        "supports": min(request.supports_count, threshold) * POINTS["supports"] / threshold,
        "rawan": request.priority_rawan * POINTS["rawan"] / 3,
        "distance_to_camera_m": (CAMERA_DISTANCE_CAP_M if distance is None else distance)
        * POINTS["distance_to_camera_m"]
        / CAMERA_DISTANCE_CAP_M,
        "recent_nearby": min(request.priority_recent, RECENT_NEARBY_CAP)
        * POINTS["recent_nearby"]
        / RECENT_NEARBY_CAP,
    }
    return {
        "score": round(request.priority_score, 1),
        "parts": parts,
        "points": {name: round(value, 1) for name, value in points.items()},
        "above_threshold": request.supports_count >= threshold,
    }


def request_priority(*, request: CoverageRequest) -> dict:
    """{"score", "parts": {"supports", "rawan", "distance_to_camera_m", "recent_nearby"},
    "points"}: the score out of 100 and what it is made of, as last stored. A distance of None
    means no active camera within 1 km."""
    return priority_of(CoverageRequest.objects.get(pk=request.pk))


def _officer_scope(user) -> QuerySet[CoverageRequest]:
    requests = CoverageRequest.objects.exclude(status__in=NOT_PUBLIC)
    if not (is_officer(user) or is_operator(user)):
        # Residents, partners: requests have no partner, so nobody else sees the queue at all.
        return requests.none()
    return scope_queryset(user, requests)


def officer_queue(*, user, filters: dict | None = None) -> QuerySet[CoverageRequest]:
    """The requests an officer triages, most urgent first: those with at least
    REQUEST_SUPPORT_THRESHOLD supports, then by priority score, oldest first on a tie.

    Filters: status (a status, a list, "open" — the default — or "all"), category, kelurahan,
    kota, reference, above_threshold (bool).
    """
    filters = filters or {}
    requests = _officer_scope(user).select_related(
        "kelurahan__parent__parent", "site", "merged_into"
    )
    status = filters.get("status") or "open"
    if status == "open":
        requests = requests.filter(status__in=OPEN_REQUEST_STATUSES)
    elif isinstance(status, list | tuple | set):
        requests = requests.filter(status__in=status)
    elif status != "all":
        requests = requests.filter(status=status)
    if category := filters.get("category"):
        requests = requests.filter(category=category)
    if kelurahan := filters.get("kelurahan"):
        requests = requests.filter(kelurahan__code=kelurahan)
    if kota := filters.get("kota"):
        requests = requests.filter(kelurahan_id__in=kelurahan_ids_in_kota(code=kota))
    if reference := filters.get("reference"):
        requests = requests.filter(reference__icontains=reference.strip())
    threshold = settings.REQUEST_SUPPORT_THRESHOLD
    above = filters.get("above_threshold")
    if above is not None:
        condition = Q(supports_count__gte=threshold)
        requests = requests.filter(condition if above else ~condition)
    # priority_rank puts the requests over the threshold first, then the score; the open
    # requests are read in this order straight from the request_queue_open index.
    return requests.order_by("-priority_rank", "created_at", "id")


def officer_request(*, user, reference: str) -> CoverageRequest:
    """One request in the officer's scope (any status but unverified), with priority; else 404."""
    found = (
        officer_queue(user=user, filters={"status": "all"})
        .prefetch_related("notes__author", "status_changes__actor")
        .filter(reference=reference)
        .first()
    )
    if found is None:
        raise Http404
    return found
