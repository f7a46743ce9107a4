"""The sweep's fast paths agree with the plain ones they replace (segments, array literals)."""

import pytest
from django.db import connection

from sites.health import damping, sweeps, upstream

URLS = [
    ("rtsp://10.71.3.7:554/stream1", "", ""),
    ("", "http://10.71.3.200/snapshot.jpg", ""),
    ("rtsp://user:pw@10.71.3.7/stream", "", ""),  # credentials: the slow path decides
    ("rtsp://camera.example.test/stream", "", ""),  # a name: no segment
    ("rtsp://[fd00::7]/stream", "http://10.9.8.7/x.jpg", ""),  # IPv6 first, then IPv4
    ("rtsp://256.1.1.1/x", "", ""),  # not an address
    ("", "", ""),
    ("rtsp://127.1.0.9:18554/stream1?x=1#y", "", ""),
]


@pytest.mark.parametrize("urls", URLS)
def test_segment_fast_path_matches_segment_of(urls):
    camera = sweeps._Camera(
        pk=1, owner_id=1, pole_id=None, urls=urls, previous=damping.State(), heartbeat=None
    )
    assert sweeps._segment(camera) == upstream.segment_of(urls)


@pytest.mark.django_db
def test_array_literals_round_trip_through_postgresql():
    texts = ["", "NULL", 'a "quoted" word', "back\\slash", "comma, {brace}", "ünïcode"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s::text[], %s::bigint[], %s::boolean[]",
            [sweeps._texts(texts), sweeps._ints([1, None, -3]), sweeps._bools([True, False])],
        )
        assert cursor.fetchone() == (texts, [1, None, -3], [True, False])
