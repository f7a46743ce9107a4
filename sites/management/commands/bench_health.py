"""Time full health sweeps of N simulated cameras through the real Celery path (issue 4)."""

import signal

from django.core.management.base import BaseCommand, CommandError

from sites.health.bench import BenchConfig, BenchError, run
from sites.management.commands.bench_probes import MAX_CAMERAS


def _terminate(signum, frame):
    # SIGTERM unwinds like Ctrl-C, so every worker, the simulator and the database are cleaned up.
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = (
        "Seed N cameras into a fresh '<dbname>_bench' database, start the fleet simulator and W "
        "Celery workers, run a warm-up and S measured sweeps through the broker with injected "
        "flips, and print sweep time, checks/s, DB write time, worker CPU and memory, detection "
        "latency, correctness, storage growth, a plain asyncio baseline and PASS/MISS per target."
    )

    def add_arguments(self, parser):
        defaults = BenchConfig()
        parser.add_argument("--cameras", type=int, default=defaults.cameras)
        parser.add_argument("--sweeps", type=int, default=defaults.sweeps, help="measured sweeps")
        parser.add_argument("--workers", type=int, default=defaults.workers)
        parser.add_argument(
            "--flips", type=int, default=defaults.flips, help="cameras going down before each sweep"
        )
        parser.add_argument("--seed", type=int, default=defaults.seed)
        parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
        parser.add_argument("--down-after", type=int, default=defaults.down_after)
        parser.add_argument("--up-after", type=int, default=defaults.up_after)
        parser.add_argument(
            "--sweep-timeout", type=float, default=defaults.sweep_timeout, help="seconds"
        )
        parser.add_argument("--keep", action="store_true", help="keep the bench database")

    def handle(self, *args, **options):
        config = BenchConfig(
            cameras=options["cameras"],
            sweeps=options["sweeps"],
            workers=options["workers"],
            flips=options["flips"],
            seed=options["seed"],
            keep=options["keep"],
            batch_size=options["batch_size"],
            down_after=options["down_after"],
            up_after=options["up_after"],
            sweep_timeout=options["sweep_timeout"],
        )
        if not 1 <= config.cameras <= MAX_CAMERAS:
            raise CommandError(f"--cameras must be between 1 and {MAX_CAMERAS}")
        if min(config.sweeps, config.workers, config.batch_size) < 1 or config.flips < 0:
            raise CommandError("--sweeps, --workers and --batch-size must be positive")
        if config.down_after < 1 or config.up_after < 1:
            raise CommandError("--down-after and --up-after must be at least 1")
        if config.flips * config.sweeps > config.cameras:
            raise CommandError("--flips x --sweeps must not exceed --cameras")

        def out(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        previous = signal.signal(signal.SIGTERM, _terminate)
        try:
            run(config, out)
        except BenchError as exc:
            raise CommandError(str(exc)) from None
        except KeyboardInterrupt:
            raise CommandError("interrupted; workers, simulator and database cleaned up") from None
        finally:
            signal.signal(signal.SIGTERM, previous)
