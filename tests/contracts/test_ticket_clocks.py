"""SLA clocks with a controlled clock: reminders, breaches, escalations, verification,
and the inspection schedule."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import translation

from contracts import ticket_services as services
from contracts.models import (
    Breach,
    BreachKind,
    MaintenanceTicket,
    Obligation,
    TicketSource,
    TicketStatus,
)
from partners.models import PartnerKind
from portal.roles import Role
from sites.models import CameraHealth, CameraStatusChange, Outage
from tests import factories

WIB = ZoneInfo("Asia/Jakarta")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=WIB)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def clock(db):
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def site(partner):
    return factories.make_active_site(partner, cameras=1)


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
def ticket(site, contract, clock):
    return services.ticket_open(actor=factories.officer(), site=site, title="Kamera mati")


def _check(clock, hours: float, **kwargs):
    clock.move_to(T0 + timedelta(hours=hours))
    return services.tickets_check_clocks(**kwargs)


def _mail(mailoutbox, subject_part: str) -> list:
    """Mails whose subject holds `subject_part`; recipients get them in their own language (the
    factories' users keep the default, Bahasa Indonesia)."""
    return [mail for mail in mailoutbox if subject_part in mail.subject]


# --- Reminders ------------------------------------------------------------------------------


def test_clock_reminder_once_at_the_configured_share(
    ticket, maintainer, clock, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.TICKET_REMINDER_AT = 0.75
    mailoutbox.clear()
    assert _check(clock, 2.9)["reminders"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert _check(clock, 3)["reminders"] == 1  # 75% of the 4-hour acknowledge clock
        assert _check(clock, 3.5)["reminders"] == 0
    reminders = _mail(mailoutbox, "segera konfirmasi terima tiket")
    assert [m.to for m in reminders] == [[maintainer.created_by.email]]
    ticket.refresh_from_db()
    assert ticket.acknowledge_reminded_at == T0 + timedelta(hours=3)
    assert ticket.repair_reminded_at is None
    with django_capture_on_commit_callbacks(execute=True):
        assert _check(clock, 18)["reminders"] == 1  # 75% of the 24-hour repair clock
        assert _check(clock, 19)["reminders"] == 0
    assert len(_mail(mailoutbox, "waktu perbaikan tiket")) == 1


def test_clock_no_reminder_once_the_clock_is_met(ticket, maintainer, clock):
    clock.move_to(T0 + timedelta(hours=1))
    services.ticket_acknowledge(ticket=ticket, actor=maintainer.created_by)
    assert _check(clock, 3.5)["reminders"] == 0
    ticket.refresh_from_db()
    assert ticket.acknowledge_reminded_at is None


# --- Breaches and escalation -----------------------------------------------------------------


def test_clock_missed_acknowledge_is_one_breach_with_evidence_and_one_escalation(
    ticket, contract, maintainer, clock, mailoutbox, django_capture_on_commit_callbacks
):
    city = factories.officer(Role.OFFICER_REVIEWER)
    sudin_here = factories.sudin_officer("31.71")
    sudin_elsewhere = factories.sudin_officer("31.72")
    mailoutbox.clear()
    assert _check(clock, 3.99)["breaches"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        counts = _check(clock, 4)
        again = _check(clock, 4.5)
    assert (counts["breaches"], counts["escalations"]) == (1, 1)
    assert (again["breaches"], again["escalations"]) == (0, 0)
    breach = Breach.objects.get()
    assert breach.kind == BreachKind.ACKNOWLEDGE_LATE
    assert (breach.contract, breach.ticket, breach.responsible) == (contract, ticket, maintainer)
    assert breach.obligation == Obligation.objects.get(contract=contract, kind="acknowledge")
    assert breach.due_at == T0 + timedelta(hours=4)
    assert breach.detected_at == T0 + timedelta(hours=4)
    assert breach.evidence["opened_at"] == T0.isoformat()
    assert breach.evidence["due_at"] == (T0 + timedelta(hours=4)).isoformat()
    assert breach.evidence["acknowledged_at"] is None
    assert breach.evidence["outage"] is None
    escalations = _mail(mailoutbox, "Eskalasi:")
    recipients = {address for mail in escalations for address in mail.to}
    assert {city.email, sudin_here.email} <= recipients
    assert sudin_elsewhere.email not in recipients
    assert maintainer.created_by.email not in recipients
    assert maintainer.name in escalations[0].subject


def test_clock_acknowledged_late_between_runs_is_still_a_breach(ticket, maintainer, clock):
    clock.move_to(T0 + timedelta(hours=4, minutes=1))
    services.ticket_acknowledge(ticket=ticket, actor=maintainer.created_by)
    counts = _check(clock, 4.1)
    # Recorded (the clock was missed) but nobody needs chasing any more.
    assert (counts["breaches"], counts["escalations"]) == (1, 0)
    breach = Breach.objects.get()
    assert breach.evidence["acknowledged_at"] == (T0 + timedelta(hours=4, minutes=1)).isoformat()


def test_clock_met_in_time_leaves_no_breach(ticket, maintainer, clock):
    clock.move_to(T0 + timedelta(hours=3))
    services.ticket_acknowledge(ticket=ticket, actor=maintainer.created_by)
    clock.move_to(T0 + timedelta(hours=20))
    services.ticket_resolve(ticket=ticket, actor=maintainer.created_by, note="Done")
    counts = _check(clock, 30)
    assert counts["breaches"] == counts["escalations"] == 0
    assert not Breach.objects.exists()


def test_clock_missed_repair_records_the_outage(partner, site, contract, maintainer, clock):
    camera = site.cameras.get()
    CameraStatusChange.objects.create(
        camera=camera, old_status="up", new_status="down", reason="timeout", created_at=T0
    )
    outage = Outage.objects.create(camera=camera, started_at=T0)
    services.tickets_from_health_changes()
    ticket = MaintenanceTicket.objects.get()
    clock.move_to(T0 + timedelta(hours=1))
    services.ticket_acknowledge(ticket=ticket, actor=maintainer.created_by)
    counts = _check(clock, 24)
    assert (counts["breaches"], counts["escalations"]) == (1, 1)
    breach = Breach.objects.get()
    assert (breach.kind, breach.camera) == (BreachKind.REPAIR_LATE, camera)
    assert breach.obligation.kind == "repair"
    assert breach.evidence["resolved_at"] is None
    assert breach.evidence["outage"] == {
        "id": outage.pk,
        "started_at": T0.isoformat(),
        "ended_at": None,
    }
    # A reopened ticket does not breach the same clock twice.
    _check(clock, 48)
    assert Breach.objects.count() == 1


def test_clock_cancelled_or_uncontracted_tickets_never_breach(ticket, site, clock):
    services.ticket_cancel(ticket=ticket, actor=factories.officer(), reason="Duplicate")
    bare_site = factories.make_active_site(factories.make_partner())
    services.ticket_open(actor=factories.officer(), site=bare_site, title="No contract")
    counts = _check(clock, 100)
    assert counts == {
        "reminders": 0,
        "breaches": 0,
        "escalations": 0,
        "verified": 0,
        "reopened": 0,
    }


# --- Verification by the next health check ---------------------------------------------------


def _resolved_camera_ticket(site, clock):
    camera = site.cameras.get()
    ticket = services.ticket_open(
        actor=factories.officer(), site=site, camera=camera, title="Kamera mati"
    )
    clock.move_to(T0 + timedelta(hours=2))
    services.ticket_resolve(ticket=ticket, actor=ticket.responsible.created_by, note="Fixed")
    return ticket, camera


def test_clock_next_health_check_verifies_a_working_camera(site, contract, clock):
    ticket, camera = _resolved_camera_ticket(site, clock)
    health = CameraHealth.objects.create(
        camera=camera, status="up", checked_at=T0 + timedelta(hours=1)
    )
    assert _check(clock, 2.1)["verified"] == 0  # that check was before the resolution
    CameraHealth.objects.filter(pk=health.pk).update(checked_at=T0 + timedelta(hours=2, minutes=5))
    assert _check(clock, 2.2)["verified"] == 1
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.VERIFIED
    assert ticket.verified_at == T0 + timedelta(hours=2, minutes=5)


def test_clock_next_health_check_reopens_a_dead_camera(site, contract, clock):
    ticket, camera = _resolved_camera_ticket(site, clock)
    CameraHealth.objects.create(
        camera=camera, status="down", checked_at=T0 + timedelta(hours=2, minutes=5)
    )
    counts = _check(clock, 2.2)
    assert (counts["reopened"], counts["verified"]) == (1, 0)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.reopen_count, ticket.resolved_at) == (
        TicketStatus.REOPENED,
        1,
        None,
    )
    assert _check(clock, 2.3)["reopened"] == 0


def test_clock_health_check_in_maintenance_decides_nothing(site, contract, clock):
    ticket, camera = _resolved_camera_ticket(site, clock)
    CameraHealth.objects.create(
        camera=camera, status="maintenance", checked_at=T0 + timedelta(hours=3)
    )
    _check(clock, 3.1)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED


# --- Inspections -------------------------------------------------------------------------------


@pytest.fixture
def inspected(partner, maintainer, clock):
    sites = [factories.make_active_site(partner, cameras=0) for _ in range(2)]
    contract = factories.make_contract(
        [(partner, ["host"]), (maintainer, ["maintainer"])],
        sites=sites,
        obligations={"inspection": 30},
        responsible=maintainer,
    )
    return contract, sites


def test_inspection_tickets_open_per_site_on_schedule(inspected, maintainer, clock):
    contract, sites = inspected
    today = date(2026, 3, 2)
    assert services.inspection_tickets_generate(today=today) == 2
    tickets = MaintenanceTicket.objects.filter(source=TicketSource.INSPECTION)
    assert {t.site for t in tickets} == set(sites)
    ticket = tickets.first()
    assert (ticket.responsible, ticket.contract) == (maintainer, contract)
    assert ticket.obligation.kind == "inspection"
    assert ticket.repair_due_at == T0 + timedelta(days=30)
    assert ticket.acknowledge_due_at is None
    # Run again the same day: nothing new.
    assert services.inspection_tickets_generate(today=today) == 0
    # Done (verified) 10 days later: the next one waits until 30 days after the last opened.
    for done in tickets:
        services.ticket_resolve(ticket=done, actor=maintainer.created_by, note="Inspected")
        services.ticket_verify(ticket=done, actor=factories.officer())
    clock.move_to(T0 + timedelta(days=29))
    assert services.inspection_tickets_generate(today=today + timedelta(days=29)) == 0
    clock.move_to(T0 + timedelta(days=30))
    assert services.inspection_tickets_generate(today=today + timedelta(days=30)) == 2


def test_inspection_not_repeated_while_one_is_open(inspected, clock):
    today = date(2026, 3, 2)
    services.inspection_tickets_generate(today=today)
    clock.move_to(T0 + timedelta(days=45))
    assert services.inspection_tickets_generate(today=today + timedelta(days=45)) == 0
    assert MaintenanceTicket.objects.count() == 2


def test_inspection_only_for_listed_sites_and_active_contracts(partner, maintainer, clock):
    listed, unlisted = (factories.make_active_site(partner, cameras=0) for _ in range(2))
    contract = factories.make_contract(
        [(partner, ["host"]), (maintainer, ["maintainer"])],
        sites=[listed, unlisted],
        obligations={"inspection": 7},
    )
    Obligation.objects.get(contract=contract).sites.set([listed])
    draft_site = factories.make_active_site(partner, cameras=0)
    factories.make_contract(
        [(partner, ["host"])], sites=[draft_site], status="draft", obligations={"inspection": 7}
    )
    assert services.inspection_tickets_generate(today=date(2026, 3, 2)) == 1
    assert MaintenanceTicket.objects.get().site == listed


def test_inspection_missed_is_a_breach(inspected, clock):
    services.inspection_tickets_generate(today=date(2026, 3, 2))
    counts = _check(clock, 30 * 24)
    assert counts["breaches"] == 2
    assert set(Breach.objects.values_list("kind", flat=True)) == {BreachKind.INSPECTION_MISSED}
    assert Breach.objects.first().obligation.kind == "inspection"
