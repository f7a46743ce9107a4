"""Health sweeps: check every deployed camera once per interval, in batches, and record changes.

`start_sweep` (beat, via sites.tasks) opens a sweep and cuts the due cameras into batches by id;
each batch is one `run_batch` call in one Celery task: load the cameras, probe them concurrently
with asyncio, damp the outcomes (sites.health.damping) and write everything with a handful of
set-based statements in one transaction. Nothing here saves a model per camera: at 60,000
cameras a sweep must write in well under a second.

Guarantees:
- Sweeps never overlap: at most one is running (a partial unique constraint backs this), and a
  running sweep past its deadline is marked expired before the next one starts.
- A batch is written at most once: the write transaction claims it with a conditional UPDATE
  (`done_at IS NULL`), so a retried or duplicated task finds it done and changes nothing. The
  claim happens at write time, not before probing, so a worker that dies mid-probe leaves the
  batch open for the redelivered task (acks_late) instead of stuck half-claimed.
- A batch of a sweep that is no longer running writes nothing; its results would be stale.

Two rules override damping (`_apply_windows_and_upstream`): a camera inside a maintenance window
(sites.health.windows) is `maintenance`, and the cameras of a pole or segment that failed
together (sites.health.upstream) are `upstream_down` under one UpstreamIncident. Neither opens
an Outage. Both still write CameraStatusChange rows (to and from those statuses) so the history
is honest: ticket and alert logic reading that outbox must ignore changes whose new_status is
`maintenance` or `upstream_down`. When the window ends, or the incident closes, the next probe
decides as for an unknown camera (damping's rule for those statuses).

Cameras in push mode (behind NAT; sites.heartbeat_services) are never probed, not a packet sent:
their latest heartbeat is the check. One received within HEALTH_HEARTBEAT_TIMEOUT is a good check
with what the camera reported (up, or degraded with a reason); an older or missing one is a failed
check with reason `no_heartbeat`. Damping, windows, suppression and the writes are then the same
as for probed cameras. Their addresses, if any, are behind NAT, so they form no network segment.
"""

import logging
import re
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone

from partners.models import CameraNetwork, NetworkStatus
from sites.health import damping, upstream, windows
from sites.health.policy import ApprovedNetwork
from sites.health.probes import (
    DOWN,
    OK,
    UP,
    ProbeConfig,
    ProbeResult,
    ProbeSpec,
    decrypt_password,
    paused_gc,
    run_probes,
)
from sites.models import (
    Camera,
    CameraHealth,
    CameraHeartbeatKey,
    CameraStatusChange,
    HealthStatus,
    HealthSweep,
    Outage,
    SiteStatus,
    SweepBatch,
    SweepStatus,
)

logger = logging.getLogger(__name__)

# Cameras on these sites are deployed: they are expected to work (suspended ones too, since a
# suspended site's camera still hangs on its pole and its outage still matters).
CHECKED_SITE_STATUSES = (SiteStatus.INSTALLING, SiteStatus.ACTIVE, SiteStatus.SUSPENDED)
NO_HEARTBEAT = "no_heartbeat"


def due_cameras() -> QuerySet[Camera]:
    """Cameras a sweep checks: on a deployed site, with an address to probe or in push mode."""
    push_mode = CameraHeartbeatKey.objects.filter(camera=OuterRef("pk"), revoked_at__isnull=True)
    return Camera.objects.filter(site__status__in=CHECKED_SITE_STATUSES).filter(
        ~Q(rtsp_url="", snapshot_url="", onvif_url="") | Exists(push_mode)
    )


# --- starting a sweep ----------------------------------------------------------------------------


def start_sweep(now: datetime | None = None) -> HealthSweep | None:
    """Open a sweep and its batches; None while another sweep is still within its deadline."""
    now = now or timezone.now()
    with transaction.atomic():
        running = HealthSweep.objects.select_for_update().filter(status=SweepStatus.RUNNING)
        current = running.first()
        if current is not None:
            if current.deadline > now:
                return None
            running.filter(pk=current.pk).update(status=SweepStatus.EXPIRED)
            logger.warning(
                "health sweep %s expired with %s of %s batches done",
                current.pk,
                current.batches_done,
                current.batches,
            )
        try:
            with transaction.atomic():
                sweep = HealthSweep.objects.create(
                    started_at=now,
                    deadline=now + timedelta(seconds=settings.HEALTH_SWEEP_INTERVAL),
                )
        except IntegrityError:
            return None  # another beat opened one at the same instant; it does the work
        cameras, batches = _create_batches(sweep, settings.HEALTH_BATCH_SIZE)
        sweep.cameras, sweep.batches = cameras, batches
        if batches == 0:
            sweep.status, sweep.finished_at = SweepStatus.FINISHED, now
        sweep.save(update_fields=["cameras", "batches", "status", "finished_at"])
    return sweep


def _create_batches(sweep: HealthSweep, size: int) -> tuple[int, int]:
    """Batch rows cut by camera id in SQL: the ids never travel to Python."""
    due_sql, due_params = due_cameras().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {SweepBatch._meta.db_table}
                (sweep_id, number, first_camera_id, last_camera_id, cameras, done_at)
            SELECT %s, bucket + 1, min(id), max(id), count(*), NULL
            FROM (
                SELECT id, (row_number() OVER (ORDER BY id) - 1) / %s AS bucket
                FROM ({due_sql}) AS due (id)
            ) AS numbered
            GROUP BY bucket
            RETURNING cameras
            """,
            [sweep.pk, size, *due_params],
        )
        counts = [row[0] for row in cursor.fetchall()]
    return sum(counts), len(counts)


def batch_countdowns(sweep: HealthSweep) -> list[tuple[int, float]]:
    """(batch number, seconds to wait) spreading the batches over most of the interval, so the
    probes (and the cameras' uplinks) see a steady load rather than one burst per interval."""
    if not sweep.batches:
        return []
    step = settings.HEALTH_SWEEP_SPREAD * settings.HEALTH_SWEEP_INTERVAL / sweep.batches
    return [(number, round((number - 1) * step, 3)) for number in range(1, sweep.batches + 1)]


# --- one batch -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatchReport:
    """What one batch did, for the task's return value and the logs."""

    cameras: int
    changes: int
    probe_ms: int
    db_write_ms: int


@dataclass(frozen=True, slots=True)
class _Row:
    """One camera's new CameraHealth values and, when its status changed, the old status.

    Times are flags, not values: the statement stamps `now` where a flag is set and keeps the
    stored time elsewhere (and psycopg adapts a boolean far faster than a datetime).
    """

    camera_id: int
    state: damping.State
    observed: str
    latency_ms: int | None
    image_hash: str  # empty: keep the stored one
    image_checked: bool
    clock_checked: bool
    old_status: str | None  # None: no change


def _due_before(every: int, now: datetime) -> datetime:
    """A slower check is due when it last ran at or before this instant (or never ran)."""
    # Half an interval of slack: batches start at slightly different offsets each sweep, and a
    # check due "in 0.3 s" should not wait a whole extra interval.
    slack = settings.HEALTH_SWEEP_INTERVAL / 2
    return now - timedelta(seconds=every - slack)


def _networks_by_owner(owner_ids: set[int]) -> dict[int, tuple[ApprovedNetwork, ...]]:
    found: dict[int, list[ApprovedNetwork]] = defaultdict(list)
    rows = CameraNetwork.objects.filter(
        partner_id__in=owner_ids, status=NetworkStatus.APPROVED
    ).values_list("partner_id", "cidr", "ports")
    for partner_id, cidr, ports in rows:
        found[partner_id].append(ApprovedNetwork.parse(cidr, ports))
    return {owner_id: tuple(networks) for owner_id, networks in found.items()}


@dataclass(frozen=True, slots=True)
class _Heartbeat:
    """A push-mode camera's latest heartbeat, as its live key holds it."""

    received_at: datetime | None
    status: str
    reason: str


@dataclass(slots=True)
class _Camera:
    """One camera of a batch as the sweep sees it: the few columns it needs.

    Plain values rather than model instances: building three model instances per camera (camera,
    site, health) cost more CPU per check than the rest of the sweep's bookkeeping together.
    """

    pk: int
    owner_id: int
    pole_id: int | None
    urls: tuple[str, str, str]  # rtsp, snapshot, onvif
    previous: damping.State  # UNKNOWN when the camera has no health row yet
    heartbeat: _Heartbeat | None  # set for a camera in push mode


def _judge_heartbeat(camera_id: int, heartbeat: _Heartbeat, now: datetime) -> ProbeResult:
    """A push camera's check: a fresh heartbeat is what the camera said, a stale one a failure."""
    timeout = timedelta(seconds=settings.HEALTH_HEARTBEAT_TIMEOUT)
    if heartbeat.received_at is None or now - heartbeat.received_at > timeout:
        detail = (
            f"last heartbeat {heartbeat.received_at.isoformat()}"
            if heartbeat.received_at
            else "no heartbeat yet"
        )
        # No round trip was measured, hence no latency.
        return ProbeResult(camera_id, DOWN, NO_HEARTBEAT, latency_ms=None, detail=detail)
    return ProbeResult(camera_id, heartbeat.status or UP, heartbeat.reason or OK, latency_ms=None)


def _load(batch: SweepBatch, now: datetime) -> tuple[list[_Camera], list[ProbeSpec]]:
    """The batch's cameras and probe specs for those probed (the others are in push mode)."""
    # The live key rides along in the same query (a LEFT JOIN on its partial unique index).
    live_key = FilteredRelation(
        "heartbeat_keys", condition=Q(heartbeat_keys__revoked_at__isnull=True)
    )

    def due(column: str, every: int) -> ExpressionWrapper:
        # Decided in SQL: no timestamp is parsed or compared in Python per camera.
        return ExpressionWrapper(
            Q(**{f"health__{column}__isnull": True})
            | Q(**{f"health__{column}__lte": _due_before(every, now)}),
            output_field=BooleanField(),
        )

    rows = (
        due_cameras()
        .filter(pk__gte=batch.first_camera_id, pk__lte=batch.last_camera_id)
        .annotate(
            live_key=live_key,
            image_due=due("image_checked_at", settings.HEALTH_IMAGE_EVERY),
            clock_due=due("clock_checked_at", settings.HEALTH_CLOCK_EVERY),
        )
        .order_by("pk")
        .values_list(
            "pk",
            "owner_id",
            "site__pole",
            "rtsp_url",
            "snapshot_url",
            "onvif_url",
            "username",
            "password_encrypted",
            "health__status",
            "health__reason",
            "health__fail_streak",
            "health__ok_streak",
            "health__image_hash",
            "image_due",
            "clock_due",
            "live_key__id",
            "live_key__last_heartbeat_at",
            "live_key__reported_status",
            "live_key__reported_reason",
        )
    )
    rows = list(rows)
    networks = _networks_by_owner({row[1] for row in rows if row[15] is None})
    unknown = damping.State()
    cameras, specs = [], []
    for (
        pk,
        owner_id,
        pole_id,
        rtsp_url,
        snapshot_url,
        onvif_url,
        username,
        password_encrypted,
        status,
        reason,
        fail_streak,
        ok_streak,
        image_hash,
        image_due,
        clock_due,
        push_key,
        heard_at,
        heard_status,
        heard_reason,
    ) in rows:
        urls = (rtsp_url, snapshot_url, onvif_url)
        previous = (
            unknown if status is None else damping.State(status, reason, fail_streak, ok_streak)
        )
        if push_key is not None:
            heartbeat = _Heartbeat(heard_at, heard_status, heard_reason)
            cameras.append(_Camera(pk, owner_id, pole_id, urls, previous, heartbeat))
            continue
        cameras.append(_Camera(pk, owner_id, pole_id, urls, previous, None))
        specs.append(
            ProbeSpec(
                camera_id=pk,
                networks=networks.get(owner_id, ()),
                rtsp_url=rtsp_url,
                snapshot_url=snapshot_url,
                onvif_url=onvif_url,
                username=username,
                password=decrypt_password(pk, password_encrypted),
                last_image_hash=image_hash or "",
                check_image=image_due,
                check_clock=clock_due,
            )
        )
    return cameras, specs


def _decide(
    camera: _Camera, spec: ProbeSpec | None, result: ProbeResult, down_after: int, up_after: int
) -> _Row:
    """Damp one camera's check; `spec` is None for a camera in push mode."""
    previous = camera.previous
    if spec is None:
        # A heartbeat is the camera's own verdict on everything, picture and clock included, so
        # its "ok" clears an earlier black or drift at once. No slower check ran here.
        image_ran = clock_ran = False
        observation = damping.Observation(result.status, result.reason, True, True)
    else:
        reached = result.status != DOWN
        # A check counts as done only when the probe got that far; otherwise it stays due.
        image_ran = spec.check_image and reached
        clock_ran = spec.check_clock and reached and result.reason not in damping.IMAGE_REASONS
        observation = damping.Observation(result.status, result.reason, image_ran, clock_ran)
    state = damping.next_state(previous, observation, down_after=down_after, up_after=up_after)
    changed = state.status != previous.status
    return _Row(
        camera_id=camera.pk,
        state=state,
        observed=result.status,
        latency_ms=result.latency_ms,
        # The hash is remembered at image checks only: "frozen" means the same frame as the
        # previous image check, a slow cadence on purpose (a quiet street at night barely moves).
        image_hash=result.image_hash if image_ran else "",
        image_checked=image_ran,
        clock_checked=clock_ran,
        old_status=previous.status if changed else None,
    )


def run_batch(sweep_id: int, number: int) -> BatchReport | None:
    """Probe and record one batch; None (and no writes) if it is done or its sweep is not running.

    Running the same batch twice, even at the same time, writes it once.
    """
    batch = (
        SweepBatch.objects.select_related("sweep").filter(sweep_id=sweep_id, number=number).first()
    )
    if batch is None or batch.done_at is not None or batch.sweep.status != SweepStatus.RUNNING:
        return None
    with paused_gc():  # see there: full collections cost a fifth of a batch's CPU
        return _run_batch(batch)


def _run_batch(batch: SweepBatch) -> BatchReport | None:
    now = timezone.now()
    cameras, specs = _load(batch, now)
    probed: list[ProbeResult] = []
    started = time.perf_counter()
    if specs:
        config = ProbeConfig.from_settings()
        started = time.perf_counter()
        probed = run_probes(specs, config=config, concurrency=settings.HEALTH_CONCURRENCY)
    probe_ms = round((time.perf_counter() - started) * 1000)
    # Specs and results are in the order of the probed cameras, which is the batch's order.
    probed_checks = iter(zip(specs, probed, strict=True))
    checks = [
        (None, _judge_heartbeat(camera.pk, camera.heartbeat, now))
        if camera.heartbeat is not None
        else next(probed_checks)
        for camera in cameras
    ]
    down_after, up_after = settings.HEALTH_DOWN_AFTER, settings.HEALTH_UP_AFTER
    rows = [
        _decide(camera, spec, result, down_after, up_after)
        for camera, (spec, result) in zip(cameras, checks, strict=True)
    ]
    results = [result for _spec, result in checks]
    rows, incidents = _apply_windows_and_upstream(cameras, results, rows, now)
    return _write(batch, rows, now, probe_ms, incidents)


# The URL shape nearly every camera has, with an IPv4 host spelled as ipaddress accepts it (no
# leading zeros): urlsplit would give exactly this host, so its /24 is the first three octets.
# Anything else (names, userinfo, brackets, odd spellings) is left to upstream.segment_of.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_PLAIN_IPV4_URL = re.compile(
    rf"(?:rtsp|https?)://({_OCTET}\.{_OCTET}\.{_OCTET})\.{_OCTET}(?::[0-9]*)?(?:[/?#].*)?", re.S
)


def _segment(camera: _Camera) -> str:
    """upstream.segment_of(camera's URLs) without a urlsplit and two ipaddress objects per URL."""
    if camera.heartbeat is not None:
        return ""  # behind NAT: no segment (as the Member built for it says)
    for url in camera.urls:
        if not url:
            continue
        plain = _PLAIN_IPV4_URL.fullmatch(url)
        if plain is not None:
            return f"{plain.group(1)}.0/24"
        segment = upstream.segment_of((url,))
        if segment:
            return segment
    return ""


def _suppression_candidates(
    cameras: Sequence[_Camera], results: Sequence[ProbeResult], rows: Sequence[_Row]
) -> list[upstream.Member]:
    """The members upstream.plan needs to decide exactly what it would decide for all of them.

    A group (owner and pole, or owner and segment) is suppressed only when all of its cameras
    fail, and an incident is closed only by a camera that was upstream_down. So a camera that
    answered, was not upstream_down, and shares no group with a failing camera can change no
    decision; leaving it out spares the grouping of a whole healthy batch.
    """
    failing_poles: set[tuple[int, int]] = set()
    failing_segments: set[tuple[int, str]] = set()
    for camera, result in zip(cameras, results, strict=True):
        if result.status == DOWN:
            if camera.pole_id is not None:
                failing_poles.add((camera.owner_id, camera.pole_id))
            segment = _segment(camera)
            if segment:
                failing_segments.add((camera.owner_id, segment))
    members = []
    for camera, result, row in zip(cameras, results, rows, strict=True):
        failing = result.status == DOWN
        previous = camera.previous.status
        if not (
            failing
            or previous == upstream.UPSTREAM_DOWN
            or (camera.owner_id, camera.pole_id) in failing_poles
            or (failing_segments and (camera.owner_id, _segment(camera)) in failing_segments)
        ):
            continue
        members.append(
            upstream.Member(
                camera_id=camera.pk,
                owner_id=camera.owner_id,
                pole_id=camera.pole_id,
                urls=() if camera.heartbeat is not None else camera.urls,
                failing=failing,
                reason=result.reason,
                damped_down=row.state.status == damping.DOWN,
                previous=previous,
            )
        )
    return members


def _apply_windows_and_upstream(
    cameras: Sequence[_Camera],
    results: Sequence[ProbeResult],
    rows: list[_Row],
    now: datetime,
) -> tuple[list[_Row], upstream.Plan]:
    """Maintenance first (planned work explains any failure), then upstream suppression.

    Cameras in push mode (behind NAT) form no segment: only their pole groups them.
    """
    in_window = windows.active_window_camera_ids([camera.pk for camera in cameras], now)
    outside = [
        (camera, result, row)
        for camera, result, row in zip(cameras, results, rows, strict=True)
        if camera.pk not in in_window
    ]
    incidents = upstream.plan(
        _suppression_candidates(
            [camera for camera, _result, _row in outside],
            [result for _camera, result, _row in outside],
            [row for _camera, _result, row in outside],
        )
    )
    if not in_window and not incidents.suppressed:
        return rows, incidents
    decided = []
    for camera, result, row in zip(cameras, results, rows, strict=True):
        if camera.pk in in_window:
            # Streaks restart: after the window the first probe decides, as for a new camera.
            state = damping.State(HealthStatus.MAINTENANCE, "maintenance")
        elif camera.pk in incidents.suppressed:
            state = replace(row.state, status=HealthStatus.UPSTREAM_DOWN, reason=result.reason)
        else:
            decided.append(row)
            continue
        before = camera.previous.status
        decided.append(
            replace(row, state=state, old_status=before if state.status != before else None)
        )
    return decided, incidents


def _write(
    batch: SweepBatch,
    rows: Sequence[_Row],
    now: datetime,
    probe_ms: int,
    incidents: upstream.Plan | None = None,
) -> BatchReport | None:
    with transaction.atomic():
        started = time.perf_counter()
        # The claim: a concurrent run of the same batch blocks here on the row lock, then finds
        # done_at set and writes nothing.
        # `now` is when the cameras were observed; the batch is done when its rows are written.
        written_at = timezone.now()
        claimed = SweepBatch.objects.filter(pk=batch.pk, done_at__isnull=True).update(
            done_at=written_at
        )
        if not claimed:
            return None
        with connection.cursor() as cursor:
            written = _upsert_health(cursor, batch.sweep_id, rows, now)
            changed = [
                row for row in rows if row.old_status is not None and row.camera_id in written
            ]
            if changed:
                _insert_changes(cursor, batch.sweep_id, changed, now)
            went_down = [row for row in changed if row.state.status == damping.DOWN]
            came_back = [row for row in changed if row.old_status == damping.DOWN]
            if went_down:
                _open_outages(cursor, went_down, now)
            if came_back:
                _close_outages(cursor, came_back, now)
            if incidents:
                upstream.write(cursor, batch.sweep_id, incidents, now)
        db_write_ms = round((time.perf_counter() - started) * 1000)
        last = GreaterThanOrEqual(F("batches_done") + 1, F("batches"))
        counted = HealthSweep.objects.filter(pk=batch.sweep_id, status=SweepStatus.RUNNING).update(
            batches_done=F("batches_done") + 1,
            checks=F("checks") + len(written),
            changes=F("changes") + len(changed),
            probe_ms=F("probe_ms") + probe_ms,
            db_write_ms=F("db_write_ms") + db_write_ms,
            # The last batch closes the sweep; SET sees the old batches_done, hence the + 1.
            status=Case(When(last, then=Value(SweepStatus.FINISHED)), default=F("status")),
            finished_at=Case(When(last, then=Value(written_at)), default=F("finished_at")),
        )
        if not counted:
            # The sweep expired while we probed: these results belong to no sweep.
            transaction.set_rollback(True)
            return None
    return BatchReport(len(written), len(changed), probe_ms, db_write_ms)


# Arrays travel as PostgreSQL array literals built with str.join. psycopg adapts a Python list
# element by element (scanning it for the element type first): for the dozen 2,000-element
# arrays of a batch that cost several times more CPU than the statement's round trip.


def _ints(values: Sequence[int | None]) -> str:
    return "{" + ",".join("NULL" if value is None else str(value) for value in values) + "}"


def _bools(values: Sequence[bool]) -> str:
    return "{" + ",".join("t" if value else "f" for value in values) + "}"


def _texts(values: Sequence[str]) -> str:
    # Every element quoted, so empty strings, commas, braces and the word NULL stay text.
    return (
        "{"
        + ",".join('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values)
        + "}"
    )


def _upsert_health(cursor, sweep_id: int, rows: Sequence[_Row], now: datetime) -> set[int]:
    """Latest state of every camera of the batch in one statement; returns the ids written.

    The WHERE makes a replay of an older sweep's batch a no-op per row.
    """
    if not rows:
        return set()
    table = CameraHealth._meta.db_table
    states = [row.state for row in rows]
    cursor.execute(
        f"""
        INSERT INTO {table} AS h (
            camera_id, status, reason, changed_at, checked_at, observed, fail_streak, ok_streak,
            latency_ms, image_hash, image_checked_at, clock_checked_at, last_sweep_id
        )
        SELECT u.camera_id, u.status, u.reason, CASE WHEN u.changed THEN %(now)s END, %(now)s,
            u.observed, u.fail_streak, u.ok_streak, u.latency_ms, u.image_hash,
            CASE WHEN u.image_checked THEN %(now)s END, CASE WHEN u.clock_checked THEN %(now)s END,
            %(sweep)s
        FROM unnest(
            %(camera_id)s::bigint[], %(status)s::varchar[], %(reason)s::varchar[],
            %(changed)s::boolean[], %(observed)s::varchar[], %(fail_streak)s::int[],
            %(ok_streak)s::int[], %(latency_ms)s::int[], %(image_hash)s::varchar[],
            %(image_checked)s::boolean[], %(clock_checked)s::boolean[]
        ) AS u (
            camera_id, status, reason, changed, observed, fail_streak, ok_streak, latency_ms,
            image_hash, image_checked, clock_checked
        )
        ON CONFLICT (camera_id) DO UPDATE SET
            status = EXCLUDED.status,
            reason = EXCLUDED.reason,
            changed_at = COALESCE(EXCLUDED.changed_at, h.changed_at),
            checked_at = EXCLUDED.checked_at,
            observed = EXCLUDED.observed,
            fail_streak = EXCLUDED.fail_streak,
            ok_streak = EXCLUDED.ok_streak,
            latency_ms = EXCLUDED.latency_ms,
            image_hash = COALESCE(NULLIF(EXCLUDED.image_hash, ''), h.image_hash),
            image_checked_at = COALESCE(EXCLUDED.image_checked_at, h.image_checked_at),
            clock_checked_at = COALESCE(EXCLUDED.clock_checked_at, h.clock_checked_at),
            last_sweep_id = EXCLUDED.last_sweep_id
        WHERE h.last_sweep_id < EXCLUDED.last_sweep_id
        RETURNING h.camera_id
        """,
        {
            "now": now,
            "sweep": sweep_id,
            "camera_id": _ints([row.camera_id for row in rows]),
            "status": _texts([state.status for state in states]),
            "reason": _texts([state.reason[:24] for state in states]),
            "changed": _bools([row.old_status is not None for row in rows]),
            "observed": _texts([row.observed for row in rows]),
            "fail_streak": _ints([state.fail_streak for state in states]),
            "ok_streak": _ints([state.ok_streak for state in states]),
            "latency_ms": _ints([row.latency_ms for row in rows]),
            "image_hash": _texts([row.image_hash for row in rows]),
            "image_checked": _bools([row.image_checked for row in rows]),
            "clock_checked": _bools([row.clock_checked for row in rows]),
        },
    )
    return {camera_id for (camera_id,) in cursor.fetchall()}


def _insert_changes(cursor, sweep_id: int, rows: Sequence[_Row], now: datetime) -> None:
    """The outbox: one append-only row per changed camera (no actor: the checker decided)."""
    cursor.execute(
        f"""
        INSERT INTO {CameraStatusChange._meta.db_table}
            (camera_id, sweep_id, old_status, new_status, reason, created_at, actor_id)
        SELECT u.camera_id, %s, u.old_status, u.new_status, u.reason, %s, NULL
        FROM unnest(%s::bigint[], %s::varchar[], %s::varchar[], %s::text[])
            AS u (camera_id, old_status, new_status, reason)
        """,
        [
            sweep_id,
            now,
            _ints([row.camera_id for row in rows]),
            _texts([row.old_status for row in rows]),
            _texts([row.state.status for row in rows]),
            _texts([row.state.reason for row in rows]),
        ],
    )


def _open_outages(cursor, rows: Sequence[_Row], now: datetime) -> None:
    # DO NOTHING: an outage already open (a crash between writes cannot leave one, but an
    # operator's manual fix could) is the same outage, not a second one.
    cursor.execute(
        f"""
        INSERT INTO {Outage._meta.db_table} (camera_id, started_at, ended_at, reason)
        SELECT u.camera_id, %s, NULL, u.reason
        FROM unnest(%s::bigint[], %s::varchar[]) AS u (camera_id, reason)
        ON CONFLICT DO NOTHING
        """,
        [
            now,
            _ints([row.camera_id for row in rows]),
            _texts([row.state.reason[:24] for row in rows]),
        ],
    )


def _close_outages(cursor, rows: Sequence[_Row], now: datetime) -> None:
    cursor.execute(
        f"UPDATE {Outage._meta.db_table} SET ended_at = %s "
        "WHERE ended_at IS NULL AND camera_id = ANY(%s::bigint[])",
        [now, _ints([row.camera_id for row in rows])],
    )
