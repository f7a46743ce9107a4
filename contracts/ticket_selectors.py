"""Reads of maintenance tickets: lists (scoped), one ticket, its history, evidence, clocks and
what the user may do with it now.

A partner sees the tickets routed to it; officers see every ticket (a Sudin officer those in
their kota); operators see everything, read-only apart from notes.
"""

from datetime import datetime, timedelta

from django.db.models import Case, DateTimeField, F, Q, QuerySet, When
from django.db.models.functions import Least
from django.utils import timezone

from contracts.models import (
    ACTIVE_TICKET_STATUSES,
    TICKET_TRANSITIONS,
    MaintenanceTicket,
    TicketEvent,
    TicketEvidence,
    TicketStatus,
)
from contracts.ticket_services import (
    TICKETABLE_SITE_STATUSES,
    is_partner_side,
    is_ticket_officer,
)
from portal.permissions import get_scoped_or_404, partner_ids_for, scope_queryset
from portal.roles import is_officer, is_operator
from sites.models import Site
from sites.selectors import kelurahan_ids_in_kota

_ACTIVE = [str(status) for status in ACTIVE_TICKET_STATUSES]


def _base() -> QuerySet[MaintenanceTicket]:
    return MaintenanceTicket.objects.select_related(
        "site__kelurahan__parent",
        "camera",
        "responsible",
        "contract",
    )


def _running_past(moment: datetime) -> Q:
    """A clock still running whose due time is at or before `moment`."""
    return Q(status__in=_ACTIVE) & (
        Q(acknowledge_due_at__lte=moment, acknowledged_at__isnull=True)
        | Q(repair_due_at__lte=moment, resolved_at__isnull=True)
    )


def _id(value) -> int:
    """An id filter from a query string; a malformed one matches nothing rather than failing."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _truthy(value) -> bool:
    return value is True or str(value).lower() in {"1", "true", "yes", "on"}


def ticket_list(*, user, filters: dict | None = None) -> QuerySet[MaintenanceTicket]:
    """Tickets `user` may see, newest first, narrowed by `filters`: status (one status, or
    "active" for those still being worked on), source, responsible (partner id), kota (Area id),
    contract (id), overdue (true: a running clock is past due), q (reference or title)."""
    tickets = scope_queryset(user, _base())
    filters = filters or {}
    status = filters.get("status")
    if status == "active":
        tickets = tickets.filter(status__in=_ACTIVE)
    elif status:
        tickets = tickets.filter(status=status)
    if filters.get("source"):
        tickets = tickets.filter(source=filters["source"])
    if filters.get("responsible"):
        tickets = tickets.filter(responsible_id=_id(filters["responsible"]))
    if filters.get("kota"):
        kelurahan = kelurahan_ids_in_kota(kota_id=_id(filters["kota"]))
        tickets = tickets.filter(site__kelurahan_id__in=kelurahan)
    if filters.get("contract"):
        tickets = tickets.filter(contract_id=_id(filters["contract"]))
    if _truthy(filters.get("overdue")):
        tickets = tickets.filter(_running_past(timezone.now()))
    if filters.get("q"):
        query = str(filters["q"]).strip()
        tickets = tickets.filter(Q(reference__icontains=query) | Q(title__icontains=query))
    return tickets.order_by("-opened_at", "-id")


def ticket_get(*, user, pk: int) -> MaintenanceTicket:
    """One ticket `user` may see; 404 otherwise (another partner's ticket looks missing)."""
    return get_scoped_or_404(
        user, _base().select_related("opened_by", "outage", "upstream_incident__pole"), pk=pk
    )


def ticket_events(*, ticket: MaintenanceTicket) -> QuerySet[TicketEvent]:
    """The ticket's history, oldest first."""
    return (
        TicketEvent.objects.filter(ticket=ticket)
        .select_related("actor")
        .order_by("created_at", "id")
    )


def ticket_evidence(*, ticket: MaintenanceTicket) -> QuerySet[TicketEvidence]:
    return TicketEvidence.objects.filter(ticket=ticket).select_related("uploaded_by")


def _clock(ticket, name, due, done, now) -> dict:
    if due is None:
        state, remaining = "none", None
    elif done is not None:
        state, remaining = ("met" if done <= due else "missed"), None
    elif ticket.status not in ACTIVE_TICKET_STATUSES:
        # Cancelled, or settled by the system before anyone acted: the clock just stopped.
        state, remaining = "none", None
    else:
        remaining = int((due - now).total_seconds())
        state = "running" if remaining > 0 else "missed"
    return {
        "name": name,
        "due_at": due,
        "done_at": done,
        "state": state,
        # Negative while a missed clock is still not met: how long it is overdue.
        "remaining_seconds": remaining,
    }


def ticket_clocks(*, ticket: MaintenanceTicket, now: datetime | None = None) -> list[dict]:
    """The acknowledge and repair clocks: due time, when they were met, and their state
    ("none", "running", "met" or "missed"). No queries."""
    now = now or timezone.now()
    return [
        _clock(ticket, "acknowledge", ticket.acknowledge_due_at, ticket.acknowledged_at, now),
        _clock(ticket, "repair", ticket.repair_due_at, ticket.resolved_at, now),
    ]


_WORK_ACTIONS = {
    "acknowledge": TicketStatus.ACKNOWLEDGED,
    "start": TicketStatus.IN_PROGRESS,
    "resolve": TicketStatus.RESOLVED,
}


def ticket_actions(*, ticket: MaintenanceTicket, user) -> list[str]:
    """What `user` may do to the ticket now, in the order pages show them: any of
    "acknowledge", "start", "resolve", "note", "verify", "reopen", "cancel"."""
    if not user.is_authenticated:
        return []
    allowed = TICKET_TRANSITIONS.get(ticket.status, set())
    officer = is_ticket_officer(user, ticket)
    worker = officer or is_partner_side(user, ticket)
    actions = []
    if worker:
        actions += [name for name, to in _WORK_ACTIONS.items() if to in allowed]
    if worker or is_operator(user):
        actions.append("note")
    if officer:
        if TicketStatus.VERIFIED in allowed and ticket.camera_id is None:
            actions.append("verify")
        if TicketStatus.REOPENED in allowed:
            actions.append("reopen")
        if TicketStatus.CANCELLED in allowed:
            actions.append("cancel")
    return actions


def tickets_due(*, user, within_hours: int = 24) -> QuerySet[MaintenanceTicket]:
    """Tickets still being worked on whose next running clock is due within the window (or
    already missed), soonest first; `next_due_at` is annotated."""
    horizon = timezone.now() + timedelta(hours=within_hours)
    next_due = Least(
        Case(
            When(acknowledged_at__isnull=True, then=F("acknowledge_due_at")),
            output_field=DateTimeField(),
        ),
        Case(
            When(resolved_at__isnull=True, then=F("repair_due_at")),
            output_field=DateTimeField(),
        ),
    )
    return (
        scope_queryset(user, _base())
        .filter(_running_past(horizon))
        .annotate(next_due_at=next_due)
        .order_by("next_due_at", "id")
    )


def ticket_site_choices(*, user) -> QuerySet[Site]:
    """Sites `user` may open a ticket on: every (kota's) site for officers and operators; for
    partner members, the sites their partners host or have cameras on."""
    sites = Site.objects.filter(status__in=TICKETABLE_SITE_STATUSES).select_related("kelurahan")
    if not user.is_authenticated:
        return sites.none()
    if is_officer(user) or is_operator(user):
        return scope_queryset(user, sites).order_by("address", "id")
    partners = partner_ids_for(user)
    mine = Site.objects.filter(
        Q(host_partner__in=partners) | Q(cameras__owner__in=partners)
    ).values("pk")
    return sites.filter(pk__in=mine).order_by("address", "id")
