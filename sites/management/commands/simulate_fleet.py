"""Run a fake camera fleet on loopback until interrupted (demo and benchmark target)."""

import asyncio
import signal

from django.core.management.base import BaseCommand, CommandError

from sites.health.probes import loop_factory
from sites.health.simulator import FleetMix, FleetSimulator


class Command(BaseCommand):
    help = (
        "Answer as N cameras on 127.X.Y.Z (HTTP snapshots, RTSP OPTIONS, ONVIF time) with a seeded "
        "mix of healthy, hanging, refusing, failing, black, frozen, drifting and flapping cameras. "
        "The health checker needs HEALTH_ALLOW_LOOPBACK=1 to reach it. Stop with Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cameras", type=int, default=1000, help="fleet size")
        parser.add_argument("--seed", type=int, default=1, help="same seed, same behaviours")
        parser.add_argument("--http-port", type=int, default=8081, help="snapshot and ONVIF port")
        parser.add_argument("--rtsp-port", type=int, default=8554, help="RTSP OPTIONS port")
        parser.add_argument(
            "--mix",
            default="",
            help="override shares and latency, e.g. hang=0.05,refused=0.01,flap_every=4 "
            "(names: the fields of sites.health.simulator.FleetMix)",
        )

    def handle(
        self, *args, cameras: int, seed: int, http_port: int, rtsp_port: int, mix: str, **options
    ):
        if not 1 <= cameras <= 1_000_000:
            raise CommandError("--cameras must be between 1 and 1,000,000")
        try:
            fleet_mix = FleetMix.parse(mix)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        fleet = FleetSimulator(cameras, seed=seed, mix=fleet_mix)
        try:
            # The same loop the checker uses: uvloop when installed.
            with asyncio.Runner(loop_factory=loop_factory()) as runner:
                runner.run(self._run(fleet, http_port, rtsp_port))
        except KeyboardInterrupt:
            pass
        except OSError as exc:
            raise CommandError(f"cannot listen: {exc}") from None
        self.stdout.write(f"Fleet stopped after {fleet.connections} connections.")

    async def _run(self, fleet: FleetSimulator, http_port: int, rtsp_port: int) -> None:
        await fleet.start(http_port=http_port, rtsp_port=rtsp_port)
        self.stdout.write(fleet.summary())
        self.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # Own handlers: a shell's background job ignores SIGINT, and `make run` stops with SIGTERM.
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            await stop.wait()
        finally:
            await fleet.stop()
