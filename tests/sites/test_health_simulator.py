"""The fake fleet, in-process on free ports, probed by the real probe engine."""

import asyncio
import collections
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sites.health.policy import ApprovedNetwork
from sites.health.probes import ProbeConfig, ProbeSpec, probe_camera, probe_many
from sites.health.simulator import (
    FleetMix,
    FleetSimulator,
    behaviour_for,
    camera_address,
    camera_index,
)

# Slow-tail cameras stay below the read timeout here, so only hanging cameras time out.
TEST_MIX = FleetMix(tail_max_ms=250)
# What each simulated behaviour must look like to the checker.
EXPECTED = {
    "ok": ("up", "ok"),
    "hang": ("down", "timeout"),
    "refused": ("down", "refused"),
    "error": ("down", "http_error"),
    "black": ("degraded", "black"),
    "frozen": ("up", "ok"),  # a first look cannot know the frame is stale
    "clock_drift": ("degraded", "clock_drift"),
    "flapping": ("up", "ok"),  # flapping cameras start up
}


def _config() -> ProbeConfig:
    # Simulator and checker share one event loop here, so under CI load a healthy camera's answer
    # can wait behind hundreds of others: timeouts leave room for that (hanging cameras still
    # time out, only later).
    return ProbeConfig(
        connect_timeout=2.0,
        read_timeout=2.0,
        max_snapshot_bytes=64 * 1024,
        clock_drift_seconds=120,
        allow_loopback=True,
        deny=(),
    )


def _spec(fleet: FleetSimulator, index: int, **kwargs) -> ProbeSpec:
    address = camera_address(index)
    networks = (ApprovedNetwork.parse("127.0.0.0/8", [fleet.http_port, fleet.rtsp_port]),)
    return ProbeSpec(
        camera_id=index,
        networks=networks,
        rtsp_url=f"rtsp://{address}:{fleet.rtsp_port}/Streaming/Channels/101",
        snapshot_url=f"http://{address}:{fleet.http_port}/snapshot.jpg",
        onvif_url=f"http://{address}:{fleet.http_port}/onvif/device_service",
        **kwargs,
    )


def _with_fleet(cameras: int, scenario, *, seed: int = 11, mix: FleetMix = TEST_MIX):
    async def run():
        fleet = FleetSimulator(cameras, seed=seed, mix=mix)
        await fleet.start(host="0.0.0.0")
        try:
            return await scenario(fleet)
        finally:
            await fleet.stop()

    return asyncio.run(run())


def test_camera_address_maps_indexes_to_distinct_loopback_addresses_and_back():
    addresses = [camera_address(i) for i in (0, 1, 253, 254, 59_999, 64_516)]

    assert addresses[:4] == ["127.1.0.1", "127.1.0.2", "127.1.0.254", "127.1.1.1"]
    assert [camera_index(a) for a in addresses] == [0, 1, 253, 254, 59_999, 64_516]
    assert len({camera_address(i) for i in range(60_000)}) == 60_000


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "127.1.0.0", "127.1.0.255", "::1"])
def test_camera_index_is_none_for_addresses_that_are_not_cameras(address):
    assert camera_index(address) is None


def test_behaviour_for_is_the_same_for_the_same_seed_and_differs_for_another():
    first = [behaviour_for(5, i, FleetMix()) for i in range(500)]
    again = [behaviour_for(5, i, FleetMix()) for i in range(500)]
    other = [behaviour_for(6, i, FleetMix()) for i in range(500)]

    assert first == again
    assert first != other


def test_fleet_mix_follows_the_configured_shares():
    mix = FleetMix(hang=0.1, refused=0.0, flapping=0.2)
    fleet = FleetSimulator(5000, seed=3, mix=mix)

    counts = fleet.counts()

    assert counts["refused"] == 0
    assert 400 <= counts["hang"] <= 600
    assert 850 <= counts["flapping"] <= 1150
    latencies = sorted(b.latency_s for b in fleet.behaviours)
    assert 0.03 <= latencies[len(latencies) // 2] <= 0.05  # around 40 ms
    assert latencies[-1] > 0.2  # with a long tail


@pytest.mark.parametrize(
    "text", ["hang=0.6,refused=0.6", "nonsense=1", "hang=-0.1", "flap_every=0"]
)
def test_fleet_mix_parse_refuses_bad_settings(text):
    with pytest.raises(ValueError):  # noqa: PT011 - the message names the setting; any is fine
        FleetMix.parse(text)


def test_fleet_refuses_connections_to_addresses_that_are_not_its_cameras():
    async def scenario(fleet):
        answers = []
        for host in ("127.0.0.1", camera_address(50)):  # 50 is past the end of a 10-camera fleet
            reader, writer = await asyncio.open_connection(host, fleet.http_port)
            writer.write(b"GET /snapshot.jpg HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                answers.append(await asyncio.wait_for(reader.read(), 2))
            except ConnectionResetError:
                answers.append(b"")
            writer.close()
        return answers, fleet.refused_foreign

    answers, refused = _with_fleet(10, scenario)

    assert answers == [b"", b""]
    assert refused == 2


def test_probe_many_over_2000_simulated_cameras_yields_the_configured_mix():
    async def scenario(fleet):
        specs = [_spec(fleet, i, check_image=True, check_clock=True) for i in range(2000)]
        results = await probe_many(specs, config=_config(), concurrency=400)
        return results, [fleet.kind(i) for i in range(2000)]

    results, kinds = _with_fleet(2000, scenario)

    assert [r.camera_id for r in results] == list(range(2000))
    matching = sum(
        EXPECTED[kind] == (r.status, r.reason) for kind, r in zip(kinds, results, strict=True)
    )
    assert matching >= 0.95 * len(results)
    seen = collections.Counter((r.status, r.reason) for r in results)
    for outcome, share in [
        (("down", "timeout"), TEST_MIX.hang),
        (("down", "refused"), TEST_MIX.refused),
        (("down", "http_error"), TEST_MIX.error),
        (("degraded", "black"), TEST_MIX.black),
        (("degraded", "clock_drift"), TEST_MIX.clock_drift),
    ]:
        assert 0.4 * share * 2000 <= seen[outcome] <= 1.8 * share * 2000, (outcome, seen)
    assert seen[("up", "ok")] >= 0.75 * 2000


def test_simulated_frozen_camera_repeats_its_frame_and_a_healthy_one_does_not():
    async def scenario(fleet):
        frozen = next(i for i in range(fleet.cameras) if fleet.kind(i) == "frozen")
        healthy = next(i for i in range(fleet.cameras) if fleet.kind(i) == "ok")
        outcomes = {}
        for index in (frozen, healthy):
            first = await probe_camera(_spec(fleet, index, check_image=True), config=_config())
            second = await probe_camera(
                _spec(fleet, index, check_image=True, last_image_hash=first.image_hash),
                config=_config(),
            )
            outcomes[fleet.kind(index)] = (first.reason, second.reason)
        return outcomes

    outcomes = _with_fleet(300, scenario)

    assert outcomes == {"frozen": ("ok", "frozen"), "ok": ("ok", "ok")}


def test_simulated_flapping_camera_alternates_every_k_probes():
    mix = FleetMix(
        flapping=1.0, hang=0, refused=0, error=0, black=0, frozen=0, clock_drift=0, flap_every=2
    )

    async def scenario(fleet):
        return [(await probe_camera(_spec(fleet, 0), config=_config())).status for _ in range(8)]

    statuses = _with_fleet(1, scenario, mix=mix)

    assert statuses == ["up", "up", "down", "down", "up", "up", "down", "down"]


def test_simulated_fleet_can_force_a_camera_down_and_back():
    async def scenario(fleet):
        index = next(i for i in range(fleet.cameras) if fleet.kind(i) == "ok")
        fleet.set_kind(index, "refused")
        down = await probe_camera(_spec(fleet, index), config=_config())
        fleet.set_kind(index, "ok")
        up = await probe_camera(_spec(fleet, index), config=_config())
        return down.reason, up.reason

    assert _with_fleet(50, scenario) == ("refused", "ok")


def test_simulate_fleet_command_refuses_a_bad_mix():
    with pytest.raises(CommandError, match="unknown fleet mix setting"):
        call_command("simulate_fleet", cameras=10, mix="sparkles=1", stdout=io.StringIO())
