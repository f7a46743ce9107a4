"""The health checker's status changes (an outbox) become tickets, exactly once."""

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import translation

from contracts import ticket_services as services
from contracts.models import (
    MaintenanceTicket,
    OutboxCursor,
    TicketEvent,
    TicketSource,
    TicketStatus,
)
from partners.models import PartnerKind
from sites.models import CameraStatusChange, Outage, UpstreamIncident
from tests import factories

WIB = ZoneInfo("Asia/Jakarta")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=WIB)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def clock(db):
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False) as traveller:
        yield traveller


@pytest.fixture
def site(partner):
    return factories.make_active_site(partner, cameras=2)


@pytest.fixture
def camera(site):
    return site.cameras.order_by("id").first()


def _goes_down(camera, at=T0, *, old="up", outage=True):
    """What a sweep writes when a camera goes down: a status change and an open outage."""
    change = CameraStatusChange.objects.create(
        camera=camera, old_status=old, new_status="down", reason="timeout", created_at=at
    )
    row = Outage.objects.create(camera=camera, started_at=at, reason="timeout") if outage else None
    return change, row


def _comes_back(camera, at, status="up"):
    Outage.objects.filter(camera=camera, ended_at__isnull=True).update(ended_at=at)
    return CameraStatusChange.objects.create(
        camera=camera, old_status="down", new_status=status, reason="", created_at=at
    )


def _change(camera, new_status, at=T0, old="up"):
    return CameraStatusChange.objects.create(
        camera=camera, old_status=old, new_status=new_status, reason="", created_at=at
    )


# --- Down → one ticket per outage ----------------------------------------------------------


def test_health_down_opens_one_routed_ticket_per_outage(partner, site, camera, clock):
    maintainer = factories.make_partner()
    factories.make_contract(
        [(partner, ["host"]), (maintainer, ["maintainer"])],
        sites=[site],
        obligations={"acknowledge": 2, "repair": 12},
        responsible=maintainer,
    )
    change, outage = _goes_down(camera)
    assert services.tickets_from_health_changes() == 1
    ticket = MaintenanceTicket.objects.get()
    assert (ticket.source, ticket.camera, ticket.site) == (TicketSource.HEALTH, camera, site)
    assert (ticket.outage, ticket.status_change) == (outage, change)
    assert ticket.responsible == maintainer
    # The clocks run from the moment the camera went down, not from when the worker ran.
    assert ticket.opened_at == T0
    assert ticket.acknowledge_due_at == T0 + timedelta(hours=2)
    assert ticket.repair_due_at == T0 + timedelta(hours=12)
    assert TicketEvent.objects.get(ticket=ticket).actor is None
    assert OutboxCursor.objects.get(name="tickets").last_id == change.pk
    # Nothing new to read: nothing new opens.
    assert services.tickets_from_health_changes() == 0


def test_health_replay_after_cursor_reset_opens_nothing_new(camera, clock):
    _goes_down(camera)
    other = camera.site.cameras.exclude(pk=camera.pk).get()
    _goes_down(other, at=T0 + timedelta(seconds=5))
    assert services.tickets_from_health_changes() == 2
    OutboxCursor.objects.filter(name="tickets").update(last_id=0)
    assert services.tickets_from_health_changes() == 0
    assert MaintenanceTicket.objects.count() == 2


def test_health_down_without_outage_row_still_opens_once(camera, clock):
    _goes_down(camera, outage=False)
    assert services.tickets_from_health_changes() == 1
    OutboxCursor.objects.filter(name="tickets").update(last_id=0)
    assert services.tickets_from_health_changes() == 0


def test_health_maintenance_and_unknown_are_ignored(camera, clock):
    _change(camera, "maintenance")
    _change(camera, "unknown", at=T0 + timedelta(seconds=1), old="maintenance")
    assert services.tickets_from_health_changes() == 0
    assert not MaintenanceTicket.objects.exists()
    assert (
        OutboxCursor.objects.get(name="tickets").last_id
        == CameraStatusChange.objects.latest("pk").pk
    )


def test_health_down_while_a_ticket_is_worked_on_opens_no_second(camera, clock):
    services.ticket_open(
        actor=factories.officer(), site=camera.site, camera=camera, title="Reported by RW"
    )
    _goes_down(camera)
    assert services.tickets_from_health_changes() == 0
    assert MaintenanceTicket.objects.count() == 1


def test_health_limit_reads_in_id_order(site, clock):
    cameras = list(site.cameras.order_by("id"))
    first, _ = _goes_down(cameras[0])
    _goes_down(cameras[1], at=T0 + timedelta(seconds=1))
    assert services.tickets_from_health_changes(limit=1) == 1
    assert OutboxCursor.objects.get(name="tickets").last_id == first.pk
    assert MaintenanceTicket.objects.get().camera == cameras[0]
    assert services.tickets_from_health_changes(limit=1) == 1


# --- Back up → resolved and verified; down again → reopened --------------------------------


def test_health_camera_back_up_resolves_and_verifies(camera, clock):
    _goes_down(camera)
    services.tickets_from_health_changes()
    ticket = MaintenanceTicket.objects.get()
    services.ticket_acknowledge(ticket=ticket, actor=ticket.responsible.created_by)
    _comes_back(camera, T0 + timedelta(hours=1), status="degraded")
    assert services.tickets_from_health_changes() == 0
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.VERIFIED
    assert ticket.resolved_at == T0 + timedelta(hours=1)
    assert ticket.verified_at == T0 + timedelta(hours=1)
    system_steps = TicketEvent.objects.filter(ticket=ticket, actor__isnull=True).values_list(
        "new_status", flat=True
    )
    assert list(system_steps) == ["open", "resolved", "verified"]


def test_health_up_verifies_a_partner_resolution(camera, clock):
    _goes_down(camera)
    services.tickets_from_health_changes()
    ticket = MaintenanceTicket.objects.get()
    services.ticket_resolve(ticket=ticket, actor=ticket.responsible.created_by, note="New PSU")
    clock.shift(timedelta(minutes=10))
    _comes_back(camera, T0 + timedelta(minutes=12))
    services.tickets_from_health_changes()
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.VERIFIED
    assert ticket.resolved_at == T0 + timedelta(minutes=1)  # the partner's time is kept


def test_health_down_again_reopens_the_resolved_ticket(camera, clock):
    _goes_down(camera)
    services.tickets_from_health_changes()
    ticket = MaintenanceTicket.objects.get()
    services.ticket_resolve(ticket=ticket, actor=ticket.responsible.created_by, note="Reset")
    # It came back briefly (outage closed, but no check after the resolution yet) and died again.
    Outage.objects.filter(camera=camera).update(ended_at=T0 + timedelta(seconds=30))
    _goes_down(camera, at=T0 + timedelta(minutes=20))
    assert services.tickets_from_health_changes() == 0
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.REOPENED
    assert ticket.reopen_count == 1
    assert MaintenanceTicket.objects.count() == 1
    # Replaying everything changes nothing more.
    OutboxCursor.objects.filter(name="tickets").update(last_id=0)
    assert services.tickets_from_health_changes() == 0
    assert MaintenanceTicket.objects.count() == 1


def test_health_beat_tasks_run_the_services(camera, clock):
    from contracts import tasks

    _goes_down(camera)
    assert tasks.process_health_changes.apply().get() == 1
    assert tasks.process_health_changes.apply().get() == 0
    assert tasks.check_ticket_clocks.apply().get()["breaches"] == 0
    assert tasks.generate_inspection_tickets.apply().get() == 0


def test_health_down_read_after_a_later_resolution_opens_nothing(camera, clock):
    ticket = services.ticket_open(
        actor=factories.officer(), site=camera.site, camera=camera, title="Reported by RW"
    )
    _goes_down(camera, at=T0)  # written before the partner's resolution, read after it
    services.ticket_resolve(ticket=ticket, actor=ticket.responsible.created_by, note="Fixed")
    assert services.tickets_from_health_changes() == 0
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED  # the next health check settles it
    assert MaintenanceTicket.objects.count() == 1


# --- Upstream incidents ----------------------------------------------------------------------


def test_health_upstream_incident_opens_one_ticket_for_the_pole_owner(partner, clock):
    pole_owner = factories.make_partner(kind=PartnerKind.POLE_OWNER)
    pole = factories.make_pole(pole_owner, slots_total=4)
    first_site = factories.make_active_site(partner, pole=pole, cameras=2)
    second_site = factories.make_active_site(partner, pole=pole, cameras=1)
    incident = UpstreamIncident.objects.create(pole=pole, started_at=T0, cameras_affected=3)
    for camera in [*first_site.cameras.all(), *second_site.cameras.all()]:
        _change(camera, "upstream_down")
    assert services.tickets_from_health_changes() == 1
    ticket = MaintenanceTicket.objects.get()
    assert ticket.source == TicketSource.UPSTREAM
    assert (ticket.upstream_incident, ticket.responsible) == (incident, pole_owner)
    assert (ticket.site, ticket.camera) == (first_site, None)
    assert ticket.contract is None  # the pole owner is not a party to a contract here
    assert not Outage.objects.exists()
    # More upstream_down changes of the same incident: still one ticket.
    _change(first_site.cameras.first(), "upstream_down", at=T0 + timedelta(minutes=5))
    assert services.tickets_from_health_changes() == 0
    # The incident ends: its ticket is settled.
    UpstreamIncident.objects.filter(pk=incident.pk).update(ended_at=T0 + timedelta(hours=2))
    services.tickets_from_health_changes()
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.VERIFIED


def test_health_upstream_segment_incident_opens_nothing(partner, camera, clock):
    UpstreamIncident.objects.create(segment="10.1.2.0/24", started_at=T0, cameras_affected=3)
    _change(camera, "upstream_down")
    assert services.tickets_from_health_changes() == 0


# --- Concurrency: two workers on the same changes --------------------------------------------


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


def _fleet(cameras: int):
    host = factories.make_partner()
    site = factories.make_active_site(host, cameras=cameras)
    for index, camera in enumerate(site.cameras.order_by("id")):
        _goes_down(camera, at=T0 + timedelta(seconds=index))
    return site


@pytest.mark.usefixtures("areas_after_flush")
def test_health_concurrent_workers_open_each_ticket_once():
    _fleet(cameras=20)
    results = _race(services.tickets_from_health_changes, services.tickets_from_health_changes)
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 20
    assert MaintenanceTicket.objects.count() == 20
    assert MaintenanceTicket.objects.values("outage").distinct().count() == 20


@pytest.mark.usefixtures("areas_after_flush")
def test_health_unique_constraints_back_up_the_cursor_lock():
    """Even without the cursor lock (e.g. a replay racing a worker), one outage gets one
    ticket: the second insert waits on the first and is then refused by the constraint."""
    site = _fleet(cameras=1)
    change = CameraStatusChange.objects.get(camera__site=site)

    def worker():
        with transaction.atomic():
            return services._camera_down(CameraStatusChange.objects.get(pk=change.pk))

    results = _race(worker, worker)
    assert sorted(results) == [0, 1], results
    assert MaintenanceTicket.objects.count() == 1
