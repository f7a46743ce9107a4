import html
import io
import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from PIL import Image

from contracts import ticket_services
from contracts.models import MaintenanceTicket, TicketEvidence, TicketStatus
from portal.roles import Role
from tests import factories

OTHER_KELURAHAN = "31.74.01.1001"  # Jakarta Selatan; the main site is in Jakarta Pusat (31.71)


@pytest.fixture(autouse=True)
def english(client):
    """Pages in English, so the assertions hold once the Indonesian translations land."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path, "base_url": None},
        },
    }
    return tmp_path


@pytest.fixture
def host(owner):
    return factories.verified_partner(owner)


@pytest.fixture
def site(host):
    return factories.make_active_site(host, cameras=2)


@pytest.fixture
def contract(host, site):
    return factories.make_contract(
        [(host, ["host", "maintainer"])],
        sites=[site],
        obligations={"acknowledge": 4, "repair": 24, "uptime": 99},
    )


@pytest.fixture
def camera(site):
    return site.cameras.order_by("pk").first()


@pytest.fixture
def ticket(owner, site, camera, contract):
    return _open(owner, site, camera=camera, title="Kamera depan mati")


@pytest.fixture
def other_host(other_owner):
    return factories.verified_partner(other_owner)


@pytest.fixture
def other_ticket(other_owner, other_host):
    other_site = factories.make_active_site(other_host, kelurahan_code=OTHER_KELURAHAN)
    factories.make_contract(
        [(other_host, ["host", "maintainer"])],
        sites=[other_site],
        obligations={"acknowledge": 4, "repair": 24},
    )
    return _open(other_owner, other_site, title="Tiang roboh di Selatan")


@pytest.fixture
def operator(db):
    return factories.UserFactory(roles=[Role.OPERATOR])


def _open(actor, site, **fields) -> MaintenanceTicket:
    fields.setdefault("title", "Kamera mati")
    with translation.override("en"):
        return ticket_services.ticket_open(actor=actor, site=site, **fields)


def _as(client, user):
    client.force_login(user)
    # A logout clears the cookies, the language choice with them.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _url(name: str, *args) -> str:
    return reverse(f"contracts:{name}", args=args)


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _png(name: str = "repair.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def _refresh(ticket) -> MaintenanceTicket:
    return MaintenanceTicket.objects.get(pk=ticket.pk)


# --- Anonymous visitors ---------------------------------------------------------------------


def test_ticket_pages_send_anonymous_visitors_to_sign_in(client, ticket):
    for url in (
        _url("ticket-list"),
        _url("tickets-due"),
        _url("ticket-create"),
        _url("ticket-detail", ticket.pk),
        _url("ticket-evidence", ticket.pk, 1),
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url
    response = client.post(_url("ticket-action", ticket.pk, "acknowledge"))
    assert response.status_code == 302
    assert _refresh(ticket).status == TicketStatus.OPEN


# --- The list -------------------------------------------------------------------------------


def test_ticket_list_shows_a_partner_its_own_tickets_only(client, owner, ticket, other_ticket):
    response = _as(client, owner).get(_url("ticket-list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "My tickets" in body
    assert ticket.reference in body
    assert "Kamera depan mati" in body
    assert ticket.site.address in body
    assert ticket.site.kelurahan.name in body
    assert other_ticket.reference not in body
    assert "Tiang roboh" not in body


def test_ticket_list_shows_officers_and_operators_everything(
    client, approver, operator, host, ticket, other_ticket
):
    for user in (approver, operator):
        body = _as(client, user).get(_url("ticket-list")).content.decode()
        assert ticket.reference in body
        assert other_ticket.reference in body
        assert host.name in body  # the responsible column


def test_ticket_list_sudin_officer_sees_own_kota_only(client, ticket, other_ticket):
    body = _as(client, factories.sudin_officer("31.71")).get(_url("ticket-list")).content.decode()
    assert ticket.reference in body
    assert other_ticket.reference not in body


def test_ticket_list_filters_by_partner_status_and_source(
    client, approver, owner, host, ticket, other_ticket
):
    _as(client, approver)
    body = client.get(_url("ticket-list"), {"responsible": host.pk}).content.decode()
    assert ticket.reference in body
    assert other_ticket.reference not in body

    with translation.override("en"):
        ticket_services.ticket_acknowledge(ticket=ticket, actor=owner)
    body = client.get(_url("ticket-list"), {"status": "open"}).content.decode()
    assert ticket.reference not in body
    assert other_ticket.reference in body
    body = client.get(_url("ticket-list"), {"status": "active"}).content.decode()
    assert ticket.reference in body
    assert other_ticket.reference in body

    body = client.get(_url("ticket-list"), {"source": "officer"}).content.decode()
    assert "No ticket matches." in body


def test_ticket_list_filters_by_kota_for_officers(client, approver, ticket, other_ticket):
    kota = ticket.site.kelurahan.parent.parent
    body = _as(client, approver).get(_url("ticket-list"), {"kota": kota.pk}).content.decode()
    assert ticket.reference in body
    assert other_ticket.reference not in body


def test_ticket_list_overdue_filter_and_missed_clock(client, owner, ticket, other_ticket):
    with time_machine.travel(timezone.now() + timedelta(hours=5)):
        response = _as(client, owner).get(_url("ticket-list"), {"overdue": "on"})
    body = response.content.decode()
    assert ticket.reference in body
    assert "missed" in body
    assert 'class="badge overdue"' in body


def test_ticket_list_partner_has_no_kota_or_partner_filter(client, owner, ticket):
    response = _as(client, owner).get(_url("ticket-list"))
    form = response.context["filter_form"]
    assert "kota" not in form.fields
    assert "responsible" not in form.fields


@pytest.mark.parametrize("viewer", ["owner", "approver", "operator"])
def test_ticket_list_query_count_is_constant(
    request, client, viewer, owner, site, camera, contract, django_assert_max_num_queries
):
    _open(owner, site, camera=camera)
    _as(client, request.getfixturevalue(viewer))
    for name in ("ticket-list", "tickets-due"):
        client.get(_url(name))  # warm the session
        with django_assert_max_num_queries(10) as few:
            client.get(_url(name))
        for number in range(6):
            _open(owner, site, camera=camera if number % 2 else None, title=f"Kamera {number}")
        with django_assert_max_num_queries(len(few.captured_queries)):
            response = client.get(_url(name))
        assert len(response.context["tickets"]) > 6


def test_ticket_list_paginates(client, approver, owner, site, contract):
    for number in range(51):
        _open(owner, site, title=f"Pemeriksaan {number}")
    _as(client, approver)
    first = client.get(_url("ticket-list"), {"status": "open"})
    assert len(first.context["tickets"]) == 50
    assert first.context["previous_url"] is None
    older = re.search(r'<a rel="next" href="([^"]+)"', first.content.decode()).group(1)
    second = client.get(html.unescape(older))
    assert [ticket.title for ticket in second.context["tickets"]] == ["Pemeriksaan 0"]
    assert "status=open" in second.context["previous_url"]  # filters carry over
    assert second.context["next_url"] is None
    assert client.get(_url("ticket-list"), {"cursor": "bogus"}).status_code == 404


# --- What is due ----------------------------------------------------------------------------


def test_tickets_due_lists_soonest_first_and_only_the_users(
    client, owner, host, site, camera, ticket, other_ticket
):
    later = factories.make_active_site(host)
    factories.make_contract(
        [(host, ["host", "maintainer"])], sites=[later], obligations={"acknowledge": 10}
    )
    later_ticket = _open(owner, later, title="Kamera belakang buram")
    far = factories.make_active_site(host)  # no contract: no clock, never due
    far_ticket = _open(owner, far, title="Tanpa kontrak")

    body = _as(client, owner).get(_url("tickets-due")).content.decode()
    assert ticket.reference in body
    assert later_ticket.reference in body
    assert body.index(ticket.reference) < body.index(later_ticket.reference)
    assert far_ticket.reference not in body
    assert other_ticket.reference not in body


def test_tickets_due_shows_missed_clocks(client, owner, ticket):
    with time_machine.travel(timezone.now() + timedelta(hours=30)):
        body = _as(client, owner).get(_url("tickets-due")).content.decode()
    assert ticket.reference in body
    assert "missed" in body


# --- Opening a ticket -----------------------------------------------------------------------


def test_ticket_create_by_partner_routes_to_the_responsible_party(
    client, owner, host, site, camera, contract
):
    response = _as(client, owner).post(
        _url("ticket-create"),
        {"site": site.pk, "camera": camera.pk, "title": "Lensa retak", "description": "Kena batu"},
    )
    ticket = MaintenanceTicket.objects.get(title="Lensa retak")
    assert response.status_code == 302
    assert response["Location"] == _url("ticket-detail", ticket.pk)
    assert (ticket.source, ticket.responsible, ticket.camera, ticket.contract) == (
        "partner",
        host,
        camera,
        contract,
    )
    assert ticket.acknowledge_due_at == ticket.opened_at + timedelta(hours=4)
    detail = client.get(response["Location"])
    assert any(ticket.reference in message for message in _messages(detail))


def test_ticket_create_partner_sees_no_resident_report_field(client, owner, site, contract):
    response = _as(client, owner).get(_url("ticket-create"))
    assert response.status_code == 200
    assert "resident_report" not in response.context["form"].fields
    assert list(response.context["form"].fields["site"].queryset) == [site]


def test_ticket_create_by_officer_from_a_resident_report(client, approver, host, site, contract):
    response = _as(client, approver).post(
        _url("ticket-create"),
        {"site": site.pk, "camera": "", "title": "Warga lapor", "resident_report": "CR-2026-0042"},
    )
    assert response.status_code == 302
    ticket = MaintenanceTicket.objects.get(title="Warga lapor")
    assert (ticket.source, ticket.resident_report, ticket.responsible) == (
        "resident",
        "CR-2026-0042",
        host,
    )


def test_ticket_create_by_operator(client, operator, site, contract):
    response = _as(client, operator).post(
        _url("ticket-create"), {"site": site.pk, "title": "NOC: kamera hilang sinyal"}
    )
    assert response.status_code == 302
    assert MaintenanceTicket.objects.get(title="NOC: kamera hilang sinyal").source == "officer"


def test_ticket_create_refuses_a_camera_of_another_site(client, owner, host, site, contract):
    elsewhere = factories.make_active_site(host)
    response = _as(client, owner).post(
        _url("ticket-create"),
        {"site": site.pk, "camera": elsewhere.cameras.get().pk, "title": "Salah kamera"},
    )
    assert response.status_code == 400
    assert "camera" in response.context["form"].errors
    assert not MaintenanceTicket.objects.exists()


def test_ticket_create_from_a_site_page_offers_only_its_cameras(client, approver, site, camera):
    elsewhere = factories.make_active_site(factories.verified_partner())
    response = _as(client, approver).get(_url("ticket-create"), {"site": site.pk})
    form = response.context["form"]
    assert set(form.fields["camera"].queryset) == set(site.cameras.all())
    assert elsewhere.cameras.get() not in form.fields["camera"].queryset
    assert form["site"].value() == str(site.pk)


def test_ticket_create_refuses_another_partners_site(client, owner, other_host, site):
    foreign = factories.make_active_site(other_host)
    response = _as(client, owner).post(
        _url("ticket-create"), {"site": foreign.pk, "title": "Bukan milik saya"}
    )
    assert response.status_code == 400
    assert "site" in response.context["form"].errors
    assert not MaintenanceTicket.objects.exists()


def test_ticket_create_requires_a_title(client, owner, site, contract):
    response = _as(client, owner).post(_url("ticket-create"), {"site": site.pk, "title": ""})
    assert response.status_code == 400
    assert "title" in response.context["form"].errors
    assert not MaintenanceTicket.objects.exists()


# --- The ticket page ------------------------------------------------------------------------


def test_ticket_detail_shows_the_ticket_clocks_and_history(client, owner, host, camera, ticket):
    response = _as(client, owner).get(_url("ticket-detail", ticket.pk))
    assert response.status_code == 200
    body = response.content.decode()
    assert ticket.reference in body
    assert "Kamera depan mati" in body
    assert host.name in body
    assert str(camera) in body
    assert str(ticket.contract) in body
    assert "Acknowledge by" in body
    assert "Repair by" in body
    assert 'id="history"' in body
    assert [entry["name"] for entry in response.context["action_forms"]][:1] == ["acknowledge"]


def test_ticket_detail_clocks_count_down_then_miss(client, owner, site, camera, contract):
    opened = timezone.now().replace(microsecond=0)
    with time_machine.travel(opened, tick=False):
        ticket = _open(owner, site, camera=camera)
    _as(client, owner)
    with time_machine.travel(opened + timedelta(hours=2), tick=False):
        body = client.get(_url("ticket-detail", ticket.pk)).content.decode()
    assert "2\xa0hours left" in body or "2 hours left" in body
    assert "missed" not in body
    with time_machine.travel(opened + timedelta(hours=5), tick=False):
        body = client.get(_url("ticket-detail", ticket.pk)).content.decode()
    assert 'class="badge overdue">missed' in body
    assert "1\xa0hour late" in body or "1 hour late" in body
    with translation.override("en"):
        ticket_services.ticket_acknowledge(ticket=ticket, actor=owner)
    body = client.get(_url("ticket-detail", ticket.pk)).content.decode()
    assert 'class="badge approved">met' in body


def test_ticket_detail_is_404_for_another_partner(client, other_owner, ticket):
    assert _as(client, other_owner).get(_url("ticket-detail", ticket.pk)).status_code == 404


def test_ticket_detail_sudin_officer_of_another_kota_gets_404(client, ticket):
    sudin_pusat = factories.sudin_officer("31.71")
    assert _as(client, sudin_pusat).get(_url("ticket-detail", ticket.pk)).status_code == 200
    client.logout()
    sudin_selatan = factories.sudin_officer("31.74")
    assert _as(client, sudin_selatan).get(_url("ticket-detail", ticket.pk)).status_code == 404
    response = client.post(_url("ticket-action", ticket.pk, "cancel"), {"cancel-reason": "x"})
    assert response.status_code == 404
    assert _refresh(ticket).status == TicketStatus.OPEN


def test_ticket_detail_links_the_contract_only_when_its_page_exists(client, owner, ticket):
    body = _as(client, owner).get(_url("ticket-detail", ticket.pk)).content.decode()
    try:
        contract_url = _url("contract-detail", ticket.contract_id)
    except NoReverseMatch:  # the contract pages may not be wired yet
        contract_url = None
    if contract_url:
        assert f'href="{contract_url}"' in body
    assert str(ticket.contract) in body


# --- Steps ----------------------------------------------------------------------------------


def test_ticket_acknowledge_then_resolve_with_photo_shows_evidence(client, owner, ticket):
    _as(client, owner)
    response = client.post(
        _url("ticket-action", ticket.pk, "acknowledge"), {"acknowledge-note": "On our way"}
    )
    assert response.status_code == 302
    assert _refresh(ticket).status == TicketStatus.ACKNOWLEDGED

    response = client.post(
        _url("ticket-action", ticket.pk, "resolve"),
        {"resolve-note": "Replaced the power adapter", "resolve-photo": _png()},
    )
    assert response.status_code == 302
    assert _refresh(ticket).status == TicketStatus.RESOLVED
    evidence = TicketEvidence.objects.get(ticket=ticket)

    page = client.get(_url("ticket-detail", ticket.pk))
    body = page.content.decode()
    assert "The ticket is resolved and waits for its check." in _messages(page)
    evidence_url = _url("ticket-evidence", ticket.pk, evidence.pk)
    assert f'src="{evidence_url}"' in body
    assert "Replaced the power adapter" in body
    assert "On our way" in body

    download = client.get(evidence_url)
    assert download.status_code == 200
    assert download["X-Content-Type-Options"] == "nosniff"
    content = b"".join(download.streaming_content)
    magic = {"image/png": b"\x89PNG", "image/jpeg": b"\xff\xd8"}[download["Content-Type"]]
    assert content.startswith(magic)


def test_ticket_evidence_is_404_for_another_partner(client, owner, other_owner, ticket):
    with translation.override("en"):
        ticket_services.ticket_add_note(ticket=ticket, actor=owner, note="Foto", photo=_png())
    evidence = TicketEvidence.objects.get(ticket=ticket)
    response = _as(client, other_owner).get(_url("ticket-evidence", ticket.pk, evidence.pk))
    assert response.status_code == 404


def test_ticket_evidence_of_another_ticket_is_404(client, owner, other_owner, ticket, other_ticket):
    with translation.override("en"):
        ticket_services.ticket_add_note(
            ticket=other_ticket, actor=other_owner, note="Foto", photo=_png()
        )
    evidence = TicketEvidence.objects.get(ticket=other_ticket)
    response = _as(client, owner).get(_url("ticket-evidence", ticket.pk, evidence.pk))
    assert response.status_code == 404


def test_ticket_resolve_without_note_is_a_form_error_and_changes_nothing(client, owner, ticket):
    response = _as(client, owner).post(
        _url("ticket-action", ticket.pk, "resolve"), {"resolve-note": "", "resolve-photo": _png()}
    )
    assert response.status_code == 400
    bound = next(e["form"] for e in response.context["action_forms"] if e["name"] == "resolve")
    assert "note" in bound.errors
    assert _refresh(ticket).status == TicketStatus.OPEN
    assert not TicketEvidence.objects.exists()


def test_ticket_resolve_with_a_non_image_photo_is_a_form_error(client, owner, ticket):
    fake = SimpleUploadedFile("photo.png", b"%PDF-1.7 not a picture", content_type="image/png")
    response = _as(client, owner).post(
        _url("ticket-action", ticket.pk, "resolve"),
        {"resolve-note": "Fixed", "resolve-photo": fake},
    )
    assert response.status_code == 400
    bound = next(e["form"] for e in response.context["action_forms"] if e["name"] == "resolve")
    assert "photo" in bound.errors
    assert _refresh(ticket).status == TicketStatus.OPEN
    assert not TicketEvidence.objects.exists()


def test_ticket_action_twice_shows_a_message_not_an_error(client, owner, ticket):
    _as(client, owner)
    client.post(_url("ticket-action", ticket.pk, "acknowledge"))
    response = client.post(_url("ticket-action", ticket.pk, "acknowledge"), follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == _url("ticket-detail", ticket.pk)
    messages = list(response.context["messages"])
    assert messages
    assert messages[-1].level_tag == "error"
    assert _refresh(ticket).status == TicketStatus.ACKNOWLEDGED


def test_ticket_action_by_another_partner_is_404(client, other_owner, ticket):
    response = _as(client, other_owner).post(_url("ticket-action", ticket.pk, "acknowledge"))
    assert response.status_code == 404
    assert _refresh(ticket).status == TicketStatus.OPEN


def test_ticket_action_unknown_or_get_is_refused(client, owner, ticket):
    _as(client, owner)
    assert client.post(_url("ticket-action", ticket.pk, "explode")).status_code == 404
    assert client.get(_url("ticket-action", ticket.pk, "acknowledge")).status_code == 405


def test_ticket_operator_may_add_a_note_but_not_resolve(client, operator, ticket):
    _as(client, operator)
    page = client.get(_url("ticket-detail", ticket.pk))
    names = [entry["name"] for entry in page.context["action_forms"]]
    assert "note" in names
    assert "resolve" not in names
    assert "acknowledge" not in names

    response = client.post(
        _url("ticket-action", ticket.pk, "note"), {"note-note": "NOC: link restored upstream"}
    )
    assert response.status_code == 302
    assert "NOC: link restored upstream" in client.get(response["Location"]).content.decode()

    response = client.post(
        _url("ticket-action", ticket.pk, "resolve"), {"resolve-note": "Done"}, follow=True
    )
    assert _refresh(ticket).status == TicketStatus.OPEN
    assert [m.level_tag for m in response.context["messages"]][-1] == "error"


def test_ticket_officer_cancel_needs_a_reason(client, approver, ticket):
    _as(client, approver)
    response = client.post(_url("ticket-action", ticket.pk, "cancel"), {"cancel-reason": ""})
    assert response.status_code == 400
    assert _refresh(ticket).status == TicketStatus.OPEN
    response = client.post(
        _url("ticket-action", ticket.pk, "cancel"), {"cancel-reason": "Duplicate of another"}
    )
    assert response.status_code == 302
    assert _refresh(ticket).status == TicketStatus.CANCELLED
    assert "Duplicate of another" in client.get(response["Location"]).content.decode()


def test_ticket_partner_cannot_cancel(client, owner, ticket):
    _as(client, owner)
    names = [
        e["name"] for e in client.get(_url("ticket-detail", ticket.pk)).context["action_forms"]
    ]
    assert "cancel" not in names
    client.post(_url("ticket-action", ticket.pk, "cancel"), {"cancel-reason": "No thanks"})
    assert _refresh(ticket).status == TicketStatus.OPEN


def test_ticket_without_camera_is_verified_by_an_officer(client, owner, approver, site, contract):
    ticket = _open(approver, site, title="Papan tanda CCTV hilang")
    _as(client, owner)
    client.post(_url("ticket-action", ticket.pk, "start"), {"start-note": "Ordering a new sign"})
    client.post(_url("ticket-action", ticket.pk, "resolve"), {"resolve-note": "Sign replaced"})
    assert _refresh(ticket).status == TicketStatus.RESOLVED
    client.logout()

    _as(client, approver)
    names = [
        e["name"] for e in client.get(_url("ticket-detail", ticket.pk)).context["action_forms"]
    ]
    assert "verify" in names
    response = client.post(_url("ticket-action", ticket.pk, "verify"), {"verify-note": "Seen"})
    assert response.status_code == 302
    assert _refresh(ticket).status == TicketStatus.VERIFIED
    body = client.get(response["Location"]).content.decode()
    assert "Verified" in body
    assert "Resolved (awaiting check) → Verified" in body


def test_ticket_officer_reopens_a_resolution(client, owner, approver, site, contract):
    ticket = _open(approver, site, title="Papan tanda CCTV hilang")
    with translation.override("en"):
        ticket_services.ticket_resolve(ticket=ticket, actor=owner, note="Sign replaced")
    _as(client, approver)
    response = client.post(
        _url("ticket-action", ticket.pk, "reopen"), {"reopen-reason": "The sign is still missing"}
    )
    assert response.status_code == 302
    assert _refresh(ticket).status == TicketStatus.REOPENED
