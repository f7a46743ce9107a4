"""Thin Celery tasks: take ids, call one function, safe to run twice."""

from celery import shared_task

from partners.tasks import EMAIL_TASK_OPTIONS


@shared_task(**EMAIL_TASK_OPTIONS)
def send_application_decision_email(decision_id: int) -> None:
    from contracts import notifications

    notifications.send_application_decision(decision_id)


@shared_task(**EMAIL_TASK_OPTIONS)
def send_pole_consent_request_email(application_site_id: int) -> None:
    from contracts import notifications

    notifications.send_pole_consent_request(application_site_id)


# --- Agreements (contract terms and expiry reminders) ---------------------------------------------


@shared_task(time_limit=600, expires=50 * 60)
def apply_contract_terms() -> dict:
    """Activate contracts whose term started, expire (or renew) those whose term ended."""
    from contracts import agreement_services

    return agreement_services.apply_contract_terms()


@shared_task(time_limit=600, expires=6 * 60 * 60)
def send_contract_expiry_reminders() -> int:
    from contracts import agreement_services

    return agreement_services.send_contract_expiry_reminders()


@shared_task(**EMAIL_TASK_OPTIONS)
def send_contract_expiry_reminder_email(reminder_id: int) -> None:
    from contracts import agreement_notifications

    agreement_notifications.send_expiry_reminder(reminder_id)


@shared_task(**EMAIL_TASK_OPTIONS)
def send_contract_status_email(status_change_id: int) -> None:
    from contracts import agreement_notifications

    agreement_notifications.send_status_change(status_change_id)


# --- Tickets (health outbox, clocks, inspections) ------------------------------------------------


@shared_task(time_limit=240, expires=55)
def process_health_changes() -> int:
    """The health checker's status changes become tickets (beat: every minute)."""
    from contracts import ticket_services

    return ticket_services.tickets_from_health_changes()


@shared_task(time_limit=240, expires=4 * 60)
def check_ticket_clocks() -> dict:
    """Reminders, breaches, escalations and verification of resolved camera tickets."""
    from contracts import ticket_services

    return ticket_services.tickets_check_clocks()


@shared_task(time_limit=600, expires=6 * 60 * 60)
def generate_inspection_tickets() -> int:
    from contracts import ticket_services

    return ticket_services.inspection_tickets_generate()


@shared_task(**EMAIL_TASK_OPTIONS)
def send_ticket_opened_email(ticket_id: int) -> None:
    from contracts import ticket_notifications

    ticket_notifications.send_ticket_opened(ticket_id)


@shared_task(**EMAIL_TASK_OPTIONS)
def send_ticket_reminder_email(ticket_id: int, clock: str) -> None:
    from contracts import ticket_notifications

    ticket_notifications.send_ticket_reminder(ticket_id, clock)


@shared_task(**EMAIL_TASK_OPTIONS)
def send_ticket_escalation_email(ticket_id: int, clock: str) -> None:
    from contracts import ticket_notifications

    ticket_notifications.send_ticket_escalation(ticket_id, clock)


# --- SLA (monthly evaluation) -------------------------------------------------------------------


@shared_task(time_limit=60 * 60, expires=12 * 60 * 60)
def evaluate_monthly_sla(month: str | None = None) -> dict:
    """Evaluate the uptime SLA of `month` ("YYYY-MM"; default: the month that just ended)."""
    from contracts import sla, sla_selectors

    first_day = sla_selectors.parse_month(month) if month else sla_selectors.previous_month()
    return sla.sla_evaluate_month(month=first_day)
