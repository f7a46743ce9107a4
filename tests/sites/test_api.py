import pytest

from sites.models import Area, RawanLevelChange
from tests import factories
from tests.conftest import api_as

GAMBIR = "31.71.01.1001"


@pytest.fixture
def member(partner, owner):
    return owner


def test_area_api_lists_kota_by_level(member):
    response = api_as(member).get("/api/areas/", {"level": "city"})
    assert response.status_code == 200
    codes = [row["code"] for row in response.json()["results"]]
    assert codes == ["31.01", "31.71", "31.72", "31.73", "31.74", "31.75"]


def test_area_api_lists_children_of_a_parent_without_boundaries(member):
    response = api_as(member).get("/api/areas/", {"parent": "31.71"})
    rows = response.json()["results"]
    assert len(rows) == 8
    assert {row["parent_code"] for row in rows} == {"31.71"}
    assert all("boundary" not in row for row in rows)


def test_area_api_search_by_name(member):
    response = api_as(member).get("/api/areas/", {"search": "cengkareng barat"})
    assert [row["code"] for row in response.json()["results"]] == ["31.73.01.1001"]


def test_area_api_detail_by_dotted_code_has_closed_geojson_rings(member):
    response = api_as(member).get(f"/api/areas/{GAMBIR}/")
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["level"], body["parent"]["code"]) == (
        "Gambir",
        "village",
        "31.71.01",
    )
    boundary = body["boundary"]
    assert boundary["type"] == "MultiPolygon"
    ring = boundary["coordinates"][0][0]
    assert len(ring) >= 4
    assert ring[0] == ring[-1]
    lon, lat = ring[0]
    assert 106 < lon < 107.2
    assert -6.5 < lat < -5


def test_area_api_unknown_code_is_404(member):
    assert api_as(member).get("/api/areas/31.99/").status_code == 404


def test_area_api_refuses_anonymous(api):
    assert api.get("/api/areas/").status_code in (401, 403)
    assert api.get("/api/areas/locate/", {"lat": -6.18, "lon": 106.86}).status_code in (401, 403)


def test_area_api_locate_inside_jakarta(member):
    response = api_as(member).get("/api/areas/locate/", {"lat": -6.182041, "lon": 106.863745})
    assert response.status_code == 200
    body = response.json()
    assert body["kota"]["code"] == "31.71"
    assert body["kecamatan"]["code"].startswith("31.71.")
    assert body["kelurahan"]["code"].startswith(body["kecamatan"]["code"] + ".")


def test_area_api_locate_outside_jakarta_is_400(member):
    response = api_as(member).get("/api/areas/locate/", {"lat": -6.9, "lon": 107.6})
    assert response.status_code == 400
    assert response.json()["code"] == "outside_jakarta"
    assert "outside DKI Jakarta" in response.json()["detail"]


@pytest.mark.parametrize(
    "params", [{}, {"lat": -6.18}, {"lat": "north", "lon": 106.86}, {"lat": "-6.18", "lon": "NaN"}]
)
def test_area_api_locate_needs_numeric_coordinates(member, params):
    response = api_as(member).get("/api/areas/locate/", params)
    assert response.status_code == 400


def test_area_api_officer_sets_rawan_level(approver):
    response = api_as(approver).post(
        f"/api/areas/{GAMBIR}/rawan/", {"rawan_level": 3, "reason": "Frequent theft reports."}
    )
    assert response.status_code == 200
    assert response.json()["rawan_level"] == 3
    assert Area.objects.get(code=GAMBIR).rawan_level == 3
    change = RawanLevelChange.objects.get()
    assert (change.actor, change.old_status, change.new_status) == (approver, "0", "3")


def test_area_api_partner_member_cannot_set_rawan(member):
    response = api_as(member).post(
        f"/api/areas/{GAMBIR}/rawan/", {"rawan_level": 3, "reason": "We want cameras."}
    )
    assert response.status_code == 403
    assert Area.objects.get(code=GAMBIR).rawan_level == 0


def test_area_api_sudin_officer_sets_rawan_only_in_their_kota(db):
    client = api_as(factories.sudin_officer("31.73"))
    body = {"rawan_level": 2, "reason": "Survey."}
    assert client.post(f"/api/areas/{GAMBIR}/rawan/", body).status_code == 403
    assert client.post("/api/areas/31.73.01.1001/rawan/", body).status_code == 200


@pytest.mark.parametrize(
    ("code", "body", "field"),
    [
        (GAMBIR, {"rawan_level": 7, "reason": "x"}, "rawan_level"),
        (GAMBIR, {"rawan_level": 2, "reason": "  "}, "reason"),
        ("31.71", {"rawan_level": 2, "reason": "x"}, "level"),
    ],
)
def test_area_api_rawan_validation(approver, code, body, field):
    response = api_as(approver).post(f"/api/areas/{code}/rawan/", body)
    assert response.status_code == 400
    assert field in response.json().get("errors", response.json())
    assert not RawanLevelChange.objects.exists()
