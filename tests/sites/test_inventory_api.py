import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from partners.models import PartnerKind
from sites import services
from sites.models import Camera, HostKind, Site, SiteStatus, UtilityPole
from tests import factories
from tests.conftest import api_as

PASSWORD = "very-secret-Pw9"
CSV_HEADER = "code,lat,lon,power_available,fibre_available,slots_total\n"


def _inventory(host, pole_owner, prefix: str) -> dict[str, int]:
    """One pole, site and camera of each side, made through the services."""
    pole = factories.make_pole(pole_owner)
    site = factories.make_site(host)
    services.site_approve(site=site, actor=factories.officer())
    factories.approved_network(host, cidr=f"{prefix}.0/24", ports=(554,))
    camera = services.camera_register(
        site=site,
        owner=host,
        actor=host.created_by,
        vendor="Dahua",
        model="IPC-HFW",
        serial=f"SN-{host.pk}",
        resolution="1920x1080",
        rtsp_url=f"rtsp://{prefix}.9/live",
        username="admin",
        password=PASSWORD,
    )
    return {"poles": pole.pk, "sites": site.pk, "cameras": camera.pk}


@pytest.fixture
def host(owner):
    return factories.verified_partner(owner)


@pytest.fixture
def pole_owner(owner):
    return factories.make_partner(owner, kind=PartnerKind.POLE_OWNER)


@pytest.fixture
def ours(host, pole_owner):
    return _inventory(host, pole_owner, "10.1.1")


@pytest.fixture
def theirs(other_owner):
    other_host = factories.verified_partner(other_owner)
    other_poles = factories.make_partner(other_owner, kind=PartnerKind.POLE_OWNER)
    return _inventory(other_host, other_poles, "10.2.2")


# --- Nothing leaks --------------------------------------------------------------------------


@pytest.mark.parametrize("resource", ["poles", "sites", "cameras"])
def test_inventory_lists_hold_only_own_rows(owner, ours, theirs, resource):
    response = api_as(owner).get(f"/api/{resource}/")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [ours[resource]]


@pytest.mark.parametrize("resource", ["poles", "sites", "cameras"])
def test_inventory_details_of_another_partner_are_404(owner, ours, theirs, resource):
    client = api_as(owner)
    assert client.get(f"/api/{resource}/{ours[resource]}/").status_code == 200
    assert client.get(f"/api/{resource}/{theirs[resource]}/").status_code == 404
    assert client.patch(f"/api/{resource}/{theirs[resource]}/", {}).status_code == 404


@pytest.mark.parametrize(
    "action",
    [
        "survey",
        "approve",
        "reject",
        "start-installation",
        "confirm-installation",
        "suspend",
        "resume",
        "decommission",
        "history",
    ],
)
def test_site_actions_on_another_partners_site_are_404(owner, theirs, action):
    client = api_as(owner)
    url = f"/api/sites/{theirs['sites']}/{action}/"
    response = client.get(url) if action == "history" else client.post(url, {"reason": "x"})
    assert response.status_code == 404


def test_inventory_anonymous_is_refused(api, ours):
    for resource in ("poles", "sites", "cameras"):
        assert api.get(f"/api/{resource}/").status_code in (401, 403)


def test_inventory_creates_refuse_another_partners_ids_as_404(owner, theirs, other_owner):
    client = api_as(owner)
    other_site = Site.objects.get(pk=theirs["sites"])
    response = client.post(
        "/api/sites/",
        {
            **factories.point_in(),
            "host_partner": other_site.host_partner_id,
            "address": "Jl. X",
            "host_kind": HostKind.BUILDING,
        },
        format="json",
    )
    assert response.status_code == 404
    response = client.post(
        "/api/cameras/",
        {
            "site": other_site.pk,
            "owner": other_site.host_partner_id,
            "vendor": "A",
            "model": "B",
            "serial": "C",
            "resolution": "1x1",
            "rtsp_url": "rtsp://10.2.2.9/",
        },
        format="json",
    )
    assert response.status_code == 404
    other_pole = UtilityPole.objects.get(pk=theirs["poles"])
    response = client.post(
        "/api/poles/",
        {"owner": other_pole.owner_id, "code": "MINE", "slots_total": 1, **factories.point_in()},
        format="json",
    )
    assert response.status_code == 404
    response = client.post(
        "/api/poles/import/",
        {"owner": other_pole.owner_id, "file": _csv("P-1,-6.175305,106.826442,yes,no,1\n")},
        format="multipart",
    )
    assert response.status_code == 404
    assert Site.objects.count() == 1
    assert Camera.objects.count() == 1
    assert UtilityPole.objects.count() == 1


def test_sudin_officer_sees_only_sites_in_their_kota(owner, host):
    gambir = factories.make_site(host)  # Jakarta Pusat, 31.71
    cengkareng = factories.make_site(host, kelurahan_code="31.73.01.1001")  # Jakarta Barat
    client = api_as(factories.sudin_officer("31.73"))
    ids = [row["id"] for row in client.get("/api/sites/").json()["results"]]
    assert ids == [cengkareng.pk]
    assert client.get(f"/api/sites/{gambir.pk}/").status_code == 404
    assert client.post(f"/api/sites/{gambir.pk}/approve/").status_code == 404


@pytest.mark.parametrize("resource", ["poles", "sites", "cameras"])
def test_inventory_list_query_count_does_not_grow_with_rows(owner, host, pole_owner, resource):
    _inventory(host, pole_owner, "10.1.1")
    # A fresh user object each time: roles are cached on the instance after one request.
    client = api_as(type(owner).objects.get(pk=owner.pk))
    with CaptureQueriesContext(connection) as one:
        assert client.get(f"/api/{resource}/").status_code == 200
    for n in range(3):
        factories.make_pole(pole_owner)
        site = factories.make_site(host)
        services.site_approve(site=site, actor=factories.officer())
        services.camera_register(
            site=site,
            owner=host,
            actor=owner,
            vendor="Dahua",
            model="M",
            serial=f"X-{n}",
            resolution="1x1",
            rtsp_url="rtsp://10.1.1.7/",
        )
    client = api_as(type(owner).objects.get(pk=owner.pk))
    with CaptureQueriesContext(connection) as four:
        response = client.get(f"/api/{resource}/")
    assert len(response.json()["results"]) == 4
    assert len(four) == len(one)


# --- Poles ----------------------------------------------------------------------------------


def _csv(rows: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("poles.csv", (CSV_HEADER + rows).encode(), content_type="text/csv")


def test_pole_create_and_update_through_the_api(owner, pole_owner):
    client = api_as(owner)
    response = client.post(
        "/api/poles/",
        {"owner": pole_owner.pk, "code": "TN-7", "slots_total": 3, **factories.point_in()},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kelurahan"]["code"] == "31.71.01.1001"
    assert (body["slots_free"], body["kota"]["code"]) == (3, "31.71")
    response = client.patch(f"/api/poles/{body['id']}/", {"fibre_available": True}, format="json")
    assert response.status_code == 200
    assert response.json()["fibre_available"] is True


def test_pole_create_outside_jakarta_is_400_on_lat(owner, pole_owner):
    response = api_as(owner).post(
        "/api/poles/",
        {"owner": pole_owner.pk, "code": "X", "slots_total": 1, "lat": -6.9, "lon": 107.6},
        format="json",
    )
    assert response.status_code == 400
    assert "lat" in response.json()["errors"]
    assert not UtilityPole.objects.exists()


def test_pole_filters_by_free_slot_and_kelurahan(owner, pole_owner, host):
    full = factories.make_pole(pole_owner, slots_total=1)
    services.site_approve(site=factories.make_site(host, pole=full), actor=factories.officer())
    free = factories.make_pole(pole_owner, kelurahan_code="31.73.01.1001")
    client = api_as(owner)

    def ids(**params):
        return [row["id"] for row in client.get("/api/poles/", params).json()["results"]]

    assert ids(has_free_slot="true") == [free.pk]
    assert ids(has_free_slot="false") == [full.pk]
    assert ids(kelurahan="31.73.01.1001") == [free.pk]
    assert ids(owner=pole_owner.pk) == sorted([free.pk, full.pk], key=lambda pk: pk)


def test_pole_import_returns_the_report(owner, pole_owner):
    response = api_as(owner).post(
        "/api/poles/import/",
        {"owner": pole_owner.pk, "file": _csv("P-1,-6.175305,106.826442,yes,no,1\n")},
        format="multipart",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["created"] == ["P-1"]


def test_pole_import_with_bad_rows_is_400_listing_them(owner, pole_owner):
    response = api_as(owner).post(
        "/api/poles/import/",
        {
            "owner": pole_owner.pk,
            "file": _csv(
                "P-1,-6.175305,106.826442,yes,no,1\nP-2,abc,106.8,yes,no,1\nP-3,-6.1,106.8,x,no,0\n"
            ),
        },
        format="multipart",
    )
    assert response.status_code == 400
    body = response.json()
    assert [(e["row"], e["field"]) for e in body["errors"]] == [
        (3, "lat"),
        (4, "power_available"),
        (4, "slots_total"),
    ]
    assert "nothing was imported" in body["detail"]
    assert not UtilityPole.objects.exists()


# --- Sites ----------------------------------------------------------------------------------


def test_site_lifecycle_through_the_api(owner, host, approver):
    client = api_as(owner)
    response = client.post(
        "/api/sites/",
        {
            **factories.point_in(),
            "host_partner": host.pk,
            "address": "Jl. Kebon Sirih 1",
            "host_kind": HostKind.BUILDING,
            "viewing_direction": 90,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    site_id = response.json()["id"]
    assert response.json()["status"] == "proposed"
    assert client.patch(f"/api/sites/{site_id}/", {"notes": "Gate"}, format="json").json()[
        "notes"
    ] == ("Gate")
    # A member may not approve; an officer may.
    assert client.post(f"/api/sites/{site_id}/approve/").status_code == 403
    officer = api_as(approver)
    assert officer.post(f"/api/sites/{site_id}/approve/").json()["status"] == "approved"
    assert client.patch(f"/api/sites/{site_id}/", {"notes": "x"}, format="json").status_code == 409
    assert client.post(f"/api/sites/{site_id}/start-installation/").status_code == 200
    response = officer.post(f"/api/sites/{site_id}/confirm-installation/")
    assert response.status_code == 400
    assert "at least one camera" in response.json()["detail"]
    assert officer.post(f"/api/sites/{site_id}/reject/", {"reason": "x"}).status_code == 409
    response = officer.post(f"/api/sites/{site_id}/decommission/", {"reason": ""})
    assert response.status_code == 400
    assert "reason" in response.json()["errors"]
    history = client.get(f"/api/sites/{site_id}/history/").json()
    assert [row["new_status"] for row in history] == ["proposed", "approved", "installing"]


def test_site_create_names_an_unknown_pole(owner, host):
    response = api_as(owner).post(
        "/api/sites/",
        {
            **factories.point_in(),
            "host_partner": host.pk,
            "address": "Jl. X",
            "host_kind": HostKind.POLE,
            "pole": 999999,
        },
        format="json",
    )
    assert response.status_code == 400
    assert "pole" in response.json()["errors"]


def test_site_filters_by_status_and_kota(owner, host, approver):
    approved = factories.make_site(host, kelurahan_code="31.73.01.1001")
    services.site_approve(site=approved, actor=approver)
    factories.make_site(host)
    client = api_as(owner)
    rows = client.get("/api/sites/", {"status": "approved"}).json()["results"]
    assert [row["id"] for row in rows] == [approved.pk]
    rows = client.get("/api/sites/", {"kota": "31.73"}).json()["results"]
    assert [row["id"] for row in rows] == [approved.pk]


def test_site_concurrent_state_is_a_409(owner, host, approver):
    site = factories.make_site(host)
    client = api_as(approver)
    assert client.post(f"/api/sites/{site.pk}/approve/").status_code == 200
    response = client.post(f"/api/sites/{site.pk}/approve/")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


# --- Cameras --------------------------------------------------------------------------------


def test_camera_password_is_write_only_in_every_response(owner, ours):
    client = api_as(owner)
    responses = [
        client.get("/api/cameras/"),
        client.get(f"/api/cameras/{ours['cameras']}/"),
        client.patch(
            f"/api/cameras/{ours['cameras']}/",
            {"model": "New", "password": "another-Secret1"},
            format="json",
        ),
    ]
    for response in responses:
        assert response.status_code == 200
        text = response.content.decode()
        assert PASSWORD not in text
        assert "another-Secret1" not in text
        assert "password" not in text
        assert '"admin"' not in text
    assert responses[1].json()["has_credentials"] is True


def test_camera_register_through_the_api_checks_the_network(owner, host, ours):
    site_id = ours["sites"]
    fields = {
        "site": site_id,
        "owner": host.pk,
        "vendor": "Axis",
        "model": "P1455",
        "serial": "AX-1",
        "resolution": "1920x1080",
        "password": "pw-123456",
    }
    client = api_as(owner)
    response = client.post(
        "/api/cameras/", {**fields, "rtsp_url": "rtsp://10.9.9.9/live"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["rtsp_url"] == [
        f"10.9.9.9:554 is not inside a camera network approved for {host.name}."
    ]
    assert Camera.objects.count() == 1
    response = client.post(
        "/api/cameras/", {**fields, "rtsp_url": "rtsp://10.1.1.20/live"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert "pw-123456" not in response.content.decode()


def test_camera_filters_by_site_status(owner, host, ours, approver):
    site = Site.objects.get(pk=ours["sites"])
    client = api_as(owner)
    assert client.get("/api/cameras/", {"site_status": "active"}).json()["results"] == []
    services.site_start_installation(site=site, actor=approver)
    services.site_confirm_installation(site=site, actor=approver)
    rows = client.get("/api/cameras/", {"site_status": SiteStatus.ACTIVE}).json()["results"]
    assert [row["id"] for row in rows] == [ours["cameras"]]
    assert rows[0]["installed_at"] is not None


def test_inventory_paths_are_in_the_schema(owner):
    paths = api_as(owner).get("/api/schema/", {"format": "json"}).json()["paths"]
    for path in (
        "/api/poles/",
        "/api/poles/{id}/",
        "/api/poles/import/",
        "/api/sites/",
        "/api/sites/{id}/",
        "/api/sites/{id}/approve/",
        "/api/sites/{id}/start-installation/",
        "/api/sites/{id}/confirm-installation/",
        "/api/sites/{id}/history/",
        "/api/cameras/",
        "/api/cameras/{id}/",
    ):
        assert path in paths
    assert "password" not in str(paths["/api/cameras/{id}/"]["get"])
