"""Reads of areas (the kelurahan under a point, the tree) and of the camera inventory.

Poles, sites and cameras are always read through portal.permissions.scope_queryset.
"""

from decimal import Decimal

from django.db import connection
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from portal.errors import ServiceError
from portal.permissions import scope_queryset
from sites.models import Area, AreaLevel, Camera, Site, SiteStatusChange, UtilityPole

# Jakarta's extent with a margin; anything outside is refused before touching the index.
_LAT_RANGE = (-6.5, -5.1)
_LON_RANGE = (106.3, 107.1)


class OutsideJakarta(ServiceError):
    """The point is not inside any kelurahan of DKI Jakarta."""


def _coordinate(value, name: str, low: float, high: float) -> float:
    try:
        number = float(Decimal(str(value)))
    except (ArithmeticError, ValueError, TypeError):
        raise ServiceError(_("%(name)s must be a number.") % {"name": name}, field=name) from None
    if not (low <= number <= high):
        raise ServiceError(_("%(name)s is out of range.") % {"name": name}, field=name)
    return number


def kelurahan_at(*, lat, lon) -> Area:
    """The kelurahan containing (lat, lon), or OutsideJakarta.

    Uses PostgreSQL's native polygon containment with a GiST index on the boundary rings.
    """
    lat = _coordinate(lat, "lat", -90, 90)
    lon = _coordinate(lon, "lon", -180, 180)
    outside = OutsideJakarta(
        _("This location (%(lat).5f, %(lon).5f) is outside DKI Jakarta.")
        % {"lat": lat, "lon": lon},
        code="outside_jakarta",
    )
    if not (_LAT_RANGE[0] <= lat <= _LAT_RANGE[1] and _LON_RANGE[0] <= lon <= _LON_RANGE[1]):
        raise outside
    with connection.cursor() as cursor:
        # `&&` against a zero-size box is what the GiST index answers; `@>` then tests the
        # point exactly. Simplified boundaries overlap slightly along shared edges: lowest id wins.
        cursor.execute(
            "SELECT area_id FROM sites_areaboundary "
            "WHERE ring && polygon(box(point(%(x)s, %(y)s), point(%(x)s, %(y)s))) "
            "AND ring @> point(%(x)s, %(y)s) ORDER BY area_id LIMIT 1",
            {"x": lon, "y": lat},
        )
        row = cursor.fetchone()
    if row is None:
        raise outside
    return Area.objects.select_related("parent__parent").get(pk=row[0])


def area_list(*, level: str | None = None, parent_code: str | None = None):
    areas = Area.objects.select_related("parent")
    if level:
        areas = areas.filter(level=level)
    if parent_code:
        areas = areas.filter(parent__code=parent_code)
    return areas


def kota_list():
    return Area.objects.filter(level=AreaLevel.CITY)


def kelurahan_ids_in_kota(*, code: str | None = None, kota_id: int | None = None) -> list[int]:
    """Ids of the kelurahan in one kota, given by Kemendagri code or by id (none if neither
    matches).

    Lists narrowed to a kota filter on these ids rather than through kelurahan → kecamatan →
    kota: across those three joins PostgreSQL guesses a kota holds a handful of rows, so it
    fetches all of them and sorts, where with the ids it reads the newest rows by index until a
    page is full (a kota of 60,000 cameras: 55 ms against 1 ms).
    """
    areas = Area.objects.filter(level=AreaLevel.VILLAGE)
    if code is not None:
        areas = areas.filter(parent__parent__code=code)
    if kota_id is not None:
        areas = areas.filter(parent__parent_id=kota_id)
    return list(areas.values_list("pk", flat=True))


def kelurahan_choices():
    return Area.objects.filter(level=AreaLevel.VILLAGE).select_related("parent").order_by("name")


# --- Inventory ----------------------------------------------------------------------------


def pole_list(*, user, filters: dict | None = None) -> QuerySet[UtilityPole]:
    poles = UtilityPole.objects.select_related("owner", "kelurahan__parent__parent")
    return scope_queryset(user, poles).filter(**(filters or {}))


def site_list(*, user, filters: dict | None = None) -> QuerySet[Site]:
    sites = Site.objects.select_related("host_partner", "pole", "kelurahan__parent__parent")
    return scope_queryset(user, sites).filter(**(filters or {}))


def camera_list(*, user, filters: dict | None = None) -> QuerySet[Camera]:
    cameras = Camera.objects.select_related("owner", "site__kelurahan__parent__parent")
    return scope_queryset(user, cameras).filter(**(filters or {}))


def site_history(*, site: Site) -> QuerySet[SiteStatusChange]:
    """A site's lifecycle, newest first (the caller has already looked the site up in scope)."""
    return site.status_changes.select_related("actor").order_by("-created_at", "-id")


def site_cameras(*, user, site: Site) -> QuerySet[Camera]:
    return camera_list(user=user, filters={"site": site})
