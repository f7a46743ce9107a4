"""Maintenance windows: planning and cancelling them (every write goes through here).

Who may plan a window: a partner's owners and staff (those who manage its camera networks) for
the partner's own cameras, sites it hosts or its whole fleet; Kominfotik officers for anything,
a Sudin officer only inside their kota. Someone who cannot see the camera or site gets 404.
"""

from datetime import date, datetime, timedelta

from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from partners.models import Partner
from portal.errors import PermissionDenied, ServiceError
from portal.permissions import get_scoped_or_404, require_partner_perm
from portal.roles import is_city_officer, is_sudin_officer
from sites.models import Area, AreaLevel, Camera, MaintenanceWindow, Site, WindowRecurrence

MANAGE = "partners.manage_partner_networks"
PERIOD = {WindowRecurrence.DAILY: timedelta(days=1), WindowRecurrence.WEEKLY: timedelta(days=7)}


def _kota_id(site: Site) -> int | None:
    return site.kelurahan.parent.parent_id


def _check_scope(actor, *, camera, site, partner, kota) -> None:
    if is_city_officer(actor):
        return
    refused = _("You may not plan maintenance for this.")
    if is_sudin_officer(actor):
        if camera is not None:
            site = camera.site
        if kota is not None and kota.pk == actor.kota_id:
            return
        if site is not None and _kota_id(site) == actor.kota_id:
            return
        raise PermissionDenied(refused, code="permission_denied")
    if kota is not None:
        raise PermissionDenied(refused, code="permission_denied")
    # Visibility first (another partner's camera looks missing), then the member's role.
    if camera is not None:
        get_scoped_or_404(actor, Camera.objects.all(), pk=camera.pk)
        owner = camera.owner
    elif site is not None:
        get_scoped_or_404(actor, Site.objects.all(), pk=site.pk)
        owner = site.host_partner
    else:
        get_scoped_or_404(actor, Partner.objects.all(), pk=partner.pk)
        owner = partner
    require_partner_perm(actor, owner, MANAGE, refused)


@transaction.atomic
def window_create(
    *,
    actor,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    camera: Camera | None = None,
    site: Site | None = None,
    partner: Partner | None = None,
    kota: Area | None = None,
    recurrence: str = WindowRecurrence.NONE,
    repeat_until: date | None = None,
) -> MaintenanceWindow:
    """Plan a window for exactly one camera, site, partner or kota; no alerts while it is open."""
    if sum(scope is not None for scope in (camera, site, partner, kota)) != 1:
        raise ServiceError(_("Choose exactly one camera, site, partner or kota."), field="scope")
    if kota is not None and kota.level != AreaLevel.CITY:
        raise ServiceError(_("Choose a kota, not a smaller area."), field="kota")
    _check_scope(actor, camera=camera, site=site, partner=partner, kota=kota)
    if ends_at <= starts_at:
        raise ServiceError(_("The window must end after it starts."), field="ends_at")
    if recurrence not in WindowRecurrence.values:
        raise ServiceError(_("Choose one-off, daily or weekly."), field="recurrence")
    if recurrence == WindowRecurrence.NONE:
        repeat_until = None
    elif ends_at - starts_at >= PERIOD[recurrence]:
        raise ServiceError(
            _("A repeating window must be shorter than the time between repeats."),
            field="ends_at",
        )
    if repeat_until is not None and repeat_until < timezone.localdate(starts_at):
        raise ServiceError(_("Repeat until must not be before the start."), field="repeat_until")
    if not reason.strip():
        raise ServiceError(_("Give a reason for the maintenance."), field="reason")
    return MaintenanceWindow.objects.create(
        camera=camera,
        site=site,
        partner=partner,
        kota=kota,
        starts_at=starts_at,
        ends_at=ends_at,
        recurrence=recurrence,
        repeat_until=repeat_until,
        reason=reason.strip()[:200],
        created_by=actor,
    )


def _may_cancel(actor, window: MaintenanceWindow) -> None:
    if window.created_by_id == actor.pk:
        return
    try:
        _check_scope(
            actor,
            camera=window.camera,
            site=window.site,
            partner=window.partner,
            kota=window.kota,
        )
    except Http404:
        raise PermissionDenied(
            _("You may not cancel this window."), code="permission_denied"
        ) from None


@transaction.atomic
def window_cancel(*, actor, window: MaintenanceWindow) -> MaintenanceWindow:
    """Cancel a window from now on; alerting resumes at the next probe. Cancelling twice is a
    no-op, so a double click does not fail."""
    _may_cancel(actor, window)
    now = timezone.now()
    MaintenanceWindow.objects.filter(pk=window.pk, cancelled_at__isnull=True).update(
        cancelled_at=now
    )
    window.refresh_from_db(fields=["cancelled_at"])
    return window
