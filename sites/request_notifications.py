"""Emails to residents about coverage requests. Called from tasks, so each reads fresh rows by id.

Every resident gets the message in their own language (ResidentContact.language). Only email
contacts are written to; SMS is not available.
"""

from django.conf import settings
from django.utils import timezone

from portal.emails import send_templated_email
from sites import request_services
from sites.models import (
    ContactKind,
    ContactVerification,
    RequestStatus,
    RequestStatusChange,
    ResidentContact,
)


def _url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _send(contact: ResidentContact, template: str, context: dict) -> None:
    if contact.kind != ContactKind.EMAIL:
        return
    send_templated_email(
        to=[request_services.contact_value(contact)],
        template=template,
        context={"name": contact.name, **context},
        language=contact.language,
    )


def send_verification(verification_id: int, token: str, code: str) -> None:
    """The one-time link and code; nothing if it was used or expired before the worker ran."""
    verification = (
        ContactVerification.objects.select_related("contact", "request")
        .filter(pk=verification_id, used_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if verification is None:
        return
    request = verification.request
    _send(
        verification.contact,
        "request_verify",
        {
            "purpose": verification.purpose,
            "request": request,
            "code": code,
            "link": _url(request_services.verification_path(token)),
            "expires_at": verification.expires_at,
            "hours": settings.REQUEST_VERIFICATION_HOURS,
            "page_url": _url(request_services.request_page_path(request.reference))
            if request
            else "",
        },
    )


def send_status_change(change_id: int) -> None:
    """A request changed status: its requester and verified followers each get one email.

    When it is installed, the requester's email asks whether it works, with signed links to
    confirm or reopen.
    """
    change = (
        RequestStatusChange.objects.select_related(
            "request__contact", "request__kelurahan", "request__merged_into"
        )
        .filter(pk=change_id)
        .first()
    )
    if change is None:
        return
    request = change.request
    recipients: dict[int, tuple[ResidentContact, bool]] = {}
    if request.contact is not None and request.contact.verified_at is not None:
        recipients[request.contact_id] = (request.contact, True)
    follows = request.follows.filter(verified_at__isnull=False).select_related("contact")
    for follow in follows.order_by("id"):
        recipients.setdefault(follow.contact_id, (follow.contact, False))
    context = {
        "request": request,
        "change": change,
        "page_url": _url(request_services.request_page_path(request.reference)),
        "survivor_url": _url(request_services.request_page_path(request.merged_into.reference))
        if request.merged_into_id
        else "",
    }
    for contact, is_requester in recipients.values():
        if is_requester and change.new_status == RequestStatus.INSTALLED:
            token = request_services.feedback_token(request_id=request.pk, contact_id=contact.pk)
            link = _url(request_services.feedback_path(request.reference, token))
            _send(
                contact,
                "request_installed",
                {
                    **context,
                    "feedback_url": link,
                    "days": settings.REQUEST_FEEDBACK_LINK_DAYS,
                },
            )
        else:
            _send(contact, "request_status", {**context, "is_requester": is_requester})
