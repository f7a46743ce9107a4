"""Writes to areas, poles, sites and cameras. Views, the API, admin and other apps call these."""

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from decimal import Decimal
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from partners.models import Partner, PartnerKind, PartnerStatus
from partners.selectors import approved_networks_for
from portal.audit import transition
from portal.crypto import encrypt
from portal.errors import Conflict, PermissionDenied, ServiceError, full_clean_or_raise
from portal.permissions import VIEW_PARTNER, require_partner_perm
from portal.roles import is_city_officer, is_sudin_officer
from sites import csv_import, request_selectors, request_services, tasks
from sites.csv_import import PoleImportReport
from sites.models import (
    POLE_SLOT_HOLDING_STATUSES,
    SITE_TRANSITIONS,
    Area,
    AreaLevel,
    Camera,
    HostKind,
    RawanLevel,
    RawanLevelChange,
    Site,
    SiteStatus,
    SiteStatusChange,
    UtilityPole,
)
from sites.selectors import OutsideJakarta, kelurahan_at


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
    if level != old:  # part of the priority of every open request in the kelurahan
        tasks.refresh_request_priorities.delay_on_commit(kelurahan_id=locked.pk)
    return area


# --- Inventory: poles, sites, cameras ----------------------------------------------------------
#
# Who may do what (guardian permissions from partners.services.ROLE_PERMISSIONS):
# - Poles are the partner's physical infrastructure, like its camera networks: a pole owner's
#   owners and staff manage them ("partners.manage_partner_networks"); technicians only look.
# - Any member of a partner ("partners.view_partner", technicians included) proposes sites for
#   it. A camera is registered by someone who is a member of both its owner and the site's host
#   (the same partner in the usual case), or by an officer; its URLs are held to the owner's
#   approved networks either way. Kominfotik officers decide on sites (a Sudin officer only in
#   their kota).


def _require_member(actor, partner: Partner, message: str) -> None:
    require_partner_perm(actor, partner, VIEW_PARTNER, message)


def _officer_for_kota(actor, kota_id: int | None) -> bool:
    return is_city_officer(actor) or (is_sudin_officer(actor) and kota_id == actor.kota_id)


def _site_kota_id(site: Site) -> int | None:
    return site.kelurahan.parent.parent_id


def _require_site_officer(actor, site: Site) -> None:
    if not _officer_for_kota(actor, _site_kota_id(site)):
        raise PermissionDenied(
            _("Only a Kominfotik officer for this area can decide on this site."),
            code="permission_denied",
        )


def _coordinates(lat, lon) -> tuple[Decimal, Decimal, Area]:
    """The point rounded to the stored precision (about 11 cm), and its kelurahan."""
    try:
        lat = Decimal(str(lat)).quantize(_COORDINATE_STEP)
        lon = Decimal(str(lon)).quantize(_COORDINATE_STEP)
    except (ArithmeticError, ValueError, TypeError):
        raise ServiceError(_("Enter the location as decimal degrees."), field="lat") from None
    try:
        area = kelurahan_at(lat=lat, lon=lon)
    except OutsideJakarta as error:
        raise ServiceError(error.message, code=error.code, field="lat") from None
    return lat, lon, area


_COORDINATE_STEP = Decimal("0.000001")
POLE_FIELDS = {"code", "lat", "lon", "power_available", "fibre_available", "slots_total"}


def _require_pole_manager(actor, owner: Partner) -> None:
    require_partner_perm(
        actor,
        owner,
        "partners.manage_partner_networks",
        _("Only the pole owner's owners and staff can manage its poles."),
    )


def _check_pole_owner(owner: Partner) -> None:
    if owner.kind != PartnerKind.POLE_OWNER:
        raise ServiceError(_("Only a utility-pole owner can register poles."), field="owner")
    if owner.status in (PartnerStatus.REJECTED, PartnerStatus.SUSPENDED):
        raise ServiceError(
            _("%(name)s is %(status)s and cannot register poles.")
            % {"name": owner.name, "status": owner.get_status_display().lower()},
            field="owner",
        )


def _save_pole(pole: UtilityPole) -> UtilityPole:
    pole.code = (pole.code or "").strip()
    if (
        pole.code
        and UtilityPole.objects.filter(owner_id=pole.owner_id, code=pole.code)
        .exclude(pk=pole.pk)
        .exists()
    ):
        raise ServiceError(
            _("%(owner)s already has a pole with code %(code)s.")
            % {"owner": pole.owner.name, "code": pole.code},
            field="code",
        )
    full_clean_or_raise(pole, exclude=["owner", "kelurahan"])
    try:
        with transaction.atomic():
            pole.save()
    except IntegrityError:
        # Two requests registering the same code at once: the unique constraint decides.
        raise ServiceError(
            _("%(owner)s already has a pole with code %(code)s.")
            % {"owner": pole.owner.name, "code": pole.code},
            field="code",
        ) from None
    return pole


@transaction.atomic
def pole_create(
    *,
    owner: Partner,
    actor,
    code: str,
    lat,
    lon,
    power_available: bool = False,
    fibre_available: bool = False,
    slots_total: int,
) -> UtilityPole:
    """Register one pole of a pole owner; its kelurahan comes from the point."""
    _require_pole_manager(actor, owner)
    _check_pole_owner(owner)
    lat, lon, kelurahan = _coordinates(lat, lon)
    pole = UtilityPole(
        owner=owner,
        code=code,
        lat=lat,
        lon=lon,
        kelurahan=kelurahan,
        power_available=bool(power_available),
        fibre_available=bool(fibre_available),
        slots_total=slots_total,
    )
    return _save_pole(pole)


@transaction.atomic
def pole_update(*, pole: UtilityPole, actor, **fields) -> UtilityPole:
    """Change a pole's code, location, power, fibre or slot count (never below the slots used)."""
    unknown = set(fields) - POLE_FIELDS
    if unknown:
        raise ServiceError(f"Unknown fields: {', '.join(sorted(unknown))}")
    _require_pole_manager(actor, pole.owner)
    # Locked so that a slot reserved meanwhile is counted before slots_total is checked.
    locked = (
        UtilityPole.objects.select_for_update(of=("self",)).select_related("owner").get(pk=pole.pk)
    )
    if "lat" in fields or "lon" in fields:
        lat, lon, kelurahan = _coordinates(
            fields.pop("lat", locked.lat), fields.pop("lon", locked.lon)
        )
        locked.lat, locked.lon, locked.kelurahan = lat, lon, kelurahan
    for name, value in fields.items():
        setattr(locked, name, value)
    if isinstance(locked.slots_total, int) and locked.slots_total < locked.slots_used:
        raise ServiceError(
            _("%(used)d slots of this pole are in use: the total cannot be lower.")
            % {"used": locked.slots_used},
            field="slots_total",
        )
    _save_pole(locked)
    for name in ("code", "lat", "lon", "kelurahan", "slots_total", *fields):
        setattr(pole, name, getattr(locked, name))
    return pole


def poles_import_csv(*, owner: Partner, actor, file) -> PoleImportReport:
    """Create or update (by code) a pole owner's poles from a CSV file, all or nothing.

    Every row is checked first; if any row is rejected, the report lists each one (row, field,
    reason) and nothing is written.
    """
    _require_pole_manager(actor, owner)
    _check_pole_owner(owner)
    return csv_import.import_poles(owner=owner, file=file)


# --- Sites --------------------------------------------------------------------------------


def _check_pole_for_site(host_kind: str, pole: UtilityPole | None) -> None:
    if host_kind not in HostKind.values:
        raise ServiceError(_("Choose how the site is hosted."), field="host_kind")
    if host_kind == HostKind.POLE and pole is None:
        raise ServiceError(_("A site on a utility pole must name the pole."), field="pole")
    if host_kind != HostKind.POLE and pole is not None:
        raise ServiceError(_("Only a site hosted on a utility pole names a pole."), field="pole")
    # Read from the database: the caller's pole object may predate another site's approval.
    if (
        pole is not None
        and not UtilityPole.objects.filter(pk=pole.pk, slots_used__lt=F("slots_total")).exists()
    ):
        raise ServiceError(
            _("This pole has no free attachment slot."), code="no_free_slot", field="pole"
        )


@transaction.atomic
def site_propose(
    *,
    host_partner: Partner,
    actor,
    lat,
    lon,
    address: str,
    host_kind: str,
    pole: UtilityPole | None = None,
    viewing_direction: int | None = None,
    notes: str = "",
) -> Site:
    """Propose a place for cameras. A pole of another owner is allowed: the hosting application
    asks that owner's consent."""
    lat, lon, kelurahan = _coordinates(lat, lon)
    if not _officer_for_kota(actor, kelurahan.parent.parent_id):
        _require_member(
            actor, host_partner, _("Only the host partner's members can propose its sites.")
        )
    if host_partner.status in (PartnerStatus.REJECTED, PartnerStatus.SUSPENDED):
        raise ServiceError(
            _("%(name)s is %(status)s and cannot host sites.")
            % {"name": host_partner.name, "status": host_partner.get_status_display().lower()},
            field="host_partner",
        )
    _check_pole_for_site(host_kind, pole)
    site = Site(
        lat=lat,
        lon=lon,
        kelurahan=kelurahan,
        address=(address or "").strip(),
        host_partner=host_partner,
        host_kind=host_kind,
        pole=pole,
        viewing_direction=viewing_direction,
        notes=(notes or "").strip(),
        status=SiteStatus.PROPOSED,
        status_changed_at=timezone.now(),
        created_by=actor,
    )
    full_clean_or_raise(
        site, exclude=["kelurahan", "host_partner", "pole", "created_by", "status_changed_at"]
    )
    site.save()
    SiteStatusChange.objects.create(
        site=site,
        actor=actor,
        old_status="",
        new_status=SiteStatus.PROPOSED,
        reason=site.notes,
        created_at=site.status_changed_at,
    )
    return site


SITE_EDITABLE_FIELDS = {"address", "notes", "viewing_direction"}


@transaction.atomic
def site_update(*, site: Site, actor, **fields) -> Site:
    """Edit a proposed site's address, notes or viewing direction (host members or officers)."""
    unknown = set(fields) - SITE_EDITABLE_FIELDS
    if unknown:
        raise ServiceError(
            _("Only the address, notes and viewing direction can be changed."),
            field=sorted(unknown)[0],
        )
    locked = (
        Site.objects.select_for_update(of=("self",))
        .select_related("host_partner", "kelurahan__parent")
        .get(pk=site.pk)
    )
    if not _officer_for_kota(actor, _site_kota_id(locked)):
        _require_member(
            actor, locked.host_partner, _("Only the host partner's members can edit this site.")
        )
    if locked.status != SiteStatus.PROPOSED:
        raise Conflict(
            _("Only a proposed site can be edited; this one is %(status)s.")
            % {"status": locked.get_status_display().lower()},
            code="invalid_transition",
        )
    for name, value in fields.items():
        setattr(locked, name, value.strip() if isinstance(value, str) else value)
    full_clean_or_raise(locked, exclude=["kelurahan", "host_partner", "pole", "created_by"])
    locked.save(update_fields=list(fields))
    for name in fields:
        setattr(site, name, getattr(locked, name))
    return site


def _allowed(sources: set[str], to: str) -> dict[str, set[str]]:
    """The part of SITE_TRANSITIONS that one service may use (e.g. resume only from suspended)."""
    return {source: {to} for source in sources if to in SITE_TRANSITIONS[source]}


def _free_slot(pole_id: int | None) -> None:
    # Called only for a site that held a slot (read under its row lock, then cleared in the
    # same transaction), so a slot is never given back twice.
    if pole_id:
        UtilityPole.objects.filter(pk=pole_id, slots_used__gt=0).update(
            slots_used=F("slots_used") - 1
        )


def _site_transition(
    *,
    site: Site,
    actor,
    to: str,
    sources: set[str],
    reason: str = "",
    reason_required: bool = False,
    before=None,
    after=None,
) -> Site:
    """One guarded step: lock the site, check the table, run the slot bookkeeping, log it."""
    reason = (reason or "").strip()
    if reason_required and not reason:
        raise ServiceError(_("Give a reason for this decision."), field="reason")
    with transaction.atomic():
        locked = (
            Site.objects.select_for_update(of=("self",))
            .select_related("kelurahan__parent", "host_partner")
            .get(pk=site.pk)
        )
        extra: dict[str, object] = {"status_changed_at": timezone.now()}
        if before is not None:
            before(locked)
        was_active = locked.status == SiteStatus.ACTIVE
        frees_slot = locked.holds_pole_slot and to not in POLE_SLOT_HOLDING_STATUSES
        if frees_slot:
            extra["holds_pole_slot"] = False
        transition(
            instance=locked,
            to=to,
            allowed=_allowed(sources, to),
            log_model=SiteStatusChange,
            log_fields={"site": locked},
            actor=actor,
            reason=reason,
            extra=extra,
        )
        if frees_slot:
            _free_slot(locked.pole_id)
        if after is not None:
            after(locked)
        if to == SiteStatus.ACTIVE:  # residents' planned requests for this site are installed
            request_services.request_mark_installed_for_site(site_id=locked.pk)
        if was_active != (to == SiteStatus.ACTIVE):
            _refresh_request_priority_near(locked)
    site.refresh_from_db()
    return site


def _refresh_request_priority_near(site: Site) -> None:
    """Residents' open requests within reach of `site` are scored again once this commits: an
    active camera nearby lowers their priority, and losing one raises it."""
    request_services.requests_priority_refresh_near_later(
        lat=site.lat, lon=site.lon, radius_m=request_selectors.CAMERA_DISTANCE_CAP_M
    )


def _officer_check(actor):
    def check(site: Site) -> None:
        _require_site_officer(actor, site)

    return check


def site_survey(*, site: Site, actor, notes: str = "") -> Site:
    """An officer has surveyed the proposed place."""
    return _site_transition(
        site=site,
        actor=actor,
        to=SiteStatus.SURVEYED,
        sources={SiteStatus.PROPOSED},
        reason=notes,
        before=_officer_check(actor),
    )


def _reserve_slot(site: Site) -> None:
    if not site.pole_id:
        return
    # A conditional UPDATE: of two approvals racing for the last slot, the second finds
    # slots_used == slots_total once the first commits and updates nothing.
    reserved = UtilityPole.objects.filter(pk=site.pole_id, slots_used__lt=F("slots_total")).update(
        slots_used=F("slots_used") + 1
    )
    if not reserved:
        raise Conflict(_("This pole has no free attachment slot."), code="no_free_slot")
    Site.objects.filter(pk=site.pk).update(holds_pole_slot=True)


def site_approve(*, site: Site, actor, reason: str = "") -> Site:
    """An officer approves the site; a site on a pole reserves one of its slots."""
    return _site_transition(
        site=site,
        actor=actor,
        to=SiteStatus.APPROVED,
        sources={SiteStatus.PROPOSED, SiteStatus.SURVEYED},
        reason=reason,
        before=_officer_check(actor),
        after=_reserve_slot,
    )


def site_reject(*, site: Site, actor, reason: str) -> Site:
    return _site_transition(
        site=site,
        actor=actor,
        to=SiteStatus.REJECTED,
        sources={SiteStatus.PROPOSED, SiteStatus.SURVEYED},
        reason=reason,
        reason_required=True,
        before=_officer_check(actor),
    )


def site_withdraw(*, site: Site, actor, reason: str) -> Site:
    """The host partner takes back its own undecided proposal (e.g. a hosting application
    dropped the site or was withdrawn); recorded as rejected, like an officer's refusal."""

    def check(locked: Site) -> None:
        if not _officer_for_kota(actor, _site_kota_id(locked)):
            _require_member(
                actor,
                locked.host_partner,
                _("Only the host partner's members can withdraw this site."),
            )

    return _site_transition(
        site=site,
        actor=actor,
        to=SiteStatus.REJECTED,
        sources={SiteStatus.PROPOSED, SiteStatus.SURVEYED},
        reason=reason,
        reason_required=True,
        before=check,
    )


def site_start_installation(*, site: Site, actor) -> Site:
    """Installation work starts (an officer, or a member of the host partner)."""

    def check(locked: Site) -> None:
        if not _officer_for_kota(actor, _site_kota_id(locked)):
            _require_member(
                actor,
                locked.host_partner,
                _("Only the host partner's members or an officer can start the installation."),
            )

    return _site_transition(
        site=site,
        actor=actor,
        to=SiteStatus.INSTALLING,
        sources={SiteStatus.APPROVED},
        before=check,
    )


def site_confirm_installation(*, site: Site, actor, reason: str = "") -> Site:
    """An officer confirms the cameras work: the site becomes active."""

    def check(locked: Site) -> None:
        _require_site_officer(actor, locked)
        if locked.status == SiteStatus.INSTALLING and not locked.cameras.exists():
            raise ServiceError(
                _("Register at least one camera on this site before confirming installation."),
                code="no_camera",
            )

    def stamp(locked: Site) -> None:
        locked.cameras.filter(installed_at__isnull=True).update(installed_at=timezone.now())

    return _site_transition(
        site=site,
        actor=actor,
        to=SiteStatus.ACTIVE,
        sources={SiteStatus.INSTALLING},
        reason=reason,
        before=check,
        after=stamp,
    )


def site_suspend(*, site: Site, actor, reason: str) -> Site:
    return _site_transition(
        site=site,
        actor=actor,
        to=SiteStatus.SUSPENDED,
        sources={SiteStatus.ACTIVE},
        reason=reason,
        reason_required=True,
        before=_officer_check(actor),
    )


def site_resume(*, site: Site, actor, reason: str = "") -> Site:
    return _site_transition(
        site=site,
        actor=actor,
        to=SiteStatus.ACTIVE,
        sources={SiteStatus.SUSPENDED},
        reason=reason,
        before=_officer_check(actor),
    )


def site_decommission(*, site: Site, actor, reason: str) -> Site:
    """The site is taken down for good; a pole slot it held is freed."""
    return _site_transition(
        site=site,
        actor=actor,
        to=SiteStatus.DECOMMISSIONED,
        sources=set(POLE_SLOT_HOLDING_STATUSES),
        reason=reason,
        reason_required=True,
        before=_officer_check(actor),
    )


# --- Cameras ------------------------------------------------------------------------------

CAMERA_SITE_STATUSES = {
    SiteStatus.APPROVED,
    SiteStatus.INSTALLING,
    SiteStatus.ACTIVE,
    SiteStatus.SUSPENDED,
}
CAMERA_FIELDS = {
    "vendor",
    "model",
    "serial",
    "resolution",
    "rtsp_url",
    "snapshot_url",
    "onvif_url",
    "username",
    "password",
}
# field → (allowed schemes, default port per scheme)
_URL_RULES = {
    "rtsp_url": {"rtsp": 554},
    "snapshot_url": {"http": 80, "https": 443},
    "onvif_url": {"http": 80, "https": 443},
}
RESOLVE_TIMEOUT_SECONDS = 2.0


def _resolve(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address `host` stands for. getaddrinfo has no timeout of its own, so a slow
    resolver is abandoned after RESOLVE_TIMEOUT_SECONDS rather than holding the request."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    executor = ThreadPoolExecutor(max_workers=1)
    try:
        future = executor.submit(socket.getaddrinfo, host, None, 0, socket.SOCK_STREAM)
        infos = future.result(timeout=RESOLVE_TIMEOUT_SECONDS)
    except (OSError, FutureTimeout, UnicodeError):
        return []
    finally:
        executor.shutdown(wait=False)
    # Scope ids ("fe80::1%eth0") are not part of the address the networks describe.
    return sorted({ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}, key=str)


def _check_camera_url(field: str, url: str, owner: Partner, networks: list) -> str:
    """The URL if every address it reaches lies in one of `owner`'s approved networks + ports."""
    url = (url or "").strip()
    if not url:
        return ""
    schemes = _URL_RULES[field]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ServiceError(_("This is not a valid URL."), field=field) from None
    if parts.scheme.lower() not in schemes:
        raise ServiceError(
            _("The URL must start with %(schemes)s.")
            % {"schemes": " or ".join(f"{scheme}://" for scheme in schemes)},
            field=field,
        )
    if parts.username or parts.password:
        # Credentials in a URL would be stored and shown in clear: they have their own fields.
        raise ServiceError(
            _("Put the username and password in their own fields, not in the URL."), field=field
        )
    host = parts.hostname
    if not host:
        raise ServiceError(_("The URL has no host."), field=field)
    port = port or schemes[parts.scheme.lower()]
    addresses = _resolve(host)
    if not addresses:
        raise ServiceError(_("The host %(host)s cannot be resolved.") % {"host": host}, field=field)
    for address in addresses:
        if not any(address in network.network() and port in network.ports for network in networks):
            shown = f"[{address}]" if address.version == 6 else str(address)
            raise ServiceError(
                _("%(address)s:%(port)d is not inside a camera network approved for %(partner)s.")
                % {"address": shown, "port": port, "partner": owner.name},
                code="outside_approved_networks",
                field=field,
            )
    return url


def _check_camera(camera: Camera, owner: Partner, *, push: bool = False) -> None:
    if owner.status != PartnerStatus.VERIFIED:
        raise ServiceError(
            _("%(name)s must be verified before its cameras are registered.")
            % {"name": owner.name},
            field="owner",
        )
    networks = list(approved_networks_for(partner_id=owner.pk))
    for field in _URL_RULES:
        setattr(camera, field, _check_camera_url(field, getattr(camera, field), owner, networks))
    # A camera behind NAT cannot be reached at all: its heartbeats are the check.
    if not push and not (camera.rtsp_url or camera.snapshot_url or camera.onvif_url):
        raise ServiceError(
            _(
                "Give at least one way to reach the camera: RTSP, snapshot or ONVIF URL "
                "(or register it as sending heartbeats)."
            ),
            field="rtsp_url",
        )
    for name in ("vendor", "model", "serial", "resolution", "username"):
        setattr(camera, name, (getattr(camera, name) or "").strip())
    if (
        camera.vendor
        and camera.serial
        and Camera.objects.filter(vendor__iexact=camera.vendor, serial__iexact=camera.serial)
        .exclude(pk=camera.pk)
        .exists()
    ):
        raise ServiceError(
            _("A %(vendor)s camera with serial number %(serial)s is already registered.")
            % {"vendor": camera.vendor, "serial": camera.serial},
            field="serial",
        )
    full_clean_or_raise(camera, exclude=["site", "owner", "created_by"])


def _save_camera(camera: Camera) -> Camera:
    try:
        with transaction.atomic():
            camera.save()
    except IntegrityError:
        raise ServiceError(
            _("A %(vendor)s camera with serial number %(serial)s is already registered.")
            % {"vendor": camera.vendor, "serial": camera.serial},
            field="serial",
        ) from None
    return camera


def _require_camera_actor(actor, owner: Partner, site: Site) -> None:
    if _officer_for_kota(actor, _site_kota_id(site)):
        return
    message = _("Only members of the camera's owner and of the site's host can do this.")
    _require_member(actor, owner, message)
    _require_member(actor, site.host_partner, message)


@transaction.atomic
def camera_register(
    *,
    site: Site,
    owner: Partner,
    actor,
    vendor: str,
    model: str,
    serial: str,
    resolution: str,
    rtsp_url: str = "",
    snapshot_url: str = "",
    onvif_url: str = "",
    username: str = "",
    password: str = "",
    push: bool = False,
) -> Camera:
    """Register a camera on an approved (or later) site. Its addresses must lie inside the
    owner's approved camera networks; the password is stored encrypted and never shown.

    `push`: the camera sits behind NAT and will send heartbeats, so it needs no address;
    heartbeat_services.camera_register_push registers it and issues its token together."""
    # Locked so the site cannot be decommissioned while its camera is being registered.
    site = (
        Site.objects.select_for_update(of=("self",))
        .select_related("kelurahan__parent", "host_partner")
        .get(pk=site.pk)
    )
    _require_camera_actor(actor, owner, site)
    if site.status not in CAMERA_SITE_STATUSES:
        raise ServiceError(
            _("Cameras are registered on approved sites; this site is %(status)s.")
            % {"status": site.get_status_display().lower()},
            code="site_not_ready",
            field="site",
        )
    camera = Camera(
        site=site,
        owner=owner,
        vendor=vendor,
        model=model,
        serial=serial,
        resolution=resolution,
        rtsp_url=rtsp_url,
        snapshot_url=snapshot_url,
        onvif_url=onvif_url,
        username=username,
        created_by=actor,
    )
    _check_camera(camera, owner, push=push)
    camera.password_encrypted = encrypt(password or "")
    camera = _save_camera(camera)
    if site.status == SiteStatus.ACTIVE:  # the site may only now count as a camera nearby
        _refresh_request_priority_near(site)
    return camera


@transaction.atomic
def camera_update(*, camera: Camera, actor, **fields) -> Camera:
    """Change a camera's details; an empty (or absent) password keeps the stored one."""
    unknown = set(fields) - CAMERA_FIELDS
    if unknown:
        raise ServiceError(f"Unknown fields: {', '.join(sorted(unknown))}")
    locked = (
        Camera.objects.select_for_update(of=("self",))
        .select_related("owner", "site__kelurahan__parent", "site__host_partner")
        .get(pk=camera.pk)
    )
    _require_camera_actor(actor, locked.owner, locked.site)
    password = fields.pop("password", "")
    for name, value in fields.items():
        setattr(locked, name, value)
    in_push_mode = locked.heartbeat_keys.filter(revoked_at__isnull=True).exists()
    _check_camera(locked, locked.owner, push=in_push_mode)
    if password:
        locked.password_encrypted = encrypt(password)
    _save_camera(locked)
    camera.refresh_from_db()
    return camera
