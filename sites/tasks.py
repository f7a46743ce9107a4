"""Thin Celery tasks (fleet health, residents' requests): take ids, call one service, safe to run
twice."""

from celery import shared_task
from django.conf import settings

from partners.tasks import EMAIL_TASK_OPTIONS


@shared_task(bind=True, time_limit=120, expires=settings.HEALTH_SWEEP_INTERVAL)
def start_sweep(self) -> dict:
    """Open a sweep (unless one is still running) and enqueue its batches, spread over time."""
    from sites.health import sweeps

    sweep = sweeps.start_sweep()
    if sweep is None:
        return {"sweep": None, "cameras": 0, "batches": 0}
    # Batches follow the sweep's queue, so workers dedicated to health (-Q health) keep the whole
    # sweep and a general worker pool never sees its batches.
    queue = (self.request.delivery_info or {}).get("routing_key")
    for number, countdown in sweeps.batch_countdowns(sweep):
        probe_batch.apply_async(
            (sweep.pk, number), countdown=countdown, expires=sweep.deadline, queue=queue
        )
    return {"sweep": sweep.pk, "cameras": sweep.cameras, "batches": sweep.batches}


# acks_late + the engine's claim on the batch row: a worker lost mid-batch means the batch is
# probed again by another, and a duplicate delivery finds the batch done and writes nothing.
@shared_task(time_limit=settings.HEALTH_SWEEP_INTERVAL, acks_late=True)
def probe_batch(sweep_id: int, number: int) -> dict | None:
    """Probe one batch of a sweep and record the results; a camera that is down is a result."""
    from sites.health import sweeps

    report = sweeps.run_batch(sweep_id, number)
    if report is None:
        return None
    return {
        "cameras": report.cameras,
        "changes": report.changes,
        "probe_ms": report.probe_ms,
        "db_write_ms": report.db_write_ms,
    }


# Roll-ups and the purge are single idempotent statements: a retry or a duplicate delivery
# rewrites the same rows.
@shared_task(time_limit=15 * 60)
def rollup_previous_hour() -> int:
    """Roll up the last complete hour for every checked camera."""
    from sites.health import rollups

    return rollups.rollup_hour(rollups.previous_hour())


@shared_task(time_limit=30 * 60)
def rollup_previous_day() -> int:
    """Sum yesterday's (Asia/Jakarta) hourly roll-ups into daily ones."""
    from sites.health import rollups

    return rollups.rollup_day(rollups.previous_day())


@shared_task(time_limit=30 * 60)
def purge_hourly_rollups() -> int:
    """Delete hourly roll-ups past HEALTH_HOURLY_RETENTION_DAYS."""
    from sites.health import rollups

    return rollups.purge_hourly()


# --- Residents' coverage requests -------------------------------------------------------------


@shared_task(**EMAIL_TASK_OPTIONS)
def send_request_verification_email(verification_id: int, token: str, code: str) -> None:
    """The link and code travel here by value: only their hashes are stored."""
    from sites import request_notifications

    request_notifications.send_verification(verification_id, token, code)


@shared_task(**EMAIL_TASK_OPTIONS)
def send_request_status_email(status_change_id: int) -> None:
    from sites import request_notifications

    request_notifications.send_status_change(status_change_id)


@shared_task(time_limit=15 * 60, expires=6 * 60 * 60)
def purge_request_personal_data() -> int:
    """UU PDP: erase personal data of requests closed REQUEST_PURGE_AFTER_DAYS ago (beat: daily)."""
    from sites import request_services

    return request_services.requests_purge_personal_data()


@shared_task(time_limit=30 * 60, expires=6 * 60 * 60)
def refresh_request_priorities(
    lat: str | None = None,
    lon: str | None = None,
    radius_m: float | None = None,
    kelurahan_id: int | None = None,
) -> int:
    """Score open requests again: those near a point or in a kelurahan whose inputs just
    changed (enqueued by the services after commit), or all of them (beat: daily, since the
    90-day window of recent requests nearby moves on its own). Returns how many changed."""
    from decimal import Decimal

    from sites import request_services

    near = None if lat is None else (Decimal(lat), Decimal(lon), float(radius_m))
    return request_services.requests_priority_refresh_open(near=near, kelurahan_id=kelurahan_id)
