"""Fleet health API: the summary, status changes, outages, a camera's health, sweeps."""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.roles import Role
from sites import health_selectors, maintenance_services
from sites.models import (
    Camera,
    CameraHealth,
    CameraStatusChange,
    HealthSweep,
    Outage,
    Site,
    SiteStatus,
    SweepStatus,
)
from tests import factories
from tests.conftest import api_as

_serial = itertools.count(1)
KELURAHAN = {"31.71": "31.71.01.1001", "31.73": "31.73.01.1001"}


def make_camera(partner, *, kota: str = "31.71", status: str | None = None, **kw) -> Camera:
    """An in-service camera of `partner` in `kota`, with a health row when `status` is given."""
    site = factories.make_site(partner, kelurahan_code=KELURAHAN[kota])
    Site.objects.filter(pk=site.pk).update(status=SiteStatus.ACTIVE)
    camera = Camera.objects.create(
        site=site,
        owner=partner,
        vendor="Dahua",
        model="IPC",
        serial=f"HEALTH-{next(_serial)}",
        resolution="1920x1080",
        created_by=partner.created_by,
        **kw,
    )
    if status:
        now = timezone.now()
        CameraHealth.objects.create(
            camera=camera, status=status, reason="timeout", changed_at=now, checked_at=now
        )
    return camera


def change(camera: Camera, new: str, *, old: str = "up", ago: timedelta = timedelta(0)):
    return CameraStatusChange.objects.create(
        camera=camera,
        old_status=old,
        new_status=new,
        reason="timeout",
        created_at=timezone.now() - ago,
    )


def outage(camera: Camera, *, started: timedelta, hours: float | None = None) -> Outage:
    start = timezone.now() - started
    end = start + timedelta(hours=hours) if hours is not None else None
    return Outage.objects.create(camera=camera, started_at=start, ended_at=end, reason="timeout")


@pytest.fixture
def host_a(owner):
    return factories.verified_partner(owner)


@pytest.fixture
def host_b(other_owner):
    return factories.verified_partner(other_owner)


@pytest.fixture
def fleet(host_a, host_b) -> dict:
    """A: two up and one down in Pusat, one unchecked in Barat. B: one degraded in Barat."""
    cameras = {
        "a_up1": make_camera(host_a, status="up"),
        "a_up2": make_camera(host_a, status="up"),
        "a_down": make_camera(host_a, status="down"),
        "a_new": make_camera(host_a, kota="31.73"),
        "b_degraded": make_camera(host_b, kota="31.73", status="degraded"),
    }
    # Not in service (a proposed site): never counted.
    site = factories.make_site(host_a)
    Camera.objects.create(
        site=site,
        owner=host_a,
        vendor="Axis",
        model="P1455",
        serial="NOT-IN-SERVICE",
        resolution="1920x1080",
        created_by=host_a.created_by,
    )
    return cameras


@pytest.fixture
def operator(db):
    return factories.UserFactory(roles=[Role.OPERATOR])


def _counts(**nonzero) -> dict:
    return {
        "unknown": 0,
        "up": 0,
        "degraded": 0,
        "down": 0,
        "maintenance": 0,
        "upstream_down": 0,
        **nonzero,
    }


# --- /api/health/fleet/ -------------------------------------------------------------------


def test_fleet_summary_counts_by_status_kota_and_partner(fleet, host_a, host_b, operator):
    body = api_as(operator).get("/api/health/fleet/").json()
    assert body["total"] == 5
    assert body["totals"] == _counts(up=2, down=1, unknown=1, degraded=1)
    by_kota = {row["code"]: row for row in body["by_kota"]}
    assert by_kota["31.71"]["counts"] == _counts(up=2, down=1)
    assert by_kota["31.73"]["counts"] == _counts(unknown=1, degraded=1)
    assert by_kota["31.73"]["name"]
    by_partner = {row["id"]: row for row in body["by_partner"]}
    assert by_partner[host_a.pk]["counts"] == _counts(up=2, down=1, unknown=1)
    assert by_partner[host_a.pk]["total"] == 4
    assert by_partner[host_b.pk]["counts"] == _counts(degraded=1)


def test_fleet_summary_partner_counts_only_its_own_cameras(fleet, host_a, host_b, owner):
    body = api_as(owner).get("/api/health/fleet/").json()
    assert body["totals"] == _counts(up=2, down=1, unknown=1)
    assert [row["id"] for row in body["by_partner"]] == [host_a.pk]


def test_fleet_summary_sudin_officer_counts_only_their_kota(fleet):
    sudin = factories.sudin_officer("31.73")
    body = api_as(sudin).get("/api/health/fleet/").json()
    assert body["totals"] == _counts(unknown=1, degraded=1)
    assert [row["code"] for row in body["by_kota"]] == ["31.73"]


def test_fleet_summary_refuses_a_resident(db):
    resident = factories.UserFactory(roles=[Role.RESIDENT])
    assert api_as(resident).get("/api/health/fleet/").status_code == 403


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_fleet_summary_and_changes_use_constant_queries(host_a, owner, operator):
    for index in range(3):
        change(make_camera(host_a, status="down", kota=["31.71", "31.73"][index % 2]), "down")
    partner_client, operator_client = api_as(owner), api_as(operator)
    urls = ["/api/health/fleet/", "/api/health/changes/"]
    for client in (partner_client, operator_client):
        client.get(urls[0])  # the user's roles are looked up once, then cached on the user
    small = [_queries(c, u) for c in (partner_client, operator_client) for u in urls]
    for index in range(7):
        change(make_camera(host_a, status="up", kota=["31.71", "31.73"][index % 2]), "up")
    large = [_queries(c, u) for c in (partner_client, operator_client) for u in urls]
    assert small == large
    assert api_as(operator).get("/api/health/fleet/").json()["total"] == 10


# --- /api/health/changes/ -----------------------------------------------------------------


def test_changes_partner_sees_only_its_own_cameras_changes(fleet, owner):
    ours = change(fleet["a_down"], "down")
    theirs = change(fleet["b_degraded"], "degraded")
    client = api_as(owner)
    ids = [row["id"] for row in client.get("/api/health/changes/").json()["results"]]
    assert ids == [ours.pk]
    filtered = client.get("/api/health/changes/", {"camera": fleet["b_degraded"].pk}).json()
    assert filtered["results"] == []
    assert theirs.pk not in [r["id"] for r in client.get("/api/health/changes/").json()["results"]]


def test_changes_filter_by_camera_partner_kota_and_since(fleet, host_b, operator):
    old = change(fleet["a_down"], "down", ago=timedelta(days=2))
    recent = change(fleet["a_up1"], "up", old="down", ago=timedelta(hours=1))
    barat = change(fleet["b_degraded"], "degraded")
    client = api_as(operator)

    def ids(**params) -> list[int]:
        return [r["id"] for r in client.get("/api/health/changes/", params).json()["results"]]

    assert ids() == [barat.pk, recent.pk, old.pk]
    assert ids(camera=fleet["a_down"].pk) == [old.pk]
    assert ids(partner=host_b.pk) == [barat.pk]
    assert ids(kota="31.73") == [barat.pk]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(since=since) == [barat.pk, recent.pk]


def test_changes_are_cursor_paginated_newest_first(host_a, operator):
    camera = make_camera(host_a)
    made = [change(camera, "down", ago=timedelta(minutes=m)) for m in range(55)]
    client = api_as(operator)
    first = client.get("/api/health/changes/").json()
    assert [r["id"] for r in first["results"]] == [c.pk for c in made[:50]]
    second = client.get(first["next"]).json()
    assert [r["id"] for r in second["results"]] == [c.pk for c in made[50:]]
    assert second["next"] is None


# --- /api/health/outages/ -----------------------------------------------------------------


def test_outages_nothing_leaks_between_partners(fleet, owner):
    ours = outage(fleet["a_down"], started=timedelta(hours=3))
    theirs = outage(fleet["b_degraded"], started=timedelta(hours=2))
    client = api_as(owner)
    assert [r["id"] for r in client.get("/api/health/outages/").json()["results"]] == [ours.pk]
    assert client.get(f"/api/health/outages/{theirs.pk}/").status_code == 404
    assert client.get(f"/api/health/outages/{ours.pk}/").status_code == 200


def test_outages_filter_open_and_camera(fleet, operator):
    closed = outage(fleet["a_up1"], started=timedelta(days=2), hours=1)
    still_open = outage(fleet["a_down"], started=timedelta(hours=3))
    client = api_as(operator)

    def ids(**params) -> list[int]:
        return [r["id"] for r in client.get("/api/health/outages/", params).json()["results"]]

    assert ids(open="true") == [still_open.pk]
    assert ids(open="false") == [closed.pk]
    assert ids(camera=fleet["a_up1"].pk) == [closed.pk]


# --- /api/health/cameras/{id}/ ------------------------------------------------------------


def test_camera_health_shows_state_availability_and_open_outage(fleet, owner):
    camera = fleet["a_down"]
    open_outage = outage(camera, started=timedelta(hours=6))
    body = api_as(owner).get(f"/api/health/cameras/{camera.pk}/").json()
    assert (body["camera"], body["status"], body["reason"]) == (camera.pk, "down", "timeout")
    assert body["open_outage"]["id"] == open_outage.pk
    assert body["availability_30d"] == "99.17"


def test_camera_health_of_an_unchecked_camera_is_unknown(fleet, owner):
    body = api_as(owner).get(f"/api/health/cameras/{fleet['a_new'].pk}/").json()
    assert (body["status"], body["checked_at"], body["open_outage"]) == ("unknown", None, None)
    assert body["availability_30d"] == "100.00"


def test_camera_health_of_another_partners_camera_is_404(fleet, owner):
    response = api_as(owner).get(f"/api/health/cameras/{fleet['b_degraded'].pk}/")
    assert response.status_code == 404


# --- availability -------------------------------------------------------------------------


def test_camera_availability_one_six_hour_outage_in_30_days(host_a, approver):
    camera = make_camera(host_a, installed_at=timezone.now() - timedelta(days=400))
    outage(camera, started=timedelta(days=10), hours=6)
    # Outside the window: does not count.
    outage(camera, started=timedelta(days=40), hours=48)
    assert health_selectors.camera_availability(approver, camera, days=30) == Decimal("99.17")


def test_camera_availability_counts_only_the_part_inside_the_window(host_a, approver):
    camera = make_camera(host_a)
    now = timezone.now()
    # Began a day before the window: only its last 12 hours of 36 count.
    Outage.objects.create(
        camera=camera, started_at=now - timedelta(days=31), ended_at=now - timedelta(days=29.5)
    )
    availability = health_selectors.camera_availability(approver, camera, days=30, now=now)
    assert availability == Decimal("98.33")


def test_camera_availability_leaves_out_an_outage_during_planned_work(host_a, approver):
    camera = make_camera(host_a, installed_at=timezone.now() - timedelta(days=400))
    now = timezone.now()
    outage(camera, started=timedelta(days=10), hours=6)
    maintenance_services.window_create(
        actor=approver,
        camera=camera,
        starts_at=now - timedelta(days=10, hours=1),
        ends_at=now - timedelta(days=9, hours=17),
        reason="Pole replaced",
    )
    # The 8-hour window covers the whole outage: nothing unplanned was missed.
    assert health_selectors.camera_availability(approver, camera, days=30, now=now) == Decimal(
        "100.00"
    )


def test_camera_availability_takes_daily_windows_out_of_the_period(host_a, approver):
    camera = make_camera(host_a, installed_at=timezone.now() - timedelta(days=400))
    now = timezone.now()
    # 6 hours down outside any window; a 2-hour window every night for the whole 30 days.
    outage(camera, started=timedelta(days=5, hours=12), hours=6)
    first = now - timedelta(days=31)
    maintenance_services.window_create(
        actor=approver,
        camera=camera,
        starts_at=first,
        ends_at=first + timedelta(hours=2),
        reason="Nightly reboot",
        recurrence="daily",
    )
    occurrences = [
        (first + timedelta(days=k), first + timedelta(days=k, hours=2)) for k in range(32)
    ]
    start = now - timedelta(days=30)
    planned = sum(
        (min(end, now) - max(begin, start)).total_seconds()
        for begin, end in occurrences
        if end > start and begin < now
    )
    down = 6 * 3600 - sum(
        max(
            0.0,
            (
                min(end, now - timedelta(days=5, hours=6))
                - max(begin, now - timedelta(days=5, hours=12))
            ).total_seconds(),
        )
        for begin, end in occurrences
    )
    expected = (1 - Decimal(down) / Decimal(30 * 86400 - planned)) * 100
    availability = health_selectors.camera_availability(approver, camera, days=30, now=now)
    assert availability == expected.quantize(Decimal("0.01"))
    assert availability < Decimal("99.17")  # the same 6 hours weigh more in a shorter period


def test_camera_availability_is_100_when_the_whole_period_was_planned(host_a, approver):
    camera = make_camera(host_a, installed_at=timezone.now() - timedelta(days=2))
    now = timezone.now()
    outage(camera, started=timedelta(days=1), hours=3)
    maintenance_services.window_create(
        actor=approver,
        camera=camera,
        starts_at=now - timedelta(days=3),
        ends_at=now + timedelta(hours=1),
        reason="Commissioning",
    )
    assert health_selectors.camera_availability(approver, camera, days=30, now=now) == Decimal(
        "100.00"
    )


# --- /api/health/sweeps/ ------------------------------------------------------------------


def test_sweeps_refuse_partners_and_show_operators_the_latest_first(owner, operator, host_a):
    started = timezone.now() - timedelta(minutes=10)
    older = HealthSweep.objects.create(
        started_at=started,
        deadline=started + timedelta(minutes=5),
        finished_at=started + timedelta(seconds=9),
        status=SweepStatus.FINISHED,
        checks=100,
        changes=3,
        db_write_ms=120,
    )
    newer = HealthSweep.objects.create(
        started_at=timezone.now(), deadline=timezone.now() + timedelta(minutes=5)
    )
    assert api_as(owner).get("/api/health/sweeps/").status_code == 403
    rows = api_as(operator).get("/api/health/sweeps/").json()["results"]
    assert [r["id"] for r in rows] == [newer.pk, older.pk]
    assert (rows[1]["duration_ms"], rows[1]["checks"], rows[1]["db_write_ms"]) == (9000, 100, 120)
    assert rows[0]["duration_ms"] is None


def test_health_endpoints_are_in_the_openapi_schema(owner):
    paths = api_as(owner).get("/api/schema/", {"format": "json"}).json()["paths"]
    for path in (
        "/api/health/fleet/",
        "/api/health/changes/",
        "/api/health/outages/",
        "/api/health/cameras/{camera_id}/",
        "/api/health/sweeps/",
    ):
        assert path in paths
