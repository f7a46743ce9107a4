"""The probe ladder against real asyncio servers on loopback, each playing one kind of camera."""

import asyncio
import contextlib
import hashlib
import io
import random
import re
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from sites.health.policy import ApprovedNetwork
from sites.health.probes import (
    ProbeConfig,
    ProbeSpec,
    probe_camera,
    spec_for_camera,
)
from tests import factories

LOOPBACK_NETS = (
    ApprovedNetwork.parse("127.0.0.0/8", range(1024, 65536)),
    ApprovedNetwork.parse("::1/128", range(1024, 65536)),
    ApprovedNetwork.parse("::ffff:0:0/96", range(1024, 65536)),
)


def _config(**overrides) -> ProbeConfig:
    values = {
        "connect_timeout": 0.5,
        "read_timeout": 0.3,
        "max_snapshot_bytes": 64 * 1024,
        "clock_drift_seconds": 60,
        "allow_loopback": True,
        "deny": (),
    }
    values.update(overrides)
    return ProbeConfig(**values)


def _jpeg(level: int | None = None) -> bytes:
    if level is None:
        pixels = bytes(random.Random(4).randint(50, 200) for _ in range(64 * 48))
    else:
        pixels = bytes([level]) * (64 * 48)
    out = io.BytesIO()
    Image.frombytes("L", (64, 48), pixels).save(out, "JPEG")
    return out.getvalue()


PICTURE = _jpeg()


def _http(status: str, body: bytes = b"", *headers: str) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class FakeCamera:
    """A loopback server answering each connection with `handler`; counts connections."""

    def __init__(self, handler):
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []

    async def _serve(self, reader, writer):
        self.connections += 1
        try:
            await self.handler(self, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the probe hung up, or the test is over: both are the point, not a failure
        finally:
            writer.close()

    async def read_request(self, reader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"Content-Length: (\d+)", head)
        body = await reader.readexactly(int(length.group(1))) if length else b""
        self.requests.append(head + body)
        return head + body

    @contextlib.asynccontextmanager
    async def running(self, host="127.0.0.1"):
        server = await asyncio.start_server(self._serve, host, 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()


def answer(response: bytes):
    async def handler(camera, reader, writer):
        await camera.read_request(reader)
        writer.write(response)
        await writer.drain()

    return handler


def rtsp_ok():
    return answer(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE\r\n\r\n")


async def _probe(spec_kwargs: dict, **config) -> tuple:
    spec = ProbeSpec(camera_id=1, networks=LOOPBACK_NETS, **spec_kwargs)
    started = time.monotonic()
    result = await probe_camera(spec, config=_config(**config))
    return result, time.monotonic() - started


def _snapshot_probe(handler, *, spec=None, **config):
    async def scenario():
        async with FakeCamera(handler).running() as camera:
            kwargs = {
                "snapshot_url": f"http://127.0.0.1:{camera.port}/snapshot.jpg",
                **(spec or {}),
            }
            result, elapsed = await _probe(kwargs, **config)
            return result, elapsed, camera

    return asyncio.run(scenario())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- outcomes ------------------------------------------------------------------------------------


def test_probe_camera_up_when_rtsp_and_snapshot_answer():
    async def scenario():
        async with (
            FakeCamera(rtsp_ok()).running() as rtsp,
            FakeCamera(answer(_http("200 OK", PICTURE))).running() as http,
        ):
            return await _probe(
                {
                    "rtsp_url": f"rtsp://127.0.0.1:{rtsp.port}/live",
                    "snapshot_url": f"http://127.0.0.1:{http.port}/snapshot.jpg",
                    "check_image": True,
                }
            )

    result, _ = asyncio.run(scenario())

    assert (result.status, result.reason) == ("up", "ok")
    assert result.image_hash == hashlib.sha256(PICTURE).hexdigest()
    assert result.latency_ms >= 0


def test_probe_camera_rtsp_401_still_counts_as_reachable():
    async def scenario():
        async with FakeCamera(
            answer(b"RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\n\r\n")
        ).running() as c:
            return await _probe({"rtsp_url": f"rtsp://127.0.0.1:{c.port}/live"})

    result, _ = asyncio.run(scenario())

    assert (result.status, result.reason) == ("up", "ok")


def test_probe_camera_refused_when_nothing_listens():
    result, _ = asyncio.run(_probe({"rtsp_url": f"rtsp://127.0.0.1:{_free_port()}/live"}))

    assert (result.status, result.reason) == ("down", "refused")


def test_probe_camera_refused_when_the_camera_hangs_up_without_answering():
    async def hang_up(camera, reader, writer):
        pass

    result, _, _ = _snapshot_probe(hang_up)

    assert (result.status, result.reason) == ("down", "refused")


def test_probe_camera_times_out_on_a_server_that_never_answers():
    async def silent(camera, reader, writer):
        await asyncio.sleep(30)

    async def scenario():
        async with FakeCamera(silent).running() as camera:
            return await _probe({"rtsp_url": f"rtsp://127.0.0.1:{camera.port}/live"})

    result, elapsed = asyncio.run(scenario())

    assert (result.status, result.reason) == ("down", "timeout")
    assert elapsed < 1.5


def test_probe_camera_cuts_off_a_slow_drip_at_the_deadline():
    async def drip(camera, reader, writer):
        await camera.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n\xff\xd8")
        for _ in range(1000):
            writer.write(b"\x00")
            await writer.drain()
            await asyncio.sleep(0.02)

    result, elapsed, _ = _snapshot_probe(drip, spec={"check_image": True})

    assert (result.status, result.reason) == ("down", "timeout")
    assert elapsed < 1.5


@pytest.mark.parametrize("chunked", [False, True])
def test_probe_camera_stops_reading_an_endless_body_at_the_byte_cap(chunked):
    async def endless(camera, reader, writer):
        await camera.read_request(reader)
        encoding = "Transfer-Encoding: chunked\r\n" if chunked else ""
        writer.write(f"HTTP/1.1 200 OK\r\n{encoding}\r\n".encode())
        block = b"\xff" * 4096
        while True:
            writer.write(b"1000\r\n" + block + b"\r\n" if chunked else block)
            await writer.drain()

    result, elapsed, _ = _snapshot_probe(
        endless, spec={"check_image": True}, max_snapshot_bytes=16 * 1024, read_timeout=5
    )

    assert (result.status, result.reason) == ("down", "bad_image")
    assert "larger than" in result.detail
    assert elapsed < 1.5


def test_probe_camera_refuses_a_declared_length_above_the_cap_without_reading_it():
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n\xff\xd8"

    result, _, _ = _snapshot_probe(answer(response), spec={"check_image": True})

    assert (result.status, result.reason) == ("down", "bad_image")


def test_probe_camera_between_image_checks_reads_only_the_first_bytes_of_the_snapshot():
    sent_all = []

    async def big_picture(camera, reader, writer):
        await camera.read_request(reader)
        # A 5 MB frame (above the cap) whose first bytes come at once and the rest never.
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n" + PICTURE[:64])
        await writer.drain()
        await asyncio.sleep(2)
        sent_all.append(True)

    result, elapsed, _ = _snapshot_probe(big_picture, read_timeout=1.5)

    assert (result.status, result.reason) == ("up", "ok")
    assert elapsed < 1.0  # hung up after the first bytes: no wait for the rest, no timeout
    assert not sent_all


@pytest.mark.parametrize("chunked", [False, True])
def test_probe_camera_between_image_checks_a_page_instead_of_a_jpeg_is_a_bad_image(chunked):
    page = b"<html><body>Please log in to view this camera</body></html>"
    if chunked:
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(page), page)
        response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    else:
        response = _http("200 OK", page)

    result, _, _ = _snapshot_probe(answer(response))

    assert (result.status, result.reason) == ("down", "bad_image")


@pytest.mark.parametrize(
    "garbage", [b"\x00\x01\x02garbage\xff\r\n\r\n", b"SSH-2.0-OpenSSH_9.6\r\n\r\n", b"x" * 40000]
)
def test_probe_camera_garbage_instead_of_rtsp_is_an_error_not_a_crash(garbage):
    async def scenario():
        async with FakeCamera(answer(garbage)).running() as camera:
            return await _probe({"rtsp_url": f"rtsp://127.0.0.1:{camera.port}/live"})

    result, _ = asyncio.run(scenario())

    assert (result.status, result.reason) == ("down", "http_error")


def test_probe_camera_garbage_instead_of_http_is_an_error_not_a_crash():
    result, _, _ = _snapshot_probe(answer(b"\x16\x03\x01 hello\r\n\r\n"))

    assert (result.status, result.reason) == ("down", "http_error")


def test_probe_camera_http_500_is_down():
    result, _, _ = _snapshot_probe(answer(_http("500 Internal Server Error", b"oops")))

    assert (result.status, result.reason) == ("down", "http_error")
    assert "500" in result.detail


@pytest.mark.parametrize(
    "body",
    [
        b"<html>login</html>",
        PICTURE[: len(PICTURE) // 2],  # truncated: no end-of-image marker
        b"\xff\xd8\xff\xe0" + b"\x00" * 200 + b"\xff\xd9",  # markers right, content not a picture
    ],
)
def test_probe_camera_snapshot_that_is_not_a_real_jpeg_is_a_bad_image(body):
    result, _, _ = _snapshot_probe(answer(_http("200 OK", body)), spec={"check_image": True})

    assert (result.status, result.reason) == ("down", "bad_image")


def test_probe_camera_black_frame_is_degraded():
    result, _, _ = _snapshot_probe(answer(_http("200 OK", _jpeg(3))), spec={"check_image": True})

    assert (result.status, result.reason) == ("degraded", "black")


def test_probe_camera_same_frame_as_last_time_is_frozen_when_checking_images():
    last = hashlib.sha256(PICTURE).hexdigest()

    frozen, _, _ = _snapshot_probe(
        answer(_http("200 OK", PICTURE)), spec={"check_image": True, "last_image_hash": last}
    )
    not_checked, _, _ = _snapshot_probe(
        answer(_http("200 OK", PICTURE)), spec={"check_image": False, "last_image_hash": last}
    )

    assert (frozen.status, frozen.reason) == ("degraded", "frozen")
    assert (not_checked.status, not_checked.reason) == ("up", "ok")


def _onvif_answer(at: datetime):
    body = (
        '<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:tt="http://www.onvif.org/ver10/schema"><env:Body><tds:GetSystemDateAndTimeResponse>'
        f"<tds:SystemDateAndTime><tt:UTCDateTime><tt:Time><tt:Hour>{at.hour}</tt:Hour>"
        f"<tt:Minute>{at.minute}</tt:Minute><tt:Second>{at.second}</tt:Second></tt:Time><tt:Date>"
        f"<tt:Year>{at.year}</tt:Year><tt:Month>{at.month}</tt:Month><tt:Day>{at.day}</tt:Day>"
        "</tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        "</env:Body></env:Envelope>"
    )
    return answer(_http("200 OK", body.encode(), "Content-Type: application/soap+xml"))


@pytest.mark.parametrize(("offset", "expected"), [(0, "ok"), (3600, "clock_drift")])
def test_probe_camera_onvif_clock_drift_is_degraded(offset, expected):
    async def scenario():
        at = datetime.now(tz=UTC) + timedelta(seconds=offset)
        async with (
            FakeCamera(rtsp_ok()).running() as rtsp,
            FakeCamera(_onvif_answer(at)).running() as onvif,
        ):
            result, _ = await _probe(
                {
                    "rtsp_url": f"rtsp://127.0.0.1:{rtsp.port}/live",
                    "onvif_url": f"http://127.0.0.1:{onvif.port}/onvif/device_service",
                    "check_clock": True,
                }
            )
            return result, onvif.requests

    result, requests = asyncio.run(scenario())

    assert result.reason == expected
    assert result.status == ("up" if expected == "ok" else "degraded")
    assert b"GetSystemDateAndTime" in requests[0]


def _digest_camera(username: str, password: str):
    realm, nonce = "IP Camera", "abc123nonce"
    challenge = _http(
        "401 Unauthorized",
        b"",
        f'WWW-Authenticate: Digest realm="{realm}", nonce="{nonce}", qop="auth"',
    )

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    async def handler(camera, reader, writer):
        request = (await camera.read_request(reader)).decode()
        found = re.search(r"Authorization: Digest (.*)\r\n", request)
        if not found:
            writer.write(challenge)
            return
        fields = dict(re.findall(r'(\w+)="?([^",]*)"?', found.group(1)))
        ha1 = md5(f"{username}:{realm}:{password}")
        ha2 = md5(f"GET:{fields['uri']}")
        expected = md5(f"{ha1}:{nonce}:{fields['nc']}:{fields['cnonce']}:auth:{ha2}")
        ok = fields["response"] == expected and fields["username"] == username
        writer.write(_http("200 OK", PICTURE) if ok else challenge)

    return handler


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        ({"username": "admin", "password": "s3cret"}, ("up", "ok")),
        ({"username": "admin", "password": "wrong"}, ("down", "http_error")),
        ({}, ("down", "http_error")),
    ],
)
def test_probe_camera_answers_a_digest_challenge_with_the_credentials(credentials, expected):
    result, _, camera = _snapshot_probe(_digest_camera("admin", "s3cret"), spec=credentials)

    assert (result.status, result.reason) == expected
    assert camera.connections == (2 if credentials else 1)


def test_probe_camera_sends_basic_auth_when_asked_for_it():
    async def handler(camera, reader, writer):
        request = await camera.read_request(reader)
        if b"Authorization: Basic YWRtaW46czNjcmV0\r\n" in request:  # admin:s3cret
            writer.write(_http("200 OK", PICTURE))
        else:
            writer.write(_http("401 Unauthorized", b"", 'WWW-Authenticate: Basic realm="cam"'))

    result, _, _ = _snapshot_probe(handler, spec={"username": "admin", "password": "s3cret"})

    assert (result.status, result.reason) == ("up", "ok")


def test_probe_camera_follows_a_redirect_inside_the_approved_network():
    async def scenario():
        async with FakeCamera(answer(_http("200 OK", PICTURE))).running() as target:
            moved = _http("302 Found", b"", f"Location: http://127.0.0.1:{target.port}/real.jpg")
            async with FakeCamera(answer(moved)).running() as first:
                result, _ = await _probe({"snapshot_url": f"http://127.0.0.1:{first.port}/s.jpg"})
                return result, target.requests

    result, requests = asyncio.run(scenario())

    assert (result.status, result.reason) == ("up", "ok")
    assert requests[0].startswith(b"GET /real.jpg HTTP/1.1")


def test_probe_camera_gives_up_after_two_redirects():
    async def loop_forever(camera, reader, writer):
        await camera.read_request(reader)
        writer.write(_http("302 Found", b"", f"Location: http://127.0.0.1:{camera.port}/again"))

    result, _, camera = _snapshot_probe(loop_forever)

    assert (result.status, result.reason) == ("down", "http_error")
    assert camera.connections == 3


def test_probe_camera_without_any_address_is_unreachable():
    result, _ = asyncio.run(_probe({}))

    assert (result.status, result.reason) == ("down", "unreachable")


# --- SSRF: blocked, and not one connection made ------------------------------------------


@contextlib.asynccontextmanager
async def _listening_everywhere(handler=None):
    """One fake camera on 127.0.0.1 (and ::1 when the machine has IPv6) on the same port."""
    camera = FakeCamera(handler or answer(_http("200 OK", PICTURE)))
    hosts = ["127.0.0.1"]
    if socket.has_ipv6:
        with contextlib.suppress(OSError), socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            hosts.append("::1")
    server = await asyncio.start_server(camera._serve, hosts, 0)
    camera.port = server.sockets[0].getsockname()[1]
    try:
        yield camera
    finally:
        server.close()


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "2130706433", "0x7f.1", "localhost"]
)
def test_probe_camera_blocks_loopback_when_not_allowed_and_sends_nothing(host):
    async def scenario():
        async with _listening_everywhere() as camera:
            result, _ = await _probe(
                {"snapshot_url": f"http://{host}:{camera.port}/snapshot.jpg"}, allow_loopback=False
            )
            return result, camera.connections

    result, connections = asyncio.run(scenario())

    assert (result.status, result.reason) == ("down", "blocked_by_policy")
    assert connections == 0


def test_probe_camera_blocks_the_metadata_address():
    result, _ = asyncio.run(_probe({"snapshot_url": "http://169.254.169.254/latest/meta-data/"}))

    assert (result.status, result.reason) == ("down", "blocked_by_policy")


@pytest.mark.parametrize("which", ["database", "broker"])
def test_probe_camera_blocks_the_database_and_broker_hosts(which, settings, monkeypatch):
    settings.ALLOWED_HOSTS = []
    settings.SITE_URL = "https://10.255.0.1"
    settings.HEALTH_DENY_HOSTS = []
    settings.CELERY_BROKER_URL = "filesystem://"
    monkeypatch.setitem(settings.DATABASES["default"], "HOST", "/tmp/socket-dir")

    async def scenario():
        async with _listening_everywhere() as camera:
            if which == "database":
                monkeypatch.setitem(settings.DATABASES["default"], "HOST", "127.0.0.1")
            else:
                settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{camera.port}/0"
            config = ProbeConfig.from_settings(
                connect_timeout=0.5, read_timeout=0.5, allow_loopback=True
            )
            spec = ProbeSpec(
                camera_id=1,
                networks=LOOPBACK_NETS,
                snapshot_url=f"http://127.0.0.1:{camera.port}/snapshot.jpg",
            )
            result = await probe_camera(spec, config=config)
            return result, camera.connections

    result, connections = asyncio.run(scenario())

    assert (result.status, result.reason) == ("down", "blocked_by_policy")
    assert connections == 0


def test_probe_camera_blocks_a_redirect_inward_after_an_allowed_first_hop():
    async def scenario():
        async with _listening_everywhere() as inner:
            # The camera's own port is approved, the inner service's port is not.
            nets = (ApprovedNetwork.parse("127.0.0.0/8", [0]),)
            outcomes = []
            for location in (
                f"http://127.0.0.1:{inner.port}/",
                "http://169.254.169.254/latest/meta-data/",
                "http://[::ffff:a9fe:a9fe]/",
            ):
                moved = _http("302 Found", b"", f"Location: {location}")
                async with FakeCamera(answer(moved)).running() as first:
                    allowed = (ApprovedNetwork.parse("127.0.0.0/8", [first.port]), *nets)
                    spec = ProbeSpec(
                        camera_id=1,
                        networks=allowed,
                        snapshot_url=f"http://127.0.0.1:{first.port}/snapshot.jpg",
                    )
                    result = await probe_camera(spec, config=_config())
                    outcomes.append((result.reason, first.connections))
            return outcomes, inner.connections

    outcomes, inner_connections = asyncio.run(scenario())

    assert outcomes == [("blocked_by_policy", 1)] * 3
    assert inner_connections == 0


def test_probe_camera_blocks_a_port_outside_the_approved_network():
    async def scenario():
        async with _listening_everywhere() as camera:
            nets = (ApprovedNetwork.parse("127.0.0.0/8", [camera.port + 1]),)
            spec = ProbeSpec(
                camera_id=1, networks=nets, rtsp_url=f"rtsp://127.0.0.1:{camera.port}/live"
            )
            return await probe_camera(spec, config=_config()), camera.connections

    result, connections = asyncio.run(scenario())

    assert (result.status, result.reason) == ("down", "blocked_by_policy")
    assert connections == 0


def test_probe_camera_checks_every_url_before_the_first_packet():
    async def scenario():
        async with _listening_everywhere() as camera:
            spec = ProbeSpec(
                camera_id=1,
                networks=LOOPBACK_NETS,
                rtsp_url=f"rtsp://127.0.0.1:{camera.port}/live",
                snapshot_url="http://169.254.169.254/snapshot.jpg",
            )
            return await probe_camera(spec, config=_config()), camera.connections

    result, connections = asyncio.run(scenario())

    assert result.reason == "blocked_by_policy"
    assert connections == 0


def test_spec_for_camera_decrypts_the_password_and_carries_the_owners_networks(db):
    partner = factories.verified_partner()
    camera = factories.inventory_rows(partner, factories.officer())["sites.Camera"]
    networks = (ApprovedNetwork.parse("10.77.0.0/24", [554]),)

    spec = spec_for_camera(camera, networks=networks, check_image=True)

    assert spec.password == "admin-secret"
    assert "admin-secret" not in repr(spec)
    assert (spec.camera_id, spec.rtsp_url, spec.networks) == (
        camera.pk,
        "rtsp://10.77.0.5/live",
        networks,
    )
