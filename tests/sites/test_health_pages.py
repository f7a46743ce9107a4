"""Fleet health pages: the fleet now, and one camera's health and history."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.roles import Role
from sites.models import HealthSweep, SweepStatus
from tests import factories
from tests.sites.test_health_api import change, make_camera, outage

FLEET = reverse("sites:health-fleet")


@pytest.fixture(autouse=True)
def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def host_a(owner):
    return factories.verified_partner(owner, name="PT Kamera Alfa")


@pytest.fixture
def host_b(other_owner):
    return factories.verified_partner(other_owner, name="PT Kamera Beta")


@pytest.fixture
def cameras(host_a, host_b) -> dict:
    return {
        "a": make_camera(host_a, status="down"),
        "a_new": make_camera(host_a),
        "b": make_camera(host_b, kota="31.73", status="up"),
    }


@pytest.fixture
def sweep(db):
    started = timezone.now() - timedelta(minutes=5)
    return HealthSweep.objects.create(
        started_at=started,
        deadline=started + timedelta(minutes=5),
        finished_at=started + timedelta(seconds=12),
        status=SweepStatus.FINISHED,
        checks=4321,
        changes=17,
        db_write_ms=345,
    )


def _page(client, user, url: str):
    client.force_login(user)
    return client.get(url)


def test_fleet_page_officer_sees_every_partner_changes_and_sweeps(client, cameras, sweep):
    change(cameras["b"], "up", old="down")
    page = _page(client, factories.officer(), FLEET)
    assert page.status_code == 200
    assert page.context["summary"].total == 3
    assert page.context["summary"].totals["down"] == 1
    assert "PT Kamera Alfa" in page.text
    assert "PT Kamera Beta" in page.text
    assert "Jakarta Barat" in page.text
    assert reverse("sites:health-camera", args=[cameras["b"].pk]) in page.text
    for figure in ("4321", "345", "12.0 s"):
        assert figure in page.text


def test_fleet_page_partner_sees_only_its_own_row_and_no_sweeps(client, owner, cameras, sweep):
    change(cameras["b"], "down")
    ours = change(cameras["a"], "down")
    page = _page(client, owner, FLEET)
    assert page.status_code == 200
    assert page.context["summary"].total == 2
    assert [row["name"] for row in page.context["summary"].by_partner] == ["PT Kamera Alfa"]
    assert "PT Kamera Beta" not in page.text
    assert [c.pk for c in page.context["changes"]] == [ours.pk]
    assert reverse("sites:health-camera", args=[cameras["b"].pk]) not in page.text
    assert "4321" not in page.text


def test_fleet_page_sudin_officer_sees_only_their_kota(client, cameras):
    page = _page(client, factories.sudin_officer("31.73"), FLEET)
    assert page.context["summary"].total == 1
    assert [row["key"] for row in page.context["summary"].by_kota] == ["31.73"]
    assert "PT Kamera Alfa" not in page.text


def test_fleet_page_refuses_residents_and_sends_strangers_to_sign_in(client, db):
    assert _page(client, factories.UserFactory(roles=[Role.RESIDENT]), FLEET).status_code == 403
    client.logout()
    response = client.get(FLEET)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_fleet_page_queries_do_not_grow_with_the_fleet(client, host_a):
    for _ in range(3):
        change(make_camera(host_a, status="down"), "down")
    client.force_login(factories.UserFactory(roles=[Role.OPERATOR]))
    client.get(FLEET)
    with CaptureQueriesContext(connection) as small:
        client.get(FLEET)
    for _ in range(7):
        change(make_camera(host_a, kota="31.73", status="up"), "up")
    with CaptureQueriesContext(connection) as large:
        page = client.get(FLEET)
    assert page.context["summary"].total == 10
    assert len(small) == len(large)


def test_camera_health_page_shows_state_availability_outages_and_history(client, owner, cameras):
    camera = cameras["a"]
    outage(camera, started=timedelta(days=3), hours=6)
    went_down = change(camera, "down", ago=timedelta(days=3))
    page = _page(client, owner, reverse("sites:health-camera", args=[camera.pk]))
    assert page.status_code == 200
    assert page.context["health"].status == "down"
    assert "99.17 %" in page.text
    assert [c.pk for c in page.context["history"].changes] == [went_down.pk]
    assert len(page.context["history"].outages) == 1


def test_camera_health_page_of_an_unchecked_camera_says_unknown(client, owner, cameras):
    page = _page(client, owner, reverse("sites:health-camera", args=[cameras["a_new"].pk]))
    assert page.status_code == 200
    assert "Unknown" in page.text
    assert "Not checked yet" in page.text


def test_camera_health_page_of_another_partners_camera_is_404(client, owner, cameras):
    url = reverse("sites:health-camera", args=[cameras["b"].pk])
    assert _page(client, owner, url).status_code == 404


def test_camera_detail_links_to_its_health_page(client, owner, cameras):
    camera = cameras["a"]
    page = _page(client, owner, reverse("sites:camera-detail", args=[camera.pk]))
    assert reverse("sites:health-camera", args=[camera.pk]) in page.text


def test_base_navigation_links_to_fleet_health(client, owner):
    page = _page(client, owner, reverse("sites:camera-list"))
    assert f'href="{FLEET}"' in page.text
