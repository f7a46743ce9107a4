import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from partners.models import PartnerKind
from portal.crypto import decrypt
from sites import services
from sites.models import Camera, HostKind, Site, SiteStatus, UtilityPole
from tests import factories

PASSWORD = "page-secret-Pw7"


@pytest.fixture(autouse=True)
def english(client):
    """Pages in English, so the assertions hold once the Indonesian translations land."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def host(owner):
    return factories.verified_partner(owner)


@pytest.fixture
def pole_owner(owner):
    return factories.make_partner(owner, kind=PartnerKind.POLE_OWNER)


def _inventory(host, pole_owner, prefix: str, address: str) -> dict:
    pole = factories.make_pole(pole_owner, code=f"POLE-{prefix}")
    site = factories.make_site(host, address=address)
    services.site_approve(site=site, actor=factories.officer())
    factories.approved_network(host, cidr=f"{prefix}.0/24", ports=(554,))
    camera = services.camera_register(
        site=site,
        owner=host,
        actor=host.created_by,
        vendor="Dahua",
        model="IPC",
        serial=f"SER-{prefix}",
        resolution="1920x1080",
        rtsp_url=f"rtsp://{prefix}.9/live",
        username="camadmin",
        password=PASSWORD,
    )
    return {"pole": pole, "site": site, "camera": camera}


@pytest.fixture
def ours(host, pole_owner):
    return _inventory(host, pole_owner, "10.1.1", "Jl. Punya Kami 1")


@pytest.fixture
def theirs(other_owner):
    other_host = factories.verified_partner(other_owner)
    other_poles = factories.make_partner(other_owner, kind=PartnerKind.POLE_OWNER)
    return _inventory(other_host, other_poles, "10.2.2", "Jl. Punya Mereka 2")


DETAIL_PAGES = [
    ("pole", "sites:pole-detail"),
    ("pole", "sites:pole-edit"),
    ("site", "sites:site-detail"),
    ("site", "sites:site-edit"),
    ("site", "sites:camera-create"),
    ("camera", "sites:camera-detail"),
    ("camera", "sites:camera-edit"),
]


# --- Nothing leaks --------------------------------------------------------------------------


def test_inventory_pages_send_anonymous_to_login(client, db):
    for name in ("sites:pole-list", "sites:site-list", "sites:camera-list", "sites:site-propose"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize(("kind", "name"), DETAIL_PAGES)
def test_inventory_pages_of_another_partner_are_404(client, owner, ours, theirs, kind, name):
    client.force_login(owner)
    assert client.get(reverse(name, args=[ours[kind].pk])).status_code == 200
    assert client.get(reverse(name, args=[theirs[kind].pk])).status_code == 404


def test_site_actions_on_another_partners_site_are_404(client, owner, theirs):
    client.force_login(owner)
    response = client.post(
        reverse("sites:site-action", args=[theirs["site"].pk, "start-installation"])
    )
    assert response.status_code == 404
    theirs["site"].refresh_from_db()
    assert theirs["site"].status == SiteStatus.APPROVED


def test_inventory_lists_show_only_own_rows(client, owner, ours, theirs):
    client.force_login(owner)
    pages = {
        "sites:pole-list": ("POLE-10.1.1", "POLE-10.2.2"),
        "sites:site-list": ("Jl. Punya Kami 1", "Jl. Punya Mereka 2"),
        "sites:camera-list": ("SER-10.1.1", "SER-10.2.2"),
    }
    for name, (mine, not_mine) in pages.items():
        page = client.get(reverse(name)).content.decode()
        assert mine in page
        assert not_mine not in page


def test_sudin_officer_site_list_shows_only_their_kota(client, host):
    factories.make_site(host, address="Jl. Gambir Pusat")
    factories.make_site(host, address="Jl. Cengkareng Barat", kelurahan_code="31.73.01.1001")
    client.force_login(factories.sudin_officer("31.73"))
    page = client.get(reverse("sites:site-list")).content.decode()
    assert "Jl. Cengkareng Barat" in page
    assert "Jl. Gambir Pusat" not in page


@pytest.mark.parametrize("name", ["sites:pole-list", "sites:site-list", "sites:camera-list"])
def test_inventory_list_pages_query_count_does_not_grow(client, owner, host, pole_owner, name):
    _inventory(host, pole_owner, "10.1.1", "Jl. Satu")
    client.force_login(owner)
    with CaptureQueriesContext(connection) as one:
        assert client.get(reverse(name)).status_code == 200
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
            serial=f"N-{n}",
            resolution="1x1",
            rtsp_url="rtsp://10.1.1.5/",
        )
    with CaptureQueriesContext(connection) as four:
        assert client.get(reverse(name)).status_code == 200
    assert len(four) == len(one)


# --- Poles ----------------------------------------------------------------------------------


def test_pole_create_page_registers_a_pole(client, owner, pole_owner):
    client.force_login(owner)
    response = client.post(
        reverse("sites:pole-create"),
        {
            "owner": pole_owner.pk,
            "code": "TN-55",
            "lat": "-6.175305",
            "lon": "106.826442",
            "power_available": "on",
            "slots_total": 2,
        },
    )
    pole = UtilityPole.objects.get(code="TN-55")
    assert response.status_code == 302
    assert (pole.kelurahan.code, pole.power_available) == ("31.71.01.1001", True)
    page = client.get(response.url).content.decode()
    assert "Gambir" in page


def test_pole_create_page_shows_outside_jakarta_on_the_form(client, owner, pole_owner):
    client.force_login(owner)
    response = client.post(
        reverse("sites:pole-create"),
        {"owner": pole_owner.pk, "code": "X", "lat": "-6.9", "lon": "107.6", "slots_total": 1},
    )
    assert response.status_code == 200
    assert "outside DKI Jakarta" in response.content.decode()
    assert not UtilityPole.objects.exists()


def test_pole_pages_are_forbidden_for_non_pole_owners(client, other_owner):
    factories.make_partner(other_owner)
    client.force_login(other_owner)
    assert client.get(reverse("sites:pole-create")).status_code == 403
    assert client.get(reverse("sites:pole-import")).status_code == 403


def test_pole_import_page_shows_every_rejected_row(client, owner, pole_owner):
    client.force_login(owner)
    body = (
        b"code,lat,lon,power_available,fibre_available,slots_total\n"
        b"A-1,-6.175305,106.826442,yes,no,1\n"
        b"A-2,-6.9,107.6,yes,no,1\n"
        b"A-3,-6.175305,106.826442,perhaps,no,1\n"
    )
    response = client.post(
        reverse("sites:pole-import"),
        {"owner": pole_owner.pk, "file": SimpleUploadedFile("p.csv", body)},
    )
    page = response.content.decode()
    assert "nothing was imported" in page
    assert "<td>3</td><td>lat</td>" in page
    assert "<td>4</td><td>power_available</td>" in page
    assert not UtilityPole.objects.exists()


def test_pole_import_page_reports_created_codes(client, owner, pole_owner):
    client.force_login(owner)
    body = (
        b"code,lat,lon,power_available,fibre_available,slots_total\n"
        b"B-1,-6.175305,106.826442,1,0,1\n"
    )
    response = client.post(
        reverse("sites:pole-import"),
        {"owner": pole_owner.pk, "file": SimpleUploadedFile("p.csv", body)},
    )
    assert "Created: B-1" in response.content.decode()
    assert UtilityPole.objects.filter(owner=pole_owner, code="B-1").exists()


# --- Sites ----------------------------------------------------------------------------------


def test_site_propose_page_has_the_map_hook_and_creates_a_site(client, owner, host):
    client.force_login(owner)
    page = client.get(reverse("sites:site-propose")).content.decode()
    assert 'id="map-pin" data-lat-input="id_lat" data-lon-input="id_lon"' in page
    response = client.post(
        reverse("sites:site-propose"),
        {
            "host_partner": host.pk,
            "lat": "-6.175305",
            "lon": "106.826442",
            "address": "Jl. Veteran 3",
            "host_kind": HostKind.BUILDING,
        },
    )
    site = Site.objects.get(address="Jl. Veteran 3")
    assert response.url == reverse("sites:site-detail", args=[site.pk])
    assert site.status == SiteStatus.PROPOSED


def test_site_propose_page_refuses_a_full_pole(client, owner, host, pole_owner, approver):
    pole = factories.make_pole(pole_owner, slots_total=1)
    services.site_approve(site=factories.make_site(host, pole=pole), actor=approver)
    client.force_login(owner)
    response = client.post(
        reverse("sites:site-propose"),
        {
            "host_partner": host.pk,
            "lat": "-6.175305",
            "lon": "106.826442",
            "address": "Jl. Penuh",
            "host_kind": HostKind.POLE,
            "pole": pole.pk,
        },
    )
    assert "This pole has no free attachment slot" in response.content.decode()
    assert not Site.objects.filter(address="Jl. Penuh").exists()


def test_site_detail_shows_officer_buttons_only_to_officers(client, owner, host, approver):
    site = factories.make_site(host)
    approve_url = reverse("sites:site-action", args=[site.pk, "approve"])
    client.force_login(owner)
    assert (
        approve_url not in client.get(reverse("sites:site-detail", args=[site.pk])).content.decode()
    )
    assert client.post(approve_url).status_code == 403
    client.force_login(approver)
    page = client.get(reverse("sites:site-detail", args=[site.pk])).content.decode()
    assert approve_url in page
    response = client.post(approve_url, {"reason": "Line of sight fine"})
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "Line of sight fine" in page
    site.refresh_from_db()
    assert site.status == SiteStatus.APPROVED


def test_site_action_page_requires_reason_to_reject(client, approver, host):
    site = factories.make_site(host)
    client.force_login(approver)
    response = client.post(reverse("sites:site-action", args=[site.pk, "reject"]), {"reason": ""})
    assert response.status_code == 200
    assert "Give a reason" in response.content.decode()
    site.refresh_from_db()
    assert site.status == SiteStatus.PROPOSED


def test_site_action_conflict_is_a_message(client, approver, host):
    site = factories.make_site(host)
    services.site_reject(site=site, actor=approver, reason="No")
    client.force_login(approver)
    response = client.post(
        reverse("sites:site-action", args=[site.pk, "approve"]), {"reason": ""}, follow=True
    )
    assert "Cannot change status" in response.content.decode()


# --- Cameras --------------------------------------------------------------------------------


def test_camera_pages_never_show_the_credentials(client, owner, ours):
    client.force_login(owner)
    camera = ours["camera"]
    for url in (
        reverse("sites:camera-detail", args=[camera.pk]),
        reverse("sites:camera-edit", args=[camera.pk]),
        reverse("sites:camera-list"),
        reverse("sites:site-detail", args=[ours["site"].pk]),
    ):
        page = client.get(url).content.decode()
        assert PASSWORD not in page
        assert "camadmin" not in page
        assert camera.password_encrypted not in page
    assert (
        "Leave empty to keep"
        in client.get(reverse("sites:camera-edit", args=[camera.pk])).content.decode()
    )


def test_camera_edit_page_keeps_password_when_left_empty(client, owner, ours):
    client.force_login(owner)
    camera = ours["camera"]
    response = client.post(
        reverse("sites:camera-edit", args=[camera.pk]),
        {
            "vendor": "Dahua",
            "model": "IPC-2",
            "serial": camera.serial,
            "resolution": "1920x1080",
            "rtsp_url": camera.rtsp_url,
            "username": "",
            "password": "",
        },
    )
    assert response.status_code == 302
    camera.refresh_from_db()
    assert (camera.model, camera.username) == ("IPC-2", "camadmin")
    assert decrypt(camera.password_encrypted) == PASSWORD


def test_camera_register_page_refuses_an_address_outside_networks(client, owner, host, ours):
    client.force_login(owner)
    response = client.post(
        reverse("sites:camera-create", args=[ours["site"].pk]),
        {
            "owner": host.pk,
            "vendor": "Axis",
            "model": "M",
            "serial": "AX-9",
            "resolution": "1x1",
            "rtsp_url": "rtsp://10.9.9.9/",
            "password": "typed-secret",
        },
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "10.9.9.9:554 is not inside a camera network approved for" in page
    assert "typed-secret" not in page
    assert Camera.objects.count() == 1


# --- Admin ----------------------------------------------------------------------------------


@pytest.fixture
def admin_rows(admin_client, host, approver):
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return factories.inventory_rows(host, approver)


def test_admin_camera_page_shows_no_credentials(admin_client, admin_rows):
    camera = admin_rows["sites.Camera"]
    page = admin_client.get(reverse("admin:sites_camera_change", args=[camera.pk])).text
    assert camera.serial in page
    for secret in ("adminuser", "admin-secret", camera.password_encrypted):
        assert secret not in page


def test_admin_site_status_is_read_only(admin_client, admin_rows):
    site = admin_rows["sites.Site"]
    page = admin_client.get(reverse("admin:sites_site_change", args=[site.pk]))
    assert "status" not in page.context["adminform"].form.fields
    assert "status" in page.context["adminform"].readonly_fields


def test_admin_pole_edit_goes_through_the_service(admin_client, admin_rows):
    pole = admin_rows["sites.UtilityPole"]  # one slot in use by the approved site
    url = reverse("admin:sites_utilitypole_change", args=[pole.pk])
    data = {
        "code": pole.code,
        "lat": str(pole.lat),
        "lon": str(pole.lon),
        "slots_total": 0,
    }
    response = admin_client.post(url, data, follow=True)
    pole.refresh_from_db()
    assert pole.slots_total == 2
    response = admin_client.post(url, {**data, "slots_total": 5, "fibre_available": "on"})
    assert response.status_code == 302
    pole.refresh_from_db()
    assert (pole.slots_total, pole.fibre_available) == (5, True)
