"""Emails about hosting applications. Called from tasks, so each reads fresh rows by id.

Every recipient gets the message in their own `user.language`.
"""

from contracts.models import ApplicationDecision, ApplicationSite, PoleConsent
from partners.models import MemberRole, Membership
from portal.emails import send_templated_email


def _owners(partner_ids: list[int]) -> dict[str, str]:
    """Email address → language of every owner of the given partners (each address once)."""
    owners = Membership.objects.filter(
        partner_id__in=partner_ids, role=MemberRole.OWNER
    ).select_related("user")
    return {m.user.email: m.user.language for m in owners.order_by("user_id")}


def send_application_decision(decision_id: int) -> None:
    decision = (
        ApplicationDecision.objects.select_related("application__applicant", "actor")
        .filter(pk=decision_id)
        .first()
    )
    if decision is None:
        return
    application = decision.application
    partner_ids = [
        application.applicant_id,
        *application.parties.values_list("partner_id", flat=True),
    ]
    for email, language in _owners(partner_ids).items():
        send_templated_email(
            to=[email],
            template="application_decision",
            context={"application": application, "decision": decision},
            language=language,
        )


def send_pole_consent_request(application_site_id: int) -> None:
    entry = (
        ApplicationSite.objects.select_related(
            "application__applicant", "site__pole__owner", "site__kelurahan"
        )
        .filter(pk=application_site_id, pole_consent=PoleConsent.PENDING)
        .first()
    )
    if entry is None:  # answered, or the site was removed, before the worker got to it
        return
    pole = entry.site.pole
    for email, language in _owners([pole.owner_id]).items():
        send_templated_email(
            to=[email],
            template="application_pole_consent",
            context={"application": entry.application, "entry": entry, "pole": pole},
            language=language,
        )
