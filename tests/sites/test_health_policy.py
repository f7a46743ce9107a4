import asyncio
import ipaddress

import pytest

from partners.selectors import approved_networks_for
from sites.health import policy
from sites.health.policy import (
    ApprovedNetwork,
    Blocked,
    Target,
    UnresolvableHost,
    approved_networks,
    configured_deny,
    resolve_target,
    resolve_target_async,
)
from tests import factories

CAMERAS = ApprovedNetwork.parse("10.20.0.0/16", [554, 80, 8080])
# Approving loopback, link-local and friends on purpose: the deny list must win over any allowlist.
EVERYWHERE = (
    ApprovedNetwork.parse("0.0.0.0/0", [80, 554, 8080]),
    ApprovedNetwork.parse("::/0", [80, 554, 8080]),
)


def _resolve(url: str, *, networks=(CAMERAS,), allow_loopback=False, deny=()):
    return resolve_target(url, networks=networks, allow_loopback=allow_loopback, deny=deny)


def test_resolve_target_pins_an_approved_address_and_keeps_the_host_for_the_header():
    target = _resolve("http://10.20.1.5:8080/cgi/snapshot.jpg?channel=1")

    assert isinstance(target, Target)
    assert (target.ip, target.port, target.path) == (
        "10.20.1.5",
        8080,
        "/cgi/snapshot.jpg?channel=1",
    )
    assert target.host_header == "10.20.1.5:8080"


@pytest.mark.parametrize(
    ("url", "port"),
    [("rtsp://10.20.1.5/live", 554), ("http://10.20.1.5/snap.jpg", 80)],
)
def test_resolve_target_uses_the_scheme_default_port(url, port):
    target = _resolve(url)

    assert isinstance(target, Target)
    assert target.port == port
    assert target.host_header == "10.20.1.5"


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "2130706433", "0x7f.1", "017700000001", "127.1"],
)
def test_resolve_target_refuses_every_spelling_of_loopback(host):
    result = _resolve(f"http://{host}/snapshot.jpg", networks=EVERYWHERE)

    assert isinstance(result, Blocked)
    assert result.reason == "blocked_by_policy"
    assert "denied" in result.detail


def test_resolve_target_allows_loopback_only_when_asked():
    assert isinstance(
        _resolve("http://127.1.0.9/", networks=EVERYWHERE, allow_loopback=True), Target
    )
    assert isinstance(_resolve("http://127.1.0.9/", networks=EVERYWHERE), Blocked)


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254",
        "[fe80::1]",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "[ff02::1]",
        "[::ffff:169.254.169.254]",
        "[64:ff9b::a9fe:a9fe]",  # NAT64 form of 169.254.169.254
    ],
)
def test_resolve_target_refuses_metadata_link_local_multicast_and_broadcast(host):
    result = _resolve(f"http://{host}/", networks=EVERYWHERE, allow_loopback=True)

    assert isinstance(result, Blocked)


def test_resolve_target_refuses_a_port_the_network_does_not_approve():
    result = _resolve("http://10.20.1.5:22/")

    assert isinstance(result, Blocked)
    assert "port 22" in result.detail


def test_resolve_target_refuses_an_address_outside_the_approved_networks():
    result = _resolve("rtsp://10.99.0.1/live")

    assert isinstance(result, Blocked)
    assert "outside the approved networks" in result.detail


@pytest.mark.parametrize(
    "url", ["ftp://10.20.1.5/x", "file:///etc/passwd", "http:///nohost", "http://10.20.1.5:99999/"]
)
def test_resolve_target_refuses_what_is_not_a_camera_url(url):
    assert isinstance(_resolve(url), Blocked)


def test_resolve_target_refuses_a_name_when_any_of_its_addresses_is_inward(monkeypatch):
    def fake_getaddrinfo(host, port):
        assert host == "cam7.partner.example"
        return [(2, 1, 6, "", ("10.20.1.5", port)), (2, 1, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(policy, "_getaddrinfo", fake_getaddrinfo)

    result = _resolve("http://cam7.partner.example/snap.jpg", networks=EVERYWHERE)

    assert isinstance(result, Blocked)
    assert "127.0.0.1" in result.detail


def test_resolve_target_refuses_localhost_by_what_it_resolves_to():
    assert isinstance(_resolve("http://localhost/", networks=EVERYWHERE), Blocked)


def test_resolve_target_raises_for_a_name_without_address(monkeypatch):
    def no_address(host, port):
        raise OSError("Name or service not known")

    monkeypatch.setattr(policy, "_getaddrinfo", no_address)

    with pytest.raises(UnresolvableHost):
        _resolve("http://gone.partner.example/")


def test_configured_deny_refuses_the_database_and_the_broker(settings, monkeypatch):
    monkeypatch.setitem(settings.DATABASES["default"], "HOST", "10.20.9.1")
    settings.CELERY_BROKER_URL = "redis://10.20.9.2:6379/0"
    settings.ALLOWED_HOSTS = ["10.255.0.1"]
    settings.SITE_URL = "https://10.255.0.1"
    settings.HEALTH_DENY_HOSTS = []

    deny = configured_deny()

    for host in ("10.20.9.1", "10.20.9.2"):
        result = resolve_target(f"http://{host}:8080/", networks=(CAMERAS,), allow_loopback=False)
        assert isinstance(result, Blocked), host
    assert isinstance(_resolve("http://10.20.9.3:8080/", deny=deny), Target)


def test_configured_deny_refuses_the_portal_itself_even_with_loopback_allowed(settings):
    settings.ALLOWED_HOSTS = [".localhost", "[::1]"]
    settings.SITE_URL = "https://10.255.0.1"
    settings.HEALTH_DENY_HOSTS = []

    result = resolve_target("http://127.0.0.1/", networks=EVERYWHERE, allow_loopback=True)
    other = resolve_target("http://127.1.0.9/", networks=EVERYWHERE, allow_loopback=True)

    assert isinstance(result, Blocked)
    assert isinstance(other, Target)


def test_configured_deny_adds_health_deny_hosts(settings):
    settings.HEALTH_DENY_HOSTS = ["10.20.7.0/24", "10.20.8.8"]

    assert isinstance(
        resolve_target("http://10.20.7.200/", networks=(CAMERAS,), allow_loopback=False), Blocked
    )
    assert isinstance(
        resolve_target("http://10.20.8.8/", networks=(CAMERAS,), allow_loopback=False), Blocked
    )
    assert isinstance(
        resolve_target("http://10.20.8.9/", networks=(CAMERAS,), allow_loopback=False), Target
    )
    assert ipaddress.ip_network("10.20.7.0/24") in configured_deny()


def test_resolve_target_refuses_another_partners_network(db):
    ours, theirs = factories.verified_partner(), factories.verified_partner()
    factories.approved_network(ours, cidr="10.31.0.0/24", ports=(554,))
    factories.approved_network(theirs, cidr="10.32.0.0/24", ports=(554,))
    networks = approved_networks(approved_networks_for(partner_id=ours.pk))

    assert isinstance(_resolve("rtsp://10.31.0.7/live", networks=networks), Target)
    result = _resolve("rtsp://10.32.0.7/live", networks=networks)
    assert isinstance(result, Blocked)
    assert "outside the approved networks" in result.detail


def test_resolve_target_async_uses_the_same_rules():
    async def scenario():
        kwargs = {"networks": EVERYWHERE, "allow_loopback": False, "deny": (), "timeout": 1}
        return (
            await resolve_target_async("http://2130706433/", **kwargs),
            await resolve_target_async("http://0x7f.1/", **kwargs),
            await resolve_target_async("http://10.20.1.5/", **kwargs),
        )

    integer, hexadecimal, allowed = asyncio.run(scenario())

    assert isinstance(integer, Blocked)
    assert isinstance(hexadecimal, Blocked)
    assert isinstance(allowed, Target)


def test_resolve_target_async_gives_up_on_a_slow_resolver(monkeypatch):
    async def never(host, port):
        await asyncio.sleep(10)

    monkeypatch.setattr(policy, "_getaddrinfo_async", never)

    async def scenario():
        await resolve_target_async(
            "http://slow.partner.example/",
            networks=EVERYWHERE,
            allow_loopback=False,
            deny=(),
            timeout=0.05,
        )

    with pytest.raises(UnresolvableHost, match="timed out"):
        asyncio.run(scenario())


def test_configured_deny_refuses_the_host_of_site_url(settings):
    settings.ALLOWED_HOSTS = []
    settings.SITE_URL = "https://10.20.6.6:8443"
    settings.HEALTH_DENY_HOSTS = []

    result = resolve_target("http://10.20.6.6:8080/", networks=(CAMERAS,), allow_loopback=False)

    assert isinstance(result, Blocked)
