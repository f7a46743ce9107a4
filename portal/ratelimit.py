"""Rate limits counted in PostgreSQL (portal.models.RateLimitBucket), in fixed time windows.

Every web worker counts against the same row, so a limit holds however many processes serve the
site. One statement per hit: an upsert that returns the new count, which the row lock makes exact
under concurrency (the second of two racing hits waits for the first and counts after it).

A hit made inside the caller's transaction rolls back with it: a service that refuses bad input
after counting leaves the count as it was, so only what was actually stored uses up the limit.
"""

import ipaddress
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import ngettext

from portal.errors import ServiceError
from portal.models import RateLimitBucket

_TABLE = RateLimitBucket._meta.db_table
_UPSERT = (
    f"INSERT INTO {_TABLE} (key, window_start, hits) VALUES (%s, %s, 1) "
    f"ON CONFLICT (key, window_start) DO UPDATE SET hits = {_TABLE}.hits + 1 "
    "RETURNING hits"
)


class RateLimited(ServiceError):
    """Too many attempts in the current window; `retry_after` says in how many seconds to retry."""

    status_code = 429

    def __init__(self, message: str | None = None, *, retry_after: int, code: str = "rate_limited"):
        self.retry_after = max(1, int(retry_after))
        if message is None:
            minutes = math.ceil(self.retry_after / 60)
            message = ngettext(
                "Too many attempts. Try again in %(minutes)d minute.",
                "Too many attempts. Try again in %(minutes)d minutes.",
                minutes,
            ) % {"minutes": minutes}
        super().__init__(message, code=code)


@dataclass(frozen=True)
class Limit:
    """At most `hits` per `window` seconds for one key."""

    key: str
    hits: int
    window: int = 3600


def _window(now: datetime, window: int) -> tuple[datetime, int]:
    """(start of the fixed window holding `now`, seconds until it ends)."""
    seconds = int(now.timestamp())
    start = seconds - seconds % window
    return datetime.fromtimestamp(start, tz=UTC), start + window - seconds


def hit(limit: Limit, *, now: datetime | None = None) -> int:
    """Count one hit on `limit.key`; RateLimited if that makes more than `limit.hits`."""
    start, remaining = _window(now or timezone.now(), limit.window)
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, [limit.key[:120], start])
        hits = cursor.fetchone()[0]
    if hits > limit.hits:
        raise RateLimited(retry_after=remaining)
    return hits


def check(limit: Limit, *, now: datetime | None = None) -> None:
    """RateLimited if `limit.key` has already used up its window; counts nothing.

    For refusing early, before costly work, when the counting hit comes later.
    """
    start, remaining = _window(now or timezone.now(), limit.window)
    used = (
        RateLimitBucket.objects.filter(key=limit.key[:120], window_start=start)
        .values_list("hits", flat=True)
        .first()
    )
    if used is not None and used >= limit.hits:
        raise RateLimited(retry_after=remaining)


def hit_all(limits: list[Limit], *, now: datetime | None = None) -> None:
    for limit in limits:
        hit(limit, now=now)


def check_all(limits: list[Limit], *, now: datetime | None = None) -> None:
    for limit in limits:
        check(limit, now=now)


def purge_expired(*, older_than: timedelta = timedelta(days=2), now=None) -> int:
    """Delete buckets whose window ended long ago (no limit here spans more than a day)."""
    cutoff = (now or timezone.now()) - older_than
    deleted, _rows = RateLimitBucket.objects.filter(window_start__lt=cutoff).delete()
    return deleted


def ip_key(ip: str) -> str:
    """The part of an address that identifies one client: the address, or an IPv6 /64.

    One IPv6 subscriber usually holds a whole /64, so counting single addresses would let them
    rotate through billions.
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "unknown"
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address) + "/64"
    return str(address)


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or with AXES_IPWARE_PROXY_COUNT trusted proxies in
    front, the address the outermost trusted proxy saw (from X-Forwarded-For)."""
    proxies = getattr(settings, "AXES_IPWARE_PROXY_COUNT", None) or 0
    remote = request.META.get("REMOTE_ADDR", "") or ""
    if not proxies:
        return remote
    forwarded = [
        part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part
    ]
    # Each trusted proxy appends the address it received from, so the client is N entries from
    # the right; anything further left was written by the client itself and is not trusted.
    if len(forwarded) >= proxies:
        return forwarded[-proxies]
    return remote
