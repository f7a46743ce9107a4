"""The city map's JSON (issue #7): a packed camera payload cached per sweep, status refresh,
open requests at coarse points. Public: positions and health only, nothing personal."""

import gzip
import io
import itertools
import json
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from sites.models import (
    Camera,
    CameraHealth,
    CoverageRequest,
    HealthSweep,
    RequestStatus,
    ResidentContact,
    Site,
    SiteStatus,
    SweepStatus,
)
from tests import factories

GAMBIR = "31.71.01.1001"
TEBET_TIMUR = "31.74.01.1001"
PERSON_NAME = "Siti Rahayu"
PERSON_EMAIL = "siti.rahayu@example.test"
REQUEST_TEXT = "Gang sempit di belakang rumah Bu Siti, sering ada jambret malam hari."

_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def every_request_checks(settings):
    """The version is asked on every request, as if MAP_VERSION_TTL had just run out."""
    settings.MAP_VERSION_TTL = 0


def get(client, url: str, encoding: str = "identity", **headers):
    return client.get(url, HTTP_ACCEPT_ENCODING=encoding, **headers)


def decode(payload: dict) -> dict:
    """{camera id: (lat, lon, state)}: the packing of portal/map_selectors.py undone."""

    def undelta(values):
        return list(itertools.accumulate(values))

    ids, lats, lons = undelta(payload["ids"]), undelta(payload["lat"]), undelta(payload["lon"])
    scale = payload["scale"]
    return {
        camera_id: (
            Decimal(lat) / scale,
            Decimal(lon) / scale,
            payload["states"][payload["status"][index]],
        )
        for index, (camera_id, lat, lon) in enumerate(zip(ids, lats, lons, strict=True))
    }


def at_1m(value) -> Decimal:
    """A position as the map sends it: 5 decimals, about 1 m."""
    return Decimal(value).quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)


def set_health(camera, status: str) -> None:
    CameraHealth.objects.update_or_create(
        camera=camera, defaults={"status": status, "changed_at": timezone.now()}
    )


def finish_sweep() -> HealthSweep:
    now = timezone.now()
    return HealthSweep.objects.create(
        started_at=now, deadline=now, finished_at=now, status=SweepStatus.FINISHED
    )


@pytest.fixture
def fleet(partner):
    """Two active sites (three cameras) in two kelurahan and one proposed site's camera."""
    gambir = factories.make_active_site(partner, kelurahan_code=GAMBIR, cameras=2)
    tebet = factories.make_active_site(partner, kelurahan_code=TEBET_TIMUR, cameras=1)
    proposed = factories.make_active_site(partner, kelurahan_code=GAMBIR, cameras=1)
    Site.objects.filter(pk=proposed.pk).update(status=SiteStatus.PROPOSED)
    first, second = gambir.cameras.order_by("id")
    set_health(first, "up")
    set_health(second, "down")
    set_health(tebet.cameras.get(), "upstream_down")
    set_health(proposed.cameras.get(), "up")
    return {"gambir": gambir, "tebet": tebet, "proposed": proposed}


# --- cameras.json ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_map_cameras_decode_to_the_cameras_on_active_sites(fleet):
    response = get(Client(), "/map/cameras.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    gambir, tebet = fleet["gambir"], fleet["tebet"]
    first, second = gambir.cameras.order_by("id")
    assert decode(response.json()) == {
        first.pk: (at_1m(gambir.lat), at_1m(gambir.lon), "up"),
        second.pk: (at_1m(gambir.lat), at_1m(gambir.lon), "down"),
        tebet.cameras.get().pk: (at_1m(tebet.lat), at_1m(tebet.lon), "upstream_down"),
    }


@pytest.mark.django_db
def test_map_cameras_camera_never_checked_is_unknown(partner):
    site = factories.make_active_site(partner, cameras=1)

    payload = get(Client(), "/map/cameras.json").json()

    assert decode(payload) == {site.cameras.get().pk: (at_1m(site.lat), at_1m(site.lon), "unknown")}


@pytest.mark.django_db
def test_map_cameras_public_payload_names_no_partner(fleet, partner):
    body = get(Client(), "/map/cameras.json").content.decode()

    assert partner.name not in body
    assert "host" not in json.loads(body)


@pytest.mark.django_db
def test_map_cameras_officers_see_the_host_partner(fleet, partner):
    client = Client()
    client.force_login(factories.officer())

    response = get(client, "/map/cameras.json")

    payload = response.json()
    assert [payload["partners"][index] for index in payload["host"]] == [partner.name] * 3
    assert "private" in response["Cache-Control"]


@pytest.mark.django_db
def test_map_cameras_partner_members_get_the_public_payload(fleet, other_owner):
    client = Client()
    client.force_login(other_owner)

    assert "host" not in get(client, "/map/cameras.json").json()


@pytest.mark.django_db
def test_map_cameras_cache_hit_asks_only_the_version(
    fleet, every_request_checks, django_assert_num_queries
):
    client = Client()
    first = get(client, "/map/cameras.json", "gzip")

    with django_assert_num_queries(1):  # the version; the payload comes from the cache
        again = get(client, "/map/cameras.json", "gzip")

    assert again.content == first.content


@pytest.mark.django_db
def test_map_cameras_cache_hit_with_a_remembered_version_asks_nothing(
    fleet, django_assert_num_queries
):
    client = Client()
    get(client, "/map/cameras.json", "gzip")

    with django_assert_num_queries(0):
        response = get(client, "/map/cameras.json", "gzip")

    assert response.status_code == 200


@pytest.mark.django_db
def test_map_cameras_rebuilt_after_a_finished_sweep(fleet, every_request_checks):
    client = Client()
    camera = fleet["gambir"].cameras.order_by("id").first()
    get(client, "/map/cameras.json")
    # A state written without touching changed_at: only the sweep tells the map to rebuild.
    CameraHealth.objects.filter(camera=camera).update(status="degraded")
    assert decode(get(client, "/map/cameras.json").json())[camera.pk][2] == "up"

    finish_sweep()

    assert decode(get(client, "/map/cameras.json").json())[camera.pk][2] == "degraded"


@pytest.mark.django_db
def test_map_cameras_new_camera_shows_without_waiting_for_a_sweep(
    fleet, partner, every_request_checks
):
    client = Client()
    get(client, "/map/cameras.json")

    site = factories.make_active_site(partner, cameras=1)

    assert site.cameras.get().pk in decode(get(client, "/map/cameras.json").json())


@pytest.mark.django_db
def test_map_cameras_etag_answers_304(fleet):
    client = Client()
    first = get(client, "/map/cameras.json", "gzip")

    again = get(client, "/map/cameras.json", "gzip", HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]


@pytest.mark.django_db
def test_map_cameras_etag_changes_with_the_sweep(fleet, every_request_checks):
    client = Client()
    first = get(client, "/map/cameras.json", "gzip")

    finish_sweep()
    again = get(client, "/map/cameras.json", "gzip", HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 200
    assert again["ETag"] != first["ETag"]


@pytest.mark.django_db
def test_map_cameras_gzip_only_when_accepted(fleet):
    client = Client()
    zipped = get(client, "/map/cameras.json", "gzip, deflate, br")
    plain = get(client, "/map/cameras.json", "identity")
    refused = get(client, "/map/cameras.json", "gzip;q=0, identity")

    assert zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == plain.content
    assert not plain.has_header("Content-Encoding")
    assert not refused.has_header("Content-Encoding")
    assert json.loads(plain.content)["count"] == 3
    for response in (zipped, plain):
        assert "Accept-Encoding" in response["Vary"]
        assert "public" in response["Cache-Control"]
        assert "max-age=" in response["Cache-Control"]
    # One representation per encoding, so an ETag never answers for the other.
    assert zipped["ETag"] != plain["ETag"]
    assert get(client, "/map/cameras.json", HTTP_IF_NONE_MATCH=zipped["ETag"]).status_code == 200


@pytest.mark.django_db
def test_map_cameras_only_get(fleet):
    assert Client().post("/map/cameras.json").status_code == 405


# --- status.json ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_map_status_is_the_status_string_in_camera_order(fleet):
    client = Client()
    cameras = get(client, "/map/cameras.json").json()

    status = get(client, "/map/status.json").json()

    assert status == {
        "version": cameras["version"],
        "set": cameras["set"],
        "status": cameras["status"],
    }
    assert status["status"] == "udx"


@pytest.mark.django_db
def test_map_status_refresh_keeps_the_set_while_states_change(fleet, every_request_checks):
    client = Client()
    before = get(client, "/map/status.json").json()
    camera = fleet["gambir"].cameras.order_by("id").last()

    set_health(camera, "up")

    after = get(client, "/map/status.json").json()
    assert after["set"] == before["set"]
    assert after["version"] != before["version"]
    assert after["status"] == "uux"


@pytest.mark.django_db
def test_map_status_set_changes_when_a_site_stops(fleet, every_request_checks):
    client = Client()
    before = get(client, "/map/status.json").json()

    Site.objects.filter(pk=fleet["tebet"].pk).update(status=SiteStatus.SUSPENDED)

    after = get(client, "/map/status.json").json()
    assert after["set"] != before["set"]
    assert after["status"] == "ud"


@pytest.mark.django_db
def test_map_status_gzip_and_304(fleet):
    client = Client()
    first = get(client, "/map/status.json", "gzip")

    assert first["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(first.content))["status"] == "udx"
    again = get(client, "/map/status.json", "gzip", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304


# --- requests.json --------------------------------------------------------------------------


def make_request(code: str = GAMBIR, *, status=RequestStatus.SUBMITTED, category="theft", **kw):
    """A request with the personal data a real one carries."""
    area = factories.kelurahan(code)
    contact = ResidentContact.objects.create(
        kind="email",
        value_hash=f"hash-{next(_numbers)}",
        value_encrypted=PERSON_EMAIL,
        name=PERSON_NAME,
        verified_at=timezone.now(),
    )
    now = timezone.now()
    fields = {
        "reference": f"REQ-2026-{next(_numbers):06d}",
        "lat": Decimal(area.lat) + Decimal("0.000432"),
        "lon": Decimal(area.lon) + Decimal("0.000271"),
        "kelurahan": area,
        "category": category,
        "description": REQUEST_TEXT,
        "contact": contact,
        "requester_name": PERSON_NAME,
        "consent_at": now,
        "privacy_notice_version": "2026-12",
        "status": status,
        "status_changed_at": now,
        "verified_at": None if status == RequestStatus.UNVERIFIED else now,
        **kw,
    }
    return CoverageRequest.objects.create(**fields)


@pytest.mark.django_db
def test_map_requests_open_verified_requests_at_coarse_points():
    one = make_request(GAMBIR, lat=Decimal("-6.175432"), lon=Decimal("106.826871"))
    make_request(TEBET_TIMUR, status=RequestStatus.PLANNED, category="traffic", supports_count=3)
    make_request(TEBET_TIMUR, status=RequestStatus.REOPENED, category="traffic", supports_count=1)
    make_request(GAMBIR, status=RequestStatus.UNVERIFIED)
    make_request(GAMBIR, status=RequestStatus.DECLINED)
    make_request(GAMBIR, status=RequestStatus.CONFIRMED)

    payload = get(Client(), "/map/requests.json").json()

    scale, categories = payload["scale"], payload["categories"]
    points = {
        (Decimal(lat) / scale, Decimal(lon) / scale, categories[cat]): (n, supports, ref)
        for lat, lon, cat, n, supports, ref in payload["points"]
    }
    tebet = factories.kelurahan(TEBET_TIMUR)
    tebet_point = (
        (Decimal(tebet.lat) + Decimal("0.000432")).quantize(Decimal("0.001")),
        (Decimal(tebet.lon) + Decimal("0.000271")).quantize(Decimal("0.001")),
    )
    assert points == {
        (Decimal("-6.175"), Decimal("106.827"), "theft"): (1, 0, one.reference),
        # Two requests at one public point: counted together, neither reference shown.
        (*tebet_point, "traffic"): (2, 4, None),
    }


@pytest.mark.django_db
def test_map_requests_carry_no_personal_data():
    item = make_request(GAMBIR)

    response = get(Client(), "/map/requests.json")

    body = response.content.decode()
    for secret in (PERSON_NAME, PERSON_EMAIL, REQUEST_TEXT, str(item.lat), str(item.lon)):
        assert secret not in body
    assert "public" in response["Cache-Control"]


@pytest.mark.django_db
def test_map_requests_gzip_and_304():
    make_request(GAMBIR)
    client = Client()
    first = get(client, "/map/requests.json", "gzip")

    assert first["Content-Encoding"] == "gzip"
    assert len(json.loads(gzip.decompress(first.content))["points"]) == 1
    assert (
        get(client, "/map/requests.json", "gzip", HTTP_IF_NONE_MATCH=first["ETag"]).status_code
        == 304
    )


# --- the include and the vendored clustering ------------------------------------------------


@pytest.mark.django_db
def test_city_map_include_renders_without_context():
    from django.template.loader import render_to_string

    html = render_to_string("portal/_city_map.html", {"city_map_layers": "cameras"})

    assert 'id="city-map"' in html
    assert 'data-layers="cameras"' in html
    assert 'data-cameras-url="/map/cameras.json"' in html
    assert 'data-status-url="/map/status.json"' in html
    assert "/static/vendor/leaflet.markercluster/leaflet.markercluster.js" in html
    assert "/static/js/city-map.js" in html


def test_city_map_clustering_is_vendored():
    from django.contrib.staticfiles import finders

    for name in (
        "leaflet.markercluster.js",
        "leaflet.markercluster.js.map",
        "MarkerCluster.css",
        "MarkerCluster.Default.css",
        "LICENSE",
    ):
        assert finders.find(f"vendor/leaflet.markercluster/{name}"), name
    assert finders.find("js/city-map.js")


# --- the benchmark --------------------------------------------------------------------------


@pytest.mark.django_db
def test_bench_map_prints_the_figures():
    out = io.StringIO()

    call_command("bench_map", "--cameras", "200", "--here", stdout=out)

    text = out.getvalue()
    assert "cameras on active sites: 200" in text
    assert "cameras.json (public):" in text
    assert "status.json:" in text
    assert "target gzip <= 500 KB: PASS" in text
    for target in ("uncached build <= 300 ms", "cached response <= 20 ms"):
        assert f"target {target}" in text
    # Rolled back: nothing it seeded is left behind.
    assert not Camera.objects.filter(vendor="Bench").exists()
