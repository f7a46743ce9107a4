"""API of breaches, SLA evaluations and the monthly SLA reports."""

from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.utils import translation

from contracts import sla
from contracts.models import Breach, BreachKind, MaintenanceTicket, SlaEvaluation, TicketSource
from portal.roles import Role
from tests import factories
from tests.conftest import api_as
from tests.contracts.test_sla import NOVEMBER, WIB, at_availability

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=WIB)


@pytest.fixture(autouse=True)
def _english():
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


def contract_with_breach(partner, *, kelurahan_code="31.71.01.1001", percent="97", cameras=1):
    site = factories.make_active_site(partner, kelurahan_code=kelurahan_code, cameras=cameras)
    contract = factories.make_contract(
        [(partner, ["host", "maintainer"])],
        sites=[site],
        obligations={"uptime": 99},
        term_start=date(2026, 10, 1),
    )
    for camera in site.cameras.all():
        at_availability(camera, percent)
    return contract


@pytest.fixture
def deal(host):
    contract = contract_with_breach(host)
    sla.sla_evaluate_month(month=NOVEMBER)
    return contract


def ticket_breach(contract, reference: str, *, due: datetime) -> Breach:
    site = contract.covered_sites.first().site
    ticket = MaintenanceTicket.objects.create(
        reference=reference,
        source=TicketSource.OFFICER,
        title="Lens dirty",
        site=site,
        contract=contract,
        responsible=contract.parties.first().partner,
        opened_at=due - timedelta(hours=4),
        acknowledge_due_at=due,
    )
    return Breach.objects.create(
        kind=BreachKind.ACKNOWLEDGE_LATE,
        contract=contract,
        responsible=ticket.responsible,
        ticket=ticket,
        due_at=due,
        detected_at=due + timedelta(minutes=5),
        evidence={"due_at": due.isoformat()},
    )


# --- reports ------------------------------------------------------------------------------


def test_contract_sla_report_api(owner, deal):
    response = api_as(owner).get(f"/api/sla-reports/contract/{deal.pk}/", {"month": "2026-11"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["month"] == "2026-11"
    assert body["contract"]["number"] == deal.number
    [camera] = body["cameras"]
    assert (camera["availability"], camera["target"], camera["status"]) == (
        "97.00",
        "99.00",
        "missed",
    )
    assert camera["down_hours"] == "0.72"
    assert body["summary"]["missed"] == 1
    assert body["tickets"]["opened"] == 0
    assert body["tickets"]["acknowledged_in_time_pct"] is None
    [breach] = body["breaches"]
    assert (breach["kind"], breach["measured"]) == ("uptime_below", "97.00")


def test_contract_sla_report_api_bad_month(owner, deal):
    response = api_as(owner).get(f"/api/sla-reports/contract/{deal.pk}/", {"month": "11-2026"})

    assert response.status_code == 400
    assert response.json()["errors"] == {"month": ["Enter a month as YYYY-MM, e.g. 2026-11."]}


def test_partner_sla_report_api(owner, host, deal):
    response = api_as(owner).get(f"/api/sla-reports/partner/{host.pk}/", {"month": "2026-11"})

    assert response.status_code == 200
    body = response.json()
    assert body["partner"] == {"id": host.pk, "name": host.name}
    assert [section["contract"]["id"] for section in body["contracts"]] == [deal.pk]
    assert (body["totals"]["cameras"], body["totals"]["missed"], body["totals"]["breaches"]) == (
        1,
        1,
        1,
    )


def test_sla_report_api_hidden_from_another_partner_and_a_resident(other_owner, rival, host, deal):
    resident = factories.UserFactory(roles=[Role.RESIDENT])
    for user in (other_owner, resident):
        client = api_as(user)
        assert client.get(f"/api/sla-reports/contract/{deal.pk}/").status_code == 404
        assert client.get(f"/api/sla-reports/partner/{host.pk}/").status_code == 404
    # The rival's own report does not include the host's contract.
    own = api_as(other_owner).get(f"/api/sla-reports/partner/{rival.pk}/", {"month": "2026-11"})
    assert own.json()["contracts"] == []


def test_sla_report_api_officers_and_operators(host, deal):
    for user in (factories.officer(Role.OFFICER_LEGAL), factories.officer(Role.OPERATOR)):
        client = api_as(user)
        assert client.get(f"/api/sla-reports/contract/{deal.pk}/").status_code == 200
        assert client.get(f"/api/sla-reports/partner/{host.pk}/").status_code == 200
    elsewhere = api_as(factories.sudin_officer("31.74"))
    assert elsewhere.get(f"/api/sla-reports/contract/{deal.pk}/").status_code == 404
    report = elsewhere.get(f"/api/sla-reports/partner/{host.pk}/", {"month": "2026-11"})
    assert report.json()["contracts"] == []


def test_sla_report_api_needs_sign_in(api, deal):
    assert api.get(f"/api/sla-reports/contract/{deal.pk}/").status_code in (401, 403)


# --- breaches -----------------------------------------------------------------------------


def test_breach_api_list_and_retrieve(owner, deal):
    client = api_as(owner)
    listing = client.get("/api/breaches/")

    assert listing.status_code == 200
    [row] = listing.json()["results"]
    assert row["kind"] == "uptime_below"
    assert row["kind_label"] == "Monthly uptime below target"
    assert row["contract"] == {"id": deal.pk, "number": deal.number, "version": 1}
    assert row["kota"] == {"code": "31.71", "name": deal.kota.name}
    assert (row["period"], row["target"], row["measured"]) == ("2026-11-01", "99.00", "97.00")
    assert row["evidence"]["month"] == "2026-11"
    detail = client.get(f"/api/breaches/{row['id']}/")
    assert detail.status_code == 200
    assert detail.json()["camera"]["id"] == row["camera"]["id"]


def test_breach_api_filters(host, rival, deal):
    rival_contract = contract_with_breach(rival, kelurahan_code="31.74.01.1001", percent="50")
    sla.sla_evaluate_month(month=NOVEMBER)
    late = ticket_breach(deal, "T-OCT", due=datetime(2026, 10, 20, 9, 0, tzinfo=WIB))
    client = api_as(factories.officer())

    def ids(**query) -> set[int]:
        response = client.get("/api/breaches/", query)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    uptime_host = Breach.objects.get(contract=deal, kind=BreachKind.UPTIME_BELOW).pk
    uptime_rival = Breach.objects.get(contract=rival_contract).pk
    assert ids() == {uptime_host, uptime_rival, late.pk}
    assert ids(kind="acknowledge_late") == {late.pk}
    assert ids(partner=rival.pk) == {uptime_rival}
    assert ids(kota="31.74") == {uptime_rival}
    assert ids(contract=deal.pk) == {uptime_host, late.pk}
    assert ids(month_from="2026-11") == {uptime_host, uptime_rival}
    assert ids(month_to="2026-10") == {late.pk}
    assert ids(month_from="2026-10", month_to="2026-10") == {late.pk}
    assert client.get("/api/breaches/", {"month_from": "soon"}).status_code == 400


def test_breach_api_hidden_from_another_partner_and_a_resident(other_owner, rival, deal):
    breach = Breach.objects.get()
    resident = factories.UserFactory(roles=[Role.RESIDENT])
    for user in (other_owner, resident):
        client = api_as(user)
        assert client.get("/api/breaches/").json()["results"] == []
        assert client.get(f"/api/breaches/{breach.pk}/").status_code == 404
        # Filtering by the host's id reveals nothing either.
        assert (
            client.get("/api/breaches/", {"partner": breach.responsible_id}).json()["results"] == []
        )


def test_breach_api_partner_sees_only_breaches_it_answers_for(owner, host, rival):
    """A party whose co-party answers for the obligation sees the contract's report, but the
    breach belongs to the responsible party's list."""
    site = factories.make_active_site(host, cameras=1)
    factories.make_contract(
        [(host, ["host"]), (rival, ["maintainer"])],
        sites=[site],
        obligations={"uptime": 99},
        responsible=rival,
        term_start=date(2026, 10, 1),
    )
    at_availability(site.cameras.get(), "90")
    sla.sla_evaluate_month(month=NOVEMBER)

    assert api_as(owner).get("/api/breaches/").json()["results"] == []
    assert len(api_as(rival.created_by).get("/api/breaches/").json()["results"]) == 1


def test_breach_api_sudin_officer_sees_their_kota(host, rival, deal):
    contract_with_breach(rival, kelurahan_code="31.74.01.1001", percent="50")
    sla.sla_evaluate_month(month=NOVEMBER)

    rows = api_as(factories.sudin_officer("31.74")).get("/api/breaches/").json()["results"]

    assert [row["kota"]["code"] for row in rows] == ["31.74"]


@pytest.mark.parametrize("count", [1, 8])
def test_breach_api_query_count_is_constant(django_assert_max_num_queries, host, count):
    for number in range(count):
        contract = contract_with_breach(host, cameras=2)
        ticket_breach(contract, f"T-{number}", due=datetime(2026, 11, 5, tzinfo=WIB))
    sla.sla_evaluate_month(month=NOVEMBER)
    client = api_as(factories.officer())
    with django_assert_max_num_queries(4):
        response = client.get("/api/breaches/")
    assert response.json()["count"] == 3 * count
    member = api_as(host.created_by)
    with django_assert_max_num_queries(6):
        assert member.get("/api/breaches/").json()["count"] == 3 * count


# --- evaluations --------------------------------------------------------------------------


def test_sla_evaluation_api_for_officers(owner, host, rival, deal):
    contract_with_breach(rival, kelurahan_code="31.74.01.1001")
    sla.sla_evaluate_month(month=NOVEMBER)

    rows = api_as(factories.officer()).get("/api/sla-evaluations/", {"month": "2026-11"}).json()
    assert rows["count"] == 2
    first = next(row for row in rows["results"] if row["contract"]["id"] == deal.pk)
    assert (first["month"], first["cameras"], first["cameras_below_target"]) == (
        "2026-11-01",
        1,
        1,
    )
    sudin = api_as(factories.sudin_officer("31.74")).get("/api/sla-evaluations/").json()
    assert [row["kota"]["code"] for row in sudin["results"]] == ["31.74"]
    assert (
        api_as(factories.officer())
        .get("/api/sla-evaluations/", {"month": "2026-10"})
        .json()["count"]
        == 0
    )
    assert SlaEvaluation.objects.count() == 2


def test_sla_evaluation_api_refuses_partners_and_residents(owner, deal):
    assert api_as(owner).get("/api/sla-evaluations/").status_code == 403
    resident = factories.UserFactory(roles=[Role.RESIDENT])
    assert api_as(resident).get("/api/sla-evaluations/").status_code == 403


def test_sla_api_in_schema(owner):
    paths = api_as(owner).get("/api/schema/", {"format": "json"}).json()["paths"]
    for path in (
        "/api/breaches/",
        "/api/breaches/{id}/",
        "/api/sla-reports/contract/{id}/",
        "/api/sla-reports/partner/{id}/",
        "/api/sla-evaluations/",
    ):
        assert path in paths
    month = next(
        p
        for p in paths["/api/sla-reports/contract/{id}/"]["get"]["parameters"]
        if p["name"] == "month"
    )
    assert month["in"] == "query"
    breach_params = {p["name"] for p in paths["/api/breaches/"]["get"]["parameters"]}
    assert {"kind", "partner", "kota", "contract", "month_from", "month_to"} <= breach_params
