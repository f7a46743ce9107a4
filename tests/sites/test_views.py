import pytest
from django.conf import settings
from django.urls import reverse

from portal.roles import Role
from sites.models import Area
from tests import factories


@pytest.fixture(autouse=True)
def english(client):
    """Pages in English, so the assertions hold once the Indonesian translations land."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def resident(db):
    return factories.UserFactory(roles=[Role.RESIDENT])


def test_area_pages_send_anonymous_to_login(client, db):
    for url in (
        reverse("sites:area-list"),
        reverse("sites:locate"),
        reverse("sites:kelurahan-detail", args=["31.71.01.1001"]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_area_list_shows_the_tree_and_filters_by_kota(client, resident):
    client.force_login(resident)
    page = client.get(reverse("sites:area-list")).content.decode()
    assert "Kota Administrasi Jakarta Pusat" in page
    assert "Kabupaten Administrasi Kepulauan Seribu" in page
    assert "Gambir" in page
    assert "Cengkareng Barat" in page
    page = client.get(reverse("sites:area-list"), {"kota": "31.73"}).content.decode()
    assert "Cengkareng Barat" in page
    assert "Kota Administrasi Jakarta Pusat</h2>" not in page
    assert "Pulau Panggang" not in page


def test_area_list_shows_rawan_level(client, resident, approver):
    area = factories.kelurahan("31.73.01.1001")
    Area.objects.filter(pk=area.pk).update(rawan_level=3)
    client.force_login(resident)
    page = client.get(reverse("sites:area-list"), {"kota": "31.73"}).content.decode()
    assert '<span class="badge rawan-3">3 · High</span>' in page


def test_kelurahan_detail_shows_codes_and_parents_without_form_for_resident(client, resident):
    client.force_login(resident)
    response = client.get(reverse("sites:kelurahan-detail", args=["31.71.01.1001"]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "31.71.01.1001" in page
    assert "31.71.01" in page
    assert "Kota Administrasi Jakarta Pusat" in page
    assert "Never set" in page
    assert response.context["form"] is None
    assert (
        client.post(
            reverse("sites:kelurahan-detail", args=["31.71.01.1001"]),
            {"rawan_level": 3, "reason": "x"},
        ).status_code
        == 403
    )
    assert factories.kelurahan("31.71.01.1001").rawan_level == 0


def test_kelurahan_detail_of_a_kota_code_is_404(client, resident):
    client.force_login(resident)
    assert client.get(reverse("sites:kelurahan-detail", args=["31.71"])).status_code == 404


def test_officer_sets_rawan_level_with_reason(client, approver):
    client.force_login(approver)
    url = reverse("sites:kelurahan-detail", args=["31.71.01.1001"])
    response = client.post(
        url, {"rawan_level": 2, "reason": "Theft reports rose in 2026."}, follow=True
    )
    page = response.content.decode()
    assert "is now “Medium”" in page
    assert "Theft reports rose in 2026." in page
    area = factories.kelurahan("31.71.01.1001")
    assert (area.rawan_level, area.rawan_set_by) == (2, approver)
    change = area.rawan_changes.get()
    assert (change.old_status, change.new_status, change.actor) == ("0", "2", approver)


def test_rawan_level_needs_a_reason(client, approver):
    client.force_login(approver)
    response = client.post(
        reverse("sites:kelurahan-detail", args=["31.71.01.1001"]), {"rawan_level": 2, "reason": ""}
    )
    assert "reason" in response.context["form"].errors
    assert factories.kelurahan("31.71.01.1001").rawan_level == 0


def test_sudin_officer_cannot_set_rawan_outside_their_kota(client, db):
    client.force_login(factories.sudin_officer("31.73"))
    response = client.post(
        reverse("sites:kelurahan-detail", args=["31.71.01.1001"]),
        {"rawan_level": 1, "reason": "not mine"},
    )
    assert response.status_code == 200
    assert "Only a Kominfotik officer for this area" in response.content.decode()
    assert factories.kelurahan("31.71.01.1001").rawan_level == 0


def test_locate_finds_the_kelurahan_of_a_point(client, resident):
    area = factories.kelurahan("31.73.01.1001")
    client.force_login(resident)
    response = client.get(reverse("sites:locate"), {"lat": str(area.lat), "lon": str(area.lon)})
    assert response.context["area"] == area
    assert "Cengkareng Barat" in response.content.decode()


def test_locate_outside_jakarta_shows_form_error(client, resident):
    client.force_login(resident)
    response = client.get(reverse("sites:locate"), {"lat": "-6.9175", "lon": "107.6191"})
    assert response.context["area"] is None
    assert "is outside DKI Jakarta" in response.content.decode()
    assert response.context["form"].non_field_errors()
