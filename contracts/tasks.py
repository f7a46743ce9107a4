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

# --- Tickets (health outbox, clocks, inspections) ------------------------------------------------

# --- SLA (monthly evaluation) -------------------------------------------------------------------
