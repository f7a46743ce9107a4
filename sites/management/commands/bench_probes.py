"""Time the probe ladder against a simulated fleet, next to a plain asyncio client as the baseline.

The simulator runs in its own process (as a real fleet would be elsewhere), so the CPU figures
here are the checker's alone: resource.getrusage(RUSAGE_SELF) around the sweep, divided by the
number of checks. No database is needed: specs and config are built directly.
"""

import asyncio
import os
import resource
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sites.health.policy import ApprovedNetwork
from sites.health.probes import ProbeConfig, ProbeSpec, loop_name, run_probes
from sites.health.simulator import SNAPSHOT_PATH, camera_address

# Every simulated camera fits 127.1.0.0/16 up to this many (camera_address skips .0 and .255).
MAX_CAMERAS = 256 * 254
SIMULATOR_NETWORK = "127.1.0.0/16"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        return sock.getsockname()[1]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measure(run: Callable[[], list[str]]) -> tuple[list[str], float, float]:
    """(reasons, wall seconds, CPU seconds) of one sweep."""
    cpu, wall = _cpu_seconds(), time.perf_counter()
    reasons = run()
    return reasons, time.perf_counter() - wall, _cpu_seconds() - cpu


# --- the baseline: what a bare asyncio client costs for the same two exchanges --------------------


async def _baseline_check(
    address: str, rtsp_port: int, http_port: int, timeout: float, cap: int
) -> str:
    # One bound per exchange, as the probe has: a hung camera costs each the same wait.
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(address, rtsp_port)
            try:
                writer.write(
                    f"OPTIONS rtsp://{address}:{rtsp_port}/ RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode()
                )
                status = await reader.readline()
            finally:
                writer.transport.abort()
        if not status.startswith(b"RTSP/1.0 200"):
            return "rtsp_error" if status else "refused"
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(address, http_port)
            try:
                writer.write(
                    f"GET {SNAPSHOT_PATH} HTTP/1.1\r\nHost: {address}:{http_port}\r\n"
                    "Connection: close\r\n\r\n".encode()
                )
                status = await reader.readline()
                body = await reader.read(cap)
                while body and len(body) < cap and (more := await reader.read(cap - len(body))):
                    body += more
            finally:
                writer.transport.abort()
            return "ok" if status.startswith(b"HTTP/1.1 200") else "http_error"
    except TimeoutError:
        return "timeout"
    except ConnectionError:
        return "refused"
    except OSError:
        return "unreachable"


async def _baseline(
    addresses: Sequence[str], rtsp_port: int, http_port: int, concurrency: int, timeout: float
) -> list[str]:
    results: list[str] = [""] * len(addresses)
    indexes = iter(range(len(addresses)))
    cap = settings.HEALTH_MAX_SNAPSHOT_BYTES

    async def worker() -> None:
        for i in indexes:
            results[i] = await _baseline_check(addresses[i], rtsp_port, http_port, timeout, cap)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(addresses)))))
    return results


# --- the command ---------------------------------------------------------------------------------


class Command(BaseCommand):
    help = (
        "Start the fleet simulator in a separate process, probe N simulated cameras with "
        "probe_many (RTSP OPTIONS + HTTP snapshot) and with a plain asyncio client, and print "
        "wall time, checks/s, client CPU µs per check and the outcome mix of both."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cameras", type=int, default=20000, help="simulated cameras")
        parser.add_argument("--concurrency", type=int, default=1000, help="probes in flight")
        parser.add_argument("--seed", type=int, default=1, help="simulator seed")
        parser.add_argument(
            "--mix", default="", help="passed to simulate_fleet --mix (e.g. tail_max_ms=250)"
        )
        parser.add_argument(
            "--no-baseline", action="store_true", help="skip the plain asyncio client"
        )

    def handle(
        self,
        *args,
        cameras: int,
        concurrency: int,
        seed: int,
        mix: str,
        no_baseline: bool,
        **options,
    ):
        if not 1 <= cameras <= MAX_CAMERAS:
            raise CommandError(f"--cameras must be between 1 and {MAX_CAMERAS}")
        if concurrency < 1:
            raise CommandError("--concurrency must be at least 1")
        http_port, rtsp_port = _free_port(), _free_port()
        simulator = self._start_simulator(cameras, seed, mix, http_port, rtsp_port)
        try:
            self._bench(cameras, concurrency, http_port, rtsp_port, no_baseline)
        finally:
            simulator.terminate()
            try:
                simulator.wait(timeout=10)
            except subprocess.TimeoutExpired:
                simulator.kill()
                simulator.wait()

    def _start_simulator(
        self, cameras: int, seed: int, mix: str, http_port: int, rtsp_port: int
    ) -> subprocess.Popen:
        manage = Path(settings.BASE_DIR) / "manage.py"
        command = [
            sys.executable,
            str(manage),
            "simulate_fleet",
            f"--cameras={cameras}",
            f"--seed={seed}",
            f"--http-port={http_port}",
            f"--rtsp-port={rtsp_port}",
            f"--mix={mix}",
        ]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy()
        )
        # The simulator prints its summary once both sockets listen.
        line = process.stdout.readline().decode(errors="replace").strip()
        if not line.startswith("Simulating"):
            rest = process.stdout.read().decode(errors="replace") if process.poll() else ""
            process.kill()
            process.wait()
            raise CommandError(f"simulator did not start: {line} {rest}".strip())
        process.stdout.close()
        return process

    def _bench(
        self, cameras: int, concurrency: int, http_port: int, rtsp_port: int, no_baseline: bool
    ) -> None:
        networks = (ApprovedNetwork.parse(SIMULATOR_NETWORK, (http_port, rtsp_port)),)
        addresses = [camera_address(i) for i in range(cameras)]
        specs = [
            ProbeSpec(
                camera_id=i + 1,
                networks=networks,
                rtsp_url=f"rtsp://{address}:{rtsp_port}/stream",
                snapshot_url=f"http://{address}:{http_port}{SNAPSHOT_PATH}",
            )
            for i, address in enumerate(addresses)
        ]
        config = ProbeConfig.from_settings(allow_loopback=True)

        def ours() -> list[str]:
            results = run_probes(specs, config=config, concurrency=concurrency)
            if len(results) != len(specs):
                raise CommandError(f"{len(results)} results for {len(specs)} cameras")
            return [result.reason for result in results]

        self.stdout.write(
            f"cameras {cameras}  concurrency {concurrency}  timeouts connect "
            f"{config.connect_timeout:g} s read {config.read_timeout:g} s  loop {loop_name()}"
        )
        reasons, wall, cpu = _measure(ours)
        ours_rate, ours_cpu = self._report("probe_many", reasons, wall, cpu)
        if no_baseline:
            return

        def baseline() -> list[str]:
            return asyncio.run(
                _baseline(addresses, rtsp_port, http_port, concurrency, config.read_timeout)
            )

        reasons, wall, cpu = _measure(baseline)
        base_rate, base_cpu = self._report("baseline (plain asyncio)", reasons, wall, cpu)
        self.stdout.write(
            f"ours/baseline  CPU per check {ours_cpu / base_cpu:.2f}x  "
            f"checks/s {ours_rate / base_rate:.2f}x"
        )

    def _report(
        self, label: str, reasons: list[str], wall: float, cpu: float
    ) -> tuple[float, float]:
        checks = len(reasons)
        rate = checks / wall if wall else 0.0
        per_check = cpu / checks * 1e6
        mix = ", ".join(f"{reason} {count}" for reason, count in Counter(reasons).most_common())
        self.stdout.write(
            f"{label}: wall {wall:.2f} s  {rate:,.0f} checks/s  "
            f"client CPU {per_check:.0f} µs/check  ({mix})"
        )
        return rate, per_check
