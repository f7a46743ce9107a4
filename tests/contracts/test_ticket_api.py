import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from contracts import ticket_services as services
from contracts.models import MaintenanceTicket, TicketEvidence, TicketStatus
from partners.models import PartnerKind
from portal.roles import Role
from tests import factories
from tests.conftest import api_as


@pytest.fixture
def site(partner):
    return factories.make_active_site(partner, cameras=2)


@pytest.fixture
def maintainer():
    return factories.make_partner(kind=PartnerKind.BUSINESS)


@pytest.fixture
def contract(partner, maintainer, site):
    return factories.make_contract(
        [(partner, ["host"]), (maintainer, ["maintainer"])],
        sites=[site],
        obligations={"acknowledge": 4, "repair": 24},
        responsible=maintainer,
    )


@pytest.fixture
def ticket(site, contract, approver):
    return services.ticket_open(actor=approver, site=site, title="Kamera mati")


@pytest.fixture
def fixer(maintainer):
    return api_as(maintainer.created_by)


def _png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), "blue").save(buffer, format="PNG")
    return SimpleUploadedFile("bukti.png", buffer.getvalue(), content_type="image/png")


def _url(ticket, step: str = "") -> str:
    return f"/api/tickets/{ticket.pk}/" + (f"{step}/" if step else "")


# --- Reads ---------------------------------------------------------------------------------


def test_ticket_api_list_and_detail(ticket, fixer, maintainer):
    listed = fixer.get("/api/tickets/").json()
    assert len(listed["results"]) == 1
    row = listed["results"][0]
    assert (row["reference"], row["status"], row["responsible"]["id"]) == (
        ticket.reference,
        "open",
        maintainer.pk,
    )
    assert [c["state"] for c in row["clocks"]] == ["running", "running"]
    detail = fixer.get(_url(ticket)).json()
    assert [e["new_status"] for e in detail["events"]] == ["open"]
    assert detail["evidence"] == []
    assert detail["actions"] == ["acknowledge", "start", "resolve", "note"]
    assert detail["clocks"][0]["name"] == "acknowledge"


def test_ticket_api_filters(ticket, site, approver):
    other = services.ticket_open(actor=approver, site=site, title="Tiang miring")
    services.ticket_cancel(ticket=other, actor=approver, reason="Duplicate")
    client = api_as(approver)

    def refs(**params):
        return [r["reference"] for r in client.get("/api/tickets/", params).json()["results"]]

    assert refs(status="active") == [ticket.reference]
    assert refs(q="miring") == [other.reference]
    assert refs(overdue="true") == []
    assert client.get("/api/tickets/", {"status": "nope"}).status_code == 400
    assert client.get("/api/tickets/", {"responsible": "x"}).status_code == 400


def test_ticket_api_nothing_leaks_to_another_partner(ticket, other_owner):
    client = api_as(other_owner)
    assert client.get("/api/tickets/").json()["results"] == []
    assert client.get(_url(ticket)).status_code == 404
    for step in ("acknowledge", "start", "resolve", "note", "verify", "reopen", "cancel"):
        assert client.post(_url(ticket, step), {"note": "x", "reason": "x"}).status_code == 404
    assert api_as(factories.sudin_officer("31.72")).get(_url(ticket)).status_code == 404
    assert api_as(factories.sudin_officer("31.71")).get(_url(ticket)).status_code == 200


def test_ticket_api_host_follows_work_at_its_site_but_only_the_responsible_party_acts(
    ticket, owner
):
    # The host (owner's partner) is not the responsible party: it sees the ticket, cannot work it.
    host = api_as(owner)
    assert len(host.get("/api/tickets/").json()["results"]) == 1
    detail = host.get(_url(ticket)).json()
    assert detail["actions"] == []
    assert host.post(_url(ticket, "acknowledge"), {"note": "x"}).status_code == 403
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN


def test_ticket_api_list_query_count_is_constant(
    site, contract, approver, django_assert_max_num_queries
):
    for number in range(3):
        services.ticket_open(actor=approver, site=site, title=f"T{number}")
    client = api_as(approver)
    with django_assert_max_num_queries(6) as baseline:
        client.get("/api/tickets/")
    for number in range(10):
        services.ticket_open(
            actor=approver,
            site=factories.make_active_site(factories.make_partner()),
            title=f"More {number}",
        )
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        assert len(client.get("/api/tickets/").json()["results"]) == 13


def test_ticket_api_unauthenticated_is_refused(ticket, api):
    assert api.get("/api/tickets/").status_code in (401, 403)


# --- Opening ---------------------------------------------------------------------------------


def test_ticket_api_create_by_an_officer(site, contract, approver, maintainer):
    camera = site.cameras.first()
    response = api_as(approver).post(
        "/api/tickets/",
        {"site": site.pk, "camera": camera.pk, "title": "Lampu IR mati", "resident_report": "L-9"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["source"], body["responsible"]["id"], body["camera"]["id"]) == (
        "resident",
        maintainer.pk,
        camera.pk,
    )
    assert body["reference"].startswith("TKT-")


def test_ticket_api_create_refuses_foreign_sites_and_cameras(site, partner, other_owner, owner):
    response = api_as(other_owner).post(
        "/api/tickets/", {"site": site.pk, "title": "Bukan milik saya"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "site": ["Unknown site, or not one you can open tickets on."]
    }
    elsewhere = factories.make_active_site(partner)
    response = api_as(owner).post(
        "/api/tickets/",
        {"site": site.pk, "camera": elsewhere.cameras.first().pk, "title": "x"},
        format="json",
    )
    assert response.status_code == 400
    assert "camera" in response.json()["errors"]
    assert not MaintenanceTicket.objects.exists()


# --- Steps -----------------------------------------------------------------------------------


def test_ticket_api_partner_works_the_ticket(ticket, fixer):
    assert fixer.post(_url(ticket, "acknowledge"), {"note": "Seen"}).json()["status"] == (
        "acknowledged"
    )
    assert fixer.post(_url(ticket, "start"), {}).json()["status"] == "in_progress"
    response = fixer.post(
        _url(ticket, "resolve"), {"note": "Replaced PSU", "photo": _png()}, format="multipart"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "resolved"
    assert len(body["evidence"]) == 1
    download = fixer.get(body["evidence"][0]["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "image/png"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content).startswith(b"\x89PNG")


def test_ticket_api_resolve_refuses_a_fake_photo(ticket, fixer):
    fake = SimpleUploadedFile("bukti.png", b"GIF89a not really", content_type="image/png")
    response = fixer.post(
        _url(ticket, "resolve"), {"note": "done", "photo": fake}, format="multipart"
    )
    assert response.status_code == 400
    assert "photo" in response.json()["errors"]
    assert response.json()["errors"]["photo"] == ["Only JPEG and PNG photos are accepted."]
    assert MaintenanceTicket.objects.get(pk=ticket.pk).status == TicketStatus.OPEN


def test_ticket_api_note_with_photo(ticket, approver):
    response = api_as(approver).post(
        _url(ticket, "note"), {"note": "Foto lokasi", "photo": _png()}, format="multipart"
    )
    assert response.status_code == 201
    assert response.json()["events"][-1]["reason"] == "Foto lokasi"
    assert TicketEvidence.objects.filter(ticket=ticket).count() == 1
    operator = api_as(factories.officer(Role.OPERATOR))
    assert operator.post(_url(ticket, "note"), {"note": "NOC"}, format="json").status_code == 201
    assert operator.post(_url(ticket, "acknowledge"), {}).status_code == 403


def test_ticket_api_partner_cannot_verify_reopen_or_cancel(ticket, fixer):
    fixer.post(_url(ticket, "resolve"), {"note": "Fixed"}, format="json")
    for step in ("verify", "reopen", "cancel"):
        response = fixer.post(_url(ticket, step), {"note": "x", "reason": "x"}, format="json")
        assert response.status_code == 403, step
    assert MaintenanceTicket.objects.get(pk=ticket.pk).status == TicketStatus.RESOLVED


def test_ticket_api_officer_verifies_reopens_and_cancels(ticket, fixer, approver):
    officer = api_as(approver)
    fixer.post(_url(ticket, "resolve"), {"note": "Fixed"}, format="json")
    assert officer.post(_url(ticket, "reopen"), {"reason": ""}).status_code == 400
    body = officer.post(_url(ticket, "reopen"), {"reason": "Still dark"}).json()
    assert (body["status"], body["reopen_count"]) == ("reopened", 1)
    fixer.post(_url(ticket, "resolve"), {"note": "Fixed again"}, format="json")
    assert officer.post(_url(ticket, "verify"), {}).json()["status"] == "verified"
    response = officer.post(_url(ticket, "cancel"), {"reason": "Too late"})
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


def test_ticket_api_conflict_on_a_stale_step(ticket, fixer):
    assert fixer.post(_url(ticket, "acknowledge"), {}).status_code == 200
    assert fixer.post(_url(ticket, "acknowledge"), {}).status_code == 409


def test_ticket_api_evidence_of_another_ticket_is_404(ticket, fixer, site, approver):
    fixer.post(_url(ticket, "note"), {"note": "x", "photo": _png()}, format="multipart")
    evidence = TicketEvidence.objects.get()
    other = services.ticket_open(
        actor=approver, site=factories.make_active_site(factories.make_partner()), title="y"
    )
    officer = api_as(approver)
    assert officer.get(f"/api/tickets/{other.pk}/evidence/{evidence.pk}/").status_code == 404
    assert officer.get(f"/api/tickets/{ticket.pk}/evidence/{evidence.pk}/").status_code == 200
    outsider = api_as(factories.UserFactory())
    assert outsider.get(f"/api/tickets/{ticket.pk}/evidence/{evidence.pk}/").status_code == 404


def test_ticket_api_schema_lists_the_ticket_routes(approver):
    paths = api_as(approver).get("/api/schema/", {"format": "json"}).json()["paths"]
    for path in (
        "/api/tickets/",
        "/api/tickets/{id}/",
        "/api/tickets/{id}/acknowledge/",
        "/api/tickets/{id}/resolve/",
        "/api/tickets/{id}/evidence/{evidence_id}/",
    ):
        assert path in paths
    resolve = paths["/api/tickets/{id}/resolve/"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in resolve
    list_params = {p["name"] for p in paths["/api/tickets/"]["get"]["parameters"]}
    assert {"status", "overdue", "q", "kota"} <= list_params
