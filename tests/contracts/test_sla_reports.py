"""Monthly SLA reports (contract and partner) as data, pages, CSV, XLSX and print; breach pages."""

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from contracts import sla, sla_selectors
from contracts.models import (
    Breach,
    BreachKind,
    ContractStatusChange,
    MaintenanceTicket,
    TicketSource,
)
from portal.roles import Role
from sites.models import Outage, Site
from tests import factories
from tests.contracts.test_sla import NOVEMBER, WIB, at_availability, rollup

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=ZoneInfo("Asia/Jakarta"))


@pytest.fixture(autouse=True)
def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def december():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def host(owner):
    return factories.verified_partner(owner)


@pytest.fixture
def rival(other_owner):
    return factories.verified_partner(other_owner)


@pytest.fixture
def deal(host):
    """A contract with two cameras at 99.50 % and 97.00 % in November (target 99), an outage,
    planned maintenance and two tickets; evaluated, so the 97 % camera has its breach."""
    site = factories.make_active_site(host, cameras=2)
    good, bad = site.cameras.order_by("id")
    contract = factories.make_contract(
        [(host, ["host", "maintainer"])],
        sites=[site],
        obligations={"uptime": 99},
        term_start=date(2026, 10, 1),
    )
    at_availability(good, "99.5")
    at_availability(bad, "97")
    rollup(good, date(2026, 11, 12), up=DAY_HALF, maintenance=DAY_HALF)
    Outage.objects.create(
        camera=bad,
        started_at=datetime(2026, 11, 10, 3, 0, tzinfo=WIB),
        ended_at=datetime(2026, 11, 10, 3, 43, 12, tzinfo=WIB),
    )
    opened = datetime(2026, 11, 10, 3, 5, tzinfo=WIB)
    ticket(contract, bad, "T-1", opened, acknowledged=opened + timedelta(hours=1))
    ticket(contract, bad, "T-2", opened, acknowledged=opened + timedelta(hours=9))
    sla.sla_evaluate_month(month=NOVEMBER)
    return {"contract": contract, "site": site, "good": good, "bad": bad}


DAY_HALF = 43_200


def ticket(contract, camera, reference, opened, *, acknowledged=None, resolved=None):
    return MaintenanceTicket.objects.create(
        reference=reference,
        source=TicketSource.HEALTH,
        title="Camera down",
        site=camera.site,
        camera=camera,
        contract=contract,
        responsible=contract.parties.first().partner,
        opened_at=opened,
        acknowledge_due_at=opened + timedelta(hours=4),
        repair_due_at=opened + timedelta(hours=24),
        acknowledged_at=acknowledged,
        resolved_at=resolved or opened + timedelta(hours=6),
        status="resolved",
    )


def sla_url(contract, **query) -> str:
    params = "&".join(f"{key}={value}" for key, value in {"month": "2026-11", **query}.items())
    return f"{reverse('contracts:contract-sla', args=[contract.pk])}?{params}"


# --- report data ------------------------------------------------------------------------------


def test_contract_sla_report_per_camera_and_ticket_figures(deal):
    report = sla_selectors.contract_sla_report(contract=deal["contract"], month=NOVEMBER)

    rows = {row["camera_id"]: row for row in report["cameras"]}
    good, bad = rows[deal["good"].pk], rows[deal["bad"].pk]
    assert (good["availability"], good["target"], good["status"]) == (
        Decimal("99.66"),  # the half day of maintenance is left out; its up half counts
        Decimal("99.00"),
        "met",
    )
    assert (good["maintenance_hours"], good["outages"]) == (Decimal("12.00"), 0)
    assert (bad["availability"], bad["status"], bad["down_hours"], bad["outages"]) == (
        Decimal("97.00"),
        "missed",
        Decimal("0.72"),
        1,
    )
    assert bad["kelurahan"] == deal["site"].kelurahan.name
    assert report["summary"]["missed"] == 1
    assert report["tickets"] == {
        "opened": 2,
        "acknowledge_clocks": 2,
        "acknowledged_in_time": 1,
        "acknowledged_in_time_pct": Decimal("50.00"),
        "repair_clocks": 2,
        "repaired_in_time": 2,
        "repaired_in_time_pct": Decimal("100.00"),
    }
    [breach] = report["breaches"]
    assert (breach["kind"], breach["measured"]) == (BreachKind.UPTIME_BELOW, Decimal("97.00"))
    assert report["evaluated_at"] == NOW


def test_contract_sla_report_no_data_camera_and_open_clock_not_counted_yet(host):
    site = factories.make_active_site(host, cameras=1)
    contract = factories.make_contract(
        [(host, ["host"])], sites=[site], obligations={"uptime": 99}, term_start=date(2026, 10, 1)
    )
    # Opened an hour ago: its clocks are still running, so they count neither way.
    ticket(contract, site.cameras.get(), "T-9", NOW - timedelta(hours=1), resolved=None)
    MaintenanceTicket.objects.filter(reference="T-9").update(resolved_at=None, status="open")
    # Cancelled past its deadline: a cancelled ticket's clocks count neither way either.
    ticket(contract, site.cameras.get(), "T-10", NOW - timedelta(hours=30))
    MaintenanceTicket.objects.filter(reference="T-10").update(resolved_at=None, status="cancelled")

    report = sla_selectors.contract_sla_report(contract=contract, month=date(2026, 12, 1))

    assert report["cameras"][0]["status"] == "no_data"
    assert report["cameras"][0]["availability"] is None
    assert (report["tickets"]["opened"], report["tickets"]["acknowledge_clocks"]) == (2, 0)
    assert report["tickets"]["repair_clocks"] == 0
    assert report["tickets"]["acknowledged_in_time_pct"] is None


def test_contract_sla_report_counts_only_while_active(client, owner, host):
    site = factories.make_active_site(host, cameras=1)
    camera = site.cameras.get()
    contract = factories.make_contract(
        [(host, ["host"])], sites=[site], obligations={"uptime": 99}, term_start=NOVEMBER
    )
    ContractStatusChange.objects.create(
        contract=contract,
        old_status="signed",
        new_status="active",
        created_at=datetime(2026, 11, 16, 8, 0, tzinfo=WIB),
    )
    at_availability(camera, "50", date(2026, 11, 15))  # before it was in force
    at_availability(camera, "99.5", date(2026, 11, 16))

    report = sla_selectors.contract_sla_report(contract=contract, month=NOVEMBER)

    assert (report["active_from"], report["active_until"]) == (
        date(2026, 11, 16),
        date(2026, 11, 30),
    )
    assert report["whole_month"] is False
    assert report["cameras"][0]["availability"] == Decimal("99.50")
    client.force_login(owner)
    page = client.get(sla_url(contract)).content.decode()
    assert "Counted while the version was active: 16 November 2026 – 30 November 2026." in page


def test_partner_sla_report_sections_and_totals(deal, host, rival):
    second_site = factories.make_active_site(host, cameras=1)
    second = factories.make_contract(
        [(host, ["host"])],
        sites=[second_site],
        obligations={"uptime": 95},
        term_start=date(2026, 11, 1),
    )
    at_availability(second_site.cameras.get(), "96")
    # The rival's contract is not in the host's report.
    rival_site = factories.make_active_site(rival, cameras=1)
    factories.make_contract(
        [(rival, ["host"])], sites=[rival_site], obligations={"uptime": 99}, term_start=NOVEMBER
    )

    report = sla_selectors.partner_sla_report(partner=host, month=NOVEMBER)

    assert [s["contract"]["id"] for s in report["contracts"]] == [deal["contract"].pk, second.pk]
    assert report["totals"]["cameras"] == 3
    assert (report["totals"]["met"], report["totals"]["missed"]) == (2, 1)
    assert (report["totals"]["breaches"], report["totals"]["breaches_responsible"]) == (1, 1)
    assert report["tickets"]["opened"] == 2


def test_partner_sla_report_includes_contract_where_partner_is_only_responsible(host, rival):
    site = factories.make_active_site(rival, cameras=1)
    contract = factories.make_contract(
        [(rival, ["host"]), (host, ["maintainer"])],
        sites=[site],
        obligations={"uptime": 99},
        responsible=host,
        term_start=date(2026, 10, 1),
    )

    report = sla_selectors.partner_sla_report(partner=host, month=NOVEMBER)

    assert [s["contract"]["id"] for s in report["contracts"]] == [contract.pk]


# --- pages ------------------------------------------------------------------------------------


def test_contract_sla_page_shows_the_numbers_and_export_links(client, owner, deal):
    client.force_login(owner)
    response = client.get(sla_url(deal["contract"]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "99.66" in page
    assert "97.00" in page
    assert 'data-summary="missed">1<' in page
    assert "50.00% (1 / 2)" in page  # acknowledged in time
    assert "Not acknowledged in time" not in page  # only the uptime breach was recorded
    assert "Monthly uptime below target" in page
    assert "?month=2026-11&amp;format=csv" in page
    assert "?month=2026-11&amp;format=xlsx" in page
    assert "?month=2026-11&amp;format=print" in page


def test_contract_sla_page_defaults_to_last_month_and_reports_bad_month(client, owner, deal):
    client.force_login(owner)
    url = reverse("contracts:contract-sla", args=[deal["contract"].pk])

    assert client.get(url).context["report"]["month"] == NOVEMBER
    bad = client.get(url + "?month=November")
    assert bad.status_code == 200
    assert "Enter a month as YYYY-MM" in bad.content.decode()
    assert client.get(url + "?month=November&format=csv").status_code == 400


def test_contract_sla_csv_rows(client, owner, deal):
    client.force_login(owner)
    response = client.get(sla_url(deal["contract"], format="csv"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    number = deal["contract"].number.replace("/", "-")
    assert response["Content-Disposition"] == f'attachment; filename="sla-{number}-2026-11.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:8] == [
        "Contract",
        "Camera",
        "Site",
        "Kelurahan",
        "Kota",
        "Availability (%)",
        "Target (%)",
        "Result",
    ]
    by_camera = {row[1]: row for row in rows[1:]}
    bad = by_camera[str(deal["bad"])]
    assert (bad[5], bad[6], bad[7], bad[9], bad[11]) == ("97.00", "99.00", "Missed", "0.72", "1")
    assert by_camera[str(deal["good"])][5:8] == ["99.66", "99.00", "Met"]


def test_contract_sla_xlsx_opens_with_numbers(client, owner, deal):
    client.force_login(owner)
    response = client.get(sla_url(deal["contract"], format="xlsx"))

    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["Content-Disposition"].endswith('-2026-11.xlsx"')
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Cameras", "Tickets", "Breaches"]
    cameras = list(book["Cameras"].iter_rows(values_only=True))
    assert cameras[0][5] == "Availability (%)"
    bad = next(row for row in cameras[1:] if row[1] == str(deal["bad"]))
    assert (bad[5], bad[6], bad[7], bad[11]) == (97.0, 99.0, "Missed", 1)
    assert isinstance(bad[9], float)
    assert bad[9] == pytest.approx(0.72)
    tickets = list(book["Tickets"].iter_rows(values_only=True))
    assert tickets[1][1:5] == (2, 2, 1, 50.0)
    breaches = list(book["Breaches"].iter_rows(values_only=True))
    assert len(breaches) == 2
    assert breaches[1][1] == "Monthly uptime below target"
    assert breaches[1][6] == 97.0
    assert isinstance(breaches[1][8], datetime)


def test_sla_exports_never_turn_typed_text_into_formulas(client, owner, deal):
    Site.objects.filter(pk=deal["site"].pk).update(address='=HYPERLINK("http://x.test","y")')
    client.force_login(owner)

    rows = list(
        csv.reader(
            io.StringIO(
                client.get(sla_url(deal["contract"], format="csv")).content.decode("utf-8-sig")
            )
        )
    )
    assert rows[1][2].startswith("'=")
    book = load_workbook(io.BytesIO(client.get(sla_url(deal["contract"], format="xlsx")).content))
    cell = book["Cameras"]["C2"]
    assert (cell.data_type, cell.value) == ("s", '=HYPERLINK("http://x.test","y")')


def test_contract_sla_print_page(client, owner, deal):
    client.force_login(owner)
    response = client.get(sla_url(deal["contract"], format="print"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "@media print" in page
    assert "97.00" in page
    assert "<nav" not in page  # a document, not the portal's chrome


def test_partner_sla_page_member_defaults_to_own_partner(client, owner, host, deal):
    client.force_login(owner)
    response = client.get(reverse("contracts:partner-sla"), {"month": "2026-11"})

    assert response.status_code == 200
    assert response.context["partner"] == host
    page = response.content.decode()
    assert 'data-totals="cameras">2<' in page
    assert "97.00" in page
    assert 'value="2026-11"' in page
    assert f"?month=2026-11&amp;partner={host.pk}&amp;format=xlsx" in page
    csv_response = client.get(
        reverse("contracts:partner-sla"),
        {"month": "2026-11", "partner": host.pk, "format": "csv"},
    )
    assert csv_response["Content-Disposition"] == (
        f'attachment; filename="sla-partner-{host.pk}-2026-11.csv"'
    )
    assert len(list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig"))))) == 3


def test_partner_sla_page_officer_chooses_any_partner(client, host, deal):
    client.force_login(factories.officer(Role.OFFICER_REVIEWER))
    url = reverse("contracts:partner-sla")

    assert client.get(url).context["report"] is None
    response = client.get(url, {"partner": host.pk, "month": "2026-11"})
    assert response.status_code == 200
    assert response.context["report"]["totals"]["missed"] == 1


def test_breach_list_page_counts_per_partner_and_kota(client, host, rival, deal):
    rival_site = factories.make_active_site(rival, kelurahan_code="31.74.01.1001", cameras=1)
    factories.make_contract(
        [(rival, ["host"])],
        sites=[rival_site],
        obligations={"uptime": 99},
        term_start=date(2026, 10, 1),
    )
    at_availability(rival_site.cameras.get(), "50")
    sla.sla_evaluate_month(month=NOVEMBER)
    client.force_login(factories.officer())

    response = client.get(reverse("contracts:breach-list"))
    assert response.status_code == 200
    counts = response.context["counts"]
    assert {row["responsible__name"]: row["count"] for row in counts["by_partner"]} == {
        host.name: 1,
        rival.name: 1,
    }
    assert {row["contract__kota__code"]: row["count"] for row in counts["by_kota"]} == {
        "31.71": 1,
        "31.74": 1,
    }
    filtered = client.get(reverse("contracts:breach-list"), {"kota": "31.74"})
    assert [b.responsible for b in filtered.context["breaches"]] == [rival]
    by_partner = client.get(reverse("contracts:breach-list"), {"partner": host.pk})
    assert [b.responsible for b in by_partner.context["breaches"]] == [host]


def test_breach_detail_page_shows_evidence(client, owner, deal):
    breach = Breach.objects.get()
    client.force_login(owner)

    response = client.get(reverse("contracts:breach-detail", args=[breach.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-field="measured">97.00<' in page
    assert 'data-field="down_hours">0.72<' in page
    assert f"<tr><td>{Outage.objects.get().pk}</td>" in page


def test_breach_detail_page_shows_a_ticket_clock_breach(client, owner, deal):
    outage = Outage.objects.get()
    late = ticket(deal["contract"], deal["bad"], "T-77", datetime(2026, 11, 10, 3, 5, tzinfo=WIB))
    breach = Breach.objects.create(
        kind=BreachKind.ACKNOWLEDGE_LATE,
        contract=deal["contract"],
        responsible=late.responsible,
        ticket=late,
        camera=deal["bad"],
        due_at=late.acknowledge_due_at,
        detected_at=late.acknowledge_due_at + timedelta(minutes=1),
        evidence={
            "ticket": "T-77",
            "clock": "acknowledge",
            "opened_at": late.opened_at.isoformat(),
            "due_at": late.acknowledge_due_at.isoformat(),
            "acknowledged_at": None,
            "outage": {
                "id": outage.pk,
                "started_at": outage.started_at.isoformat(),
                "ended_at": None,
            },
        },
    )
    client.force_login(owner)

    page = client.get(reverse("contracts:breach-detail", args=[breach.pk])).content.decode()

    assert "Not acknowledged in time" in page
    assert "<dt>Was due</dt><dd>Nov. 10, 2026, 7:05 a.m.</dd>" in page
    assert f"<tr><td>{outage.pk}</td>" in page
    assert "T-77" in page


# --- nothing leaks ------------------------------------------------------------------------


@pytest.mark.parametrize("output", [None, "csv", "xlsx", "print"])
def test_contract_sla_page_and_exports_hidden_from_another_partner(
    client, other_owner, rival, deal, output
):
    client.force_login(other_owner)
    query = {"format": output} if output else {}
    assert client.get(sla_url(deal["contract"], **query)).status_code == 404


@pytest.mark.parametrize("output", [None, "csv", "xlsx", "print"])
def test_partner_sla_page_and_exports_hidden_from_another_partner(
    client, other_owner, rival, host, deal, output
):
    client.force_login(other_owner)
    query = {"partner": host.pk, "month": "2026-11", **({"format": output} if output else {})}
    assert client.get(reverse("contracts:partner-sla"), query).status_code == 404
    # Their own report does not carry the host's contract either.
    own = client.get(reverse("contracts:partner-sla"), {"month": "2026-11"})
    assert own.context["report"]["contracts"] == []


def test_breach_pages_hidden_from_another_partner(client, other_owner, rival, deal):
    breach = Breach.objects.get()
    client.force_login(other_owner)

    assert client.get(reverse("contracts:breach-detail", args=[breach.pk])).status_code == 404
    listing = client.get(reverse("contracts:breach-list"))
    assert listing.status_code == 200
    assert list(listing.context["breaches"]) == []
    assert listing.context["counts"]["by_kota"] == []


def test_sla_pages_refuse_a_resident(client, host, deal):
    resident = factories.UserFactory(roles=[Role.RESIDENT])
    client.force_login(resident)

    assert client.get(sla_url(deal["contract"])).status_code == 404
    assert client.get(sla_url(deal["contract"], format="xlsx")).status_code == 404
    assert client.get(reverse("contracts:partner-sla")).status_code == 403
    assert client.get(reverse("contracts:partner-sla"), {"partner": host.pk}).status_code == 403
    assert client.get(reverse("contracts:breach-list")).status_code == 403
    breach = Breach.objects.get()
    assert client.get(reverse("contracts:breach-detail", args=[breach.pk])).status_code == 404


def test_sla_pages_need_sign_in(client, deal):
    for url in (
        sla_url(deal["contract"]),
        reverse("contracts:partner-sla"),
        reverse("contracts:breach-list"),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_sla_pages_sudin_officer_sees_only_their_kota(client, host, deal):
    breach = Breach.objects.get()
    client.force_login(factories.sudin_officer("31.74"))
    assert client.get(sla_url(deal["contract"])).status_code == 404
    assert client.get(reverse("contracts:breach-detail", args=[breach.pk])).status_code == 404
    partner_report = client.get(
        reverse("contracts:partner-sla"), {"partner": host.pk, "month": "2026-11"}
    )
    assert partner_report.context["report"]["contracts"] == []

    client.force_login(factories.sudin_officer("31.71"))
    assert client.get(sla_url(deal["contract"])).status_code == 200
    assert client.get(reverse("contracts:breach-detail", args=[breach.pk])).status_code == 200


def test_sla_pages_operator_reads_everything(client, host, deal):
    client.force_login(factories.officer(Role.OPERATOR))
    assert client.get(sla_url(deal["contract"], format="csv")).status_code == 200
    assert client.get(reverse("contracts:partner-sla"), {"partner": host.pk}).status_code == 200
    assert len(client.get(reverse("contracts:breach-list")).context["breaches"]) == 1
