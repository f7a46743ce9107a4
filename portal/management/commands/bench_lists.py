"""Time the large list endpoints and pages at city scale (issue #7) and print PASS/MISS.

    DEBUG=1 .venv/bin/python manage.py bench_lists [--cameras 60000] [--requests 200000]

Throwaway state: a fresh "<dbname>_benchlists" database on the same server (sites.health.bench's
bench_database, under its own suffix so it can run beside bench_health and bench_map), migrated,
seeded and dropped at the end unless --keep. Seeded: Jakarta's areas; N cameras on active sites
(sites.health.bench.seed), the sites then spread over every kelurahan; M coverage requests in one
INSERT ... SELECT generate_series (spread over the kelurahan and three years, a realistic mix of
statuses and categories, a few with supports), checked afterwards; T maintenance tickets on those
cameras. Each case is timed R times through django.test.Client (middleware, session and
templates included) as a city officer, as an owner of one of the three seeded partners (a third of
the fleet) and anonymously where the list is public: the first page, a filtered page and the 10th
page (followed through `next`, or the rel="next" link of a page, on cursor lists; ?page=10 on
numbered ones). The officers' priority of the open requests is stored as the daily task would.
settings.DEBUG is off while timing, so no query is logged.
"""

import gc
import html
import io
import logging
import os
import re
import statistics
import time
import warnings
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError, connection
from django.test import Client, override_settings
from django.utils import timezone

from sites.health.bench import bench_database, seed

TARGET_P95_MS = 100
# Every kelurahan as parallel arrays (id, lat, lon) and their count, for spreading seeded rows
# over the city in SQL; its one parameter is AreaLevel.VILLAGE.
_KELURAHAN_ARRAYS = """
    SELECT array_agg(id ORDER BY id) AS ids, array_agg(lat ORDER BY id) AS lats,
           array_agg(lon ORDER BY id) AS lons, count(*)::int AS n
    FROM sites_area WHERE level = %s
"""
QUERY_TIMEOUT_S = 20  # statement_timeout of the bench database: a hopeless case fails fast
SLOW_CALL_S = 2.0  # a case whose first call is slower than this is timed 3 times, not R
# Share of each request status (all sum to 1). About a fifth is still open, as in a city where
# most requests were long since installed, confirmed or declined.
REQUEST_STATUS_MIX = [
    ("unverified", 0.03),
    ("submitted", 0.09),
    ("under_review", 0.05),
    ("planned", 0.04),
    ("reopened", 0.01),
    ("installed", 0.10),
    ("confirmed", 0.30),
    ("declined", 0.33),
    ("merged", 0.05),
]
TICKET_STATUS_MIX = [
    ("open", 0.06),
    ("acknowledged", 0.04),
    ("in_progress", 0.05),
    ("resolved", 0.05),
    ("reopened", 0.02),
    ("verified", 0.70),
    ("cancelled", 0.08),
]


@dataclass(frozen=True)
class Case:
    label: str
    url: str
    who: str  # "officer", "member" or "anonymous"
    follow: int = 0  # follow `next` this many times first (cursor pages)


def _cases() -> list[Case]:
    cases = []
    for who in ("officer", "member"):
        cases += [
            Case("api cameras", "/api/cameras/", who),
            Case("api cameras ?kota=31.74", "/api/cameras/?kota=31.74", who),
            Case("api cameras, 10th page", "/api/cameras/", who, follow=9),
            Case("api sites", "/api/sites/", who),
            Case("api sites ?kota=31.74", "/api/sites/?kota=31.74", who),
            Case("api sites ?page=10", "/api/sites/?page=10", who),
            Case("api tickets", "/api/tickets/", who),
            Case("api tickets ?status=active", "/api/tickets/?status=active", who),
            Case("api tickets, 10th page", "/api/tickets/", who, follow=9),
        ]
    for who in ("anonymous", "officer"):
        cases += [
            Case("api requests", "/api/requests/", who),
            Case(
                "api requests ?status=open&kota=31.74", "/api/requests/?status=open&kota=31.74", who
            ),
            Case("api requests, 10th page", "/api/requests/", who, follow=9),
        ]
    cases += [
        Case("api request-queue", "/api/request-queue/", "officer"),
        Case(
            "api request-queue ?kota=31.74&category=theft",
            "/api/request-queue/?kota=31.74&category=theft",
            "officer",
        ),
        Case("api request-queue ?page=10", "/api/request-queue/?page=10", "officer"),
    ]
    for who in ("officer", "member"):
        cases += [
            Case("page cameras", "/cameras/", who),
            Case("page cameras ?page=10", "/cameras/?page=10", who),
            Case("page sites", "/sites/", who),
            Case("page tickets", "/tickets/", who),
            Case("page tickets ?page=10", "/tickets/?page=10", who),
        ]
    for who in ("anonymous", "officer"):
        cases += [
            Case("page requests", "/requests/", who),
            Case("page requests ?status=open", "/requests/?status=open", who),
            Case("page requests, 10th page", "/requests/", who, follow=9),
        ]
    cases += [
        Case("page request queue", "/requests/queue/", "officer"),
        Case("page request queue ?page=10", "/requests/queue/?page=10", "officer"),
    ]
    return cases


def _next_url(response) -> str | None:
    """The next cursor page: `next` of an API page, the rel="next" link of an HTML page."""
    if response["Content-Type"].startswith("application/json"):
        return response.json()["next"]
    found = re.search(r'<a rel="next" href="([^"]+)"', response.content.decode())
    return html.unescape(found.group(1)) if found else None


def _load() -> str:
    return ", ".join(f"{figure:.2f}" for figure in os.getloadavg())


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


class Command(BaseCommand):
    help = (
        "Seed cameras, coverage requests and tickets in a throwaway database and print p50/p95/max "
        "of every large list endpoint and page, with PASS/MISS against p95 <= 100 ms."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cameras", type=int, default=60_000)
        parser.add_argument("--requests", type=int, default=200_000)
        parser.add_argument("--tickets", type=int, default=20_000)
        parser.add_argument("--runs", type=int, default=50, help="timed requests per case")
        parser.add_argument("--seed", type=float, default=0.42, help="Postgres setseed, -1..1")
        parser.add_argument("--only", default="", help="run only cases whose label contains this")
        parser.add_argument("--keep", action="store_true", help="keep the database afterwards")

    def out(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    def handle(self, *args, **options):
        if not 2 <= options["cameras"] <= 200_000 or not 1 <= options["requests"] <= 999_999:
            raise CommandError("--cameras must be 2..200000 and --requests 1..999999")
        debug = settings.DEBUG
        settings.DEBUG = False  # no query logging while seeding and timing
        logging.getLogger("axes").setLevel(logging.WARNING)  # one line per bench login
        warnings.filterwarnings("ignore", message="No directory at", module="django")
        self.out(f"machine: {os.cpu_count()} CPUs, load average {_load()} (1, 5, 15 min)")
        try:
            with bench_database(options["keep"], self.out, suffix="_benchlists") as name:
                started = time.perf_counter()
                call_command("migrate", verbosity=0, stdout=io.StringIO())
                self.out(f"database: {name}, migrated in {time.perf_counter() - started:.1f} s")
                users = self._seed(options)
                self._measure(users, options)
        finally:
            settings.DEBUG = debug

    # --- seeding ----------------------------------------------------------------------------

    def _seed(self, options) -> dict:
        from sites.loaders import load_areas

        started = time.perf_counter()
        load_areas()
        self.out(f"seed: areas loaded in {time.perf_counter() - started:.1f} s")
        with connection.cursor() as cursor:
            cursor.execute("SELECT setseed(%s)", [options["seed"]])
        started = time.perf_counter()
        camera_ids = seed(options["cameras"], 0, 0)  # ports: nobody probes these cameras
        self._spread_sites()
        self.out(
            f"seed: {len(camera_ids):,} cameras on {(len(camera_ids) + 1) // 2:,} active sites "
            f"over every kelurahan in {time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        self._seed_requests(options["requests"])
        self.out(
            f"seed: {options['requests']:,} coverage requests in "
            f"{time.perf_counter() - started:.1f} s; {self._check_requests(options['requests'])}"
        )
        started = time.perf_counter()
        scored = self._score_requests()
        self.out(
            f"seed: priority of {scored:,} open requests stored (the daily refresh task's service) "
            f"in {time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        partner_ids = self._seed_tickets(options["tickets"], camera_ids)
        self.out(f"seed: {options['tickets']:,} tickets in {time.perf_counter() - started:.1f} s")
        with connection.cursor() as cursor:
            # What autovacuum will have done by the time anyone reads the tables: straight
            # after the bulk inserts and the priority UPDATE no page is marked all-visible yet,
            # so an index-only scan (a count over a partial index) would still read the heap.
            cursor.execute("VACUUM (ANALYZE)")
            # This connection (kept across requests, CONN_MAX_AGE) and any opened later.
            cursor.execute(f"SET statement_timeout = '{QUERY_TIMEOUT_S}s'")
            cursor.execute(
                f"ALTER DATABASE {connection.ops.quote_name(connection.settings_dict['NAME'])} "
                f"SET statement_timeout = '{QUERY_TIMEOUT_S}s'"
            )
        return self._users(partner_ids[0])

    def _spread_sites(self) -> None:
        from sites.models import AreaLevel, Site

        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                WITH k AS ({_KELURAHAN_ARRAYS}), pick AS (
                    SELECT s.id, 1 + (s.id * 7919) %% k.n AS i FROM {Site._meta.db_table} s, k
                )
                UPDATE {Site._meta.db_table} AS s SET
                    kelurahan_id = k.ids[pick.i],
                    lat = round((coalesce(k.lats[pick.i], -6.2) + (random() - 0.5) * 0.01)
                        ::numeric, 6),
                    lon = round((coalesce(k.lons[pick.i], 106.8) + (random() - 0.5) * 0.01)
                        ::numeric, 6)
                FROM pick, k WHERE pick.id = s.id
                """,
                [AreaLevel.VILLAGE.value],
            )

    def _seed_requests(self, count: int) -> None:
        from sites.models import AreaLevel, CoverageRequest, RequestCategory

        status_case, bound = [], 0.0
        for status, share in REQUEST_STATUS_MIX:
            bound += share
            status_case.append(f"WHEN r.rs < {bound:.4f} THEN '{status}'")
        categories = "ARRAY[" + ", ".join(f"'{c}'" for c in RequestCategory.values) + "]"
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                WITH k AS ({_KELURAHAN_ARRAYS}), r AS (
                    SELECT g, 1 + floor(random() * k.n)::int AS i, random() AS rs,
                           floor(random() * {len(RequestCategory.values)})::int + 1 AS c,
                           random() AS sup,
                           now() - random() * interval '1095 days' AS created
                    FROM generate_series(1, %s) AS g, k
                ), s AS (
                    SELECT r.*, CASE {" ".join(status_case)} ELSE 'declined' END AS status FROM r
                )
                INSERT INTO {CoverageRequest._meta.db_table} (
                    reference, lat, lon, kelurahan_id, category, description, requester_name,
                    photo, photo_extension, consent_at, privacy_notice_version, status,
                    status_changed_at, verified_at, closed_at, decline_reason, supports_count,
                    created_at, priority_rawan, priority_recent, priority_score, priority_rank
                )
                SELECT
                    'REQ-' || to_char(s.created, 'YYYY') || '-' || lpad(s.g::text, 6, '0'),
                    round((coalesce(k.lats[s.i], -6.2) + (random() - 0.5) * 0.01)::numeric, 6),
                    round((coalesce(k.lons[s.i], 106.8) + (random() - 0.5) * 0.01)::numeric, 6),
                    k.ids[s.i],
                    ({categories})[s.c],
                    'Bench request ' || s.g,
                    '', '', '', s.created, 'bench', s.status,
                    s.created + interval '1 day',
                    CASE WHEN s.status = 'unverified' THEN NULL
                         ELSE s.created + interval '10 minutes' END,
                    CASE WHEN s.status IN ('confirmed', 'declined', 'merged')
                         THEN s.created + interval '30 days' END,
                    CASE WHEN s.status = 'declined' THEN 'Bench: already covered' ELSE '' END,
                    CASE WHEN s.status = 'unverified' OR s.sup < 0.80 THEN 0
                         WHEN s.sup < 0.95 THEN 1 + floor(random() * 3)::int
                         ELSE 3 + floor(random() * 25)::int END,
                    s.created,
                    0, 0, 0, 0  -- open requests are scored afterwards (_score_requests)
                FROM s, k
                """,
                [AreaLevel.VILLAGE.value, count],
            )

    def _score_requests(self) -> int:
        """Store the officers' priority of every open request the way the daily task does."""
        from sites.request_services import requests_priority_refresh_open

        with connection.cursor() as cursor:
            # The statement_timeout set for timing comes later; a batch takes a few seconds.
            cursor.execute("ANALYZE")
        return requests_priority_refresh_open()

    def _check_requests(self, count: int) -> str:
        """Prove the SQL wrote what the model would accept, and describe the spread."""
        from django.db.models import Count

        from sites.models import CoverageRequest
        from sites.models.requests import OPEN_REQUEST_STATUSES

        rows = CoverageRequest.objects.all()
        total = rows.count()
        if total != count:
            raise CommandError(f"seeded {total} requests, expected {count}")
        for sample in rows.order_by("?")[:10]:
            sample.full_clean()
        by_status = dict(rows.values_list("status").annotate(n=Count("id")).order_by())
        kelurahan = rows.values("kelurahan_id").distinct().count()
        categories = rows.values("category").distinct().count()
        supported = rows.filter(supports_count__gt=0).count()
        open_count = sum(by_status.get(status, 0) for status in OPEN_REQUEST_STATUSES)
        return (
            f"checked: {total:,} rows (10 random ones pass full_clean), {kelurahan} kelurahan, "
            f"{categories} categories, {open_count:,} open, {supported:,} with supports; "
            + ", ".join(f"{status} {n:,}" for status, n in sorted(by_status.items()))
        )

    def _seed_tickets(self, count: int, camera_ids: list[int]) -> list[int]:
        import random

        from contracts.models import MaintenanceTicket, TicketSource
        from sites.models import Camera

        rng = random.Random(7)
        cameras = list(
            Camera.objects.filter(pk__in=camera_ids[:: max(1, len(camera_ids) // count)])
            .values_list("id", "site_id", "owner_id")
            .order_by("id")
        )
        statuses = [status for status, _ in TICKET_STATUS_MIX]
        weights = [share for _, share in TICKET_STATUS_MIX]
        now = timezone.now()
        tickets = []
        for number in range(count):
            camera_id, site_id, owner_id = cameras[number % len(cameras)]
            opened = now - rng.random() * timedelta(days=730)
            tickets.append(
                MaintenanceTicket(
                    reference=f"TKT-{opened.year}-{number + 1:06d}",
                    source=rng.choice(TicketSource.values),
                    title=f"Bench ticket {number}",
                    site_id=site_id,
                    camera_id=camera_id,
                    responsible_id=owner_id,
                    status=rng.choices(statuses, weights)[0],
                    opened_at=opened,
                )
            )
        MaintenanceTicket.objects.bulk_create(tickets, batch_size=5000)
        return sorted({owner for _, _, owner in cameras})

    def _users(self, partner_id: int) -> dict:
        from guardian.shortcuts import assign_perm

        from partners.models import MemberRole, Partner
        from partners.services import ROLE_PERMISSIONS, membership_add, partner_group
        from portal.models import User
        from portal.roles import Role

        officer = User.objects.create(username="bench-officer", email="o@example.test")
        officer.groups.add(Group.objects.get_or_create(name=Role.OFFICER_APPROVER)[0])
        member = User.objects.create(username="bench-member", email="m@example.test")
        # seed() bulk-creates partners, so their role groups get the permissions here, as
        # partners.services.partner_register would give them.
        partner = Partner.objects.get(pk=partner_id)
        for role, perms in ROLE_PERMISSIONS.items():
            for perm in perms:
                assign_perm(f"partners.{perm}", partner_group(partner, role), partner)
        membership_add(partner=partner, user=member, role=MemberRole.OWNER)
        return {"officer": officer, "member": member, "anonymous": None}

    # --- timing -----------------------------------------------------------------------------

    def _measure(self, users: dict, options) -> None:
        from sites.models import Camera, CoverageRequest, Site

        clients = {}
        for who, user in users.items():
            client = Client(HTTP_ACCEPT_LANGUAGE="id")
            if user is not None:
                client.force_login(user)
            clients[who] = client
        gc.freeze()  # as portal/wsgi.py does once the app is loaded
        self.out(
            f"rows: {Camera.objects.count():,} cameras, {Site.objects.count():,} sites, "
            f"{CoverageRequest.objects.count():,} coverage requests; load average {_load()}"
        )
        self.out(
            f"{'case':<46} {'who':<9} {'runs':>4} {'p50':>8} {'p95':>8} {'max':>8}  "
            f"target p95 <= {TARGET_P95_MS} ms"
        )
        misses = []
        hosts = [*settings.ALLOWED_HOSTS, "testserver"]
        with override_settings(ALLOWED_HOSTS=hosts, REQUEST_API_READS_PER_HOUR=10**9):
            for case in _cases():
                if options["only"] and options["only"] not in case.label:
                    continue
                try:
                    samples = self._time(clients[case.who], case, options["runs"])
                except OperationalError:  # statement_timeout
                    misses.append(f"{case.label} ({case.who})")
                    self.out(
                        f"{case.label:<46} {case.who:<9} a query ran over {QUERY_TIMEOUT_S} s "
                        "(statement_timeout)  MISS"
                    )
                    continue
                if not samples:
                    self.out(f"{case.label:<46} {case.who:<9} skipped: fewer than 10 pages")
                    continue
                p50, p95 = statistics.median(samples), _percentile(samples, 0.95)
                passed = p95 <= TARGET_P95_MS
                if not passed:
                    misses.append(f"{case.label} ({case.who})")
                self.out(
                    f"{case.label:<46} {case.who:<9} {len(samples):>4} {p50:>6.1f}ms "
                    f"{p95:>6.1f}ms {max(samples):>6.1f}ms  {'PASS' if passed else 'MISS'}"
                )
        self.out(f"load average after: {_load()} (1, 5, 15 min)")
        self.out(
            "result: "
            + ("every case PASS" if not misses else f"{len(misses)} MISS: " + "; ".join(misses))
        )

    def _time(self, client: Client, case: Case, runs: int) -> list[float]:
        url = case.url
        for _ in range(case.follow):
            url = _next_url(client.get(url))
            if url is None:
                return []

        def call() -> float:
            started = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise CommandError(f"{case.label} ({url}): HTTP {response.status_code}")
            return elapsed

        first = call()  # warms caches (roles, templates, the connection); not counted
        if first / 1000 > SLOW_CALL_S:
            runs = min(runs, 3)
        return [call() for _ in range(runs)]
