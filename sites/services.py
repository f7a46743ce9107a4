"""Writes to areas."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.errors import PermissionDenied, ServiceError
from portal.roles import is_city_officer, is_sudin_officer
from sites.models import Area, AreaLevel, RawanLevel, RawanLevelChange


def _kota_of(area: Area) -> int | None:
    node = area
    while node is not None and node.level != AreaLevel.CITY:
        node = node.parent
    return node.pk if node else None


@transaction.atomic
def area_set_rawan(*, area: Area, actor, level: int, reason: str) -> Area:
    """An officer sets how crime-prone (rawan) a kelurahan is, 0-3, with a reason."""
    if not (
        is_city_officer(actor) or (is_sudin_officer(actor) and _kota_of(area) == actor.kota_id)
    ):
        raise PermissionDenied(
            _("Only a Kominfotik officer for this area can set its rawan level.")
        )
    if area.level != AreaLevel.VILLAGE:
        raise ServiceError(_("Rawan levels are set per kelurahan."), field="level")
    if level not in RawanLevel.values:
        raise ServiceError(_("The rawan level must be 0, 1, 2 or 3."), field="rawan_level")
    if not reason.strip():
        raise ServiceError(_("Give a reason for this change."), field="reason")
    locked = Area.objects.select_for_update().get(pk=area.pk)
    old = locked.rawan_level
    now = timezone.now()
    Area.objects.filter(pk=locked.pk).update(
        rawan_level=level, rawan_set_by=actor, rawan_set_at=now
    )
    RawanLevelChange.objects.create(
        area=locked,
        actor=actor,
        old_status=str(old),
        new_status=str(level),
        reason=reason.strip(),
        created_at=now,
    )
    area.rawan_level, area.rawan_set_by, area.rawan_set_at = level, actor, now
    return area
