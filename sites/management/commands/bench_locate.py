"""Time sites.selectors.kelurahan_at: is pinning a point to its kelurahan fast enough for a form?"""

import random
import time

from django.core.management.base import BaseCommand, CommandError

from sites.models import AreaBoundary, AreaLevel
from sites.selectors import OutsideJakarta, area_list, kelurahan_at

# Kabupaten Kepulauan Seribu: its islands stretch the province's box far into the Java Sea, so the
# random points are drawn over the five mainland kota, where nearly every real pin falls.
ISLANDS_CODE = "31.01"


def _percentile(sorted_ms: list[float], share: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    index = max(0, min(len(sorted_ms) - 1, round(share * len(sorted_ms)) - 1))
    return sorted_ms[index]


class Command(BaseCommand):
    help = (
        "Time kelurahan_at over every kelurahan label point and seeded random points inside "
        "mainland Jakarta's bounding box; print mean, p50, p95, p99 and max in ms."
    )

    def add_arguments(self, parser):
        parser.add_argument("--calls", type=int, default=5000, help="number of timed calls")
        parser.add_argument("--seed", type=int, default=20260101, help="seed of the random points")

    def handle(self, *args, calls: int, seed: int, **options):
        if calls < 1:
            raise CommandError("--calls must be at least 1")
        labels = [(float(a.lat), float(a.lon)) for a in area_list(level=AreaLevel.VILLAGE)]
        if not labels:
            raise CommandError("No kelurahan loaded: run `manage.py load_areas` first.")
        south, north, west, east = self._mainland_box()
        rng = random.Random(seed)
        # Half label points (cycled), half random points, interleaved.
        points = [
            labels[(i // 2) % len(labels)]
            if i % 2 == 0
            else (rng.uniform(south, north), rng.uniform(west, east))
            for i in range(calls)
        ]
        for lat, lon in labels[:20]:  # warm the connection and the plan cache
            kelurahan_at(lat=lat, lon=lon)

        timings: list[float] = []
        inside = 0
        for lat, lon in points:
            start = time.perf_counter()
            try:
                kelurahan_at(lat=lat, lon=lon)
                inside += 1
            except OutsideJakarta:
                pass
            timings.append((time.perf_counter() - start) * 1000)

        timings.sort()
        mean = sum(timings) / len(timings)
        self.stdout.write(
            f"box lat {south:.3f}..{north:.3f} lon {west:.3f}..{east:.3f}, seed {seed}, "
            f"{len(labels)} label points"
        )
        self.stdout.write(
            f"calls {calls}  mean {mean:.3f} ms  p50 {_percentile(timings, 0.50):.3f}  "
            f"p95 {_percentile(timings, 0.95):.3f}  p99 {_percentile(timings, 0.99):.3f}  "
            f"max {timings[-1]:.3f} ms"
        )
        self.stdout.write(f"inside {inside / calls:.1%}  outside {(calls - inside) / calls:.1%}")

    def _mainland_box(self) -> tuple[float, float, float, float]:
        rings = AreaBoundary.objects.exclude(area__code__startswith=ISLANDS_CODE + ".")
        lons, lats = [], []
        for ring in rings.values_list("ring", flat=True):
            lons.extend(x for x, _ in ring)
            lats.extend(y for _, y in ring)
        return min(lats), max(lats), min(lons), max(lons)
