"""The probe ladder: is a camera up, degraded or down, and why.

Pure asyncio (no threads), so one process can hold thousands of probes in flight. Each camera runs
TCP connect -> RTSP OPTIONS -> HTTP snapshot -> ONVIF time, every step where the camera offers it.
Every network wait is bounded and every failure becomes a ProbeResult: a hung, slow-dripping or
hostile camera costs at most its deadline and never raises out of probe_camera, because a camera
that is down is a result, not an error of the sweep that checked it.
"""

import asyncio
import base64
import contextlib
import gc
import hashlib
import io
import logging
import os
import re
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin

from django.conf import settings
from PIL import Image

from sites.health.policy import (
    ApprovedNetwork,
    Blocked,
    IPNetwork,
    Target,
    UnresolvableHost,
    configured_deny,
    resolve_target_async,
)

logger = logging.getLogger(__name__)

UP, DEGRADED, DOWN = "up", "degraded", "down"
OK = "ok"
TIMEOUT = "timeout"
REFUSED = "refused"
HTTP_ERROR = "http_error"
BAD_IMAGE = "bad_image"
BLACK = "black"
FROZEN = "frozen"
CLOCK_DRIFT = "clock_drift"
BLOCKED_BY_POLICY = "blocked_by_policy"
UNREACHABLE = "unreachable"

MAX_REDIRECTS = 2
_HEAD_LIMIT = 16 * 1024  # status line + headers; anything longer is not a camera talking
_ONVIF_LIMIT = 64 * 1024
_JPEG_SNIFF_BYTES = 16  # SOI marker and the first segment header: "this is a JPEG"
# A frame this large would cost real memory to decode even at 1/8 scale.
_MAX_PIXELS = 64_000_000
_USER_AGENT = "MitraCCTV-health/1"
_STATUS_LINE = re.compile(rb"^(HTTP|RTSP)/\d\.\d (\d{3})(?: |\r?$)")
_AUTH_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')
_ONVIF_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
    b'<s:Body xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
    b"<tds:GetSystemDateAndTime/></s:Body></s:Envelope>"
)
_ONVIF_CONTENT_TYPE = (
    'application/soap+xml; charset=utf-8; action="http://www.onvif.org/ver10/device/wsdl/'
    'GetSystemDateAndTime"'
)
_UTC_DATETIME = re.compile(
    rb"<(?:[\w-]+:)?UTCDateTime\b[^>]*>(.*?)</(?:[\w-]+:)?UTCDateTime>", re.S
)


def _field(name: str) -> re.Pattern:
    return re.compile(rb"<(?:[\w-]+:)?" + name.encode() + rb">\s*(\d{1,4})\s*<", re.S)


_DATE_FIELDS = {name: _field(name) for name in ("Year", "Month", "Day", "Hour", "Minute", "Second")}


def _tls_context() -> ssl.SSLContext:
    # Cameras ship self-signed certificates; what keeps the checker safe is the address policy
    # (we connect only to the checked IP), not the certificate.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


_TLS = _tls_context()


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """What one probe needs to know about one camera, detached from the database."""

    camera_id: int
    networks: tuple[ApprovedNetwork, ...]  # approved for the camera's owner, nobody else's
    rtsp_url: str = ""
    snapshot_url: str = ""
    onvif_url: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    last_image_hash: str = ""
    check_image: bool = False  # decode the frame: black and frozen (a slower cadence)
    check_clock: bool = False  # ask ONVIF for the time (a slower cadence)


@dataclass(frozen=True, slots=True)
class ProbeConfig:
    """Timeouts and policy shared by every probe of a sweep."""

    connect_timeout: float
    read_timeout: float
    max_snapshot_bytes: int
    clock_drift_seconds: float
    allow_loopback: bool
    deny: tuple[IPNetwork, ...]
    black_luminance: float = 12.0  # mean of 0..255 below which a frame counts as black

    @classmethod
    def from_settings(cls, **overrides) -> "ProbeConfig":
        """The configured values; resolves the deny list, so build it once, outside the loop."""
        values = {
            "connect_timeout": settings.HEALTH_CONNECT_TIMEOUT,
            "read_timeout": settings.HEALTH_READ_TIMEOUT,
            "max_snapshot_bytes": settings.HEALTH_MAX_SNAPSHOT_BYTES,
            "clock_drift_seconds": settings.HEALTH_CLOCK_DRIFT_SECONDS,
            "allow_loopback": settings.HEALTH_ALLOW_LOOPBACK,
        }
        values.update(overrides)
        if "deny" not in values:
            values["deny"] = configured_deny()
        return cls(**values)

    @property
    def deadline(self) -> float:
        """Upper bound for a whole probe, whatever a camera does."""
        return 2 * (self.connect_timeout + self.read_timeout)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The outcome of one probe. `detail` is for operators, never shown to partners verbatim."""

    camera_id: int
    status: str
    reason: str
    latency_ms: int
    image_hash: str = ""
    detail: str = ""


class _Outcome(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, status: str, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


def decrypt_password(camera_id: int, token: str) -> str:
    """A camera's stored password in clear, or "" (with a warning) when it cannot be read."""
    if not token:
        return ""
    from portal.crypto import decrypt

    try:
        return decrypt(token)
    except ValueError:
        # Unreadable with the current keys: probe without credentials; a 401 will say so.
        logger.warning("camera %s: stored password cannot be decrypted", camera_id)
        return ""


def spec_for_camera(
    camera,
    *,
    networks: Iterable[ApprovedNetwork],
    last_image_hash: str = "",
    check_image: bool = False,
    check_clock: bool = False,
) -> ProbeSpec:
    """A ProbeSpec from a sites.models.Camera; `networks` are the owner's approved networks."""
    return ProbeSpec(
        camera_id=camera.pk,
        networks=tuple(networks),
        rtsp_url=camera.rtsp_url,
        snapshot_url=camera.snapshot_url,
        onvif_url=camera.onvif_url,
        username=camera.username,
        password=decrypt_password(camera.pk, camera.password_encrypted),
        last_image_hash=last_image_hash,
        check_image=check_image,
        check_clock=check_clock,
    )


# --- connections ---------------------------------------------------------------------------------


async def _resolve(url: str, spec: ProbeSpec, config: ProbeConfig) -> Target:
    try:
        target = await resolve_target_async(
            url,
            networks=spec.networks,
            allow_loopback=config.allow_loopback,
            deny=config.deny,
            timeout=config.connect_timeout,
        )
    except UnresolvableHost as exc:
        raise _Outcome(DOWN, UNREACHABLE, str(exc)) from None
    if isinstance(target, Blocked):
        raise _Outcome(DOWN, BLOCKED_BY_POLICY, target.detail)
    return target


class _Exchange(asyncio.Protocol):
    """One request and its answer, parsed in the transport's callbacks.

    A Protocol rather than StreamReader/StreamWriter: no reader object, no per-read coroutine
    round trip, one future per exchange. The same guarantees hold: the head is capped at
    _HEAD_LIMIT, the body at `cap` (a declared length above it is refused before reading), and a
    single timer bounds the whole answer so a server dripping a byte at a time cannot reset it.
    """

    __slots__ = (
        "what", "cap", "head_only", "timeout_detail", "future", "transport", "timer", "buffer",
        "status", "headers", "start", "mode", "length", "body", "pos", "prefix",
    )  # fmt: skip

    def __init__(
        self,
        future: asyncio.Future,
        what: str,
        cap: int,
        head_only: bool,
        timeout_detail: str,
        prefix: int = 0,
    ) -> None:
        self.future = future
        self.what = what
        self.cap = cap
        self.head_only = head_only
        # > 0: the body's first `prefix` bytes are all the caller needs; hang up once they are in.
        self.prefix = prefix
        self.timeout_detail = timeout_detail
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.buffer = bytearray()
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.start = 0  # where the body begins in buffer
        self.mode = ""  # "length", "chunked" or "eof"
        self.length = 0
        self.body = bytearray()  # chunked only: the de-chunked payload so far
        self.pos = 0  # chunked only: next unparsed byte in buffer

    # --- outcome ---------------------------------------------------------------------------

    def _finish(self, payload: bytes) -> None:
        if not self.future.done():
            self.future.set_result((self.status, self.headers, payload))
        self._stop()

    def _fail(self, status: str, reason: str, detail: str) -> None:
        if not self.future.done():
            self.future.set_exception(_Outcome(status, reason, detail))
        self._stop()

    def _stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        # abort, not close: a hostile peer could hold a graceful shutdown open forever.
        if self.transport is not None:
            self.transport.abort()

    def _timed_out(self) -> None:
        self.timer = None
        self._fail(DOWN, TIMEOUT, self.timeout_detail)

    def send(self, request: bytes, timeout: float) -> None:
        self.timer = self.future.get_loop().call_later(timeout, self._timed_out)
        self.transport.write(request)

    # --- transport callbacks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.future.done():
            return
        self.buffer += data
        if self.status is None:
            self._head(len(data))
        elif self.mode:
            self._body()

    def eof_received(self) -> bool:
        self._ended(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended(exc)
        self.transport = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    # --- parsing ---------------------------------------------------------------------------

    def _head(self, received: int) -> None:
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n", max(0, len(buffer) - received - 3))
        if end < 0:
            if len(buffer) > _HEAD_LIMIT:
                self._fail(DOWN, HTTP_ERROR, f"{self.what}: answer header too long")
            return
        if end + 4 > _HEAD_LIMIT:
            self._fail(DOWN, HTTP_ERROR, f"{self.what}: answer header too long")
            return
        match = _STATUS_LINE.match(buffer[: end + 4])
        if not match:
            self._fail(DOWN, HTTP_ERROR, f"{self.what}: not a {self.what} answer")
            return
        self.status = status = int(match.group(2))
        if self.head_only:
            self._finish(b"")  # RTSP OPTIONS: the status line is the whole answer we need
            return
        headers = self.headers
        for line in buffer[:end].decode("latin-1").split("\r\n")[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if status != 200:
            self._finish(b"")  # redirects, challenges and errors: the head says enough
            return
        self.start = self.pos = end + 4
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.mode = "chunked"
        elif "content-length" in headers:
            try:
                self.length = int(headers["content-length"])
            except ValueError:
                self.length = -1
            if self.length < 0:
                self._fail(DOWN, HTTP_ERROR, "malformed answer body")
                return
            if self.length > self.cap and not self.prefix:
                self._fail(DOWN, BAD_IMAGE, f"answer larger than {self.cap} bytes")
                return
            self.mode = "length"
        else:
            self.mode = "eof"
        self._body()

    def _body(self) -> None:
        buffer = self.buffer
        if self.mode == "length":
            need = min(self.length, self.prefix) if self.prefix else self.length
            if len(buffer) - self.start >= need:
                self._finish(bytes(buffer[self.start : self.start + need]))
        elif self.mode == "eof":
            if self.prefix and len(buffer) - self.start >= self.prefix:
                self._finish(bytes(buffer[self.start : self.start + self.prefix]))
            elif len(buffer) - self.start > self.cap:
                self._fail(DOWN, BAD_IMAGE, f"answer larger than {self.cap} bytes")
        else:
            self._chunks()

    def _chunks(self) -> None:
        buffer, pos = self.buffer, self.pos
        while True:
            line_end = buffer.find(b"\r\n", pos)
            if line_end < 0:
                if len(buffer) - pos > _HEAD_LIMIT:
                    self._fail(DOWN, HTTP_ERROR, "malformed answer body")
                    return
                break
            try:
                size = int(bytes(buffer[pos:line_end]).split(b";", 1)[0].strip() or b"x", 16)
            except ValueError:
                self._fail(DOWN, HTTP_ERROR, "malformed answer body")
                return
            if size < 0:
                self._fail(DOWN, HTTP_ERROR, "malformed answer body")
                return
            if size == 0:
                self._finish(bytes(self.body))
                return
            if len(self.body) + size > self.cap and not self.prefix:
                self._fail(DOWN, BAD_IMAGE, f"answer larger than {self.cap} bytes")
                return
            data_end = line_end + 2 + size
            if len(buffer) < data_end + 2:
                break
            self.body += buffer[line_end + 2 : data_end]
            pos = data_end + 2
            if self.prefix and len(self.body) >= self.prefix:
                self._finish(bytes(self.body[: self.prefix]))
                return
        # Keep only what is not parsed yet: memory stays bounded by one chunk, not the stream.
        del buffer[:pos]
        self.pos = 0

    def _ended(self, exc: Exception | None) -> None:
        if self.future.done():
            return
        if self.status is None:
            if exc is not None:
                self._fail(DOWN, REFUSED, f"{self.what}: connection reset")
            elif not self.buffer:
                self._fail(DOWN, REFUSED, f"{self.what}: closed without answering")
            else:
                self._fail(DOWN, HTTP_ERROR, f"{self.what}: truncated answer")
        elif self.mode == "eof" and exc is None:
            self._finish(bytes(self.buffer[self.start :]))
        else:
            self._fail(DOWN, HTTP_ERROR, "answer body cut short")


def _expire(task: asyncio.Task, expired: list[bool]) -> None:
    expired.append(True)
    task.cancel()


async def _exchange(
    target: Target,
    config: ProbeConfig,
    request: bytes,
    *,
    what: str,
    cap: int,
    head_only: bool,
    timeout_detail: str,
    prefix: int = 0,
) -> tuple[int, dict[str, str], bytes]:
    """Connect to the checked IP, send `request`, and return (status, headers, body)."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    tls = _TLS if target.scheme == "https" else None
    # What asyncio.timeout does, without its context-manager objects (this runs twice a check):
    # a timer cancels the connecting task, and only a cancellation of our own becomes a timeout.
    task = asyncio.current_task()
    expired: list[bool] = []
    timer = loop.call_later(config.connect_timeout, _expire, task, expired)
    try:
        transport, protocol = await loop.create_connection(
            lambda: _Exchange(future, what, cap, head_only, timeout_detail, prefix),
            target.ip,
            target.port,
            ssl=tls,
            server_hostname=target.host if tls else None,
        )
    except asyncio.CancelledError:
        if expired and task.uncancel() == 0:
            raise _Outcome(
                DOWN, TIMEOUT, f"connecting to {target.ip}:{target.port} timed out"
            ) from None
        raise
    except ConnectionRefusedError:
        raise _Outcome(DOWN, REFUSED, f"{target.ip}:{target.port} refused the connection") from None
    except (OSError, ssl.SSLError) as exc:
        raise _Outcome(DOWN, UNREACHABLE, f"{target.ip}:{target.port}: {exc}") from None
    finally:
        timer.cancel()
    try:
        if not future.done():  # the peer may already have hung up while we connected
            protocol.send(request, config.read_timeout)
        return await future
    finally:
        protocol._stop()


# --- RTSP ----------------------------------------------------------------------------------------


async def _rtsp_options(target: Target, config: ProbeConfig) -> None:
    request = (
        f"OPTIONS rtsp://{target.host_header}{target.path} RTSP/1.0\r\n"
        f"CSeq: 1\r\nUser-Agent: {_USER_AGENT}\r\n\r\n"
    ).encode()
    status, _, _ = await _exchange(
        target,
        config,
        request,
        what="RTSP",
        cap=0,
        head_only=True,
        timeout_detail="RTSP OPTIONS got no answer in time",
    )
    # 401 still proves a live RTSP server; credentials are the stream consumer's business.
    if status not in (200, 401):
        raise _Outcome(DOWN, HTTP_ERROR, f"RTSP OPTIONS answered {status}")


# --- HTTP ----------------------------------------------------------------------------------------


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _AUTH_PARAM.finditer(rest)
    }
    return scheme.lower(), params


def _authorization(header: str, method: str, uri: str, username: str, password: str) -> str | None:
    scheme, params = _challenge(header)
    if scheme == "basic":
        return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    if scheme != "digest" or "nonce" not in params:
        return None
    algorithm = params.get("algorithm", "MD5").upper()
    name = {"MD5": "md5", "MD5-SESS": "md5", "SHA-256": "sha256", "SHA-256-SESS": "sha256"}.get(
        algorithm
    )
    if name is None:
        return None

    def digest(text: str) -> str:
        return hashlib.new(name, text.encode(), usedforsecurity=False).hexdigest()

    realm, nonce = params.get("realm", ""), params["nonce"]
    cnonce = os.urandom(8).hex()
    ha1 = digest(f"{username}:{realm}:{password}")
    if algorithm.endswith("-SESS"):
        ha1 = digest(f"{ha1}:{nonce}:{cnonce}")
    ha2 = digest(f"{method}:{uri}")
    qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
    parts = [
        f'username="{username}"',
        f'realm="{realm}"',
        f'nonce="{nonce}"',
        f'uri="{uri}"',
        f"algorithm={params.get('algorithm', 'MD5')}",
    ]
    if "auth" in qops:
        response = digest(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}")
        parts += ["qop=auth", "nc=00000001", f'cnonce="{cnonce}"']
    else:
        response = digest(f"{ha1}:{nonce}:{ha2}")
    parts.append(f'response="{response}"')
    if "opaque" in params:
        parts.append(f'opaque="{params["opaque"]}"')
    return "Digest " + ", ".join(parts)


async def _http_once(
    target: Target,
    config: ProbeConfig,
    *,
    method: str,
    body: bytes,
    content_type: str,
    authorization: str | None,
    cap: int,
    prefix: int = 0,
) -> tuple[int, dict[str, str], bytes]:
    lines = [
        f"{method} {target.path} HTTP/1.1",
        f"Host: {target.host_header}",
        f"User-Agent: {_USER_AGENT}",
        "Accept: */*",
        "Connection: close",
    ]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    if body:
        lines += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    return await _exchange(
        target,
        config,
        request,
        what="HTTP",
        cap=cap,
        head_only=False,
        timeout_detail=f"{method} {target.url} got no full answer in time",
        prefix=prefix,
    )


async def _http_fetch(
    url: str,
    spec: ProbeSpec,
    config: ProbeConfig,
    *,
    method: str = "GET",
    body: bytes = b"",
    content_type: str = "",
    cap: int,
    prefix: int = 0,
    first: Target | None = None,
) -> bytes:
    target = first or await _resolve(url, spec, config)
    authorization: str | None = None
    redirects = 0
    tried_auth = False
    while True:
        status, headers, payload = await _http_once(
            target,
            config,
            method=method,
            body=body,
            content_type=content_type,
            authorization=authorization,
            cap=cap,
            prefix=prefix,
        )
        if status == 200:
            return payload
        if status == 401 and spec.username and not tried_auth and "www-authenticate" in headers:
            tried_auth = True
            authorization = _authorization(
                headers["www-authenticate"], method, target.path, spec.username, spec.password
            )
            if authorization:
                continue
        if status in (301, 302, 303, 307, 308) and headers.get("location") and method == "GET":
            redirects += 1
            if redirects > MAX_REDIRECTS:
                raise _Outcome(DOWN, HTTP_ERROR, f"more than {MAX_REDIRECTS} redirects")
            # Every hop is checked again: a redirect is a new address chosen by the camera.
            target = await _resolve(urljoin(target.url, headers["location"]), spec, config)
            authorization, tried_auth = None, False
            continue
        raise _Outcome(DOWN, HTTP_ERROR, f"{method} {target.url} answered {status}")


# --- image and clock -----------------------------------------------------------------------------


def _mean_luminance(jpeg: bytes) -> float:
    with Image.open(io.BytesIO(jpeg)) as image:
        if image.format != "JPEG":
            raise ValueError("not a JPEG")
        width, height = image.size
        if width * height > _MAX_PIXELS:
            raise ValueError(f"{width}x{height} is too large")
        # draft() makes libjpeg decode at 1/8 scale in greyscale: the cheap part of the check.
        image.draft("L", (64, 48))
        grey = image.convert("L")
        histogram = grey.histogram()
    pixels = sum(histogram) or 1
    return sum(level * count for level, count in enumerate(histogram)) / pixels


def _check_image(jpeg: bytes, spec: ProbeSpec, config: ProbeConfig) -> str:
    """The frame's sha256 ("" unless checking the image); raises an _Outcome when it is not a
    usable picture."""
    if not jpeg.startswith(b"\xff\xd8\xff"):
        raise _Outcome(DOWN, BAD_IMAGE, "snapshot is not a JPEG")
    if not spec.check_image:
        # Only the first bytes were read (see _ladder); the whole frame, its end marker and its
        # hash (frozen = same frame as the last image check) wait for the image check.
        return ""
    if not jpeg.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9"):
        raise _Outcome(DOWN, BAD_IMAGE, "snapshot JPEG is truncated")
    image_hash = hashlib.sha256(jpeg).hexdigest()
    try:
        luminance = _mean_luminance(jpeg)
    except Exception as exc:  # Pillow raises many types for hostile input
        raise _Outcome(DOWN, BAD_IMAGE, f"snapshot does not decode: {exc}") from None
    if luminance < config.black_luminance:
        raise _Outcome(DEGRADED, BLACK, f"mean luminance {luminance:.1f}")
    if spec.last_image_hash and image_hash == spec.last_image_hash:
        raise _Outcome(DEGRADED, FROZEN, "same frame as the previous check")
    return image_hash


def _camera_time(soap: bytes) -> datetime:
    block = _UTC_DATETIME.search(soap)
    if not block:
        raise ValueError("no UTCDateTime in the answer")
    values = {}
    for name, pattern in _DATE_FIELDS.items():
        found = pattern.search(block.group(1))
        if not found:
            raise ValueError(f"UTCDateTime has no {name}")
        values[name.lower()] = int(found.group(1))
    return datetime(tzinfo=UTC, **values)


async def _clock(target: Target, spec: ProbeSpec, config: ProbeConfig) -> None:
    try:
        asked = time.time()
        soap = await _http_fetch(
            target.url,
            spec,
            config,
            method="POST",
            body=_ONVIF_BODY,
            content_type=_ONVIF_CONTENT_TYPE,
            cap=_ONVIF_LIMIT,
            first=target,
        )
        now = (asked + time.time()) / 2
        drift = _camera_time(soap).timestamp() - now
    except _Outcome as outcome:
        # The video already answered: a broken ONVIF service degrades the camera, not downs it.
        raise _Outcome(DEGRADED, outcome.reason, f"ONVIF: {outcome.detail}") from None
    except (ValueError, OverflowError) as exc:
        raise _Outcome(DEGRADED, HTTP_ERROR, f"ONVIF: {exc}") from None
    if abs(drift) > config.clock_drift_seconds:
        raise _Outcome(DEGRADED, CLOCK_DRIFT, f"camera clock off by {drift:+.0f} s")


# --- the ladder ----------------------------------------------------------------------------------


async def _ladder(spec: ProbeSpec, config: ProbeConfig, found: dict[str, str]) -> None:
    urls = {"rtsp": spec.rtsp_url, "snapshot": spec.snapshot_url}
    if spec.check_clock:
        urls["onvif"] = spec.onvif_url
    urls = {step: url.strip() for step, url in urls.items() if url and url.strip()}
    if not urls:
        raise _Outcome(DOWN, UNREACHABLE, "camera has no RTSP or snapshot address")
    # Check every address before the first packet: a blocked URL anywhere means none is sent.
    targets = {step: await _resolve(url, spec, config) for step, url in urls.items()}
    if "rtsp" in targets:
        await _rtsp_options(targets["rtsp"], config)
    if "snapshot" in targets:
        jpeg = await _http_fetch(
            targets["snapshot"].url,
            spec,
            config,
            cap=config.max_snapshot_bytes,
            # Between image checks, the JPEG's first bytes show the camera serves pictures: the
            # rest (a few hundred kB a camera, 60,000 cameras every few minutes) stays unsent.
            prefix=0 if spec.check_image else _JPEG_SNIFF_BYTES,
            first=targets["snapshot"],
        )
        found["image_hash"] = _check_image(jpeg, spec, config)
    if "onvif" in targets:
        await _clock(targets["onvif"], spec, config)


async def probe_camera(spec: ProbeSpec, *, config: ProbeConfig) -> ProbeResult:
    """Run the ladder for one camera; never raises for anything the camera does."""
    started = time.monotonic()
    found: dict[str, str] = {}
    status, reason, detail = UP, OK, ""
    # The whole-probe bound, as in _exchange: a timer and our own cancellation, not asyncio.timeout.
    task = asyncio.current_task()
    expired: list[bool] = []
    timer = asyncio.get_running_loop().call_later(config.deadline, _expire, task, expired)
    try:
        await _ladder(spec, config, found)
    except _Outcome as outcome:
        status, reason, detail = outcome.status, outcome.reason, outcome.detail
    except asyncio.CancelledError:
        if not expired or task.uncancel() != 0:
            raise  # the sweep itself is being cancelled: not ours to swallow
        status, reason, detail = DOWN, TIMEOUT, f"probe exceeded {config.deadline:.1f} s"
    except TimeoutError:
        status, reason, detail = DOWN, TIMEOUT, f"probe exceeded {config.deadline:.1f} s"
    except Exception as exc:
        logger.exception("camera %s: unexpected probe failure", spec.camera_id)
        status, reason, detail = DOWN, UNREACHABLE, f"{type(exc).__name__}: {exc}"
    finally:
        timer.cancel()
    return ProbeResult(
        camera_id=spec.camera_id,
        status=status,
        reason=reason,
        latency_ms=round((time.monotonic() - started) * 1000),
        image_hash=found.get("image_hash", ""),
        detail=detail,
    )


async def probe_many(
    specs: Sequence[ProbeSpec], *, config: ProbeConfig, concurrency: int = 500
) -> list[ProbeResult]:
    """Probe every camera with at most `concurrency` in flight; results in the order of specs."""
    results: list[ProbeResult | None] = [None] * len(specs)
    next_index = iter(range(len(specs)))

    # A fixed pool of `concurrency` workers sharing one iterator bounds the probes in flight like
    # a semaphore would, without a task per camera: memory stays flat at 60,000 cameras.
    async def worker() -> None:
        for index in next_index:
            results[index] = await probe_camera(specs[index], config=config)

    await asyncio.gather(*(worker() for _ in range(min(max(1, concurrency), len(specs)))))
    return [result for result in results if result is not None]


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def loop_name() -> str:
    """Which event loop run_probes uses: "uvloop" when installed, else "asyncio"."""
    return "uvloop" if loop_factory() else "asyncio"


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Hold Python's cyclic garbage collector for the duration of one batch.

    A batch keeps thousands of probes in flight, so most objects it allocates outlive a young
    collection and get promoted; that soon triggers full collections, each walking every object
    of the process (Django's included), several times per batch: measured, a fifth of the
    worker's CPU. Reference counting still frees nearly everything a probe leaves behind at once;
    the few reference cycles (a failed probe's exception and its frames) wait for the first
    collection after the batch, which the collector runs on its usual schedule.
    """
    if not gc.isenabled():
        yield  # already held by an outer batch (or by the caller): theirs to re-enable
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def run_probes(
    specs: Sequence[ProbeSpec], *, config: ProbeConfig, concurrency: int = 500
) -> list[ProbeResult]:
    """probe_many from synchronous code (a Celery task), on uvloop when it is installed.

    uvloop roughly halves the event loop's share of the CPU per check; probe_many itself runs on
    any asyncio loop, so callers that already have one just await it.
    """
    with paused_gc(), asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(probe_many(specs, config=config, concurrency=concurrency))
