import io
import re
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.http import Http404
from django.utils import translation
from PIL import Image

from contracts import ticket_selectors as selectors
from contracts import ticket_services as services
from contracts.models import MaintenanceTicket, TicketEvent, TicketEvidence, TicketStatus
from partners.models import MemberRole, PartnerKind
from partners.services import membership_add
from portal.errors import Conflict, PermissionDenied, ServiceError
from portal.roles import Role
from sites.models import Camera, Site, SiteStatus
from tests import factories

WIB = ZoneInfo("Asia/Jakarta")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=WIB)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


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
def ticket(site, contract, approver, clock):
    return services.ticket_open(actor=approver, site=site, title="Kamera mati")


def _member(partner, role=MemberRole.TECHNICIAN):
    user = factories.UserFactory()
    membership_add(partner=partner, user=user, role=role)
    return user


def _png(name="bukti.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


# --- Opening and routing ------------------------------------------------------------------


def test_ticket_open_routes_to_the_repair_obligation_and_sets_clocks(
    ticket, maintainer, contract, approver
):
    assert ticket.responsible == maintainer
    assert ticket.contract == contract
    assert ticket.source == "officer"
    assert ticket.status == TicketStatus.OPEN
    assert ticket.opened_at == T0
    assert ticket.acknowledge_due_at == T0 + timedelta(hours=4)
    assert ticket.repair_due_at == T0 + timedelta(hours=24)
    assert re.fullmatch(r"TKT-2026-\d{6}", ticket.reference)
    assert ticket.reference == f"TKT-2026-{ticket.pk:06d}"
    event = TicketEvent.objects.get(ticket=ticket)
    assert (event.actor, event.old_status, event.new_status) == (approver, "", "open")


def test_ticket_open_falls_back_to_the_maintainer(partner, maintainer, site, approver, clock):
    # The repair obligation is missing: the contract's maintainer answers.
    factories.make_contract(
        [(partner, ["host"]), (maintainer, ["maintainer"])],
        sites=[site],
        obligations={"acknowledge": 2},
    )
    ticket = services.ticket_open(actor=approver, site=site, title="Lensa kotor")
    assert ticket.responsible == maintainer
    assert ticket.acknowledge_due_at == T0 + timedelta(hours=2)
    assert ticket.repair_due_at is None


def test_ticket_open_without_contract_goes_to_the_host_without_clocks(partner, site, approver):
    ticket = services.ticket_open(actor=approver, site=site, title="Kabel putus")
    assert ticket.responsible == partner
    assert ticket.contract is None
    assert (ticket.acknowledge_due_at, ticket.repair_due_at) == (None, None)


def test_ticket_open_references_are_unique(site, approver):
    first = services.ticket_open(actor=approver, site=site, title="Satu")
    second = services.ticket_open(actor=approver, site=site, title="Dua")
    assert first.reference != second.reference
    assert MaintenanceTicket.objects.filter(reference__startswith="TMP-").count() == 0


def test_ticket_open_emails_the_responsible_partners_members(
    site, contract, maintainer, approver, mailoutbox, django_capture_on_commit_callbacks
):
    technician = _member(maintainer)
    technician.language = "en"
    technician.save()
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.ticket_open(actor=approver, site=site, title="Kamera mati")
    recipients = sorted(address for mail in mailoutbox for address in mail.to)
    assert recipients == sorted([maintainer.created_by.email, technician.email])
    english = next(mail for mail in mailoutbox if mail.to == [technician.email])
    assert ticket.reference in english.subject
    assert "New maintenance ticket" in english.subject
    assert "Acknowledge by:" in english.body


def test_ticket_open_source_depends_on_who_opens(partner, site, owner, approver):
    camera = site.cameras.first()
    assert services.ticket_open(actor=approver, site=site, title="a").source == "officer"
    resident = services.ticket_open(
        actor=approver, site=site, title="b", resident_report="LAP-0001"
    )
    assert (resident.source, resident.resident_report) == ("resident", "LAP-0001")
    operator = factories.officer(Role.OPERATOR)
    assert services.ticket_open(actor=operator, site=site, title="c").source == "officer"
    assert services.ticket_open(actor=owner, site=site, title="d").source == "partner"
    sudin = factories.sudin_officer("31.71")
    assert services.ticket_open(actor=sudin, site=site, title="e", camera=camera).camera == camera


def test_ticket_open_by_the_camera_owner(partner, site):
    camera_owner = factories.make_partner()
    camera = site.cameras.first()
    Camera.objects.filter(pk=camera.pk).update(owner=camera_owner)
    camera.refresh_from_db()
    ticket = services.ticket_open(
        actor=camera_owner.created_by, site=site, camera=camera, title="Kamera saya"
    )
    assert ticket.source == "partner"
    with pytest.raises(PermissionDenied):
        services.ticket_open(actor=camera_owner.created_by, site=site, title="Tanpa kamera")


def test_ticket_open_refused_to_outsiders(site, other_owner):
    with pytest.raises(PermissionDenied):
        services.ticket_open(actor=other_owner, site=site, title="Bukan milik saya")
    with pytest.raises(PermissionDenied):
        services.ticket_open(actor=factories.sudin_officer("31.72"), site=site, title="Luar kota")
    assert not MaintenanceTicket.objects.exists()


def test_ticket_open_checks_its_input(partner, site, approver):
    other_site = factories.make_active_site(partner)
    with pytest.raises(ServiceError) as error:
        services.ticket_open(
            actor=approver, site=site, title="x", camera=other_site.cameras.first()
        )
    assert error.value.field == "camera"
    with pytest.raises(ServiceError) as error:
        services.ticket_open(actor=approver, site=site, title="  ")
    assert error.value.field == "title"
    proposed = factories.make_site(partner)
    with pytest.raises(ServiceError) as error:
        services.ticket_open(actor=approver, site=proposed, title="Belum dipasang")
    assert error.value.field == "site"


# --- Lifecycle ----------------------------------------------------------------------------


def test_ticket_full_lifecycle_by_the_partner_side(ticket, maintainer, clock):
    technician = _member(maintainer)
    clock.shift(timedelta(hours=1))
    services.ticket_acknowledge(ticket=ticket, actor=technician, note="On my way")
    assert ticket.status == TicketStatus.ACKNOWLEDGED
    assert ticket.acknowledged_at == T0 + timedelta(hours=1)
    services.ticket_start_work(ticket=ticket, actor=technician)
    clock.shift(timedelta(hours=2))
    services.ticket_resolve(ticket=ticket, actor=technician, note="Replaced PSU", photo=_png())
    assert ticket.status == TicketStatus.RESOLVED
    assert ticket.resolved_at == T0 + timedelta(hours=3)
    evidence = TicketEvidence.objects.get(ticket=ticket)
    assert (evidence.extension, evidence.uploaded_by, evidence.note) == (
        "png",
        technician,
        "Replaced PSU",
    )
    assert evidence.file.name.endswith(".png")
    steps = list(
        TicketEvent.objects.filter(ticket=ticket).values_list("old_status", "new_status", "reason")
    )
    assert steps == [
        ("", "open", ""),
        ("open", "acknowledged", "On my way"),
        ("acknowledged", "in_progress", ""),
        ("in_progress", "resolved", "Replaced PSU"),
    ]


def test_ticket_start_or_resolve_acknowledges_too(ticket, maintainer, clock):
    clock.shift(timedelta(minutes=30))
    services.ticket_resolve(ticket=ticket, actor=maintainer.created_by, note="Reset")
    assert ticket.acknowledged_at == T0 + timedelta(minutes=30)


def test_ticket_resolve_needs_a_note_and_a_real_photo(ticket, maintainer):
    with pytest.raises(ServiceError) as error:
        services.ticket_resolve(ticket=ticket, actor=maintainer.created_by, note=" ")
    assert error.value.field == "note"
    fake = SimpleUploadedFile("foto.jpg", b"not an image at all", content_type="image/jpeg")
    with pytest.raises(ServiceError) as error:
        services.ticket_resolve(ticket=ticket, actor=maintainer.created_by, note="ok", photo=fake)
    assert error.value.field == "photo"
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN


def test_ticket_steps_refused_to_others(ticket, owner, other_owner):
    # The host is not the responsible party here (the maintainer is).
    for user in (owner, other_owner, factories.officer(Role.OPERATOR)):
        with pytest.raises(PermissionDenied):
            services.ticket_acknowledge(ticket=ticket, actor=user)
    with pytest.raises(PermissionDenied):
        services.ticket_acknowledge(ticket=ticket, actor=factories.sudin_officer("31.72"))
    services.ticket_acknowledge(ticket=ticket, actor=factories.sudin_officer("31.71"))


def test_ticket_wrong_order_is_a_conflict(ticket, maintainer):
    services.ticket_acknowledge(ticket=ticket, actor=maintainer.created_by)
    with pytest.raises(Conflict):
        services.ticket_acknowledge(ticket=ticket, actor=maintainer.created_by)
    stale = MaintenanceTicket.objects.get(pk=ticket.pk)
    services.ticket_resolve(ticket=ticket, actor=maintainer.created_by, note="done")
    with pytest.raises(Conflict):
        services.ticket_start_work(ticket=stale, actor=maintainer.created_by)


def test_ticket_verify_only_by_officers_and_only_without_camera(ticket, maintainer, approver):
    services.ticket_resolve(ticket=ticket, actor=maintainer.created_by, note="Fixed")
    with pytest.raises(PermissionDenied):
        services.ticket_verify(ticket=ticket, actor=maintainer.created_by)
    services.ticket_verify(ticket=ticket, actor=approver, note="Checked on site")
    assert ticket.status == TicketStatus.VERIFIED
    assert ticket.verified_at is not None


def test_ticket_verify_refuses_camera_tickets(site, contract, maintainer, approver):
    ticket = services.ticket_open(
        actor=approver, site=site, camera=site.cameras.first(), title="Kamera mati"
    )
    services.ticket_resolve(ticket=ticket, actor=maintainer.created_by, note="Fixed")
    with pytest.raises(ServiceError) as error:
        services.ticket_verify(ticket=ticket, actor=approver)
    assert error.value.code == "verified_by_health_check"


def test_ticket_reopen_by_an_officer_with_a_reason(ticket, maintainer, approver):
    services.ticket_resolve(ticket=ticket, actor=maintainer.created_by, note="Fixed")
    with pytest.raises(PermissionDenied):
        services.ticket_reopen(ticket=ticket, actor=maintainer.created_by, reason="no")
    with pytest.raises(ServiceError):
        services.ticket_reopen(ticket=ticket, actor=approver, reason="")
    services.ticket_reopen(ticket=ticket, actor=approver, reason="Still dark at night")
    assert ticket.status == TicketStatus.REOPENED
    assert (ticket.reopen_count, ticket.resolved_at) == (1, None)
    services.ticket_start_work(ticket=ticket, actor=maintainer.created_by)
    assert ticket.status == TicketStatus.IN_PROGRESS


def test_ticket_cancel_by_an_officer_with_a_reason(ticket, maintainer, approver):
    with pytest.raises(PermissionDenied):
        services.ticket_cancel(ticket=ticket, actor=maintainer.created_by, reason="dup")
    with pytest.raises(ServiceError):
        services.ticket_cancel(ticket=ticket, actor=approver, reason=" ")
    services.ticket_cancel(ticket=ticket, actor=approver, reason="Duplicate")
    assert ticket.status == TicketStatus.CANCELLED
    with pytest.raises(Conflict):
        services.ticket_acknowledge(ticket=ticket, actor=maintainer.created_by)


def test_ticket_add_note_by_partner_officer_and_operator(ticket, maintainer, approver, owner):
    operator = factories.officer(Role.OPERATOR)
    for user in (maintainer.created_by, approver, operator):
        event = services.ticket_add_note(ticket=ticket, actor=user, note=f"note by {user}")
        assert (event.old_status, event.new_status) == ("open", "open")
    services.ticket_add_note(ticket=ticket, actor=approver, note="photo", photo=_png())
    assert TicketEvidence.objects.filter(ticket=ticket).count() == 1
    with pytest.raises(PermissionDenied):
        services.ticket_add_note(ticket=ticket, actor=owner, note="host is not responsible")
    with pytest.raises(ServiceError):
        services.ticket_add_note(ticket=ticket, actor=approver, note="")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN


# --- Selectors ----------------------------------------------------------------------------


def test_ticket_list_is_scoped(ticket, maintainer, owner, other_owner):
    assert list(selectors.ticket_list(user=maintainer.created_by)) == [ticket]
    # The site's host follows work at its site.
    assert list(selectors.ticket_list(user=owner)) == [ticket]
    assert list(selectors.ticket_list(user=other_owner)) == []
    assert list(selectors.ticket_list(user=factories.sudin_officer("31.71"))) == [ticket]
    assert list(selectors.ticket_list(user=factories.sudin_officer("31.72"))) == []
    assert list(selectors.ticket_list(user=factories.officer(Role.OPERATOR))) == [ticket]
    with pytest.raises(Http404):
        selectors.ticket_get(user=other_owner, pk=ticket.pk)
    assert selectors.ticket_get(user=maintainer.created_by, pk=ticket.pk) == ticket


def test_ticket_list_filters(ticket, site, maintainer, approver, contract, clock):
    other = services.ticket_open(actor=approver, site=site, title="Tiang miring")
    services.ticket_cancel(ticket=other, actor=approver, reason="Duplicate")
    kota = site.kelurahan.parent.parent_id

    def pks(**filters):
        return [t.pk for t in selectors.ticket_list(user=approver, filters=filters)]

    assert pks(status="active") == [ticket.pk]
    assert pks(status="cancelled") == [other.pk]
    assert pks(q="miring") == [other.pk]
    assert pks(q=ticket.reference) == [ticket.pk]
    assert pks(responsible=maintainer.pk, source="officer") == [other.pk, ticket.pk]
    assert pks(kota=kota, contract=contract.pk) == [other.pk, ticket.pk]
    assert pks(overdue=True) == []
    assert pks(responsible="not-a-number") == []
    clock.shift(timedelta(hours=5))
    assert pks(overdue="true") == [ticket.pk]


def test_ticket_clocks_states(ticket, maintainer, clock):
    clocks = {c["name"]: c for c in selectors.ticket_clocks(ticket=ticket)}
    assert clocks["acknowledge"]["state"] == "running"
    assert clocks["acknowledge"]["remaining_seconds"] == 4 * 3600
    clock.shift(timedelta(hours=5))
    clocks = {c["name"]: c for c in selectors.ticket_clocks(ticket=ticket)}
    assert clocks["acknowledge"]["state"] == "missed"
    assert clocks["acknowledge"]["remaining_seconds"] == -3600
    services.ticket_resolve(ticket=ticket, actor=maintainer.created_by, note="Done")
    clocks = {c["name"]: c for c in selectors.ticket_clocks(ticket=ticket)}
    assert (clocks["acknowledge"]["state"], clocks["repair"]["state"]) == ("missed", "met")
    assert clocks["repair"]["done_at"] == T0 + timedelta(hours=5)


def test_ticket_clocks_none_without_contract_or_when_cancelled(site, approver, ticket):
    bare = services.ticket_open(
        actor=approver, site=factories.make_active_site(factories.make_partner()), title="x"
    )
    assert {c["state"] for c in selectors.ticket_clocks(ticket=bare)} == {"none"}
    services.ticket_cancel(ticket=ticket, actor=approver, reason="Duplicate")
    assert {c["state"] for c in selectors.ticket_clocks(ticket=ticket)} == {"none"}


def test_ticket_actions_by_role(ticket, maintainer, approver, owner, clock):
    partner_user = maintainer.created_by
    operator = factories.officer(Role.OPERATOR)
    assert selectors.ticket_actions(ticket=ticket, user=partner_user) == [
        "acknowledge",
        "start",
        "resolve",
        "note",
    ]
    assert selectors.ticket_actions(ticket=ticket, user=approver) == [
        "acknowledge",
        "start",
        "resolve",
        "note",
        "cancel",
    ]
    assert selectors.ticket_actions(ticket=ticket, user=operator) == ["note"]
    assert selectors.ticket_actions(ticket=ticket, user=owner) == []
    services.ticket_resolve(ticket=ticket, actor=partner_user, note="Fixed")
    assert selectors.ticket_actions(ticket=ticket, user=partner_user) == ["note"]
    assert selectors.ticket_actions(ticket=ticket, user=approver) == ["note", "verify", "reopen"]


def test_tickets_due_lists_running_clocks_in_the_window(ticket, site, approver, clock):
    later = services.ticket_open(
        actor=approver, site=factories.make_active_site(factories.make_partner()), title="x"
    )
    due = list(selectors.tickets_due(user=approver, within_hours=6))
    assert due == [ticket]
    assert due[0].next_due_at == T0 + timedelta(hours=4)
    assert list(selectors.tickets_due(user=approver, within_hours=1)) == []
    assert later not in selectors.tickets_due(user=approver, within_hours=1000)


def test_ticket_site_choices(partner, site, owner, other_owner, approver):
    hosted_elsewhere = factories.make_active_site(factories.make_partner())
    Camera.objects.create(
        site=hosted_elsewhere,
        owner=partner,
        vendor="Axis",
        model="P1",
        serial="CHOICE-1",
        resolution="1920x1080",
        created_by=owner,
    )
    proposed = factories.make_site(partner)
    assert set(selectors.ticket_site_choices(user=owner)) == {site, hosted_elsewhere}
    assert list(selectors.ticket_site_choices(user=other_owner)) == []
    officer_sites = set(selectors.ticket_site_choices(user=approver))
    assert {site, hosted_elsewhere} <= officer_sites
    assert proposed not in officer_sites
    assert Site.objects.get(pk=proposed.pk).status == SiteStatus.PROPOSED
    assert list(selectors.ticket_site_choices(user=factories.sudin_officer("31.72"))) == []


# --- Concurrency (real row locks, one connection per thread) ------------------------------


def _race(*calls):
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - the outcome is what the test inspects
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.mark.usefixtures("areas_after_flush")
def test_ticket_concurrent_acknowledge_exactly_one_wins():
    host = factories.make_partner()
    site = factories.make_active_site(host)
    ticket = services.ticket_open(actor=factories.officer(), site=site, title="Race")
    members = [host.created_by, _member(host)]
    results = _race(
        *(
            lambda m=m: services.ticket_acknowledge(
                ticket=MaintenanceTicket.objects.get(pk=ticket.pk), actor=m
            )
            for m in members
        )
    )
    winners = [r for r in results if isinstance(r, MaintenanceTicket)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert (len(winners), len(losers)) == (1, 1), results
    assert TicketEvent.objects.filter(ticket=ticket, new_status="acknowledged").count() == 1
