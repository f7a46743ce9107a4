"""Dashboards: each role's sections, the pipeline, the coverage-gap planner, the operator feed."""

import gzip
import itertools
import json
import math
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contracts.models import Breach, BreachKind, HostingApplication
from partners.models import PartnerKind
from portal import dashboard_selectors
from portal.roles import Role
from sites.models import (
    Area,
    CameraHealth,
    CameraStatusChange,
    CoverageRequest,
    HealthRollup,
    HealthSweep,
    RollupPeriod,
    SweepStatus,
    UpstreamIncident,
)
from tests import factories

DASHBOARD = reverse("dashboard")
GAP_MAP = reverse("dashboard-gap-map")
OPERATOR = reverse("dashboard-operator")
LIVE = reverse("dashboard-operator-live")
PUSAT, BARAT = "31.71", "31.73"
PUSAT_KELURAHAN = "31.71.01.1001"  # Gambir
BARAT_KELURAHAN = "31.73.01.1001"  # Cengkareng Barat

_reference = itertools.count(1)


@pytest.fixture(autouse=True)
def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture(autouse=True)
def fresh_cache():
    """The gap map is cached per scope; each test builds its own."""
    cache.clear()
    yield
    cache.clear()


def _as(client, user):
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _cameras(partner, kelurahan_code: str, statuses: list[str | None]):
    """An active site in the kelurahan with one camera per status (None: never checked)."""
    site = factories.make_active_site(partner, kelurahan_code=kelurahan_code, cameras=len(statuses))
    cameras = list(site.cameras.order_by("pk"))
    now = timezone.now()
    for camera, status in zip(cameras, statuses, strict=True):
        if status:
            CameraHealth.objects.create(
                camera=camera, status=status, reason="timeout", changed_at=now, checked_at=now
            )
    return cameras


def _request(kelurahan_code: str, *, supports: int = 0, status: str = "submitted"):
    area = factories.kelurahan(kelurahan_code)
    return CoverageRequest.objects.create(
        reference=f"REQ-{next(_reference):06d}",
        lat=area.lat,
        lon=area.lon,
        kelurahan=area,
        category="crime",
        description="Sering ada jambret di sini.",
        consent_at=timezone.now(),
        privacy_notice_version="1",
        status=status,
        supports_count=supports,
    )


def _application(partner, *, status: str, days: float, kelurahan_code=PUSAT_KELURAHAN, **kw):
    application = factories.make_application(partner, kelurahan_code=kelurahan_code, **kw)
    kota = Area.objects.get(code=kelurahan_code[:5])
    HostingApplication.objects.filter(pk=application.pk).update(
        status=status, submitted_at=timezone.now() - timedelta(days=days), kota=kota
    )
    return application


def _breach(partner, contract, *, days_ago: float = 1):
    return Breach.objects.create(
        kind=BreachKind.REPAIR_LATE,
        contract=contract,
        responsible=partner,
        detected_at=timezone.now() - timedelta(days=days_ago),
    )


@pytest.fixture
def host_a(owner):
    return factories.verified_partner(owner, name="PT Kamera Alfa")


@pytest.fixture
def host_b(other_owner):
    return factories.verified_partner(other_owner, name="PT Kamera Beta")


@pytest.fixture
def operator(db):
    return factories.UserFactory(roles=[Role.OPERATOR])


@pytest.fixture
def resident(db):
    return factories.UserFactory(roles=[Role.RESIDENT])


# --- Sections by role -----------------------------------------------------------------------


def test_dashboard_officer_sees_officer_sections_not_partner_ones(client, approver):
    page = _as(client, approver).get(DASHBOARD)
    assert page.status_code == 200
    for section in ('id="pipeline"', 'id="gap-planner"', 'id="breaches"', 'id="fleet"'):
        assert section in page.text
    for section in ('id="my-cameras"', 'id="my-tickets"', 'id="my-contracts"'):
        assert section not in page.text
    assert GAP_MAP in page.text
    assert reverse("contracts:breach-list") in page.text


def test_dashboard_partner_sees_partner_sections_not_officer_ones(client, owner, host_a):
    page = _as(client, owner).get(DASHBOARD)
    assert page.status_code == 200
    for section in ('id="my-cameras"', 'id="my-tickets"', 'id="my-contracts"', "My applications"):
        assert section in page.text
    for section in ('id="pipeline"', 'id="gap-planner"', 'id="breaches"', 'id="fleet"'):
        assert section not in page.text


def test_dashboard_operator_sees_fleet_and_the_live_view_link(client, operator):
    page = _as(client, operator).get(DASHBOARD)
    assert 'id="fleet"' in page.text
    assert OPERATOR in page.text
    assert 'id="pipeline"' not in page.text
    assert 'id="my-cameras"' not in page.text


def test_dashboard_officer_who_is_also_a_partner_member_sees_both(client, host_a, host_b):
    user = host_a.created_by
    user.groups.add(factories.officer().groups.get())
    _cameras(host_a, PUSAT_KELURAHAN, ["down"])
    _cameras(host_b, BARAT_KELURAHAN, ["down"])
    page = _as(client, user).get(DASHBOARD)
    assert 'id="pipeline"' in page.text
    assert 'id="my-cameras"' in page.text
    # The partner section still holds only the member's own cameras.
    assert [h.camera.owner_id for h in page.context["my_failing"]] == [host_a.pk]
    assert page.context["fleet"].total == 2


def test_dashboard_anonymous_is_sent_to_sign_in(client, db):
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


# --- Partner: nothing of another partner's ---------------------------------------------------


def test_dashboard_partner_sees_only_its_own_cameras_tickets_and_contracts(
    client, owner, host_a, host_b
):
    from contracts import ticket_services

    ours = _cameras(host_a, PUSAT_KELURAHAN, ["down", "upstream_down", "up", None])
    theirs = _cameras(host_b, BARAT_KELURAHAN, ["down", "down"])
    our_contract = factories.make_contract(
        [(host_a, ["host", "maintainer"])],
        sites=[ours[0].site],
        obligations={"acknowledge": 4, "repair": 24},
        term_days=60,
        title="Kontrak Alfa",
    )
    factories.make_contract(
        [(host_b, ["host", "maintainer"])],
        sites=[theirs[0].site],
        obligations={"acknowledge": 4, "repair": 24},
        term_days=60,
        title="Kontrak Beta",
    )
    our_ticket = ticket_services.ticket_open(
        actor=owner, site=ours[0].site, camera=ours[0], title="Kamera Alfa mati"
    )
    ticket_services.ticket_open(
        actor=host_b.created_by, site=theirs[0].site, camera=theirs[0], title="Kamera Beta mati"
    )

    page = _as(client, owner).get(DASHBOARD)
    context = page.context
    totals = {value: count for value, _label, count in context["my_totals"]}
    assert totals["down"] == 1
    assert totals["upstream_down"] == 1
    assert totals["up"] == 1
    assert totals["unknown"] == 1
    assert context["my_camera_total"] == 4
    # Worst first: down before upstream down; the healthy ones are not listed.
    assert [h.camera_id for h in context["my_failing"]] == [ours[0].pk, ours[1].pk]
    assert [t.pk for t in context["my_tickets"]] == [our_ticket.pk]
    assert {c["name"] for c in context["my_tickets"][0].clocks} == {"acknowledge", "repair"}
    assert [c.pk for c in context["my_contracts"]] == [our_contract.pk]
    assert "Kamera Alfa mati" in page.text
    assert "Kontrak Alfa" not in page.text or our_contract.number in page.text
    for leak in ("Kamera Beta mati", "Kontrak Beta", "PT Kamera Beta"):
        assert leak not in page.text
    assert reverse("sites:health-camera", args=[theirs[0].pk]) not in page.text


def test_dashboard_partner_contracts_list_only_those_ending_within_90_days(client, owner, host_a):
    site = factories.make_active_site(host_a)
    soon = factories.make_contract([(host_a, ["host"])], sites=[site], term_days=100)
    factories.make_contract(
        [(host_a, ["host"])],
        sites=[factories.make_active_site(host_a)],
        term_days=400,
    )
    page = _as(client, owner).get(DASHBOARD)
    # Started 30 days ago for 100 days: ends in 70 days.
    assert [c.pk for c in page.context["my_contracts"]] == [soon.pk]


# --- Pipeline -------------------------------------------------------------------------------


def test_pipeline_counts_applications_by_step_and_age(client, approver, host_a):
    with time_machine.travel(timezone.now(), tick=False):
        _application(host_a, status="submitted", days=1)
        _application(host_a, status="submitted", days=6.9)
        _application(host_a, status="submitted", days=7.5)
        _application(host_a, status="technical_review", days=14)  # 7–14 includes day 14
        _application(host_a, status="technical_review", days=14.1)
        _application(host_a, status="legal_review", days=30)
        _application(host_a, status="approved", days=40)  # decided: not in the pipeline
        _application(host_a, status="draft", days=2)
        pipeline = dashboard_selectors.pipeline(user=approver)
        rows = {row.status: row.buckets for row in pipeline.rows}
    assert rows == {
        "submitted": {"under_7": 2, "7_to_14": 1, "over_14": 0},
        "technical_review": {"under_7": 0, "7_to_14": 1, "over_14": 1},
        "legal_review": {"under_7": 0, "7_to_14": 0, "over_14": 1},
    }
    assert (pipeline.waiting, pipeline.overdue) == (6, 2)
    page = _as(client, approver).get(DASHBOARD)
    assert f"{reverse('contracts:review-queue')}?status=technical_review" in page.text


def test_oldest_reviews_lists_the_longest_waiting_first_with_links(client, approver, host_a):
    newer = _application(host_a, status="submitted", days=2, title="Baru")
    oldest = _application(host_a, status="legal_review", days=20, title="Paling lama")
    page = _as(client, approver).get(DASHBOARD)
    assert [a.pk for a in page.context["oldest_reviews"]] == [oldest.pk, newer.pk]
    assert reverse("contracts:application-detail", args=[oldest.pk]) in page.text


def test_dashboard_sudin_officer_sees_only_their_kota(client, host_a, host_b):
    _application(host_a, status="submitted", days=1, kelurahan_code=PUSAT_KELURAHAN)
    _application(host_b, status="submitted", days=1, kelurahan_code=BARAT_KELURAHAN)
    _cameras(host_a, PUSAT_KELURAHAN, ["up"])
    _cameras(host_b, BARAT_KELURAHAN, ["down"])
    contract_a = factories.make_contract(
        [(host_a, ["host"])], sites=[factories.make_active_site(host_a)]
    )
    contract_b = factories.make_contract(
        [(host_b, ["host"])],
        sites=[factories.make_active_site(host_b, kelurahan_code=BARAT_KELURAHAN)],
    )
    _breach(host_a, contract_a)
    _breach(host_b, contract_b)

    sudin = factories.sudin_officer(PUSAT)
    page = _as(client, sudin).get(DASHBOARD)
    context = page.context
    assert context["pipeline"].waiting == 1
    assert [row["key"] for row in context["fleet"].by_kota] == [PUSAT]
    assert context["breaches"]["total"] == 1
    assert [row["responsible_id"] for row in context["breaches"]["by_partner"]] == [host_a.pk]
    assert all(row.code.startswith(PUSAT + ".") for row in context["gap_ranking"])
    assert "PT Kamera Beta" not in page.text

    features = client.get(GAP_MAP).json()["features"]
    assert features
    assert all(f["properties"]["code"].startswith(PUSAT + ".") for f in features)


# --- Coverage-gap planner -------------------------------------------------------------------


def test_gap_score_formula():
    assert dashboard_selectors.gap_score(rawan_level=0, cameras_per_km2=0, demand=0) == 1
    assert dashboard_selectors.gap_score(rawan_level=3, cameras_per_km2=1, demand=0) == 2
    assert dashboard_selectors.gap_score(
        rawan_level=1, cameras_per_km2=0, demand=7
    ) == pytest.approx(2 * (1 + math.log(8)))


def test_gap_ranking_orders_a_hand_built_case_and_gives_the_reasons(client, host_a):
    codes = {
        "demand": "31.71.01.1003",  # rawan low, no camera, 3 open requests with 4 supports
        "rawan": "31.71.01.1001",  # rawan high, no camera, nobody asking
        "broken": "31.71.01.1004",  # rawan medium, two cameras, both down
        "watched": "31.71.01.1005",  # rawan medium, two cameras working
        "covered": "31.71.01.1002",  # rawan high, ten cameras working
    }
    levels = {"demand": 1, "rawan": 3, "broken": 2, "watched": 2, "covered": 3}
    for key, level in levels.items():
        Area.objects.filter(code=codes[key]).update(rawan_level=level)
    for supports in (0, 1, 3):
        _request(codes["demand"], supports=supports)
    _request(codes["demand"], supports=50, status="declined")  # closed: no demand
    _cameras(host_a, codes["broken"], ["down", "upstream_down"])
    _cameras(host_a, codes["watched"], ["up", "degraded"])
    _cameras(host_a, codes["covered"], ["up"] * 10)

    sudin = factories.sudin_officer(PUSAT)
    rows = dashboard_selectors.gap_rows(user=sudin)
    by_code = {row.code: row for row in rows}
    order = [row.code for row in rows]
    assert order[:3] == [codes["demand"], codes["rawan"], codes["broken"]]
    assert order.index(codes["watched"]) > order.index(codes["broken"])
    assert order.index(codes["covered"]) > order.index(codes["watched"])
    demand = by_code[codes["demand"]]
    assert (demand.open_requests, demand.supports, demand.cameras) == (3, 4, 0)
    assert demand.score == pytest.approx(2 * (1 + math.log(8)), abs=0.001)
    assert by_code[codes["rawan"]].score == 4
    broken = by_code[codes["broken"]]
    assert (broken.cameras, broken.working, broken.score) == (2, 0, 3)
    watched = by_code[codes["watched"]]
    assert watched.km2 > 0
    assert watched.cameras_per_km2 == pytest.approx(2 / watched.km2)
    assert watched.working_share == 100

    page = _as(client, sudin).get(DASHBOARD)
    ranking = page.context["gap_ranking"]
    assert len(ranking) == dashboard_selectors.GAP_RANKED
    assert [row.code for row in ranking[:3]] == order[:3]
    assert "3 open requests, 4 supports" in page.text
    assert "No cameras yet" in page.text
    assert "0% of its cameras working now" in page.text
    assert "High" in page.text


def test_kelurahan_km2_is_plausible_for_jakarta(db):
    km2 = dashboard_selectors.kelurahan_km2()
    total = sum(km2.values())
    # DKI Jakarta's land is about 662 km² (the islands add under 10).
    assert 550 < total < 750
    gambir = Area.objects.get(code=PUSAT_KELURAHAN)
    assert 1 < km2[gambir.pk] < 4


def test_gap_map_json_is_geojson_for_officers_cached_and_gzipped(client, approver, host_a):
    Area.objects.filter(code=PUSAT_KELURAHAN).update(rawan_level=3)
    _as(client, approver)
    response = client.get(GAP_MAP, HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(response.content))
    assert body["type"] == "FeatureCollection"
    villages = Area.objects.filter(level="village").count()
    assert len(body["features"]) == villages
    gambir = next(f for f in body["features"] if f["properties"]["code"] == PUSAT_KELURAHAN)
    assert gambir["geometry"]["type"] == "MultiPolygon"
    ring = gambir["geometry"]["coordinates"][0][0]
    assert ring[0] == ring[-1]
    assert gambir["properties"]["rawan"] == 3
    assert gambir["properties"]["level"] == 1.0  # the highest score in the city
    # Compact: well under the raw boundary file.
    assert len(response.content) < 200_000

    with CaptureQueriesContext(connection) as cached:
        again = client.get(GAP_MAP)
    assert again.status_code == 200
    assert not [q for q in cached.captured_queries if "areaboundary" in q["sql"]]


def test_gap_map_json_refuses_partners_and_residents(client, owner, host_a, resident):
    assert _as(client, owner).get(GAP_MAP).status_code == 403
    assert _as(client, resident).get(GAP_MAP).status_code == 403


# --- Operator live view ---------------------------------------------------------------------


def _live_data(host_a, host_b):
    camera = _cameras(host_a, PUSAT_KELURAHAN, ["down"])[0]
    other = _cameras(host_b, BARAT_KELURAHAN, ["up"])[0]
    for subject in (camera, other):
        CameraStatusChange.objects.create(
            camera=subject, old_status="up", new_status="down", reason="timeout"
        )
    pole = factories.make_pole(factories.make_partner(kind=PartnerKind.POLE_OWNER))
    UpstreamIncident.objects.create(
        owner=host_a, pole=pole, started_at=timezone.now(), cameras_affected=3
    )
    return camera


def test_operator_live_json_shape(client, operator, host_a, host_b):
    camera = _live_data(host_a, host_b)
    started = timezone.now() - timedelta(minutes=3)
    HealthSweep.objects.create(
        started_at=started,
        deadline=started + timedelta(minutes=5),
        finished_at=started + timedelta(seconds=42),
        status=SweepStatus.FINISHED,
        cameras=2,
        checks=2,
    )
    body = _as(client, operator).get(LIVE).json()
    assert set(body) == {
        "generated_at",
        "statuses",
        "totals",
        "total",
        "by_kota",
        "incidents",
        "changes",
        "sweep",
    }
    assert body["total"] == 2
    assert body["totals"]["down"] == 1
    assert body["totals"]["up"] == 1
    assert {row["code"] for row in body["by_kota"]} == {PUSAT, BARAT}
    assert body["incidents"][0]["cameras_affected"] == 3
    assert len(body["changes"]) == 2
    assert {"camera_id", "new_status", "new_label", "at", "owner"} <= set(body["changes"][0])
    assert camera.pk in {change["camera_id"] for change in body["changes"]}
    assert body["sweep"]["duration_seconds"] == 42
    assert body["generated_at"].endswith("+07:00")


def test_operator_live_json_is_for_operators_and_officers_only(
    client, owner, host_a, resident, operator, approver
):
    assert client.get(LIVE).status_code == 403
    assert _as(client, resident).get(LIVE).status_code == 403
    assert _as(client, owner).get(LIVE).status_code == 403
    assert _as(client, owner).get(OPERATOR).status_code == 403
    assert _as(client, operator).get(LIVE).status_code == 200
    assert _as(client, approver).get(LIVE).status_code == 200


def test_operator_live_json_sudin_officer_sees_their_kota(client, host_a, host_b):
    _live_data(host_a, host_b)
    body = _as(client, factories.sudin_officer(BARAT)).get(LIVE).json()
    assert [row["code"] for row in body["by_kota"]] == [BARAT]
    assert {change["owner"] for change in body["changes"]} == {"PT Kamera Beta"}
    assert body["incidents"] == []  # the pole is in Pusat


def test_operator_page_renders_the_live_figures_and_the_poller(client, operator, host_a, host_b):
    _live_data(host_a, host_b)
    page = _as(client, operator).get(OPERATOR)
    assert page.status_code == 200
    assert "js/operator-live.js" in page.text
    assert f'data-url="{LIVE}"' in page.text
    assert 'data-interval="15"' in page.text
    assert "PT Kamera Beta" in page.text


# --- Query counts ---------------------------------------------------------------------------


def _more(host_a, host_b, round_: int):
    """Another batch of everything the dashboards count and list."""
    _application(host_a, status="submitted", days=round_ * 3)
    _application(host_b, status="technical_review", days=round_ * 8)
    cams = _cameras(host_a, PUSAT_KELURAHAN, ["down", "up"])
    _cameras(host_b, BARAT_KELURAHAN, ["degraded"])
    contract = factories.make_contract(
        [(host_a, ["host", "maintainer"])],
        sites=[cams[0].site],
        obligations={"acknowledge": 4, "repair": 24},
        term_days=60,
    )
    _breach(host_a, contract)
    _request(PUSAT_KELURAHAN, supports=round_)
    from contracts import ticket_services

    ticket_services.ticket_open(
        actor=host_a.created_by, site=cams[0].site, camera=cams[0], title=f"Mati {round_}"
    )
    for camera in cams:
        CameraStatusChange.objects.create(camera=camera, old_status="up", new_status="down")


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries.captured_queries)


@pytest.mark.parametrize("who", ["officer", "partner", "operator"])
def test_dashboard_query_count_does_not_grow_with_data(
    client, host_a, host_b, operator, django_assert_max_num_queries, who
):
    user = {"officer": factories.officer(), "partner": host_a.created_by, "operator": operator}[who]
    _as(client, user)
    _more(host_a, host_b, 1)
    cache.clear()
    first = _count(client, DASHBOARD)
    for round_ in (2, 3, 4):
        _more(host_a, host_b, round_)
    cache.clear()
    with django_assert_max_num_queries(first):
        client.get(DASHBOARD)


@pytest.mark.parametrize("url", [LIVE, OPERATOR])
def test_operator_query_count_does_not_grow_with_data(
    client, host_a, host_b, operator, django_assert_max_num_queries, url
):
    _as(client, operator)
    _more(host_a, host_b, 1)
    first = _count(client, url)
    for round_ in (2, 3, 4):
        _more(host_a, host_b, round_)
    with django_assert_max_num_queries(first):
        client.get(url)


# --- Charts ---------------------------------------------------------------------------------


def _rollup(camera, *, days_ago: int, up: int, down: int):
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return HealthRollup.objects.create(
        camera=camera,
        period=RollupPeriod.DAY,
        period_start=start - timedelta(days=days_ago),
        up_seconds=up,
        down_seconds=down,
        maintenance_seconds=3600,
    )


def test_availability_by_day_counts_only_the_given_cameras(client, owner, host_a, host_b):
    ours = _cameras(host_a, PUSAT_KELURAHAN, ["up", "up"])
    theirs = _cameras(host_b, BARAT_KELURAHAN, ["down"])[0]
    _rollup(ours[0], days_ago=2, up=80_000, down=0)
    _rollup(ours[1], days_ago=2, up=70_000, down=10_000)
    _rollup(ours[0], days_ago=1, up=86_400, down=0)
    _rollup(theirs, days_ago=1, up=0, down=86_400)
    _rollup(ours[0], days_ago=40, up=0, down=86_400)  # outside the 30 days

    points = dashboard_selectors.availability_by_day(cameras=dashboard_selectors.my_cameras(owner))
    # Maintenance leaves the count: 150,000 of 160,000 seconds, then all of them.
    assert [value for _day, value in points] == [93.75, 100.0]
    page = _as(client, owner).get(DASHBOARD)
    assert 'class="chart"' in page.text
    assert "availability per day" in page.text


def test_operator_page_charts_sweep_durations(client, operator):
    started = timezone.now() - timedelta(hours=1)
    for minute, seconds in ((0, 30), (10, 45)):
        begin = started + timedelta(minutes=minute)
        HealthSweep.objects.create(
            started_at=begin,
            deadline=begin + timedelta(minutes=5),
            finished_at=begin + timedelta(seconds=seconds),
            status=SweepStatus.FINISHED,
        )
    assert [s for _at, s in dashboard_selectors.sweep_durations()] == [30, 45]
    page = _as(client, operator).get(OPERATOR)
    assert "Sweep duration, last 50 sweeps" in page.text
