"""Health sweeps end to end: real PostgreSQL, a simulated fleet on loopback, the real probes.

The fleet serves from its own event loop in a background thread, because the engine under test
calls asyncio.run() in the test's thread, exactly as a Celery worker does.
"""

import asyncio
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from partners.models import CameraNetwork, NetworkStatus
from sites.health import sweeps
from sites.health.simulator import (
    ONVIF_PATH,
    SNAPSHOT_PATH,
    FleetMix,
    FleetSimulator,
    camera_address,
)
from sites.models import (
    Camera,
    CameraHealth,
    CameraStatusChange,
    HealthSweep,
    Outage,
    Site,
    SiteStatus,
    SweepBatch,
    SweepStatus,
)
from tests import factories

# Every camera healthy and quick, unless a test changes one with set_kind.
HEALTHY = FleetMix(
    hang=0,
    refused=0,
    error=0,
    black=0,
    frozen=0,
    clock_drift=0,
    flapping=0,
    tail_share=0,
    latency_ms=2,
)


class ThreadedFleet:
    """A FleetSimulator serving from its own event loop in a background thread.

    The engine under test calls asyncio.run() in the test's thread, so the fleet cannot share
    that loop.
    """

    def __init__(self, cameras: int, *, seed: int = 3, mix: FleetMix = HEALTHY) -> None:
        self.fleet = FleetSimulator(cameras, seed=seed, mix=mix)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FleetSimulator:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.fleet.start(host="0.0.0.0"), self.loop).result(10)
        return self.fleet

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self.fleet.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def deployed_site(partner=None) -> Site:
    """An active site (the sweep only checks deployed sites); its host partner owns the cameras."""
    partner = partner or factories.verified_partner()
    site = factories.make_site(partner)
    Site.objects.filter(pk=site.pk).update(status=SiteStatus.ACTIVE)
    site.refresh_from_db()
    return site


def approve_network(partner, cidr: str, ports) -> CameraNetwork:
    # Written directly: network_request refuses loopback ranges, on purpose.
    return CameraNetwork.objects.create(
        partner=partner,
        cidr=cidr,
        ports=list(ports),
        status=NetworkStatus.APPROVED,
        requested_by=partner.created_by,
    )


def fleet_cameras(fleet: FleetSimulator, indexes, *, site: Site, serial: str = "SIM") -> list:
    """Cameras at the simulated addresses `indexes`, owned by the site's host partner."""
    owner = site.host_partner
    cameras = [
        Camera(
            site=site,
            owner=owner,
            vendor="Simulated",
            model="Loopback",
            serial=f"{serial}-{index}",
            resolution="1920x1080",
            rtsp_url=f"rtsp://{camera_address(index)}:{fleet.rtsp_port}/Streaming/Channels/101",
            snapshot_url=f"http://{camera_address(index)}:{fleet.http_port}{SNAPSHOT_PATH}",
            onvif_url=f"http://{camera_address(index)}:{fleet.http_port}{ONVIF_PATH}",
            created_by=owner.created_by,
        )
        for index in indexes
    ]
    return Camera.objects.bulk_create(cameras)


def fleet_owner_site(fleet: FleetSimulator) -> Site:
    """A deployed site whose partner has 127.1.0.0/16 with the fleet's ports approved."""
    site = deployed_site()
    approve_network(site.host_partner, "127.1.0.0/16", [fleet.http_port, fleet.rtsp_port])
    return site


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fleet():
    with ThreadedFleet(220) as running:
        yield running


@pytest.fixture(autouse=True)
def health_settings(settings):
    settings.HEALTH_ALLOW_LOOPBACK = True
    settings.HEALTH_DENY_HOSTS = []
    settings.HEALTH_CONNECT_TIMEOUT = 0.5
    settings.HEALTH_READ_TIMEOUT = 0.4
    settings.HEALTH_SWEEP_INTERVAL = 300
    settings.HEALTH_BATCH_SIZE = 2000
    settings.HEALTH_CONCURRENCY = 100
    settings.HEALTH_DOWN_AFTER = 3
    settings.HEALTH_UP_AFTER = 2
    return settings


@pytest.fixture
def healthy(fleet):
    """The shared fleet, every camera healthy again after the test."""
    yield fleet
    for index in range(fleet.cameras):
        fleet.set_kind(index, "ok")


def full_sweep(now=None) -> HealthSweep:
    """Start a sweep and run every batch, as the workers would."""
    sweep = sweeps.start_sweep(now=now)
    assert sweep is not None
    for number, _countdown in sweeps.batch_countdowns(sweep):
        sweeps.run_batch(sweep.pk, number)
    sweep.refresh_from_db()
    return sweep


def health_rows() -> list[tuple]:
    return list(
        CameraHealth.objects.order_by("camera_id").values_list(
            "camera_id",
            "status",
            "reason",
            "checked_at",
            "fail_streak",
            "ok_streak",
            "last_sweep_id",
        )
    )


# --- tests ---------------------------------------------------------------------------------------


EXPECTED = {
    "ok": ("up", "ok"),
    "hang": ("down", "timeout"),
    "refused": ("down", "refused"),
    "error": ("down", "http_error"),
    "black": ("degraded", "black"),
    "frozen": ("up", "ok"),  # the first image check has no earlier frame to compare
    "clock_drift": ("degraded", "clock_drift"),
    "flapping": ("up", "ok"),
}


def test_sweep_checks_every_due_camera_exactly_once_in_batches(db, settings):
    settings.HEALTH_BATCH_SIZE = 64
    mixed = FleetMix(
        hang=0.03, refused=0.05, error=0.05, black=0.05, clock_drift=0.05, tail_max_ms=150
    )
    with ThreadedFleet(200, seed=21, mix=mixed) as fleet:
        site = fleet_owner_site(fleet)
        cameras = fleet_cameras(fleet, range(200), site=site)
        # Not due: a decommissioned site's camera, and a deployed camera without any address.
        retired = deployed_site(site.host_partner)
        fleet_cameras(fleet, [0], site=retired, serial="OLD")
        Site.objects.filter(pk=retired.pk).update(status=SiteStatus.DECOMMISSIONED)
        Camera.objects.create(
            site=site,
            owner=site.host_partner,
            vendor="X",
            model="Y",
            serial="NO-URL",
            resolution="720p",
            created_by=site.host_partner.created_by,
        )

        sweep = full_sweep()

    assert (sweep.status, sweep.cameras, sweep.batches) == (SweepStatus.FINISHED, 200, 4)
    assert (sweep.batches_done, sweep.checks) == (4, 200)
    assert sweep.finished_at is not None
    assert list(SweepBatch.objects.filter(sweep=sweep).values_list("cameras", flat=True)) == [
        64,
        64,
        64,
        8,
    ]
    rows = {row.camera_id: row for row in CameraHealth.objects.all()}
    assert set(rows) == {camera.pk for camera in cameras}
    assert {row.last_sweep_id for row in rows.values()} == {sweep.pk}
    for index, camera in enumerate(cameras):
        row = rows[camera.pk]
        assert (row.status, row.reason) == EXPECTED[fleet.kind(index)], fleet.kind(index)
    kinds = {fleet.kind(i) for i in range(200)}
    assert {"ok", "hang", "refused", "black", "clock_drift"} <= kinds
    # Unknown -> first observation: one outbox row per camera, one outage per down camera.
    assert CameraStatusChange.objects.filter(sweep=sweep, old_status="unknown").count() == 200
    down = sum(1 for row in rows.values() if row.status == "down")
    assert sweep.changes == 200
    assert down > 0
    assert Outage.objects.filter(ended_at__isnull=True).count() == down


def test_sweep_damps_flaps_and_records_one_change_and_one_outage(db, healthy):
    fleet = healthy
    site = fleet_owner_site(fleet)
    camera = fleet_cameras(fleet, [7], site=site)[0]
    full_sweep()
    fleet.set_kind(7, "refused")

    first_failure = full_sweep()
    health = CameraHealth.objects.get(camera=camera)
    assert (health.status, health.observed, health.fail_streak) == ("up", "down", 1)
    assert not Outage.objects.exists()

    full_sweep()
    third_failure = full_sweep()
    health.refresh_from_db()
    assert (health.status, health.reason) == ("down", "refused")
    assert health.changed_at is not None
    changes = CameraStatusChange.objects.filter(camera=camera).exclude(old_status="unknown")
    assert list(changes.values_list("old_status", "new_status", "reason", "sweep_id")) == [
        ("up", "down", "refused", third_failure.pk)
    ]
    assert third_failure.changes == 1
    assert first_failure.changes == 0
    outage = Outage.objects.get(camera=camera)
    assert outage.ended_at is None
    assert outage.reason == "refused"

    fleet.set_kind(7, "ok")
    full_sweep()
    assert CameraHealth.objects.get(camera=camera).status == "down"  # one success is not enough
    back = full_sweep()

    health.refresh_from_db()
    assert health.status == "up"
    assert back.changes == 1
    assert list(changes.values_list("old_status", "new_status")) == [("up", "down"), ("down", "up")]
    outage.refresh_from_db()
    assert outage.ended_at is not None
    assert Outage.objects.count() == 1


def test_run_batch_twice_changes_nothing(db, healthy):
    fleet = healthy
    site = fleet_owner_site(fleet)
    fleet_cameras(fleet, range(20), site=site)
    sweep = sweeps.start_sweep()

    first = sweeps.run_batch(sweep.pk, 1)
    rows, changes = health_rows(), CameraStatusChange.objects.count()
    sweep.refresh_from_db()
    counters = (sweep.batches_done, sweep.checks, sweep.changes, sweep.probe_ms, sweep.db_write_ms)
    connections = fleet.connections

    again = sweeps.run_batch(sweep.pk, 1)

    sweep.refresh_from_db()
    assert first.cameras == 20
    assert again is None
    assert health_rows() == rows
    assert CameraStatusChange.objects.count() == changes == 20
    assert (
        sweep.batches_done,
        sweep.checks,
        sweep.changes,
        sweep.probe_ms,
        sweep.db_write_ms,
    ) == counters
    assert fleet.connections == connections  # a done batch is not even probed again


def test_start_sweep_never_overlaps_and_expires_a_sweep_past_its_deadline(db, healthy):
    fleet = healthy
    fleet_cameras(fleet, range(5), site=fleet_owner_site(fleet))
    now = timezone.now()
    first = sweeps.start_sweep(now=now)

    assert sweeps.start_sweep(now=now + timedelta(seconds=200)) is None
    assert HealthSweep.objects.count() == 1

    second = sweeps.start_sweep(now=now + timedelta(seconds=301))

    first.refresh_from_db()
    assert first.status == SweepStatus.EXPIRED
    assert second is not None
    assert second.status == SweepStatus.RUNNING
    # The expired sweep's batch arrives late: it writes nothing.
    assert sweeps.run_batch(first.pk, 1) is None
    assert not CameraHealth.objects.exists()
    sweeps.run_batch(second.pk, 1)
    assert set(CameraHealth.objects.values_list("last_sweep_id", flat=True)) == {second.pk}


def test_start_sweep_with_nothing_due_finishes_at_once(db):
    sweep = sweeps.start_sweep()

    assert (sweep.status, sweep.batches, sweep.cameras) == (SweepStatus.FINISHED, 0, 0)
    assert sweeps.start_sweep() is not None  # a finished sweep does not block the next


def test_sweep_blocks_a_camera_outside_its_owners_networks_without_connecting(db, healthy):
    fleet = healthy
    site = deployed_site()
    # Approved, but 127.1.1.0/24 does not hold camera 3's address 127.1.0.4.
    approve_network(site.host_partner, "127.1.1.0/24", [fleet.http_port, fleet.rtsp_port])
    # Another partner's network holds the address; that must not help.
    other = factories.verified_partner()
    approve_network(other, "127.1.0.0/16", [fleet.http_port, fleet.rtsp_port])
    camera = fleet_cameras(fleet, [3], site=site)[0]
    connections = fleet.connections

    for _ in range(3):
        full_sweep()

    health = CameraHealth.objects.get(camera=camera)
    assert (health.status, health.reason) == ("down", "blocked_by_policy")
    assert fleet.connections == connections
    assert Outage.objects.get(camera=camera).reason == "blocked_by_policy"


def test_run_batch_query_count_does_not_grow_with_the_batch(
    db, healthy, django_assert_max_num_queries
):
    fleet = healthy
    site = fleet_owner_site(fleet)
    fleet_cameras(fleet, range(50), site=site)
    small = sweeps.start_sweep()
    with django_assert_max_num_queries(12) as small_queries:
        report = sweeps.run_batch(small.pk, 1)
    assert report.cameras == 50
    fleet_cameras(fleet, range(50, 200), site=site)
    large = sweeps.start_sweep()

    with django_assert_max_num_queries(12) as large_queries:
        report = sweeps.run_batch(large.pk, 1)

    assert report.cameras == 200
    assert len(large_queries.captured_queries) == len(small_queries.captured_queries)


def test_sweep_checks_image_and_clock_at_their_slower_cadence(db, healthy, settings):
    fleet = healthy
    settings.HEALTH_IMAGE_EVERY = 1800
    settings.HEALTH_CLOCK_EVERY = 3600
    camera = fleet_cameras(fleet, [11], site=fleet_owner_site(fleet))[0]
    full_sweep()
    first = CameraHealth.objects.get(camera=camera)
    fleet.set_kind(11, "black")

    full_sweep()  # the image check is not due: the black frame goes unnoticed for now
    unnoticed = CameraHealth.objects.get(camera=camera)
    CameraHealth.objects.filter(camera=camera).update(
        image_checked_at=first.image_checked_at - timedelta(seconds=1800)
    )
    full_sweep()
    noticed = CameraHealth.objects.get(camera=camera)
    fleet.set_kind(11, "ok")
    full_sweep()  # healthy again, but only the image check may clear what it found
    still = CameraHealth.objects.get(camera=camera)

    assert first.image_checked_at is not None
    assert first.clock_checked_at is not None
    assert first.image_hash
    assert unnoticed.status == "up"
    assert unnoticed.image_checked_at == first.image_checked_at
    assert (noticed.status, noticed.reason) == ("degraded", "black")
    assert noticed.clock_checked_at == first.clock_checked_at
    assert (still.status, still.reason) == ("degraded", "black")


@pytest.mark.django_db(transaction=True)
def test_run_batch_by_two_workers_at_once_writes_once(areas_after_flush, settings):
    from django.db import connections

    slow = FleetMix(**{**HEALTHY.__dict__, "latency_ms": 150})
    with ThreadedFleet(30, mix=slow) as fleet:
        fleet_cameras(fleet, range(30), site=fleet_owner_site(fleet))
        sweep = sweeps.start_sweep()
        barrier = threading.Barrier(2)
        reports = []

        def worker() -> None:
            try:
                barrier.wait(5)
                reports.append(sweeps.run_batch(sweep.pk, 1))
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        probed = fleet.connections

    sweep.refresh_from_db()
    assert sorted(r is None for r in reports) == [False, True]
    # Both really overlapped (each probed RTSP, snapshot and ONVIF of every camera), so it was
    # the claim at write time, not the early check, that kept the second from writing.
    assert probed == 2 * 3 * 30
    assert (sweep.batches_done, sweep.checks, sweep.changes) == (1, 30, 30)
    assert sweep.status == SweepStatus.FINISHED
    assert CameraStatusChange.objects.count() == 30
    assert CameraHealth.objects.count() == 30
