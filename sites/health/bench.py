"""The fleet-health benchmark behind `manage.py bench_health`: full sweeps through Celery.

What it runs, so the figures mean what they say:
- its own database on the same server ("<dbname>_bench"), created and migrated fresh, dropped at
  the end unless kept, so dev and test data are never touched;
- the fleet simulator in a child process it controls through a Pipe (flips are injected with
  FleetSimulator.set_kind; simulator.py has no control channel of its own), all cameras healthy
  so only the injected flips change state;
- W Celery worker processes (solo pool) on a queue of their own, fed by the real start_sweep
  task through the configured broker.

Two bench-only tweaks in the workers (run_worker), both to measure capacity rather than the
production pacing: HEALTH_SWEEP_SPREAD is 0, so a sweep's batches are enqueued without countdowns
instead of being spread over 80% of the interval; and settings.DEBUG is off at run time, so
Django does not log every query (DEBUG=1 is only needed for the filesystem broker's defaults).
"""

import asyncio
import contextlib
import io
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone

from sites.health import damping
from sites.health.probes import loop_factory, loop_name
from sites.health.simulator import OK, REFUSED, FleetMix, FleetSimulator, camera_address

SWEEPS_PER_DAY = 288  # one every 5 minutes
HEALTHY_MIX = "hang=0,refused=0,error=0,black=0,frozen=0,clock_drift=0,flapping=0"
# Deadline and task expiry of a bench sweep: long enough that no batch of a slow run expires.
SWEEP_INTERVAL = 900
TARGET_SWEEP_S, TARGET_DB_WRITE_MS, TARGET_CPU_US, TARGET_MB_PER_DAY = 15.0, 1000, 400, 150

WORKER_BOOT = (
    "import sys, django; django.setup(); "
    "from sites.health.bench import run_worker; run_worker(sys.argv[1], sys.argv[2])"
)

Out = Callable[[str], None]


class BenchError(Exception):
    """The benchmark could not run (not a missed target)."""


@dataclass(frozen=True)
class BenchConfig:
    cameras: int = 60_000
    sweeps: int = 3
    # Two per core: while one worker's batch waits for its slowest cameras (a batch ends with its
    # last answer, up to ~3 s in the simulated fleet), another's uses the CPU. Measured at
    # 60,000 cameras: 2 workers 48 s a sweep, 4 workers 24 s, 6 workers 18 s but at the edge of
    # overload (a warm-up with image and clock checks for every camera timed one out).
    workers: int = 4
    flips: int = 100
    seed: int = 1
    keep: bool = False
    batch_size: int = 2000
    down_after: int = 3
    up_after: int = 2
    sweep_timeout: float = 600.0


@dataclass
class SweepFigures:
    sweep_id: int
    wall_s: float
    checks: int
    db_write_ms: int
    probe_ms: int
    batches: int
    changes: int
    checked_once: bool


@dataclass
class Flips:
    """Which cameras go down before which sweep, and when each injection happened."""

    groups: list[list[int]]  # groups[k - 1]: camera indexes going down before sweep k
    down_after: int
    injected: dict[tuple[int, str], datetime] = field(default_factory=dict)  # (index, kind)

    def plan(self, sweep: int) -> tuple[list[int], list[int]]:
        """(going down, coming back up) before measured sweep `sweep` (1-based)."""
        down = self.groups[sweep - 1] if sweep <= len(self.groups) else []
        back = sweep - self.down_after  # a group comes back once its down was detected
        up = self.groups[back - 1] if 1 <= back <= len(self.groups) else []
        return down, up

    def observed_down(self, index: int, group: int, sweep: int) -> bool:
        return group <= sweep < group + self.down_after

    def expected_changes(self, sweeps: int, up_after: int) -> dict[tuple[int, int], tuple]:
        """{(camera index, sweep): (old, new, sweep the flip was injected)} per flap damping."""
        expected = {}
        for group, indexes in enumerate(self.groups, 1):
            for index in indexes:
                state = damping.State(damping.UP, "", 0, up_after)
                injected_at = group
                for sweep in range(1, sweeps + 1):
                    down = self.observed_down(index, group, sweep)
                    if sweep == group + self.down_after:
                        injected_at = sweep  # the restore happened before this sweep
                    observation = damping.Observation(
                        damping.DOWN if down else damping.UP, REFUSED if down else "", False, False
                    )
                    new = damping.next_state(
                        state, observation, down_after=self.down_after, up_after=up_after
                    )
                    if new.status != state.status:
                        expected[(index, sweep)] = (state.status, new.status, injected_at)
                    state = new
        return expected


# --- the simulator, in a child process we can talk to ---------------------------------------------


def _simulator_main(conn, cameras: int, seed: int, http_port: int, rtsp_port: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us, also on Ctrl-C
    fleet = FleetSimulator(cameras, seed=seed, mix=FleetMix.parse(HEALTHY_MIX))

    async def main() -> None:
        await fleet.start(http_port=http_port, rtsp_port=rtsp_port)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def on_message() -> None:
            try:
                command, *args = conn.recv()
            except (EOFError, OSError):
                stop.set()
                return
            if command == "set":
                indexes, kind = args
                for index in indexes:
                    fleet.set_kind(index, kind)
                conn.send(("ok", fleet.counts()[kind]))
            else:
                stop.set()

        loop.add_reader(conn.fileno(), on_message)
        conn.send(("ready", fleet.summary()))
        try:
            await stop.wait()
        finally:
            loop.remove_reader(conn.fileno())
            await fleet.stop()

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(main())


class Simulator:
    def __init__(self, cameras: int, seed: int, http_port: int, rtsp_port: int) -> None:
        # fork: the child needs no Django setup; the caller closes DB connections first.
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self.process = context.Process(
            target=_simulator_main,
            args=(child, cameras, seed, http_port, rtsp_port),
            daemon=True,
        )
        self.process.start()
        child.close()
        self.summary = self._receive(60)[1]

    def _receive(self, timeout: float) -> tuple:
        if not self._conn.poll(timeout):
            raise BenchError("the simulator did not answer")
        return self._conn.recv()

    def set_kind(self, indexes: list[int], kind: str) -> datetime:
        self._conn.send(("set", indexes, kind))
        self._receive(30)
        return timezone.now()

    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send(("stop",))
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self._conn.close()


# --- workers -------------------------------------------------------------------------------------


def run_worker(queue: str, name: str) -> None:
    """A worker's entry point (see WORKER_BOOT): the bench tweaks, then a solo Celery worker."""
    from portal.celery import app

    settings.DEBUG = False
    settings.HEALTH_SWEEP_SPREAD = 0
    app.worker_main(
        [
            "worker",
            "-Q",
            queue,
            "-n",
            f"{name}@%h",
            "--pool",
            "solo",
            "--concurrency",
            "1",
            "-l",
            "warning",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


def _stop_process_group(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _tree(pid: int) -> list[psutil.Process]:
    try:
        process = psutil.Process(pid)
        return [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        for process in _tree(pid):
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
    return total


class RssSampler(threading.Thread):
    """Peak resident memory of each worker (with its children), sampled every 0.2 s."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peaks = dict.fromkeys(pids, 0)
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.2):
            for pid in self.pids:
                rss = 0
                for process in _tree(pid):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        rss += process.memory_info().rss
                self.peaks[pid] = max(self.peaks[pid], rss)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)


# --- the database --------------------------------------------------------------------------------


@contextlib.contextmanager
def bench_database(keep: bool, out: Out, *, suffix: str = "_bench"):
    """Switch the default connection to a fresh "<dbname><suffix>" database for the block.

    Each benchmark passes its own suffix so two of them can run at once."""
    original = connection.settings_dict["NAME"]
    name = f"{original}{suffix}"
    quoted = connection.ops.quote_name(name)
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {quoted}")
    connection.close()
    connection.settings_dict["NAME"] = name
    try:
        yield name
    finally:
        connections.close_all()
        connection.settings_dict["NAME"] = original
        if keep:
            out(f"database: kept {name}")
        else:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
            connection.close()


def database_url(name: str) -> str:
    from urllib.parse import quote

    sd = connection.settings_dict
    host = quote(sd["HOST"] or "localhost", safe="")
    password = f":{quote(sd['PASSWORD'], safe='')}" if sd["PASSWORD"] else ""
    port = f":{sd['PORT']}" if sd["PORT"] else ""
    return f"postgres://{quote(sd['USER'], safe='')}{password}@{host}{port}/{name}"


def seed(cameras: int, http_port: int, rtsp_port: int) -> list[int]:
    """Bulk-create partners, their approved simulator network, active sites and cameras.

    Camera i answers on camera_address(i); returns the camera ids in index order.
    """
    from partners.models import CameraNetwork, NetworkStatus, Partner, PartnerKind, PartnerStatus
    from portal.models import User
    from sites.models import Area, AreaLevel, Camera, HostKind, Site, SiteStatus

    now = timezone.now()
    area = Area.objects.filter(level=AreaLevel.VILLAGE).first() or Area.objects.create(
        code="31.71.01.1001", level=AreaLevel.VILLAGE, name="Bench", lat=-6.2, lon=106.8
    )
    actor = User.objects.create(username="bench", email="bench@example.test")
    partners = Partner.objects.bulk_create(
        Partner(
            kind=PartnerKind.BUSINESS,
            name=f"Bench partner {number}",
            kelurahan=area,
            address="Jl. Bench",
            contact_name="Bench",
            contact_email=f"bench{number}@example.test",
            contact_phone="0210000000",
            status=PartnerStatus.VERIFIED,
            created_by=actor,
        )
        for number in range(3)
    )
    CameraNetwork.objects.bulk_create(
        CameraNetwork(
            partner=partner,
            cidr="127.1.0.0/16",
            ports=[http_port, rtsp_port],
            description="Bench: the fleet simulator",
            status=NetworkStatus.APPROVED,
            requested_by=actor,
            decided_at=now,
        )
        for partner in partners
    )
    site_count = (cameras + 1) // 2
    sites = Site.objects.bulk_create(
        (
            Site(
                lat=-6.2,
                lon=106.8,
                kelurahan=area,
                address=f"Bench site {number}",
                host_partner=partners[number * len(partners) // site_count],
                host_kind=HostKind.BUILDING,
                status=SiteStatus.ACTIVE,
                status_changed_at=now,
                created_by=actor,
            )
            for number in range(site_count)
        ),
        batch_size=5000,
    )
    made = Camera.objects.bulk_create(
        (
            Camera(
                site=sites[index // 2],
                owner_id=sites[index // 2].host_partner_id,
                vendor="Bench",
                model="Sim",
                serial=f"BENCH-{index:06d}",
                resolution="1920x1080",
                rtsp_url=f"rtsp://{camera_address(index)}:{rtsp_port}/stream1",
                snapshot_url=f"http://{camera_address(index)}:{http_port}/snapshot.jpg",
                onvif_url=f"http://{camera_address(index)}:{http_port}/onvif/device_service",
                created_by=actor,
            )
            for index in range(cameras)
        ),
        batch_size=5000,
    )
    return [camera.pk for camera in made]


def _health_tables() -> dict[str, str]:
    from sites.models import (
        CameraHealth,
        CameraStatusChange,
        HealthRollup,
        HealthSweep,
        Outage,
        SweepBatch,
        UpstreamIncident,
    )

    models = (
        CameraHealth,
        CameraStatusChange,
        Outage,
        HealthSweep,
        SweepBatch,
        UpstreamIncident,
        HealthRollup,
    )
    return {model.__name__: model._meta.db_table for model in models}


def _table_bytes() -> dict[str, int]:
    tables = _health_tables()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t, pg_total_relation_size(t::regclass) FROM unnest(%s::text[]) AS t",
            [list(tables.values())],
        )
        sizes = dict(cursor.fetchall())
    return {name: sizes[table] for name, table in tables.items()}


# --- the run -------------------------------------------------------------------------------------


class Bench:
    def __init__(self, config: BenchConfig, out: Out) -> None:
        self.config = config
        self.out = out
        self.queue = f"bench-{uuid.uuid4().hex[:8]}"
        self.workers: list[subprocess.Popen] = []
        self.simulator: Simulator | None = None
        self.logs = Path(tempfile.mkdtemp(prefix="bench_health_"))

    def run(self) -> bool:
        from portal.celery import app

        previous = (app.conf.task_always_eager, app.conf.task_default_queue)
        app.conf.task_always_eager, app.conf.task_default_queue = False, self.queue
        try:
            with bench_database(self.config.keep, self.out) as name:
                try:
                    return self._run(name)
                finally:
                    self._stop_all()
        finally:
            app.conf.task_always_eager, app.conf.task_default_queue = previous

    def _stop_all(self) -> None:
        for worker in self.workers:
            _stop_process_group(worker)
        if self.simulator is not None:
            self.simulator.stop()

    def _run(self, database: str) -> bool:
        from sites.management.commands.bench_probes import _free_port

        config, out = self.config, self.out
        started = time.perf_counter()
        call_command("migrate", verbosity=0, stdout=io.StringIO())
        migrated = time.perf_counter()
        http_port, rtsp_port = _free_port(), _free_port()
        ids = seed(config.cameras, http_port, rtsp_port)
        seeded = time.perf_counter()
        connections.close_all()  # nothing open across the fork
        self.simulator = Simulator(config.cameras, config.seed, http_port, rtsp_port)
        self._start_workers(database)
        out(f"cameras: {config.cameras}")
        out(
            f"workers: {config.workers} (solo pool, concurrency 1 each; batch "
            f"{config.batch_size}, {settings.HEALTH_CONCURRENCY} probes in flight per worker; "
            f"damping down after {config.down_after}, up after {config.up_after}; "
            f"broker {settings.CELERY_BROKER_URL.split('://')[0]})"
        )
        out(f"event loop: {loop_name()}")
        out(
            f"setup: database {database} migrated in {migrated - started:.1f} s, "
            f"{config.cameras} cameras seeded in {seeded - migrated:.1f} s"
        )
        out(f"simulator: {self.simulator.summary}")

        warm = self._sweep(label="warm-up sweep")
        self._check_warm_up(warm)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE " + _health_tables()["CameraHealth"])
        sampler = RssSampler([worker.pid for worker in self.workers])
        sampler.start()
        bytes_before = _table_bytes()
        cpu_before = _cpu_seconds([worker.pid for worker in self.workers])

        rng = random.Random(config.seed)
        chosen = rng.sample(range(config.cameras), config.flips * config.sweeps)
        flips = Flips(
            [chosen[k * config.flips : (k + 1) * config.flips] for k in range(config.sweeps)],
            config.down_after,
        )
        measured: list[SweepFigures] = []
        for number in range(1, config.sweeps + 1):
            down, up = flips.plan(number)
            if up:
                at = self.simulator.set_kind(up, OK)
                flips.injected.update({(index, "up"): at for index in up})
            if down:
                at = self.simulator.set_kind(down, REFUSED)
                flips.injected.update({(index, "down"): at for index in down})
            measured.append(self._sweep(label=f"sweep {number}"))

        cpu_after = _cpu_seconds([worker.pid for worker in self.workers])
        bytes_after = _table_bytes()
        sampler.stop()
        checks = sum(figures.checks for figures in measured)
        cpu_us = (cpu_after - cpu_before) / checks * 1e6 if checks else 0.0
        out(
            f"worker CPU: {cpu_us:.0f} µs/check ({cpu_after - cpu_before:.1f} s over "
            f"{checks} checks in {len(measured)} sweeps, user + system incl. children)"
        )
        peaks = [peak / 2**20 for peak in sampler.peaks.values()]
        out(
            "worker peak RSS: "
            + ", ".join(f"{peak:.0f} MB" for peak in peaks)
            + f" (max {max(peaks):.0f} MB)"
        )
        false_transitions = self._correctness(measured, flips, ids)
        mb_per_day = self._storage(bytes_before, bytes_after, len(measured))
        base_rate, base_cpu = self._baseline(http_port, rtsp_port, flips)
        ours_rate = statistics.mean(f.checks / f.wall_s for f in measured if f.wall_s)
        out(
            f"ours/baseline: checks/s {ours_rate / base_rate:.2f}x, "
            f"CPU per check {cpu_us / base_cpu:.2f}x"
        )
        worst_sweep = max(f.wall_s for f in measured)
        worst_write = max(f.db_write_ms for f in measured)
        verdicts = [
            (
                f"sweep <= {TARGET_SWEEP_S:g} s",
                worst_sweep <= TARGET_SWEEP_S,
                f"{worst_sweep:.1f} s",
            ),
            (
                f"DB write <= {TARGET_DB_WRITE_MS / 1000:g} s",
                worst_write <= TARGET_DB_WRITE_MS,
                f"{worst_write} ms",
            ),
            (f"CPU <= {TARGET_CPU_US} µs/check", cpu_us <= TARGET_CPU_US, f"{cpu_us:.0f} µs"),
            (
                f"storage <= {TARGET_MB_PER_DAY} MB/day",
                mb_per_day <= TARGET_MB_PER_DAY,
                f"{mb_per_day:.1f} MB/day",
            ),
            ("zero false transitions", false_transitions == 0, str(false_transitions)),
        ]
        for label, passed, value in verdicts:
            out(f"target {label}: {'PASS' if passed else 'MISS'} ({value})")
        out(f"total: {time.perf_counter() - started:.0f} s; worker logs in {self.logs}")
        return all(passed for _label, passed, _value in verdicts)

    def _start_workers(self, database: str) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DEBUG": "1",
            "DATABASE_URL": database_url(database),
            "HEALTH_ALLOW_LOOPBACK": "1",
            "HEALTH_DOWN_AFTER": str(self.config.down_after),
            "HEALTH_UP_AFTER": str(self.config.up_after),
            "HEALTH_BATCH_SIZE": str(self.config.batch_size),
            "HEALTH_SWEEP_INTERVAL": str(SWEEP_INTERVAL),
        }
        for number in range(self.config.workers):
            log = open(self.logs / f"worker{number}.log", "wb")  # noqa: SIM115 - child owns it
            self.workers.append(
                subprocess.Popen(
                    [sys.executable, "-c", WORKER_BOOT, self.queue, f"bench{number}"],
                    cwd=settings.BASE_DIR,
                    env=env,
                    start_new_session=True,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            log.close()

    def _sweep(self, *, label: str) -> SweepFigures:
        """Send start_sweep through the broker and wait for the sweep to finish."""
        from sites import tasks
        from sites.models import CameraHealth, HealthSweep, SweepBatch, SweepStatus

        last = HealthSweep.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        tasks.start_sweep.apply_async(queue=self.queue)
        deadline = time.monotonic() + self.config.sweep_timeout
        sweep = None
        while True:
            if time.monotonic() > deadline:
                raise BenchError(f"{label}: not finished within {self.config.sweep_timeout:g} s")
            for worker in self.workers:
                if worker.poll() is not None:
                    raise BenchError(f"a worker exited; see its log in {self.logs}")
            sweep = HealthSweep.objects.filter(pk__gt=last).order_by("pk").first()
            if sweep is not None and sweep.status != SweepStatus.RUNNING:
                break
            time.sleep(0.05)
        ended = timezone.now()
        if sweep.status != SweepStatus.FINISHED:
            raise BenchError(f"{label}: sweep {sweep.pk} ended {sweep.status}")
        batches = SweepBatch.objects.filter(sweep=sweep)
        # done_at is stamped with the time the batch started probing (run_batch's "now").
        first_start = min(batches.values_list("done_at", flat=True))
        batch_cameras = sum(batches.values_list("cameras", flat=True))
        stamped = CameraHealth.objects.filter(last_sweep_id=sweep.pk).count()
        figures = SweepFigures(
            sweep_id=sweep.pk,
            wall_s=(ended - first_start).total_seconds(),
            checks=sweep.checks,
            db_write_ms=sweep.db_write_ms,
            probe_ms=sweep.probe_ms,
            batches=sweep.batches,
            changes=sweep.changes,
            checked_once=(
                batch_cameras == sweep.checks == stamped == self.config.cameras
                and CameraHealth.objects.count() == self.config.cameras
            ),
        )
        self.out(
            f"{label}: wall {figures.wall_s:.2f} s (first batch start -> last batch done), "
            f"{figures.checks / figures.wall_s:,.0f} checks/s, DB write {figures.db_write_ms} ms, "
            f"probe {figures.probe_ms / 1000:.1f} s (sum over {figures.batches} batches), "
            f"{figures.changes} status changes, every camera checked once: "
            f"{'yes' if figures.checked_once else 'NO'}"
        )
        return figures

    def _check_warm_up(self, warm: SweepFigures) -> None:
        from sites.models import CameraHealth

        up = CameraHealth.objects.filter(status=damping.UP).count()
        if up != self.config.cameras or not warm.checked_once:
            raise BenchError(
                f"warm-up left {up} of {self.config.cameras} cameras up; the healthy fleet "
                f"should be all up (see the worker logs in {self.logs})"
            )

    def _correctness(self, measured: list[SweepFigures], flips: Flips, ids: list[int]) -> int:
        from sites.models import CameraStatusChange

        config, out = self.config, self.out
        number_of = {figures.sweep_id: k for k, figures in enumerate(measured, 1)}
        index_of = {camera_id: index for index, camera_id in enumerate(ids)}
        actual = {
            (index_of[camera_id], number_of[sweep_id]): (old, new, created_at)
            for camera_id, sweep_id, old, new, created_at in CameraStatusChange.objects.filter(
                sweep_id__in=number_of
            ).values_list("camera_id", "sweep_id", "old_status", "new_status", "created_at")
        }
        rows = CameraStatusChange.objects.filter(sweep_id__in=number_of).count()
        expected = flips.expected_changes(config.sweeps, config.up_after)
        false = sorted(
            key
            for key, (old, new, _at) in actual.items()
            if expected.get(key, ())[:2] != (old, new)
        )
        missed = sorted(key for key in expected if key not in actual)
        latencies, sweeps_taken = [], []
        for key, (_old, new, created_at) in actual.items():
            if key in false:
                continue
            direction = "down" if new == damping.DOWN else "up"
            latencies.append((created_at - flips.injected[(key[0], direction)]).total_seconds())
            sweeps_taken.append(key[1] - expected[key][2] + 1)
        if latencies:
            out(
                f"detection latency: min {min(latencies):.1f} s, median "
                f"{statistics.median(latencies):.1f} s, max {max(latencies):.1f} s over "
                f"{len(latencies)} changes, {min(sweeps_taken)}-{max(sweeps_taken)} sweeps after "
                f"injection (damping: down after {config.down_after}, up after {config.up_after})"
            )
        else:
            out(
                f"detection latency: none detected within {config.sweeps} sweeps "
                f"(damping needs {config.down_after} failed sweeps)"
            )
        injected = sum(len(group) for group in flips.groups)
        pending = injected - sum(1 for (_i, _k), v in expected.items() if v[1] == damping.DOWN)
        once = all(figures.checked_once for figures in measured)
        out(
            f"correctness: every camera checked exactly once per sweep: "
            f"{'yes' if once else 'NO'}; status changes {rows} (expected after damping "
            f"{len(expected)}, from {injected} injected flips, {pending} still within damping "
            f"at the end); false transitions {len(false) + rows - len(actual)}; "
            f"missed {len(missed)}"
        )
        return len(false) + (rows - len(actual)) + len(missed) + (0 if once else 1)

    def _storage(self, before: dict[str, int], after: dict[str, int], sweeps: int) -> float:
        grown = {name: after[name] - before[name] for name in before}
        # camera_health holds one row per camera, rewritten in place: its growth over a few
        # sweeps is MVCC churn that autovacuum makes reusable, not history kept per day.
        history = sum(size for name, size in grown.items() if name != "CameraHealth")
        per_sweep = history / sweeps
        mb_per_day = per_sweep * SWEEPS_PER_DAY / 2**20
        detail = ", ".join(f"{name} {size / 1024:+.0f} kB" for name, size in grown.items() if size)
        self.out(
            f"storage growth: {per_sweep / 1024:.1f} kB per sweep in the history tables -> "
            f"{mb_per_day:.1f} MB per day at 5-minute sweeps; camera_health (latest state, "
            f"{after['CameraHealth'] / 2**20:.1f} MB) {grown['CameraHealth'] / 2**20:+.1f} MB "
            f"over {sweeps} sweeps, reclaimed by vacuum ({detail or 'no change'})"
        )
        return mb_per_day

    def _baseline(self, http_port: int, rtsp_port: int, flips: Flips) -> tuple[float, float]:
        from sites.management.commands.bench_probes import _baseline, _measure

        for group in flips.groups:
            self.simulator.set_kind(group, OK)
        addresses = [camera_address(index) for index in range(self.config.cameras)]
        # As many in flight as one of our workers: more, and a single plain asyncio process
        # spends so long per loop turn that its own answers time out (at 12,000, two in three).
        concurrency = settings.HEALTH_CONCURRENCY

        def baseline() -> list[str]:
            return asyncio.run(
                _baseline(
                    addresses, rtsp_port, http_port, concurrency, settings.HEALTH_READ_TIMEOUT
                )
            )

        reasons, wall, cpu = _measure(baseline)
        rate, per_check = len(reasons) / wall, cpu / len(reasons) * 1e6
        ok = sum(1 for reason in reasons if reason == "ok")
        self.out(
            f"baseline (plain asyncio, one process, {concurrency} in flight): wall {wall:.2f} s, "
            f"{rate:,.0f} checks/s, CPU {per_check:.0f} µs/check ({ok} of {len(reasons)} ok)"
        )
        return rate, per_check


def run(config: BenchConfig, out: Out) -> bool:
    """Run the benchmark; True when every target passed. Raises BenchError if it cannot run."""
    return Bench(config, out).run()
