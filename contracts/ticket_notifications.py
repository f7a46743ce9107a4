"""Emails about maintenance tickets. Called from tasks, so each reads fresh rows by id.

Opened and reminder emails go to every member of the responsible partner; escalations go to
the officers who can act on the ticket (city officers and the Sudin officers of its kota).
Every recipient gets the message in their own `user.language`.
"""

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import NoReverseMatch, reverse

from contracts.models import ACTIVE_TICKET_STATUSES, MaintenanceTicket, TicketStatus
from contracts.ticket_selectors import ticket_clocks
from partners.models import Membership
from portal.emails import send_templated_email
from portal.roles import CITY_OFFICER_ROLES, Role


def _ticket(ticket_id: int) -> MaintenanceTicket | None:
    return (
        MaintenanceTicket.objects.select_related(
            "site__kelurahan__parent__parent", "camera", "responsible", "contract"
        )
        .filter(pk=ticket_id)
        .first()
    )


def ticket_path(ticket: MaintenanceTicket) -> str:
    """The ticket's page (the pages live beside this module; the API path if they are absent)."""
    try:
        return reverse("contracts:ticket-detail", args=[ticket.pk])
    except NoReverseMatch:
        return reverse("ticket-detail", args=[ticket.pk])


def _members(partner_id: int) -> dict[str, str]:
    """Email address → language of every active member of the partner (each address once)."""
    rows = Membership.objects.filter(partner_id=partner_id, user__is_active=True).select_related(
        "user"
    )
    return {m.user.email: m.user.language for m in rows.order_by("user_id")}


def _officers(ticket: MaintenanceTicket) -> dict[str, str]:
    kota_id = ticket.site.kelurahan.parent.parent_id
    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(groups__name__in=list(CITY_OFFICER_ROLES))
            | Q(groups__name=Role.SUDIN_OFFICER, kota_id=kota_id)
        )
        .distinct()
        .order_by("pk")
    )
    return {user.email: user.language for user in users}


def _send(recipients: dict[str, str], template: str, context: dict) -> None:
    for email, language in recipients.items():
        send_templated_email(to=[email], template=template, context=context, language=language)


def _context(ticket: MaintenanceTicket, clock: str | None = None) -> dict:
    clocks = {c["name"]: c for c in ticket_clocks(ticket=ticket)}
    return {
        "ticket": ticket,
        "ticket_path": ticket_path(ticket),
        "clock": clocks.get(clock) if clock else None,
        "clocks": list(clocks.values()),
    }


def send_ticket_opened(ticket_id: int) -> None:
    """A ticket was opened (or reopened) for the partner."""
    ticket = _ticket(ticket_id)
    if ticket is None or ticket.status not in ACTIVE_TICKET_STATUSES:
        return
    context = {**_context(ticket), "reopened": ticket.status == TicketStatus.REOPENED}
    _send(_members(ticket.responsible_id), "ticket_opened", context)


def send_ticket_reminder(ticket_id: int, clock: str) -> None:
    """A clock is running out; nothing is sent if it was met since the reminder was due."""
    ticket = _ticket(ticket_id)
    if ticket is None:
        return
    context = _context(ticket, clock)
    if context["clock"] is None or context["clock"]["state"] != "running":
        return
    _send(_members(ticket.responsible_id), "ticket_reminder", context)


def send_ticket_escalation(ticket_id: int, clock: str) -> None:
    """A clock ran out: the officers hear about it (the partner already had its reminder)."""
    ticket = _ticket(ticket_id)
    if ticket is None:
        return
    context = _context(ticket, clock)
    if context["clock"] is None:
        return
    _send(_officers(ticket), "ticket_escalation", context)
