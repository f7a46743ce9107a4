"""Query-count guards on the large list endpoints (issue #7): a page costs the same number of
queries whether the list holds a few rows or many, on the first cursor page and on later ones.

The timings at city scale are `manage.py bench_lists`; these tests keep the shape that makes them
possible: cursor pages (no COUNT, no OFFSET) and no query per row.
"""

import html
import itertools
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contracts import ticket_services
from sites.health_api import NewestFirst
from sites.models import Area, CoverageRequest, Outage, RequestStatus
from tests import factories
from tests.conftest import api_as

_numbers = itertools.count(1)


@pytest.fixture
def small_pages(monkeypatch):
    """Two rows a page, so a handful of rows makes several cursor pages."""
    monkeypatch.setattr(NewestFirst, "page_size", 2)


def _walk(client, url: str) -> tuple[list[int], list[list]]:
    """Queries of each page, following `next` to the end, and the rows seen on each."""
    queries, pages = [], []
    while url:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert "count" not in body  # cursor pages: no COUNT over the whole table
        queries.append(len(captured))
        pages.append(body["results"])
        url = body["next"]
    return queries, pages


def _request(status: str = RequestStatus.SUBMITTED) -> CoverageRequest:
    now = timezone.now()
    return CoverageRequest.objects.create(
        reference=f"REQ-{now.year}-{next(_numbers):06d}",
        lat="-6.175000",
        lon="106.827000",
        kelurahan=Area.objects.get(code="31.71.01.1001"),
        category="theft",
        description="Dark corner",
        consent_at=now,
        privacy_notice_version="1",
        status=status,
        verified_at=now,
    )


def _cameras(partner, rows: int) -> None:
    for _ in range(rows):
        factories.make_active_site(partner, cameras=1)


def _tickets(partner, rows: int) -> None:
    officer = factories.officer()
    for number in range(rows):
        site = factories.make_active_site(partner)
        ticket_services.ticket_open(actor=officer, site=site, title=f"Broken {number}")


def _requests(partner, rows: int) -> None:
    for _ in range(rows):
        _request()


@pytest.mark.parametrize(
    ("url", "make"),
    [("/api/cameras/", _cameras), ("/api/tickets/", _tickets), ("/api/requests/", _requests)],
    ids=["cameras", "tickets", "requests"],
)
@pytest.mark.usefixtures("small_pages")
def test_cursor_list_queries_do_not_grow_with_rows_or_pages(owner, partner, url, make):
    make(partner, 3)
    client = api_as(owner)
    client.get(url)  # roles are cached on the session user after one request
    few, _pages = _walk(client, url)
    make(partner, 6)
    many, pages = _walk(client, url)
    assert len(pages) == 5  # 9 rows, 2 a page
    assert len({row["id"] if "id" in row else row["reference"] for p in pages for row in p}) == 9
    assert max(many) == max(few)  # no page costs more with more rows
    assert many[-1] <= many[0]  # a later page costs no more than the first


def test_cursor_lists_show_nothing_of_another_partner(owner, partner, other_partner):
    _cameras(other_partner, 2)
    _tickets(other_partner, 2)
    client = api_as(owner)
    assert client.get("/api/cameras/").json()["results"] == []
    assert client.get("/api/tickets/").json()["results"] == []


def test_public_request_pages_leave_out_unverified_requests(db, api, small_pages):
    shown = [_request().reference for _ in range(3)]
    _request(status=RequestStatus.UNVERIFIED)
    _queries, pages = _walk(api, "/api/requests/")
    assert [row["reference"] for page in pages for row in page] == shown[::-1]


def test_cursor_pages_keep_filters(owner, partner, small_pages):
    _cameras(partner, 3)
    factories.make_active_site(partner, kelurahan_code="31.74.01.1001", cameras=3)
    _queries, pages = _walk(api_as(owner), "/api/cameras/?kota=31.74")
    assert [len(page) for page in pages] == [2, 1]


def test_outage_list_queries_do_not_grow_with_rows(owner, partner):
    def outages(rows: int) -> None:
        site = factories.make_active_site(partner, cameras=rows)
        started = timezone.now() - timedelta(hours=1)
        for camera in site.cameras.all():
            Outage.objects.create(camera=camera, started_at=started, ended_at=timezone.now())

    outages(1)
    client = api_as(owner)
    client.get("/api/health/outages/")
    with CaptureQueriesContext(connection) as one:
        assert client.get("/api/health/outages/").status_code == 200
    outages(5)
    with CaptureQueriesContext(connection) as six:
        response = client.get("/api/health/outages/")
    assert response.json()["count"] == 6
    assert len(six) == len(one)


def _page_walk(client, url: str, rows: str) -> tuple[list[int], list[list]]:
    """As _walk, for pages: the rows in the context, the next page from the rel="next" link."""
    queries, pages = [], []
    while url:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        assert "Page 1 of" not in body  # cursor pages: no COUNT
        queries.append(len(captured))
        pages.append(list(response.context[rows]))
        found = re.search(r'<a rel="next" href="([^"]+)"', body)
        url = html.unescape(found.group(1)) if found else None
    return queries, pages


@pytest.mark.parametrize(
    ("url", "make", "rows"),
    [("/requests/", _requests, "rows"), ("/tickets/", _tickets, "tickets")],
    ids=["requests", "tickets"],
)
@pytest.mark.usefixtures("small_pages")
def test_cursor_page_queries_do_not_grow_with_rows_or_pages(
    client, owner, partner, monkeypatch, url, make, rows
):
    client.force_login(owner)
    make(partner, 3)
    client.get(url)  # the session, roles and the cached counts per kelurahan
    few, _pages = _page_walk(client, url, rows)
    make(partner, 6)
    many, pages = _page_walk(client, url, rows)
    assert [len(page) for page in pages] == [2, 2, 2, 2, 1]
    assert max(many) == max(few)
    assert many[-1] <= many[0]


def test_kota_filters_narrow_every_list_to_the_kota(owner, partner, approver):
    """Kota filters go through the kota's kelurahan ids (sites.selectors.kelurahan_ids_in_kota)."""
    factories.make_active_site(partner, cameras=1)  # Gambir, Jakarta Pusat
    tebet = factories.make_active_site(partner, kelurahan_code="31.74.01.1001", cameras=1)
    for site in (tebet, factories.make_active_site(partner)):
        ticket_services.ticket_open(actor=approver, site=site, title="Broken")
    factories.make_pole(factories.make_partner(kind="pole_owner"), kelurahan_code="31.74.01.1001")
    client = api_as(approver)
    selatan = Area.objects.get(code="31.74")

    cameras = client.get("/api/cameras/", {"kota": "31.74"}).json()["results"]
    assert [camera["site"] for camera in cameras] == [tebet.pk]
    sites = client.get("/api/sites/", {"kota": "31.74"}).json()["results"]
    assert [site["id"] for site in sites] == [tebet.pk]
    tickets = client.get("/api/tickets/", {"kota": selatan.pk}).json()["results"]
    assert [ticket["site"]["id"] for ticket in tickets] == [tebet.pk]
    poles = client.get("/api/poles/", {"kota": "31.74"}).json()["results"]
    assert len(poles) == 1
    assert client.get("/api/poles/", {"kota": "31.71"}).json()["results"] == []
    assert client.get("/api/cameras/", {"kota": "99.99"}).json()["results"] == []
