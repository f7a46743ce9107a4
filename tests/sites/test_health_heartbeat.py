"""Push heartbeats for cameras behind NAT: tokens, the endpoint, and how sweeps judge them."""

import hashlib
import itertools
import json
import socket
import threading
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone, translation
from django.utils.translation import gettext
from rest_framework.test import APIClient

from partners.models import MemberRole
from partners.services import membership_add
from portal.roles import Role
from sites.models import (
    Camera,
    CameraHealth,
    CameraHeartbeatKey,
    CameraStatusChange,
    Outage,
    Site,
    SiteStatus,
)
from tests import factories
from tests.conftest import api_as
from tests.sites.test_health_sweeps import approve_network, full_sweep

_serial = itertools.count(1)


@pytest.fixture(autouse=True)
def health_settings(settings):
    settings.HEALTH_ALLOW_LOOPBACK = True
    settings.HEALTH_DENY_HOSTS = []
    settings.HEALTH_CONNECT_TIMEOUT = 0.5
    settings.HEALTH_READ_TIMEOUT = 0.4
    settings.HEALTH_SWEEP_INTERVAL = 300
    settings.HEALTH_HEARTBEAT_TIMEOUT = 300
    settings.HEALTH_DOWN_AFTER = 3
    settings.HEALTH_UP_AFTER = 2
    return settings


@pytest.fixture
def host(owner):
    return factories.verified_partner(owner)


@pytest.fixture
def other_host(other_owner):
    return factories.verified_partner(other_owner)


def make_camera(partner, **urls) -> Camera:
    """An in-service camera of `partner` (no address unless given: it sits behind NAT)."""
    site = factories.make_site(partner)
    Site.objects.filter(pk=site.pk).update(status=SiteStatus.ACTIVE)
    return Camera.objects.create(
        site=site,
        owner=partner,
        vendor="Hikvision",
        model="DS-2CD",
        serial=f"NAT-{next(_serial)}",
        resolution="1920x1080",
        created_by=partner.created_by,
        **urls,
    )


def key_url(camera: Camera, step: str = "") -> str:
    return f"/api/health/cameras/{camera.pk}/heartbeat-key/" + (f"{step}/" if step else "")


def issue(user, camera: Camera) -> str:
    response = api_as(user).post(key_url(camera))
    assert response.status_code == 201, response.content
    return response.json()["token"]


def beat(token: str | None, body=None, *, client: APIClient | None = None, **headers):
    client = client or APIClient(HTTP_ACCEPT_LANGUAGE="en")
    if token is not None:
        headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {token}")
    return client.post(
        "/api/heartbeats/",
        data="" if body is None else json.dumps(body),
        content_type="application/json",
        **headers,
    )


def history(camera: Camera) -> list[tuple[str, str, str]]:
    changes = CameraStatusChange.objects.filter(camera=camera).order_by("created_at", "id")
    return list(changes.values_list("old_status", "new_status", "reason"))


def health(camera: Camera) -> tuple[str, str]:
    row = CameraHealth.objects.get(camera=camera)
    return row.status, row.reason


# --- issuing, rotating, revoking ----------------------------------------------------------------


def test_heartbeat_key_issue_shows_the_token_once_and_stores_only_its_hash(owner, host):
    camera = make_camera(host)

    response = api_as(owner).post(key_url(camera))

    assert response.status_code == 201
    body = response.json()
    token = body["token"]
    assert token.startswith("mch_")
    assert len(token) > 40
    assert body["token_prefix"] == token[:12]
    key = CameraHeartbeatKey.objects.get(camera=camera)
    assert key.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (key.issued_by, key.revoked_at, key.last_heartbeat_at) == (owner, None, None)
    stored = CameraHeartbeatKey.objects.filter(pk=key.pk).values().get()
    assert not any(token in str(value) for value in stored.values())
    # Afterwards the camera shows that it is in push mode, never the token.
    shown = api_as(owner).get(f"/api/health/cameras/{camera.pk}/").json()
    assert shown["heartbeat"]["token_prefix"] == token[:12]
    assert "token" not in shown["heartbeat"]
    assert token not in json.dumps(shown)


def test_heartbeat_key_rotate_gives_a_new_token_and_the_old_one_stops(owner, host):
    camera = make_camera(host)
    old = issue(owner, camera)
    assert beat(old).status_code == 200
    heard = CameraHeartbeatKey.objects.get(camera=camera).last_heartbeat_at

    response = api_as(owner).post(key_url(camera, "rotate"))

    assert response.status_code == 200
    new = response.json()["token"]
    assert new != old
    refused = beat(old)
    assert refused.status_code == 401
    assert refused.json()["code"] == "revoked_token"
    live = CameraHeartbeatKey.objects.get(camera=camera, revoked_at__isnull=True)
    # The camera did not fall silent because its token changed.
    assert live.last_heartbeat_at == heard
    assert CameraHeartbeatKey.objects.filter(camera=camera).count() == 2


def test_heartbeat_key_officer_issues_rotates_and_revokes(host):
    camera = make_camera(host, rtsp_url="rtsp://127.0.0.1:554/stream1")
    officer = factories.officer()
    first = issue(officer, camera)

    rotated = api_as(officer).post(key_url(camera, "rotate"))
    assert rotated.status_code == 200
    second = rotated.json()["token"]
    revoked = api_as(officer).post(key_url(camera, "revoke"))

    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert beat(first).status_code == 401
    assert beat(second).json()["code"] == "revoked_token"
    assert not CameraHeartbeatKey.objects.filter(camera=camera, revoked_at__isnull=True).exists()
    keys = CameraHeartbeatKey.objects.filter(camera=camera)
    assert set(keys.values_list("revoked_by", flat=True)) == {officer.pk}
    assert api_as(officer).get(f"/api/health/cameras/{camera.pk}/").json()["heartbeat"] is None


def test_heartbeat_key_sudin_officer_only_in_their_kota(host):
    camera = make_camera(host)  # in 31.71

    assert api_as(factories.sudin_officer("31.71")).post(key_url(camera)).status_code == 201
    assert api_as(factories.sudin_officer("31.73")).post(key_url(camera, "rotate")).status_code == (
        404
    )


def test_heartbeat_key_of_another_partners_camera_is_404(owner, host, other_owner, other_host):
    camera = make_camera(host)
    issue(owner, camera)
    stranger = api_as(other_owner)

    for step in ("", "rotate", "revoke"):
        assert stranger.post(key_url(camera, step)).status_code == 404
    assert stranger.get(f"/api/health/cameras/{camera.pk}/").status_code == 404
    assert CameraHeartbeatKey.objects.get(camera=camera).revoked_at is None


def test_heartbeat_key_refused_to_technicians_and_operators(host):
    camera = make_camera(host)
    technician = factories.UserFactory()
    membership_add(partner=host, user=technician, role=MemberRole.TECHNICIAN)
    operator = factories.UserFactory(roles=[Role.OPERATOR])

    for user in (technician, operator):
        response = api_as(user).post(key_url(camera))
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert not CameraHeartbeatKey.objects.exists()


def test_heartbeat_key_issue_twice_or_rotate_without_one_conflicts(owner, host):
    camera = make_camera(host)
    assert api_as(owner).post(key_url(camera, "rotate")).status_code == 409
    assert api_as(owner).post(key_url(camera, "revoke")).status_code == 409
    issue(owner, camera)

    again = api_as(owner).post(key_url(camera))

    assert again.status_code == 409
    assert again.json()["code"] == "already_push"
    assert CameraHeartbeatKey.objects.filter(camera=camera).count() == 1


# --- the endpoint -------------------------------------------------------------------------------


def test_heartbeat_records_without_session_or_csrf_and_writes_no_row(owner, host):
    camera = make_camera(host)
    token = issue(owner, camera)
    # A signed-in browser session with CSRF enforced changes nothing: the token is what counts.
    client = APIClient(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(owner)

    response = beat(token, client=client)

    assert response.status_code == 200
    body = response.json()
    assert (body["camera"], body["status"], body["reason"]) == (camera.pk, "up", "ok")
    assert body["timeout_seconds"] == 300
    key = CameraHeartbeatKey.objects.get(camera=camera)
    assert key.last_heartbeat_at is not None
    assert (key.reported_status, key.reported_reason) == ("up", "ok")
    # No row per heartbeat: the sweep turns the key's state into health.
    assert not CameraHealth.objects.exists()
    assert not CameraStatusChange.objects.exists()


def test_heartbeat_records_a_degraded_report(owner, host):
    camera = make_camera(host)
    token = issue(owner, camera)

    response = beat(token, {"status": "degraded", "reason": "black"})

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["reason"]) == ("degraded", "black")
    key = CameraHeartbeatKey.objects.get(camera=camera)
    assert (key.reported_status, key.reported_reason) == ("degraded", "black")


def test_heartbeat_refuses_missing_unknown_and_revoked_tokens_with_401(owner, host):
    camera = make_camera(host, rtsp_url="rtsp://127.0.0.1:554/stream1")
    token = issue(owner, camera)
    assert api_as(owner).post(key_url(camera, "revoke")).status_code == 200

    cases = {
        "missing_token": beat(None),
        "missing_token ": beat(None, HTTP_AUTHORIZATION=f"Basic {token}"),
        "unknown_token": beat("mch_" + "x" * 43),
        "revoked_token": beat(token),
    }

    for code, response in cases.items():
        assert response.status_code == 401, code
        assert response.json()["code"] == code.strip()
        assert response.json()["detail"]
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert CameraHeartbeatKey.objects.get(camera=camera).last_heartbeat_at is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ('{"status": "ok", "note": "' + "x" * 2000 + '"}', "too_large"),
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        ('{"status": "exploded"}', "invalid"),
        ('{"status": "degraded"}', "invalid"),
        ('{"status": "degraded", "reason": "sad"}', "invalid"),
    ],
)
def test_heartbeat_refuses_large_or_invalid_bodies_with_400(owner, host, body, code):
    camera = make_camera(host)
    token = issue(owner, camera)

    response = APIClient(HTTP_ACCEPT_LANGUAGE="en").post(
        "/api/heartbeats/",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert CameraHeartbeatKey.objects.get(camera=camera).last_heartbeat_at is None


def test_heartbeat_more_often_than_every_ten_seconds_is_not_recorded(owner, host):
    camera = make_camera(host)
    token = issue(owner, camera)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert beat(token).status_code == 200
        first = CameraHeartbeatKey.objects.get(camera=camera).last_heartbeat_at
        clock.shift(timedelta(seconds=4))

        too_soon = beat(token, {"status": "degraded", "reason": "frozen"})

        assert too_soon.status_code == 429
        assert too_soon.json()["code"] == "too_frequent"
        assert too_soon["Retry-After"] == "6"
        key = CameraHeartbeatKey.objects.get(camera=camera)
        assert (key.last_heartbeat_at, key.reported_status) == (first, "up")

        clock.shift(timedelta(seconds=6))
        assert beat(token).status_code == 200


# --- sweeps -------------------------------------------------------------------------------------


def test_sweep_keeps_a_push_camera_up_while_heartbeats_arrive(owner, host):
    camera = make_camera(host)  # no address at all: only push mode makes it checkable
    token = issue(owner, camera)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(4):
            assert beat(token).status_code == 200
            sweep = full_sweep()
            assert sweep.checks == 1
            assert health(camera) == ("up", "ok")
            clock.shift(timedelta(seconds=301))
        # A report of a black picture degrades it at once; the next "ok" clears it.
        beat(token, {"status": "degraded", "reason": "black"})
        full_sweep()
        assert health(camera) == ("degraded", "black")
        clock.shift(timedelta(seconds=301))
        beat(token)
        full_sweep()

    assert health(camera) == ("up", "ok")
    assert history(camera) == [
        ("unknown", "up", "ok"),
        ("up", "degraded", "black"),
        ("degraded", "up", "ok"),
    ]
    assert CameraHealth.objects.get(camera=camera).latency_ms is None
    assert not Outage.objects.exists()


def test_sweep_marks_a_silent_push_camera_down_after_down_after_sweeps(owner, host):
    camera = make_camera(host)
    token = issue(owner, camera)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        beat(token)
        full_sweep()
        for _ in range(2):  # silent, but damping keeps it up
            clock.shift(timedelta(seconds=310))
            full_sweep()
            assert health(camera) == ("up", "ok")
        clock.shift(timedelta(seconds=310))
        went_down = full_sweep()
        clock.shift(timedelta(seconds=310))
        full_sweep()  # still silent: nothing new

        assert health(camera) == ("down", "no_heartbeat")
        assert history(camera) == [("unknown", "up", "ok"), ("up", "down", "no_heartbeat")]
        outage = Outage.objects.get(camera=camera)
        assert (outage.reason, outage.ended_at) == ("no_heartbeat", None)
        assert outage.started_at == went_down.started_at

        # It speaks again: up after HEALTH_UP_AFTER good checks, and the outage closes.
        for _ in range(2):
            clock.shift(timedelta(seconds=310))
            beat(token)
            full_sweep()

    assert health(camera) == ("up", "ok")
    assert history(camera)[-1] == ("down", "up", "ok")
    assert Outage.objects.get(camera=camera).ended_at is not None


class CountingListener:
    """A TCP listener on loopback that only counts the connections it accepts."""

    def __init__(self, host: str = "127.3.0.1") -> None:
        self.sock = socket.create_server((host, 0))
        self.sock.settimeout(0.05)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _address = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            connection.close()

    def __enter__(self) -> "CountingListener":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def test_sweep_never_connects_to_a_push_camera(owner, host):
    with CountingListener() as probed_port, CountingListener() as pushed_port:
        approve_network(host, "127.3.0.0/24", [probed_port.port, pushed_port.port])
        probed = make_camera(host, rtsp_url=f"rtsp://127.3.0.1:{probed_port.port}/live")
        pushed = make_camera(host, rtsp_url=f"rtsp://127.3.0.1:{pushed_port.port}/live")
        token = issue(owner, pushed)
        beat(token)

        sweep = full_sweep()

        assert sweep.checks == 2
        assert probed_port.accepted >= 1  # the probe does reach this listener
        assert pushed_port.accepted == 0
        assert health(pushed) == ("up", "ok")
        assert health(probed)[0] == "down"

        # Revoked: back to being probed.
        api_as(owner).post(key_url(pushed, "revoke"))
        with time_machine.travel(timezone.now() + timedelta(seconds=301), tick=False):
            full_sweep()
        assert pushed_port.accepted >= 1


# --- registering a camera behind NAT, and the camera page ---------------------------------------


def active_site(partner) -> Site:
    site = factories.make_site(partner)
    Site.objects.filter(pk=site.pk).update(status=SiteStatus.ACTIVE)
    return site


def camera_fields(partner, **extra) -> dict:
    return {
        "owner": partner.pk,
        "vendor": "Hikvision",
        "model": "DS-2CD",
        "serial": f"NAT-{next(_serial)}",
        "resolution": "1920x1080",
        **extra,
    }


def test_camera_register_page_push_needs_no_address_and_shows_the_token_once(client, owner, host):
    site = active_site(host)
    client.force_login(owner)

    response = client.post(f"/sites/{site.pk}/cameras/new/", camera_fields(host, push="on"))

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    token = response.context["token"]
    assert token.startswith("mch_")
    assert token in response.content.decode()
    camera = Camera.objects.get(site=site)
    assert (camera.rtsp_url, camera.snapshot_url, camera.onvif_url) == ("", "", "")
    assert beat(token).status_code == 200
    page = client.get(f"/cameras/{camera.pk}/").content.decode()
    assert token[:12] in page
    assert token not in page


def test_camera_register_page_without_push_still_asks_for_an_address(client, owner, host):
    site = active_site(host)
    client.force_login(owner)

    response = client.post(f"/sites/{site.pk}/cameras/new/", camera_fields(host))

    assert response.status_code == 200
    assert "rtsp_url" in response.context["form"].errors
    assert not Camera.objects.filter(site=site).exists()


def test_camera_register_api_push_answers_with_the_token(owner, host):
    site = active_site(host)

    response = api_as(owner).post(
        "/api/cameras/", {"site": site.pk, **camera_fields(host, push=True)}, format="json"
    )

    assert response.status_code == 201, response.content
    token = response.json()["heartbeat_token"]
    key = CameraHeartbeatKey.objects.get(camera_id=response.json()["id"], revoked_at=None)
    assert key.token_hash == hashlib.sha256(token.encode()).hexdigest()
    shown = api_as(owner).get(f"/api/cameras/{response.json()['id']}/").json()
    assert "heartbeat_token" not in shown


def test_camera_register_api_push_by_a_technician_registers_nothing(host):
    technician = factories.UserFactory()
    membership_add(partner=host, user=technician, role=MemberRole.TECHNICIAN)
    site = active_site(host)

    response = api_as(technician).post(
        "/api/cameras/", {"site": site.pk, **camera_fields(host, push=True)}, format="json"
    )

    assert response.status_code == 403
    assert not Camera.objects.filter(site=site).exists()


def test_camera_page_switches_to_heartbeats_rotates_and_refuses_to_probe_without_address(
    client, owner, host
):
    camera = make_camera(host)
    client.force_login(owner)

    issued = client.post(f"/cameras/{camera.pk}/heartbeat/issue/")
    first = issued.context["token"]
    rotated = client.post(f"/cameras/{camera.pk}/heartbeat/rotate/")
    second = rotated.context["token"]
    refused = client.post(f"/cameras/{camera.pk}/heartbeat/revoke/", follow=True)

    assert first != second
    assert beat(first).status_code == 401
    assert beat(second).status_code == 200
    # No address to probe: it stays in push mode and the page says why.
    with translation.override(owner.language):
        why = gettext(
            "Give the camera an RTSP, snapshot or ONVIF address before it is probed again."
        )
    assert why in refused.content.decode()
    assert CameraHeartbeatKey.objects.filter(camera=camera, revoked_at=None).exists()
    assert client.get(f"/cameras/{camera.pk}/heartbeat/revoke/").status_code == 405
    assert client.post(f"/cameras/{camera.pk}/heartbeat/delete/").status_code == 404


def test_camera_page_heartbeat_buttons_of_another_partners_camera_are_404(
    client, host, other_owner
):
    camera = make_camera(host)
    client.force_login(other_owner)

    assert client.post(f"/cameras/{camera.pk}/heartbeat/issue/").status_code == 404
    assert not CameraHeartbeatKey.objects.exists()
