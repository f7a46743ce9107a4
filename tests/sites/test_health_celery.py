"""A health sweep through the real Celery path: beat's task -> broker -> worker -> batches.

A real worker process takes start_sweep and the probe_batch tasks it enqueues from the configured
broker, against the test database, and probes a fleet simulated by `manage.py simulate_fleet` in
another process.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from portal.celery import app as celery_app
from sites import tasks
from sites.models import CameraHealth, HealthSweep, SweepStatus
from tests.conftest import database_url
from tests.sites.test_health_sweeps import ThreadedFleet, fleet_cameras, fleet_owner_site

BASE_DIR = Path(__file__).resolve().parents[2]
CAMERAS = 12
HEALTHY_MIX = "hang=0,refused=0,error=0,black=0,frozen=0,clock_drift=0,flapping=0,tail_share=0"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


class _Fleet:
    """What the simulator subprocess listens on (the camera helpers read these two ports)."""

    cameras = CAMERAS

    def __init__(self, http_port: int, rtsp_port: int) -> None:
        self.http_port, self.rtsp_port = http_port, rtsp_port


@pytest.fixture
def simulator(tmp_path):
    http_port, rtsp_port = _free_port(), _free_port()
    log = open(tmp_path / "fleet.log", "w+b")  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "simulate_fleet",
            f"--cameras={CAMERAS}",
            f"--http-port={http_port}",
            f"--rtsp-port={rtsp_port}",
            f"--mix={HEALTHY_MIX}",
        ],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", "DEBUG": "1"},
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while b"Simulating" not in (tmp_path / "fleet.log").read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the simulator did not start:\n{(tmp_path / 'fleet.log').read_text()}")
            time.sleep(0.1)
        yield _Fleet(http_port, rtsp_port)
    finally:
        _stop(process)
        log.close()


@pytest.fixture
def worker(areas_after_flush, tmp_path):
    """A worker process on a queue of its own, so a running `make run` cannot take our tasks."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    log = open(tmp_path / "worker.log", "w+b")  # noqa: SIM115 - closed in the finally below
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "1",
        "DATABASE_URL": database_url(connection.settings_dict),
        "HEALTH_ALLOW_LOOPBACK": "1",
        "HEALTH_CONNECT_TIMEOUT": "1",
        "HEALTH_READ_TIMEOUT": "1",
        # Short, so the batches' countdowns (spread over 80% of it) stay within the test.
        "HEALTH_SWEEP_INTERVAL": "5",
        "HEALTH_BATCH_SIZE": "5",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "-Q",
            queue,
            "--concurrency",
            "1",
            "--pool",
            "solo",
            "-l",
            "warning",
        ],
        cwd=BASE_DIR,
        env=env,
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    try:
        yield process, tmp_path / "worker.log"
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
        _stop(process)
        log.close()


def test_tasks_run_a_whole_sweep_and_a_replayed_batch_is_a_no_op(db, settings):
    settings.HEALTH_ALLOW_LOOPBACK = True
    settings.HEALTH_DENY_HOSTS = []
    settings.HEALTH_BATCH_SIZE = 3
    with ThreadedFleet(7) as fleet:
        fleet_cameras(fleet, range(7), site=fleet_owner_site(fleet))

        started = tasks.start_sweep.apply().get()  # eager: the batches run inline
        replayed = tasks.probe_batch.apply(args=(started["sweep"], 2)).get()
        overlapping = tasks.start_sweep.apply().get()

    sweep = HealthSweep.objects.get(pk=started["sweep"])
    assert started == {"sweep": sweep.pk, "cameras": 7, "batches": 3}
    assert (sweep.status, sweep.checks, sweep.batches_done) == (SweepStatus.FINISHED, 7, 3)
    assert replayed is None
    assert overlapping["sweep"] != sweep.pk  # the first one finished, so a new one may start
    assert CameraHealth.objects.filter(status="up").count() == 7


def test_beat_schedules_the_health_sweep_with_an_expiry(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["health-sweep"]

    assert entry["task"] == tasks.start_sweep.name
    assert entry["schedule"] == settings.HEALTH_SWEEP_INTERVAL
    assert 0 < entry["options"]["expires"] <= settings.HEALTH_SWEEP_INTERVAL


@pytest.mark.broker
def test_sweep_through_a_real_worker_checks_every_camera(simulator, worker):
    process, log = worker
    cameras = fleet_cameras(simulator, range(CAMERAS), site=fleet_owner_site(simulator))

    tasks.start_sweep.delay()

    deadline = time.monotonic() + 45
    sweep = None
    while time.monotonic() < deadline:
        sweep = HealthSweep.objects.first()
        if sweep is not None and sweep.status == SweepStatus.FINISHED:
            break
        if process.poll() is not None:
            pytest.fail(f"worker exited early:\n{log.read_text()}")
        time.sleep(0.2)
    else:
        pytest.fail(f"no finished sweep within 45 s ({sweep!r}); worker log:\n{log.read_text()}")
    assert (sweep.cameras, sweep.batches, sweep.batches_done) == (CAMERAS, 3, 3)
    assert sweep.checks == CAMERAS
    rows = CameraHealth.objects.filter(camera__in=cameras)
    assert sorted(rows.values_list("camera_id", flat=True)) == sorted(c.pk for c in cameras)
    assert set(rows.values_list("status", "last_sweep_id")) == {("up", sweep.pk)}
