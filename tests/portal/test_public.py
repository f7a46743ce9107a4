"""Public pages: the landing page's progress to 60,000 cameras, the kelurahan transparency pages,
the partner guide and the technical requirements. Anyone may read them; nothing personal shows."""

import itertools
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contracts.models import FundingShare, ShareKind
from partners.models import PartnerKind
from portal import public_views
from sites.health.rollups import day_start
from sites.models import (
    Camera,
    CoverageRequest,
    HealthRollup,
    HostKind,
    RequestStatus,
    ResidentContact,
    RollupPeriod,
)
from tests import factories

GAMBIR = "31.71.01.1001"  # Jakarta Pusat
TEBET_TIMUR = "31.74.01.1001"  # Jakarta Selatan

_serials = itertools.count(1)
_numbers = itertools.count(1)

PERSON_NAME = "Siti Rahayu"
PERSON_EMAIL = "siti.rahayu@example.test"
REQUEST_TEXT = "Gang sempit di belakang rumah Bu Siti, sering ada jambret malam hari."
CONTACT_PERSON = "Budi Santoso"
CONTACT_EMAIL = "budi.santoso@pt-contoh.test"
CONTACT_PHONE = "+62215559876"


def english() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def indonesian() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="id")


def add_cameras(site, count: int) -> None:
    Camera.objects.bulk_create(
        Camera(
            site=site,
            owner=site.host_partner,
            vendor="Dahua",
            model="IPC-HFW",
            serial=f"PUB-{next(_serials)}",
            resolution="1920x1080",
            created_by=site.host_partner.created_by,
        )
        for _ in range(count)
    )


def make_request(code: str = GAMBIR, *, status=RequestStatus.SUBMITTED, category="theft"):
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
    return CoverageRequest.objects.create(
        reference=f"REQ-2026-{next(_numbers):06d}",
        lat=area.lat,
        lon=area.lon,
        kelurahan=area,
        category=category,
        description=REQUEST_TEXT,
        contact=contact,
        requester_name=PERSON_NAME,
        consent_at=now,
        privacy_notice_version="2026-12",
        status=status,
        status_changed_at=now,
        verified_at=None if status == RequestStatus.UNVERIFIED else now,
    )


def cell(html: str, marker: str, column: int = 0) -> str:
    """The text of the `column`-th number cell of the table row carrying `marker`."""
    row = re.search(rf"<tr {marker}>(.*?)</tr>", html, re.S)
    assert row, f"no row {marker}"
    return re.findall(r'<td class="num[^"]*">([^<]*)</td>', row.group(1))[column].strip()


def figure(html: str, name: str) -> str:
    return re.search(rf'data-figure="{name}">([^<]*)<', html).group(1).strip()


# --- Landing page ---------------------------------------------------------------------------------


@pytest.fixture
def two_kota(db):
    """1,234 active cameras in Jakarta Pusat and 5 in Jakarta Selatan; 7 not active yet."""
    host = factories.verified_partner()
    add_cameras(factories.make_active_site(host, kelurahan_code=GAMBIR, cameras=0), 1234)
    add_cameras(factories.make_active_site(host, kelurahan_code=TEBET_TIMUR, cameras=0), 5)
    add_cameras(factories.make_site(host, kelurahan_code=TEBET_TIMUR), 7)  # only proposed
    return host


def test_landing_shows_active_cameras_against_the_target_in_indonesian(two_kota):
    html = indonesian().get(reverse("home")).content.decode()

    assert '<html lang="id">' in html
    assert figure(html, "active-cameras") == "1.239"
    assert "60.000" in html
    assert 'max="60000" value="1239"' in html
    assert "2,1%" in html  # 1,239 of 60,000
    assert cell(html, 'data-kota="31.71"') == "1.234"
    assert cell(html, 'data-kota="31.74"') == "5"
    assert cell(html, 'data-kota="31.01"') == "0"  # Kepulauan Seribu, none yet


def test_landing_shows_active_cameras_against_the_target_in_english(two_kota):
    html = english().get(reverse("home")).content.decode()

    assert '<html lang="en">' in html
    assert figure(html, "active-cameras") == "1,239"
    assert "60,000" in html
    assert "2.1%" in html
    assert cell(html, 'data-kota="31.71"') == "1,234"
    assert cell(html, 'data-kota="31.71"', 1) == "2.1%"  # Jakarta Pusat's share of the target


def test_landing_counts_open_requests_per_kota_and_charts_them_per_month(db):
    make_request(GAMBIR)
    make_request(GAMBIR, status=RequestStatus.UNDER_REVIEW)
    make_request(TEBET_TIMUR, status=RequestStatus.INSTALLED)
    make_request(GAMBIR, status=RequestStatus.UNVERIFIED)  # not public, not counted

    html = english().get(reverse("home")).content.decode()

    assert cell(html, 'data-kota="31.71"', 2) == "2"
    assert cell(html, 'data-kota="31.74"', 2) == "0"
    assert "Open requests: 2. Requests that got a camera: 1." in html
    assert "Coverage requests per month" in html
    bars = re.findall(r"<rect [^>]*><title>([^<]*)</title>", html)
    assert len(bars) == 12  # a year of months, oldest first
    assert bars[-1].endswith(": 3")  # verified requests filed this month
    assert all(bar.endswith(": 0") for bar in bars[:-1])


def test_landing_links_to_requests_partner_guide_and_requirements(db):
    html = english().get(reverse("home")).content.decode()

    for url in (
        reverse("sites:request-new"),
        reverse("sites:request-list"),
        reverse("public-partner-guide"),
        reverse("public-technical-requirements"),
        reverse("public-kelurahan-list"),
        reverse("register"),
    ):
        assert f'href="{url}' in html


def test_landing_renders_without_the_city_map(db, monkeypatch):
    monkeypatch.setattr(public_views, "CITY_MAP_TEMPLATE", "portal/_no_such_map.html")

    response = english().get(reverse("home"))

    assert response.status_code == 200
    assert 'id="map-heading"' not in response.content.decode()


def test_landing_query_count_does_not_grow_with_the_data(db):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert english().get(reverse("home")).status_code == 200
        return len(captured)

    host = factories.verified_partner()
    factories.make_active_site(host, kelurahan_code=GAMBIR, cameras=1)
    make_request(GAMBIR)
    few = queries()
    for code in (TEBET_TIMUR, "31.72.01.1001", "31.73.01.1001"):
        factories.make_active_site(host, kelurahan_code=code, cameras=3)
        make_request(code, status=RequestStatus.PLANNED)

    assert queries() == few
    assert few <= 5


# --- Kelurahan transparency page ----------------------------------------------------------------


@pytest.fixture
def kelurahan_data(db):
    """Gambir: 2 building cameras (cash + APBD), 1 pole camera (its contract expired), 3 on a
    community post (CSR); a proposed site's camera that does not count; rollups; requests."""
    host = factories.verified_partner(
        name="PT Sentosa Kamera",
        contact_name=CONTACT_PERSON,
        contact_email=CONTACT_EMAIL,
        contact_phone=CONTACT_PHONE,
    )
    funder = factories.verified_partner(name="PT Dana Peduli", contact_name=CONTACT_PERSON)
    community = factories.verified_partner(
        kind=PartnerKind.COMMUNITY, name="Karang Taruna Gambir", contact_name=CONTACT_PERSON
    )
    pole_owner = factories.verified_partner(kind=PartnerKind.POLE_OWNER, name="PT Tiang Kota")
    elsewhere = factories.verified_partner(name="PT Jauh Sekali")

    building = factories.make_active_site(host, cameras=2)
    pole_site = factories.make_active_site(host, cameras=1, pole=factories.make_pole(pole_owner))
    post = factories.make_active_site(community, cameras=3, host_kind=HostKind.COMMUNITY_POST)
    factories.make_active_site(elsewhere, kelurahan_code=TEBET_TIMUR, cameras=4)
    add_cameras(factories.make_site(host), 1)  # proposed: not active

    with_apbd = factories.make_contract([(host, ["host"]), (funder, ["funder"])], sites=[building])
    FundingShare.objects.create(contract=with_apbd, kind=ShareKind.APBD, amount=50_000_000)
    factories.make_contract([(host, ["host"])], sites=[pole_site], status="expired")
    csr = factories.make_contract([(community, ["host", "funder"])], sites=[post])
    FundingShare.objects.filter(contract=csr).update(kind=ShareKind.CSR)

    today = timezone.localdate()
    first, second = (cam.pk for cam in building.cameras.order_by("pk"))
    rollups = [
        (first, today - timedelta(days=1), {"up_seconds": 80_000, "down_seconds": 6_400}),
        (
            second,
            today - timedelta(days=2),
            {"up_seconds": 43_200, "degraded_seconds": 36_000, "maintenance_seconds": 7_200},
        ),
        # Older than 30 days: left out.
        (first, today - timedelta(days=40), {"down_seconds": 86_400}),
    ]
    for camera_id, day, seconds in rollups:
        HealthRollup.objects.create(
            camera_id=camera_id, period=RollupPeriod.DAY, period_start=day_start(day), **seconds
        )
    HealthRollup.objects.create(  # hourly rows are not the daily series
        camera_id=first, period=RollupPeriod.HOUR, period_start=timezone.now(), down_seconds=3600
    )

    make_request(status=RequestStatus.SUBMITTED)
    make_request(status=RequestStatus.UNDER_REVIEW)
    make_request(status=RequestStatus.CONFIRMED)
    make_request(status=RequestStatus.INSTALLED, category="violence")
    make_request(status=RequestStatus.REOPENED, category="vandalism")
    make_request(status=RequestStatus.DECLINED)
    make_request(status=RequestStatus.UNVERIFIED)
    make_request(status=RequestStatus.MERGED)
    make_request(TEBET_TIMUR)
    return {"host": host, "funder": funder, "community": community, "pole_owner": pole_owner}


def kelurahan_page(client: Client, code: str = GAMBIR) -> str:
    response = client.get(reverse("public-kelurahan", args=[code]))
    assert response.status_code == 200
    return response.content.decode()


def test_kelurahan_page_counts_cameras_by_host_kind(kelurahan_data):
    html = kelurahan_page(english())

    assert figure(html, "cameras") == "6"
    assert cell(html, 'data-kind="building"') == "2"
    assert cell(html, 'data-kind="pole"') == "1"
    assert cell(html, 'data-kind="community_post"') == "3"
    assert cell(html, 'data-kind="public_space"') == "0"


def test_kelurahan_page_counts_cameras_by_funder_kind_of_the_contract_in_force(kelurahan_data):
    html = kelurahan_page(english())

    assert cell(html, 'data-kind="apbd"') == "2"
    assert cell(html, 'data-kind="cash"') == "2"
    assert cell(html, 'data-kind="in_kind"') == "0"
    assert cell(html, 'data-kind="csr"') == "3"
    assert cell(html, 'data-kind="none"') == "1"  # the pole camera's contract has expired
    assert "Not under contract" in html


def test_kelurahan_page_availability_comes_from_the_daily_rollups(kelurahan_data):
    # (80,000 + 43,200 + 36,000) up or degraded of 165,600 counted seconds; maintenance left out.
    assert "96.1%" in figure(kelurahan_page(english()), "availability")
    html = kelurahan_page(indonesian())
    assert figure(html, "availability") == "96,1%"
    assert html.count("<circle") == 2  # two days with data in the 30-day chart
    assert html.count("<polyline") == 1  # yesterday and the day before are joined


def test_kelurahan_page_without_rollups_shows_no_availability(db):
    html = kelurahan_page(english(), TEBET_TIMUR)

    assert figure(html, "availability") == "–"
    assert "No data yet." in html


def test_kelurahan_page_counts_open_and_installed_requests_by_category(kelurahan_data):
    html = kelurahan_page(english())

    assert figure(html, "open-requests") == "3"  # submitted, under review, reopened
    assert figure(html, "installed-requests") == "2"  # installed and confirmed
    assert (cell(html, 'data-category="theft"'), cell(html, 'data-category="theft"', 1)) == (
        "2",
        "1",
    )
    assert cell(html, 'data-category="violence"', 1) == "1"
    assert cell(html, 'data-category="vandalism"') == "1"
    assert cell(html, 'data-category="traffic"') == "0"


def test_kelurahan_page_names_partner_organisations_active_there(kelurahan_data):
    html = kelurahan_page(english())
    names = re.findall(
        r"<li>([^<]*)</li>", re.search(r'class="partner-names">(.*?)</ul>', html, re.S).group(1)
    )

    # Host, co-funder under the contract in force, community host; not the pole owner (its
    # pole carries the camera but it is no party here) nor a partner active elsewhere.
    assert names == ["Karang Taruna Gambir", "PT Dana Peduli", "PT Sentosa Kamera"]


def test_kelurahan_page_shows_no_personal_data(kelurahan_data):
    for client in (english(), indonesian()):
        html = kelurahan_page(client)
        for secret in (
            PERSON_NAME,
            PERSON_EMAIL,
            REQUEST_TEXT,
            "REQ-2026-",  # not even a request's reference
            CONTACT_PERSON,
            CONTACT_EMAIL,
            CONTACT_PHONE,
            "Jl. Medan Merdeka",  # the sites' addresses
            "rtsp://",
        ):
            assert secret not in html
        assert "<video" not in html
        assert "<img" not in html


def test_kelurahan_page_is_404_for_an_unknown_code_or_another_level(db):
    assert english().get(reverse("public-kelurahan", args=["31.71.99.9999"])).status_code == 404
    assert english().get(reverse("public-kelurahan", args=["31.71"])).status_code == 404
    assert english().get(reverse("public-kelurahan", args=["31.71.01"])).status_code == 404


def test_kelurahan_page_query_count_does_not_grow_with_the_data(kelurahan_data):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            kelurahan_page(english())
        return len(captured)

    before = queries()
    host = kelurahan_data["host"]
    for _ in range(3):
        site = factories.make_active_site(host, cameras=2, host_kind=HostKind.PUBLIC_SPACE)
        factories.make_contract([(host, ["host"])], sites=[site])
        make_request(category="traffic")

    assert queries() == before
    assert before <= 7


def test_kelurahan_index_searches_and_counts(kelurahan_data):
    html = english().get(reverse("public-kelurahan-list"), {"q": "gambir"}).content.decode()

    assert f'data-code="{GAMBIR}"' in html
    assert f'data-code="{TEBET_TIMUR}"' not in html
    assert cell(html, f'data-code="{GAMBIR}"') == "6"
    assert cell(html, f'data-code="{GAMBIR}"', 1) == "3"
    assert reverse("public-kelurahan", args=[GAMBIR]) in html


def test_kelurahan_index_filters_by_kota_and_lists_them_all_without_a_filter(db):
    everything = english().get(reverse("public-kelurahan-list")).content.decode()
    selatan = english().get(reverse("public-kelurahan-list"), {"kota": "31.74"}).content.decode()

    assert everything.count("<tr data-code=") == 267
    assert f'data-code="{TEBET_TIMUR}"' in selatan
    assert f'data-code="{GAMBIR}"' not in selatan


def test_kelurahan_index_query_count_is_constant(kelurahan_data, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        assert english().get(reverse("public-kelurahan-list")).status_code == 200


# --- Guides, anonymous access, phone layout -----------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["home", "public-kelurahan-list", "public-partner-guide", "public-technical-requirements"],
)
@pytest.mark.parametrize("language", ["id", "en"])
def test_public_pages_open_without_signing_in(db, name, language):
    response = Client(HTTP_ACCEPT_LANGUAGE=language).get(reverse(name))

    assert response.status_code == 200
    assert f'<html lang="{language}">' in response.content.decode()


def test_anonymous_kelurahan_page_works(db):
    assert Client().get(reverse("public-kelurahan", args=[GAMBIR])).status_code == 200


def test_technical_requirements_publish_what_a_host_must_meet(db):
    html = english().get(reverse("public-technical-requirements")).content.decode()

    for topic in (
        "1920 × 1080",
        "RTSP",
        "ONVIF Profile S",
        "snapshot endpoint",
        "CIDR",
        "/api/heartbeats/",
        "220 V",
        "tamper-proof",
        "Article 17",
        "30 days",
        "monthly uptime target",
        "Acknowledge the ticket",
    ):
        assert topic in html
    # The checker's own settings, not a copy that could drift.
    assert "after 3 failed checks in a row" in html
    assert reverse("register") in html


def test_partner_guide_explains_the_steps_and_links_to_registration(db):
    html = english().get(reverse("public-partner-guide")).content.decode()

    assert "Register your organisation" in html
    assert "partnership agreement (PKS)" in html
    assert f'href="{reverse("register")}"' in html
    assert f'href="{reverse("public-technical-requirements")}"' in html


def test_navigation_folds_into_a_menu_on_a_phone(db):
    html = english().get(reverse("home")).content.decode()

    assert re.search(r'<details class="menu-toggle">\s*<summary>', html)
    assert re.search(r'</details>\s*<div class="header-menu">\s*<nav aria-label="Main">', html)
    assert ">Home</a>" in html
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html
