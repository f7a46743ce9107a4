"""Push heartbeats for cameras behind NAT: their tokens, and recording a heartbeat.

A camera the checker cannot reach (behind NAT) is switched to push mode by issuing it a token; it
then POSTs to /api/heartbeats/ with `Authorization: Bearer <token>`. A heartbeat writes no row of
its own: it stamps the camera's live key, and the next sweep turns a fresh heartbeat into a good
check and a missing one into a failed check (sites.health.sweeps), so flap damping, status changes
and outages work exactly as for probed cameras.

Who may issue, rotate or revoke a token: the owning partner's owners and staff (those who manage
its camera networks, as for maintenance windows), Kominfotik officers, and a Sudin officer for
cameras in their kota. Someone who cannot see the camera gets 404.

Tokens are 256 random bits. Only their SHA-256 is stored (a fast hash is enough for a random
secret of that size: there is no dictionary to guess from), looked up by that hash and compared in
constant time; the token itself is returned once, by the service that issued it.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from partners.models import Partner
from portal.errors import Conflict, PermissionDenied, ServiceError
from portal.permissions import get_scoped_or_404, require_partner_perm
from portal.roles import is_city_officer, is_sudin_officer
from sites.models import Camera, CameraHeartbeatKey, HealthStatus, Site
from sites.services import camera_register

MANAGE = "partners.manage_partner_networks"
TOKEN_PREFIX = "mch_"
SHOWN_PREFIX_LENGTH = 12  # "mch_" and 8 random characters: enough to tell tokens apart
# A camera may report at most this often; more frequent heartbeats are refused and not recorded.
MIN_INTERVAL = timedelta(seconds=10)
# What a camera may say about itself: fine, or a picture or clock problem (it answers, so it is
# not down; "down" is what a missing heartbeat means).
DEGRADED_REASONS = ("black", "frozen", "clock_drift")


class HeartbeatRefused(ServiceError):
    """The heartbeat's token is missing, unknown or revoked."""

    status_code = 401


class HeartbeatTooSoon(ServiceError):
    """The camera reported less than MIN_INTERVAL ago; this heartbeat was not recorded."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, code="too_frequent")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key and its token: the only time the token exists outside the camera."""

    key: CameraHeartbeatKey
    token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _check_actor(actor, camera: Camera) -> None:
    if is_city_officer(actor):
        return
    refused = _("Only the camera owner's owners and staff, or an officer, manage its heartbeats.")
    if is_sudin_officer(actor):
        if camera.site.kelurahan.parent.parent_id == actor.kota_id:
            return
        raise PermissionDenied(refused, code="permission_denied")
    # Visibility first (another partner's camera looks missing), then the member's role.
    get_scoped_or_404(actor, Camera.objects.all(), pk=camera.pk)
    require_partner_perm(actor, camera.owner, MANAGE, refused)


def _locked(camera: Camera) -> Camera:
    # NO KEY UPDATE: serialises issuing for one camera without blocking a sweep that inserts a
    # status change or an outage referring to it.
    return (
        Camera.objects.select_for_update(no_key=True, of=("self",))
        .select_related("owner", "site__kelurahan__parent")
        .get(pk=camera.pk)
    )


def _live_key(camera: Camera) -> CameraHeartbeatKey | None:
    return CameraHeartbeatKey.objects.filter(camera=camera, revoked_at__isnull=True).first()


def _issue(camera: Camera, actor, now: datetime, previous: CameraHeartbeatKey | None) -> IssuedKey:
    token = _new_token()
    key = CameraHeartbeatKey(
        camera=camera,
        token_hash=_digest(token),
        token_prefix=token[:SHOWN_PREFIX_LENGTH],
        issued_at=now,
        issued_by=actor,
    )
    if previous is not None:
        # The camera's liveness is not the key's: a rotation does not make it look silent.
        key.last_heartbeat_at = previous.last_heartbeat_at
        key.reported_status = previous.reported_status
        key.reported_reason = previous.reported_reason
    try:
        with transaction.atomic():
            key.save()
    except IntegrityError:
        raise Conflict(_("This camera's heartbeat token was just changed; try again.")) from None
    return IssuedKey(key=key, token=token)


@transaction.atomic
def heartbeat_key_issue(*, camera: Camera, actor) -> IssuedKey:
    """Switch a camera to push mode: it is no longer probed and must send heartbeats."""
    camera = _locked(camera)
    _check_actor(actor, camera)
    if _live_key(camera) is not None:
        raise Conflict(
            _("This camera already sends heartbeats; rotate its token to get a new one."),
            code="already_push",
        )
    return _issue(camera, actor, timezone.now(), previous=None)


@transaction.atomic
def heartbeat_key_rotate(*, camera: Camera, actor) -> IssuedKey:
    """A new token for a camera in push mode; the old one stops working at once."""
    camera = _locked(camera)
    _check_actor(actor, camera)
    old = _live_key(camera)
    if old is None:
        raise Conflict(_("This camera has no heartbeat token to rotate."), code="not_push")
    now = timezone.now()
    CameraHeartbeatKey.objects.filter(pk=old.pk).update(revoked_at=now, revoked_by=actor)
    return _issue(camera, actor, now, previous=old)


@transaction.atomic
def camera_register_push(*, site: Site, owner: Partner, actor, **details) -> IssuedKey:
    """Register a camera behind NAT together with its heartbeat token (shown this once).

    It needs no address (the sweeps never probe it); any address given must still lie inside
    the owner's approved networks, for the day it is probed again.
    """
    camera = _locked(camera_register(site=site, owner=owner, actor=actor, push=True, **details))
    _check_actor(actor, camera)  # issuing a token is the owner's managers' (or an officer's) call
    return _issue(camera, actor, timezone.now(), previous=None)


@transaction.atomic
def heartbeat_key_revoke(*, camera: Camera, actor) -> CameraHeartbeatKey:
    """End push mode: the token stops working and sweeps probe the camera again."""
    camera = _locked(camera)
    _check_actor(actor, camera)
    key = _live_key(camera)
    if key is None:
        raise Conflict(_("This camera has no heartbeat token to revoke."), code="not_push")
    if not (camera.rtsp_url or camera.snapshot_url or camera.onvif_url):
        # Probing a camera without an address would only report it down, every sweep.
        raise Conflict(
            _("Give the camera an RTSP, snapshot or ONVIF address before it is probed again."),
            code="no_address",
        )
    key.revoked_at, key.revoked_by = timezone.now(), actor
    key.save(update_fields=["revoked_at", "revoked_by"])
    return key


def heartbeat_authenticate(*, token: str) -> CameraHeartbeatKey:
    """The live key for a token presented by a camera, or HeartbeatRefused (401)."""
    if not token:
        raise HeartbeatRefused(
            _("Send the camera's heartbeat token as 'Authorization: Bearer <token>'."),
            code="missing_token",
        )
    digest = _digest(token)
    key = CameraHeartbeatKey.objects.filter(token_hash=digest).first()
    # The lookup is by hash, so its timing says nothing about the token; the comparison is
    # constant-time all the same.
    if key is None or not hmac.compare_digest(key.token_hash, digest):
        raise HeartbeatRefused(_("This heartbeat token is not known."), code="unknown_token")
    if key.revoked_at is not None:
        raise HeartbeatRefused(
            _("This heartbeat token was revoked or replaced."), code="revoked_token"
        )
    return key


def heartbeat_record(
    *, key: CameraHeartbeatKey, status: str, reason: str = "", now: datetime | None = None
) -> CameraHeartbeatKey:
    """Record that the camera is alive (up, or degraded with a reason): one conditional UPDATE.

    Refused (429, nothing written) within MIN_INTERVAL of the previous heartbeat, so a camera
    stuck in a loop costs one indexed read per request and no writes.
    """
    if status not in (HealthStatus.UP, HealthStatus.DEGRADED):
        raise ServiceError(_("The status must be ok or degraded."), field="status")
    if status == HealthStatus.DEGRADED and reason not in DEGRADED_REASONS:
        raise ServiceError(
            _("A degraded heartbeat needs a reason: %(reasons)s.")
            % {"reasons": ", ".join(DEGRADED_REASONS)},
            field="reason",
        )
    reason = reason if status == HealthStatus.DEGRADED else "ok"
    now = now or timezone.now()
    recorded = (
        CameraHeartbeatKey.objects.filter(pk=key.pk, revoked_at__isnull=True)
        .filter(Q(last_heartbeat_at__isnull=True) | Q(last_heartbeat_at__lte=now - MIN_INTERVAL))
        .update(last_heartbeat_at=now, reported_status=status, reported_reason=reason)
    )
    if not recorded:
        current = (
            CameraHeartbeatKey.objects.filter(pk=key.pk)
            .values("revoked_at", "last_heartbeat_at")
            .first()
        )
        if current is None or current["revoked_at"] is not None:
            # Revoked between the token check and this write.
            raise HeartbeatRefused(
                _("This heartbeat token was revoked or replaced."), code="revoked_token"
            )
        wait = current["last_heartbeat_at"] + MIN_INTERVAL - now
        raise HeartbeatTooSoon(
            _("Heartbeats are accepted at most once every %(seconds)d seconds.")
            % {"seconds": int(MIN_INTERVAL.total_seconds())},
            retry_after=max(1, int(wait.total_seconds() + 0.999)),
        )
    key.last_heartbeat_at, key.reported_status, key.reported_reason = now, status, reason
    return key
