import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test import RequestFactory
from django.utils import translation

from portal import ratelimit
from portal.api import exception_handler
from portal.models import RateLimitBucket
from portal.ratelimit import Limit, RateLimited

# 10:20:30 UTC: 39 min 30 s left in the hour's window.
NOON = datetime(2026, 3, 4, 10, 20, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.mark.django_db
def test_hit_counts_up_to_the_limit_then_refuses_until_the_window_ends():
    limit = Limit("submit:ip:203.0.113.5", 3)
    with time_machine.travel(NOON, tick=False) as clock:
        assert [ratelimit.hit(limit) for _ in range(3)] == [1, 2, 3]
        with pytest.raises(RateLimited) as refused:
            ratelimit.hit(limit)
        assert refused.value.status_code == 429
        assert refused.value.retry_after == 39 * 60 + 30
        assert refused.value.code == "rate_limited"
        assert "40 minutes" in refused.value.message

        clock.move_to(NOON.replace(minute=59, second=59))
        with pytest.raises(RateLimited) as refused:
            ratelimit.hit(limit)
        assert refused.value.retry_after == 1

        clock.move_to(NOON.replace(hour=11, minute=0, second=0))
        assert ratelimit.hit(limit) == 1
    bucket = RateLimitBucket.objects.get(
        key=limit.key, window_start=NOON.replace(minute=0, second=0)
    )
    assert bucket.hits == 5  # refused hits are counted too: hammering does not reset the window


@pytest.mark.django_db
def test_hit_keys_and_window_sizes_are_independent():
    with time_machine.travel(NOON, tick=False):
        ratelimit.hit(Limit("a", 1))
        ratelimit.hit(Limit("b", 1))
        ratelimit.hit(Limit("a", 5, window=60))
        with pytest.raises(RateLimited) as refused:
            ratelimit.hit(Limit("a", 1, window=60))
    assert refused.value.retry_after == 30


@pytest.mark.django_db
def test_check_refuses_a_used_up_key_without_counting():
    limit = Limit("k", 2)
    with time_machine.travel(NOON, tick=False):
        ratelimit.check(limit)
        assert not RateLimitBucket.objects.exists()
        ratelimit.hit_all([limit, limit])
        with pytest.raises(RateLimited):
            ratelimit.check_all([Limit("other", 1), limit])
    assert RateLimitBucket.objects.get(key="k").hits == 2


@pytest.mark.django_db
def test_a_hit_inside_a_rolled_back_transaction_is_not_counted():
    limit = Limit("k", 1)

    class Refused(Exception):
        pass

    @transaction.atomic
    def refused_after_counting():
        ratelimit.hit(limit)
        raise Refused

    with pytest.raises(Refused):
        refused_after_counting()
    assert ratelimit.hit(limit) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_hits_are_counted_exactly():
    limit = Limit("race", 5)
    workers = 12
    barrier = threading.Barrier(workers)
    outcomes: list[object] = [None] * workers

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = ratelimit.hit(limit)
        except RateLimited as refused:
            outcomes[index] = refused
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    allowed = sorted(outcome for outcome in outcomes if isinstance(outcome, int))
    assert allowed == [1, 2, 3, 4, 5]
    assert sum(isinstance(outcome, RateLimited) for outcome in outcomes) == workers - 5
    assert RateLimitBucket.objects.get(key="race").hits == workers


@pytest.mark.django_db
def test_purge_expired_drops_old_windows_only():
    with time_machine.travel(NOON - timedelta(days=3), tick=False):
        ratelimit.hit(Limit("old", 5))
    with time_machine.travel(NOON, tick=False):
        ratelimit.hit(Limit("new", 5))
        assert ratelimit.purge_expired() == 1
    assert list(RateLimitBucket.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.5", "203.0.113.5"),
        ("", "unknown"),
        ("not an address", "unknown"),
    ],
)
def test_ip_key_groups_an_ipv6_subscriber(address, key):
    assert ratelimit.ip_key(address) == key


def test_client_ip_trusts_forwarded_for_only_behind_configured_proxies(settings):
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5"
    )
    settings.AXES_IPWARE_PROXY_COUNT = None
    assert ratelimit.client_ip(request) == "10.0.0.2"
    settings.AXES_IPWARE_PROXY_COUNT = 1
    assert ratelimit.client_ip(request) == "203.0.113.5"
    settings.AXES_IPWARE_PROXY_COUNT = 2
    assert ratelimit.client_ip(request) == "6.6.6.6"
    settings.AXES_IPWARE_PROXY_COUNT = 3
    assert ratelimit.client_ip(request) == "10.0.0.2"


def test_api_error_handler_answers_429_with_retry_after():
    response = exception_handler(RateLimited(retry_after=90), {})
    assert response.status_code == 429
    assert response["Retry-After"] == "90"
    assert response.data == {
        "detail": "Too many attempts. Try again in 2 minutes.",
        "code": "rate_limited",
    }
