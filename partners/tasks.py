"""Thin Celery tasks: take ids, call one function, safe to run twice."""

from celery import shared_task

EMAIL_TASK_OPTIONS = {
    "autoretry_for": (OSError,),
    "retry_backoff": True,
    "max_retries": 5,
    "time_limit": 60,
    "expires": 24 * 60 * 60,
}


@shared_task(**EMAIL_TASK_OPTIONS)
def send_invitation_email(invitation_id: int) -> None:
    from partners import notifications

    notifications.send_invitation(invitation_id)


@shared_task(**EMAIL_TASK_OPTIONS)
def send_partner_status_email(status_change_id: int) -> None:
    from partners import notifications

    notifications.send_partner_status(status_change_id)


@shared_task(time_limit=120)
def expire_invitations() -> int:
    from partners import services

    return services.invitations_expire()
