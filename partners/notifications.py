"""Emails about partners. Called from tasks, so each reads fresh rows by id."""

from django.urls import reverse

from partners.models import Invitation, MemberRole, PartnerStatusChange
from portal.emails import send_templated_email


def send_invitation(invitation_id: int) -> None:
    invitation = (
        Invitation.objects.select_related("partner", "invited_by")
        .filter(pk=invitation_id, accepted_at__isnull=True, revoked_at__isnull=True)
        .first()
    )
    if invitation is None:  # accepted or withdrawn before the worker got to it
        return
    send_templated_email(
        to=[invitation.email],
        template="partner_invitation",
        context={
            "invitation": invitation,
            "accept_path": reverse("partners:invitation-accept", args=[invitation.token]),
        },
        language=invitation.invited_by.language,
    )


def send_partner_status(status_change_id: int) -> None:
    change = PartnerStatusChange.objects.select_related("partner").get(pk=status_change_id)
    partner = change.partner
    owners = partner.memberships.filter(role=MemberRole.OWNER).select_related("user")
    recipients = {m.user.email: m.user.language for m in owners}
    recipients.setdefault(partner.contact_email, "id")
    for email, language in recipients.items():
        send_templated_email(
            to=[email],
            template="partner_status",
            context={"partner": partner, "change": change},
            language=language,
        )
