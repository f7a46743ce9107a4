"""A fake camera fleet on loopback, for the demo, the tests and the sweep benchmark.

One process answers as N cameras. Linux routes all of 127.0.0.0/8 to the loopback interface, so
camera i gets its own address camera_address(i) = 127.X.Y.Z, and two listening sockets bound to
0.0.0.0 (one HTTP, one RTSP) serve them all: the camera is told apart by the local address the
client connected to. Each camera's behaviour (healthy, hanging, refusing, 5xx, black or frozen
frames, clock drift, flapping) and latency are derived from (seed, index), so runs repeat.

Per-request work is kept tiny so 60,000 cameras fit one process on two cores: answers are built
once (a few small JPEG "scenes"), protocols are plain asyncio.Protocol callbacks, and the latency
is a timer, not a sleeping coroutine.
"""

import asyncio
import io
import random
import re
import time
from array import array
from dataclasses import dataclass, fields

from PIL import Image

OK = "ok"
HANG = "hang"
REFUSED = "refused"
ERROR = "error"
BLACK = "black"
FROZEN = "frozen"
CLOCK_DRIFT = "clock_drift"
FLAPPING = "flapping"
KINDS = (OK, HANG, REFUSED, ERROR, BLACK, FROZEN, CLOCK_DRIFT, FLAPPING)

SNAPSHOT_PATH = "/snapshot.jpg"
ONVIF_PATH = "/onvif/device_service"
_SCENES = 8
_REQUEST_LIMIT = 8192
LISTENERS_PER_PORT = 8
_PER_X = 256 * 254  # addresses per 127.X.0.0/16, skipping .0 and .255 in the last octet
_CSEQ = re.compile(rb"\r\nCSeq:\s*(\d{1,9})", re.I)
_CONTENT_LENGTH = re.compile(rb"\r\nContent-Length:\s*(\d{1,7})", re.I)


def camera_address(index: int) -> str:
    """The loopback address camera `index` answers on (127.1.0.1 for 0; never 127.0.0.x)."""
    if not 0 <= index < 254 * _PER_X:
        raise ValueError(f"camera index {index} out of range")
    x, rest = divmod(index, _PER_X)
    y, z = divmod(rest, 254)
    return f"127.{x + 1}.{y}.{z + 1}"


def camera_index(address: str) -> int | None:
    """Inverse of camera_address; None for any address that is not a simulated camera."""
    parts = address.split(".")
    if len(parts) != 4 or parts[0] != "127":
        return None
    try:
        x, y, z = int(parts[1]), int(parts[2]), int(parts[3])
    except ValueError:
        return None
    if not (1 <= x <= 254 and 0 <= y <= 255 and 1 <= z <= 254):
        return None
    return (x - 1) * _PER_X + y * 254 + (z - 1)


@dataclass(frozen=True)
class FleetMix:
    """Shares of misbehaving cameras (the rest are healthy) and the latency profile."""

    hang: float = 0.02
    refused: float = 0.02
    error: float = 0.02
    black: float = 0.02
    frozen: float = 0.02
    clock_drift: float = 0.03
    flapping: float = 0.02
    flap_every: int = 3  # a flapping camera changes state every this many RTSP requests
    latency_ms: float = 40.0  # median answer delay
    tail_share: float = 0.03  # cameras that answer slowly (hundreds of ms)
    tail_max_ms: float = 1500.0
    drift_min_s: int = 300
    drift_max_s: int = 3600

    def __post_init__(self) -> None:
        shares = [getattr(self, kind) for kind in KINDS if kind != OK]
        if any(share < 0 for share in shares) or sum(shares) > 1:
            raise ValueError("fleet mix shares must be non-negative and add up to at most 1")
        if self.flap_every < 1:
            raise ValueError("flap_every must be at least 1")

    @classmethod
    def parse(cls, text: str) -> "FleetMix":
        """`hang=0.05,refused=0.01,flap_every=4` -> FleetMix; unknown names are an error."""
        known = {f.name: f.type for f in fields(cls)}
        values: dict[str, float | int] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, raw = item.partition("=")
            name = name.strip()
            if name not in known:
                raise ValueError(f"unknown fleet mix setting {name!r}; one of {sorted(known)}")
            values[name] = int(raw) if known[name] in (int, "int") else float(raw)
        return cls(**values)

    def share(self, kind: str) -> float:
        if kind == OK:
            return 1 - sum(getattr(self, k) for k in KINDS if k != OK)
        return getattr(self, kind)


@dataclass(frozen=True, slots=True)
class CameraBehaviour:
    """How one simulated camera answers."""

    kind: str
    latency_s: float
    drift_s: int  # only for clock_drift cameras; 0 otherwise


def behaviour_for(seed: int, index: int, mix: FleetMix) -> CameraBehaviour:
    """The behaviour of camera `index`; a pure function of (seed, index, mix)."""
    rng = random.Random(f"{seed}:{index}")  # str seeds hash with sha512: stable across runs
    draw, kind = rng.random(), OK
    cumulative = 0.0
    for candidate in KINDS[1:]:
        cumulative += getattr(mix, candidate)
        if draw < cumulative:
            kind = candidate
            break
    if rng.random() < mix.tail_share:
        latency_ms = rng.uniform(5 * mix.latency_ms, mix.tail_max_ms)
    else:
        latency_ms = mix.latency_ms * rng.lognormvariate(0, 0.35)
    drift = 0
    if kind == CLOCK_DRIFT:
        drift = rng.randint(mix.drift_min_s, mix.drift_max_s) * rng.choice((-1, 1))
    return CameraBehaviour(kind, latency_ms / 1000, drift)


def _jpeg(pixels: bytes, size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.frombytes("L", size, pixels).save(out, "JPEG", quality=60)
    return out.getvalue()


def _http(status: str, body: bytes = b"", content_type: str = "text/plain") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


_ONVIF_TEMPLATE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
    'xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body>'
    "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
    "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
    "<tt:UTCDateTime><tt:Time><tt:Hour>{t.tm_hour}</tt:Hour><tt:Minute>{t.tm_min}</tt:Minute>"
    "<tt:Second>{t.tm_sec}</tt:Second></tt:Time><tt:Date><tt:Year>{t.tm_year}</tt:Year>"
    "<tt:Month>{t.tm_mon}</tt:Month><tt:Day>{t.tm_mday}</tt:Day></tt:Date></tt:UTCDateTime>"
    "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse></s:Body></s:Envelope>"
)


class FleetSimulator:
    """N simulated cameras behind one HTTP and one RTSP listener."""

    def __init__(self, cameras: int, *, seed: int = 1, mix: FleetMix | None = None) -> None:
        if cameras < 1:
            raise ValueError("a fleet has at least one camera")
        self.cameras = cameras
        self.seed = seed
        self.mix = mix or FleetMix()
        self.behaviours = [behaviour_for(seed, i, self.mix) for i in range(cameras)]
        self._kinds = [b.kind for b in self.behaviours]  # overridable: injected flips
        self._rtsp_requests = array("L", [0]) * cameras
        self._http_requests = array("L", [0]) * cameras
        rng = random.Random(seed)
        self._scenes = [_http("200 OK", self._scene(rng), "image/jpeg") for _ in range(_SCENES)]
        self._black = _http("200 OK", _jpeg(bytes(64 * 48)), "image/jpeg")
        self._error = _http("500 Internal Server Error", b"internal error")
        self._not_found = _http("404 Not Found", b"not found")
        self.connections = 0
        self.refused_foreign = 0
        self._open: set[asyncio.BaseTransport] = set()
        self._servers: list[asyncio.base_events.Server] = []
        self.http_port = 0
        self.rtsp_port = 0

    @staticmethod
    def _scene(rng: random.Random) -> bytes:
        # Mid-grey noise: decodes, is clearly not black, and every scene hashes differently.
        return _jpeg(bytes(rng.randint(60, 200) for _ in range(64 * 48)))

    # --- control -----------------------------------------------------------------------------

    def kind(self, index: int) -> str:
        return self._kinds[index]

    def set_kind(self, index: int, kind: str) -> None:
        """Force one camera's behaviour (the benchmark injects flips with this)."""
        if kind not in KINDS:
            raise ValueError(f"unknown camera behaviour {kind!r}")
        self._kinds[index] = kind

    def counts(self) -> dict[str, int]:
        """How many cameras currently have each behaviour."""
        found = dict.fromkeys(KINDS, 0)
        for kind in self._kinds:
            found[kind] += 1
        return found

    def summary(self) -> str:
        last = camera_address(self.cameras - 1)
        mix = ", ".join(f"{kind} {count}" for kind, count in self.counts().items() if count)
        return (
            f"Simulating {self.cameras} cameras on {camera_address(0)}..{last} "
            f"(seed {self.seed}): HTTP :{self.http_port}{SNAPSHOT_PATH} and {ONVIF_PATH}, "
            f"RTSP :{self.rtsp_port}; {mix}"
        )

    async def start(self, *, host: str = "0.0.0.0", http_port: int = 0, rtsp_port: int = 0) -> None:
        """Listen; port 0 picks a free port (read back from http_port / rtsp_port)."""
        http = await self._listen(host, http_port, rtsp=False)
        rtsp = await self._listen(host, rtsp_port, rtsp=True)
        self._servers = http + rtsp
        self.http_port = http[0].sockets[0].getsockname()[1]
        self.rtsp_port = rtsp[0].sockets[0].getsockname()[1]

    async def _listen(self, host: str, port: int, *, rtsp: bool) -> list[asyncio.Server]:
        """LISTENERS_PER_PORT sockets sharing the port (SO_REUSEPORT), each its own backlog.

        A real fleet is 60,000 listeners; one socket for all of them would have one accept queue
        (capped by net.core.somaxconn, 4096 here), and a sweep opening thousands of connections
        at once overflows it: the kernel drops the SYNs, the checker retries after a second,
        and the simulator, not the cameras or the checker, sets the pace.
        """
        loop = asyncio.get_running_loop()
        servers: list[asyncio.Server] = []
        for _ in range(LISTENERS_PER_PORT):
            server = await loop.create_server(
                lambda: _CameraProtocol(self, rtsp=rtsp), host, port, backlog=8192, reuse_port=True
            )
            port = server.sockets[0].getsockname()[1]  # port 0: the first picks, the rest join
            servers.append(server)
        return servers

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        # Hanging cameras hold connections open on purpose; cut them rather than wait.
        for transport in list(self._open):
            transport.abort()
        for server in self._servers:
            await server.wait_closed()
        self._servers = []

    # --- answers -----------------------------------------------------------------------------

    def _state(self, index: int, rtsp: bool) -> str:
        kind = self._kinds[index]
        if kind != FLAPPING:
            return kind
        if rtsp:
            self._rtsp_requests[index] += 1
        count = max(self._rtsp_requests[index], 1) - 1
        return REFUSED if (count // self.mix.flap_every) % 2 else OK

    def _answer(self, index: int, kind: str, rtsp: bool, head: bytes) -> bytes:
        if rtsp:
            match = _CSEQ.search(head)
            cseq = match.group(1).decode() if match else "0"
            return (
                f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n"
                "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n"
            ).encode()
        path = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b""
        if path.startswith(ONVIF_PATH.encode()):
            drift = self.behaviours[index].drift_s if kind == CLOCK_DRIFT else 0
            body = _ONVIF_TEMPLATE.format(t=time.gmtime(time.time() + drift)).encode()
            return _http("200 OK", body, "application/soap+xml; charset=utf-8")
        if not path.startswith(SNAPSHOT_PATH.encode()):
            return self._not_found
        if kind == ERROR:
            return self._error
        if kind == BLACK:
            return self._black
        if kind == FROZEN:
            return self._scenes[index % _SCENES]
        self._http_requests[index] += 1
        return self._scenes[(index + self._http_requests[index]) % _SCENES]


class _CameraProtocol(asyncio.Protocol):
    __slots__ = ("fleet", "rtsp", "transport", "index", "kind", "buffer", "timer")

    def __init__(self, fleet: FleetSimulator, *, rtsp: bool) -> None:
        self.fleet = fleet
        self.rtsp = rtsp
        self.transport: asyncio.Transport | None = None
        self.index: int | None = None
        self.kind = OK
        self.buffer = b""
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        fleet = self.fleet
        fleet.connections += 1
        fleet._open.add(transport)
        sockname = transport.get_extra_info("sockname")
        index = camera_index(sockname[0]) if sockname else None
        if index is None or index >= fleet.cameras:
            # Anything but our own loopback cameras (including 0.0.0.0's other addresses).
            fleet.refused_foreign += 1
            transport.abort()
            return
        self.kind = fleet._state(index, self.rtsp)
        if self.kind == REFUSED:
            transport.abort()
            return
        self.index = index

    def data_received(self, data: bytes) -> None:
        if self.index is None or self.kind == HANG or self.timer is not None:
            return  # a hanging camera reads and never answers
        self.buffer += data
        if len(self.buffer) > _REQUEST_LIMIT:
            self.transport.abort()
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[: end + 2]
        length = _CONTENT_LENGTH.search(head)
        if length and len(self.buffer) < end + 4 + int(length.group(1)):
            return  # wait for the body, so closing never resets an unread request
        answer = self.fleet._answer(self.index, self.kind, self.rtsp, head)
        latency = self.fleet.behaviours[self.index].latency_s
        self.timer = asyncio.get_running_loop().call_later(latency, self._send, answer)

    def _send(self, answer: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.fleet._open.discard(self.transport)
        self.transport = None


async def serve(
    cameras: int, *, seed: int, http_port: int, rtsp_port: int, mix: FleetMix | None = None
) -> FleetSimulator:
    """Start a fleet and return it (the caller keeps the loop running)."""
    fleet = FleetSimulator(cameras, seed=seed, mix=mix)
    await fleet.start(http_port=http_port, rtsp_port=rtsp_port)
    return fleet
