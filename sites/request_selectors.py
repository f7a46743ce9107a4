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
from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce, Least
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.errors import ServiceError
from portal.permissions import scope_queryset
from portal.roles import is_officer, is_operator
from sites.models import (
    OPEN_REQUEST_STATUSES,
    Camera,
    CoverageRequest,
    DeclineTemplate,
    RequestStatus,
    ResidentContact,
    Site,
    SiteStatus,
)

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
        requests = requests.filter(kelurahan__parent__parent__code=kota)
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
    rows = (
        CoverageRequest.objects.exclude(status__in=NOT_PUBLIC | {RequestStatus.MERGED})
        .values(
            "kelurahan__code",
            "kelurahan__name",
            "kelurahan__parent__parent__code",
            "kelurahan__parent__parent__name",
        )
        .annotate(
            total=Count("id"),
            open=Count("id", filter=Q(status__in=OPEN_REQUEST_STATUSES)),
            installed=Count(
                "id", filter=Q(status__in=[RequestStatus.INSTALLED, RequestStatus.CONFIRMED])
            ),
            declined=Count("id", filter=Q(status=RequestStatus.DECLINED)),
            supports=Sum("supports_count"),
        )
        .order_by("kelurahan__code")
    )
    return [
        {
            "code": row["kelurahan__code"],
            "name": row["kelurahan__name"],
            "kota_code": row["kelurahan__parent__parent__code"],
            "kota_name": row["kelurahan__parent__parent__name"],
            "total": row["total"],
            "open": row["open"],
            "installed": row["installed"],
            "declined": row["declined"],
            "supports": row["supports"] or 0,
        }
        for row in rows
    ]


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


def _camera_distance() -> RawSQL:
    """Metres to the nearest active site with a camera, or NULL if none within the cap."""
    request = CoverageRequest._meta.db_table
    site, camera = Site._meta.db_table, Camera._meta.db_table
    r_lat, r_lon = f"{request}.lat", f"{request}.lon"
    dlat, dlon = _degrees(CAMERA_DISTANCE_CAP_M, 6.2)
    distance = _haversine_sql(r_lat, r_lon, "s.lat", "s.lon")
    sql = (
        f"SELECT MIN({distance}) FROM {site} s WHERE s.status = %s AND "
        + _box_sql(r_lat, r_lon, "s.lat", "s.lon")
        + f" AND EXISTS (SELECT 1 FROM {camera} c WHERE c.site_id = s.id)"
    )
    return RawSQL(
        f"(SELECT NULLIF(LEAST(d, %s), %s) FROM ({sql}) AS nearest(d))",
        [
            CAMERA_DISTANCE_CAP_M + 0.001,
            CAMERA_DISTANCE_CAP_M + 0.001,
            SiteStatus.ACTIVE.value,
            dlat,
            dlat,
            dlon,
            dlon,
        ],
        output_field=FloatField(),
    )


def _recent_nearby() -> RawSQL:
    """Other verified requests of the last 90 days within 500 m (merged duplicates left out)."""
    request = CoverageRequest._meta.db_table
    r_lat, r_lon = f"{request}.lat", f"{request}.lon"
    dlat, dlon = _degrees(RECENT_NEARBY_RADIUS_M, 6.2)
    sql = (
        f"SELECT COUNT(*) FROM {request} o WHERE o.id <> {request}.id "
        "AND o.status NOT IN (%s, %s) AND o.created_at >= %s AND "
        + _box_sql(r_lat, r_lon, "o.lat", "o.lon")
        + f" AND {_haversine_sql(r_lat, r_lon, 'o.lat', 'o.lon')} <= %s"
    )
    since = timezone.now() - timedelta(days=RECENT_NEARBY_DAYS)
    return RawSQL(
        f"({sql})",
        [
            RequestStatus.UNVERIFIED.value,
            RequestStatus.MERGED.value,
            since,
            dlat,
            dlat,
            dlon,
            dlon,
            RECENT_NEARBY_RADIUS_M,
        ],
        output_field=IntegerField(),
    )


def with_priority(requests: QuerySet[CoverageRequest]) -> QuerySet[CoverageRequest]:
    """Annotate the parts of the priority score and the score itself (0-100)."""
    threshold = float(settings.REQUEST_SUPPORT_THRESHOLD)
    cap = float(CAMERA_DISTANCE_CAP_M)
    requests = requests.annotate(
        priority_rawan=F("kelurahan__rawan_level"),
        priority_distance_m=_camera_distance(),
        priority_recent=_recent_nearby(),
    )
    return requests.annotate(
        priority_score=(
            Least(Cast("supports_count", FloatField()), Value(threshold))
            * Value(POINTS["supports"] / threshold)
            + Cast("priority_rawan", FloatField()) * Value(POINTS["rawan"] / 3)
            + Coalesce("priority_distance_m", Value(cap))
            * Value(POINTS["distance_to_camera_m"] / cap)
            + Least(Cast("priority_recent", FloatField()), Value(float(RECENT_NEARBY_CAP)))
            * Value(POINTS["recent_nearby"] / RECENT_NEARBY_CAP)
        )
    )


def priority_of(request: CoverageRequest) -> dict:
    """{"score", "parts", "points"} of a row annotated by `with_priority`."""
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
    "points"}: the score out of 100 and what it is made of. A distance of None means no active
    camera within 1 km."""
    row = with_priority(CoverageRequest.objects.filter(pk=request.pk)).get()
    return priority_of(row)


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
        requests = requests.filter(kelurahan__parent__parent__code=kota)
    if reference := filters.get("reference"):
        requests = requests.filter(reference__icontains=reference.strip())
    threshold = settings.REQUEST_SUPPORT_THRESHOLD
    above = filters.get("above_threshold")
    if above is not None:
        condition = Q(supports_count__gte=threshold)
        requests = requests.filter(condition if above else ~condition)
    return with_priority(requests).order_by(
        Case(When(supports_count__gte=threshold, then=Value(0)), default=Value(1)),
        F("priority_score").desc(),
        "created_at",
        "id",
    )


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
