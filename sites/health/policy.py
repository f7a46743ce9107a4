"""Where the health checker may connect: a camera's address is privileged input.

A partner types the camera URLs, so a URL is an attempt to make the portal open a connection. It is
allowed only when every address its host resolves to lies inside one of the networks approved for
that partner, on an approved port, and none of them is on the deny list (which always wins). Host
strings are never compared: "2130706433", "0x7f.1" and "127.1" are all 127.0.0.1, and the resolver
says so. The Target carries the exact IP that was checked, so the caller connects there and never
resolves again (no DNS-rebinding window between check and connect).
"""

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

BLOCKED_BY_POLICY = "blocked_by_policy"
DEFAULT_PORTS = {"rtsp": 554, "http": 80, "https": 443}

# Never a camera, whatever a partner's approved network says.
ALWAYS_DENIED: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches the local host on Linux
        "169.254.0.0/16",  # link-local, including the cloud metadata service 169.254.169.254
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the limited broadcast 255.255.255.255
        "::/128",
        "fe80::/10",  # IPv6 link-local
        "ff00::/8",  # IPv6 multicast
    )
)
LOOPBACK: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)
# IPv6 prefixes that carry an IPv4 address a gateway would forward to (NAT64 well-known prefix).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class ApprovedNetwork:
    """One approved camera network: an address range and the ports cameras answer on there."""

    network: IPNetwork
    ports: frozenset[int]

    @classmethod
    def parse(cls, cidr: str, ports: Iterable[int]) -> "ApprovedNetwork":
        return cls(ipaddress.ip_network(cidr, strict=False), frozenset(int(p) for p in ports))


@dataclass(frozen=True, slots=True)
class Target:
    """A URL that passed the policy, pinned to the address that was checked."""

    url: str
    scheme: str
    host: str  # as written in the URL, for the Host header and TLS server name
    ip: str  # connect here, and only here
    port: int
    path: str  # request target: path and query

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS.get(self.scheme) else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Blocked:
    """A URL the checker must not connect to, and why."""

    url: str
    detail: str
    reason: str = BLOCKED_BY_POLICY


class UnresolvableHost(OSError):
    """The host name has no address (or the resolver did not answer in time)."""


def approved_networks(rows: Iterable) -> tuple[ApprovedNetwork, ...]:
    """ApprovedNetwork values from CameraNetwork rows (partners.selectors.approved_networks_for)."""
    return tuple(ApprovedNetwork.parse(row.cidr, row.ports) for row in rows)


def _unwrap(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 form stands for (::ffff:127.0.0.1 is 127.0.0.1), else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.scope_id:
            return ipaddress.IPv6Address(str(address).split("%", 1)[0])
    return address


def _host_of(value: str) -> str:
    """The host part of an ALLOWED_HOSTS entry, a URL or a bare host[:port]."""
    value = value.strip()
    if "://" in value:
        return urlsplit(value).hostname or ""
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.lstrip(".")  # ".example.id" in ALLOWED_HOSTS: the domain and its subdomains


def _networks_for_host(host: str) -> list[IPNetwork]:
    if not host or host == "*" or host.startswith("/"):  # "*" or a unix-socket directory
        return []
    try:
        return [ipaddress.ip_network(host, strict=False)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []  # a name that does not resolve cannot be connected to either
    found = []
    for info in infos:
        address = _unwrap(ipaddress.ip_address(info[4][0]))
        found.append(ipaddress.ip_network(address))
    return found


@lru_cache(maxsize=8)
def _configured_deny(key: tuple) -> tuple[IPNetwork, ...]:
    allowed_hosts, site_url, db_host, broker_url, extra = key
    hosts = [_host_of(h) for h in (*allowed_hosts, site_url)]
    hosts.append(db_host)
    if broker_url and "://" in broker_url:
        hosts.append(urlsplit(broker_url).hostname or "")
    hosts.extend(extra)
    networks: list[IPNetwork] = []
    for host in hosts:
        networks.extend(_networks_for_host(host))
    return tuple(dict.fromkeys(networks))


def configured_deny() -> tuple[IPNetwork, ...]:
    """The portal's own hosts (ALLOWED_HOSTS, SITE_URL), its database and broker, and
    HEALTH_DENY_HOSTS, as networks.

    Resolved once per distinct configuration (it may hit the resolver), so callers building many
    probes reuse the answer.
    """
    database = settings.DATABASES.get("default", {})
    key = (
        tuple(settings.ALLOWED_HOSTS),
        str(getattr(settings, "SITE_URL", "") or ""),
        str(database.get("HOST") or ""),
        str(getattr(settings, "CELERY_BROKER_URL", "") or ""),
        tuple(getattr(settings, "HEALTH_DENY_HOSTS", [])),
    )
    return _configured_deny(key)


@dataclass(frozen=True, slots=True)
class _Parsed:
    scheme: str
    host: str
    port: int
    path: str


# The plain form nearly every camera URL has: scheme, a dotted-quad host, a port, a path and a
# query of unreserved characters. For these urlsplit would give exactly the same parts, so the
# regex only saves its cost; anything else (userinfo, brackets, fragments, upper case, odd
# characters) takes the urlsplit path below.
_PLAIN_URL = re.compile(
    r"(rtsp|https?)://([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})(?::([0-9]{1,5}))?"
    r"(/[A-Za-z0-9._~/%!$&'()*+,;=:@-]*)?(?:\?([A-Za-z0-9._~/%!$&'()*+,;=:@?-]*))?"
)


def _parse(url: str) -> _Parsed | Blocked:
    plain = _PLAIN_URL.fullmatch(url.strip())
    if plain is not None:
        scheme, host, port_text, path, query = plain.groups()
        port = int(port_text) if port_text else 0
        if port <= 65535:
            path = path or "/"
            if query:
                path = f"{path}?{query}"
            return _Parsed(scheme, host, port or DEFAULT_PORTS[scheme], path)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        return Blocked(url, f"malformed URL: {exc}")
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        return Blocked(url, f"scheme {scheme or '(none)'!r} is not rtsp, http or https")
    host = parts.hostname or ""
    if not host:
        return Blocked(url, "URL has no host")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return _Parsed(scheme, host, port or DEFAULT_PORTS[scheme], path)


def _compile_denied(deny: tuple[IPNetwork, ...], allow_loopback: bool) -> tuple:
    networks = ALWAYS_DENIED + deny + (() if allow_loopback else LOOPBACK)
    return tuple((n.version, int(n.network_address), int(n.netmask)) for n in networks)


_last_denied: tuple = ((), None, ())


def _denied(deny: tuple[IPNetwork, ...], allow_loopback: bool) -> tuple[tuple[int, int, int], ...]:
    """(version, network address, netmask) as integers, built once per sweep's deny list.

    `address in network` through ipaddress costs a few property lookups per network; the same
    test on integers is what it computes. A sweep passes the same deny tuple for every URL, so
    the last one is remembered by identity (hashing it per URL would cost more than the test).
    """
    global _last_denied
    last, last_loopback, compiled = _last_denied
    if deny is last and allow_loopback is last_loopback:
        return compiled
    compiled = _compile_denied(deny, allow_loopback)
    _last_denied = (deny, allow_loopback, compiled)
    return compiled


def _check(
    url: str,
    parsed: _Parsed,
    addresses: list[IPAddress],
    *,
    networks: Iterable[ApprovedNetwork],
    allow_loopback: bool,
    deny: Iterable[IPNetwork],
) -> Target | Blocked:
    if not addresses:
        raise UnresolvableHost(f"{parsed.host} has no address")
    denied = _denied(tuple(deny), allow_loopback)
    networks = tuple(networks)
    for address in addresses:
        version, value = address.version, int(address)
        for network_version, base, mask in denied:
            if network_version == version and value & mask == base:
                return Blocked(url, f"{parsed.host} resolves to {address}, which is denied")
        inside = [n for n in networks if n.network.version == version and address in n.network]
        if not inside:
            return Blocked(
                url, f"{parsed.host} resolves to {address}, outside the approved networks"
            )
        if not any(parsed.port in n.ports for n in inside):
            return Blocked(url, f"port {parsed.port} is not approved for {address}")
    # Every address passed; connect to the first, exactly as checked.
    return Target(url, parsed.scheme, parsed.host, str(addresses[0]), parsed.port, parsed.path)


def _addresses(infos: list) -> list[IPAddress]:
    seen = dict.fromkeys(_unwrap(ipaddress.ip_address(info[4][0])) for info in infos)
    return list(seen)


def _literal(host: str) -> IPAddress | None:
    """The address an IP-literal host stands for, unwrapped; None for a name.

    Only the canonical spellings count as literals (what ipaddress accepts: dotted quads without
    leading zeros, IPv6); "127.1", "2130706433" or "0x7f.1" are left to the resolver, which reads
    them as the C library does, exactly as before.
    """
    try:
        # inet_pton accepts the same strict dotted quad as ipaddress, at a quarter of the cost.
        return ipaddress.IPv4Address(socket.inet_pton(socket.AF_INET, host))
    except OSError:
        pass
    try:
        return _unwrap(ipaddress.ip_address(host))
    except ValueError:
        return None


def _getaddrinfo(host: str, port: int) -> list:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)


async def _getaddrinfo_async(host: str, port: int) -> list:
    loop = asyncio.get_running_loop()
    return await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)


def resolve_target(
    url: str,
    *,
    networks: Iterable[ApprovedNetwork],
    allow_loopback: bool,
    deny: Iterable[IPNetwork] | None = None,
) -> Target | Blocked:
    """Check a camera URL against the policy; raises UnresolvableHost if the name has no address."""
    parsed = _parse(url)
    if isinstance(parsed, Blocked):
        return parsed
    try:
        infos = _getaddrinfo(parsed.host, parsed.port)
    except (OSError, UnicodeError) as exc:
        raise UnresolvableHost(f"cannot resolve {parsed.host}: {exc}") from None
    return _check(
        url,
        parsed,
        _addresses(infos),
        networks=networks,
        allow_loopback=allow_loopback,
        deny=configured_deny() if deny is None else deny,
    )


async def resolve_target_async(
    url: str,
    *,
    networks: Iterable[ApprovedNetwork],
    allow_loopback: bool,
    deny: Iterable[IPNetwork],
    timeout: float,
) -> Target | Blocked:
    """resolve_target for the event loop; `deny` must be given (configured_deny() may block)."""
    parsed = _parse(url)
    if isinstance(parsed, Blocked):
        return parsed
    literal = _literal(parsed.host)
    if literal is not None:
        # An IP literal is its own only address: no resolver call at all, the same checks.
        addresses = [literal]
    else:
        try:
            async with asyncio.timeout(timeout):
                infos = await _getaddrinfo_async(parsed.host, parsed.port)
        except TimeoutError:
            raise UnresolvableHost(f"resolving {parsed.host} timed out") from None
        except (OSError, UnicodeError) as exc:
            raise UnresolvableHost(f"cannot resolve {parsed.host}: {exc}") from None
        addresses = _addresses(infos)
    return _check(
        url, parsed, addresses, networks=networks, allow_loopback=allow_loopback, deny=deny
    )
