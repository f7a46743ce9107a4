"""Time the city map's JSON at city scale (issue #7) and print PASS/MISS per target.

    DEBUG=1 .venv/bin/python manage.py bench_map [--cameras 60000]

Throwaway state: by default a fresh "<dbname>_benchmap" database on the same server, migrated
and dropped at the end (like bench_health's "<dbname>_bench", under its own name so both can run
at once). With --here it runs in the current database inside one transaction that is rolled back
at the end; the tests use that, but on a shared database the open transaction holds row locks on
the sites tables for as long as the run takes. If fewer than N cameras are on active sites, the
missing ones are
seeded with sites.health.bench.seed (bulk rows, as bench_health does), their sites spread at
random over Jakarta (uniform random positions compress worse than a real, clustered fleet) with a
mix of health states and one finished sweep. Responses go through RequestFactory to the views,
so middleware is not counted; settings.DEBUG is off while measuring so no query is logged.
"""

import contextlib
import io
import os
import random
import statistics
import time

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import RequestFactory, override_settings
from django.utils import timezone

from portal import map_selectors, map_views
from sites.management.commands.bench_probes import MAX_CAMERAS

TARGET_GZIP_BYTES = 500_000
TARGET_BUILD_MS = 300
TARGET_CACHED_MS = 20
# Health mix of the seeded cameras: (state, share).
HEALTH_MIX = [
    ("up", 0.90),
    ("down", 0.04),
    ("degraded", 0.03),
    ("maintenance", 0.01),
    ("upstream_down", 0.01),
    ("unknown", 0.01),
]
# Jakarta's mainland, roughly: south-west and north-east corners.
JAKARTA_BOX = ((-6.37, 106.68), (-6.08, 106.98))


class _Rollback(Exception):
    """Raised at the end of the run to undo everything it wrote."""


@contextlib.contextmanager
def _throwaway_database():
    """A fresh, migrated "<dbname>_benchmap" for the block (sites.health.bench's helper)."""
    from sites.health.bench import bench_database

    with bench_database(False, lambda line: None, suffix="_benchmap"):
        call_command("migrate", verbosity=0, stdout=io.StringIO())
        yield


def _seed(missing: int, rng: random.Random) -> None:
    from sites.health.bench import seed
    from sites.models import Camera, CameraHealth, HealthSweep, Site, SweepStatus

    ids = seed(missing, 0, 0)  # ports: nobody probes these cameras
    (south, west), (north, east) = JAKARTA_BOX
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [rng.random()])
        cursor.execute(
            f"UPDATE {Site._meta.db_table} SET "
            "lat = round((%s + random() * %s)::numeric, 6), "
            "lon = round((%s + random() * %s)::numeric, 6) "
            f"WHERE id IN (SELECT site_id FROM {Camera._meta.db_table} WHERE id BETWEEN %s AND %s)",
            [south, north - south, west, east - west, min(ids), max(ids)],
        )
    now = timezone.now()
    sweep = HealthSweep.objects.create(
        started_at=now, deadline=now, finished_at=now, status=SweepStatus.FINISHED
    )
    states = [state for state, _share in HEALTH_MIX]
    weights = [share for _state, share in HEALTH_MIX]
    CameraHealth.objects.bulk_create(
        (
            CameraHealth(
                camera_id=camera_id,
                status=state,
                changed_at=now,
                checked_at=now,
                last_sweep_id=sweep.pk,
            )
            for camera_id, state in zip(ids, rng.choices(states, weights, k=len(ids)), strict=True)
        ),
        batch_size=5000,
        ignore_conflicts=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sites_site; ANALYZE sites_camera; ANALYZE sites_camerahealth")


def _median_ms(call, times: int, before=None) -> float:
    samples = []
    for _ in range(times):
        if before is not None:
            before()
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


class Command(BaseCommand):
    help = (
        "Seed N cameras on active sites if fewer exist (rolled back at the end) and print the "
        "map payload's size raw and gzip, its uncached build time, the cached response time and "
        "the status-only payload's size, with PASS/MISS against issue #7's targets."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cameras", type=int, default=60_000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--here",
            action="store_true",
            help="run in the current database inside a transaction rolled back at the end",
        )

    def handle(self, *args, **options):
        cameras = options["cameras"]
        if not 1 <= cameras <= MAX_CAMERAS:
            raise CommandError(f"--cameras must be between 1 and {MAX_CAMERAS}")
        debug = settings.DEBUG
        settings.DEBUG = False  # no query logging while timing
        rng = random.Random(options["seed"])
        try:
            if options["here"]:
                with transaction.atomic():
                    self._run(cameras, rng)
                    raise _Rollback
            else:
                started = time.perf_counter()
                with _throwaway_database():
                    self.out(f"database: fresh, migrated in {time.perf_counter() - started:.1f} s")
                    self._run(cameras, rng)
        except _Rollback:
            pass
        finally:
            settings.DEBUG = debug
            self._forget()

    def out(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    def _forget(self) -> None:
        # Only the map's own keys: the cache may be shared with the running portal.
        version = cache.get("map:version")
        keys = ["map:version", "map:requests"]
        if version:
            keys += [
                f"map:cameras:{map_selectors.PUBLIC}:{version['version']}",
                f"map:cameras:{map_selectors.STAFF}:{version['version']}",
                f"map:status:{version['version']}",
            ]
        cache.delete_many(keys)

    def _run(self, cameras: int, rng: random.Random) -> None:
        from sites.models import Camera, SiteStatus

        existing = Camera.objects.filter(site__status=SiteStatus.ACTIVE).count()
        started = time.perf_counter()
        if existing < cameras:
            _seed(cameras - existing, rng)
        seeded = time.perf_counter() - started
        on_map = Camera.objects.filter(site__status=SiteStatus.ACTIVE).count()
        load = ", ".join(f"{figure:.1f}" for figure in os.getloadavg())
        self.out(
            f"cameras on active sites: {on_map:,} ({existing:,} existing, "
            f"{max(0, cameras - existing):,} seeded in {seeded:.1f} s; seeded sites at uniform "
            f"random points over Jakarta, the worst case for compression)"
        )
        self.out(f"machine: {os.cpu_count()} CPUs, load average {load} (1, 5, 15 min)")

        factory = RequestFactory()

        def get(view, path: str, encoding: str = "gzip"):
            request = factory.get(path, HTTP_ACCEPT_ENCODING=encoding)
            request.user = AnonymousUser()
            response = view(request)
            assert response.status_code == 200, response.status_code
            return response

        with override_settings(MAP_VERSION_TTL=0):
            self._forget()
            gz = get(map_views.map_cameras, "/map/cameras.json").content
            raw = get(map_views.map_cameras, "/map/cameras.json", "identity").content
            build_ms = _median_ms(
                lambda: get(map_views.map_cameras, "/map/cameras.json"), 5, before=self._forget
            )
            checked_ms = _median_ms(lambda: get(map_views.map_cameras, "/map/cameras.json"), 50)
            status_gz = get(map_views.map_status, "/map/status.json").content
            status_raw = get(map_views.map_status, "/map/status.json", "identity").content
            status_build_ms = _median_ms(
                lambda: get(map_views.map_status, "/map/status.json"), 5, before=self._forget
            )
            version_ms = _median_ms(map_selectors._version_now, 20)
            staff = map_views._compress(map_selectors.camera_payload(variant=map_selectors.STAFF))
        self._forget()
        get(map_views.map_cameras, "/map/cameras.json")
        cached_ms = _median_ms(lambda: get(map_views.map_cameras, "/map/cameras.json"), 50)
        identity_ms = _median_ms(
            lambda: get(map_views.map_cameras, "/map/cameras.json", "identity"), 50
        )

        per_camera = len(gz) / max(on_map, 1)
        self.out(
            f"cameras.json (public): {len(raw):,} bytes raw, {len(gz):,} bytes gzip "
            f"({per_camera:.1f} bytes per camera)"
        )
        self.out(f"cameras.json (officers, with host partner): {len(staff):,} bytes gzip")
        self.out(
            f"status.json: {len(status_raw):,} bytes raw, {len(status_gz):,} bytes gzip; "
            f"uncached build {status_build_ms:.1f} ms (median of 5)"
        )
        self.out(
            f"version query: {version_ms:.1f} ms (median of 20); a cached response that asks it "
            f"every time (MAP_VERSION_TTL=0) takes {checked_ms:.1f} ms (median of 50). By default "
            "the version is remembered for MAP_VERSION_TTL seconds, so that query is paid once "
            "per interval and process, not per request."
        )
        verdicts = [
            (
                f"gzip <= {TARGET_GZIP_BYTES // 1000} KB",
                len(gz) <= TARGET_GZIP_BYTES,
                f"{len(gz) / 1000:.0f} KB",
            ),
            (
                f"uncached build <= {TARGET_BUILD_MS} ms (version query, one SQL query, "
                "packing, gzip; median of 5, cache cleared)",
                build_ms <= TARGET_BUILD_MS,
                f"{build_ms:.1f} ms",
            ),
            (
                f"cached response <= {TARGET_CACHED_MS} ms (version remembered "
                f"{getattr(settings, 'MAP_VERSION_TTL', 10)} s, no query; median of 50)",
                cached_ms <= TARGET_CACHED_MS,
                f"{cached_ms:.2f} ms",
            ),
            (
                f"cached response without gzip <= {TARGET_CACHED_MS} ms (decompressed per "
                "request; median of 50)",
                identity_ms <= TARGET_CACHED_MS,
                f"{identity_ms:.2f} ms",
            ),
        ]
        for label, passed, value in verdicts:
            self.out(f"target {label}: {_verdict(passed)} ({value})")
