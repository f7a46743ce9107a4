"""Emails about partnership agreements. Called from tasks, so each reads fresh rows by id.

Every recipient gets the message in their own `user.language`, each address once.
"""

from django.contrib.auth import get_user_model
from django.utils import timezone

from contracts.models import ContractReminder, ContractStatus, ContractStatusChange
from partners.models import MemberRole, Membership
from portal.emails import send_templated_email
from portal.roles import Role


def _party_owners(contract) -> dict[str, str]:
    """Email address → language of every owner of the contract's parties."""
    owners = Membership.objects.filter(
        partner__contract_parties__contract=contract,
        role=MemberRole.OWNER,
        user__is_active=True,
    ).select_related("user")
    return {m.user.email: m.user.language for m in owners.order_by("user_id")}


def _officers(contract) -> dict[str, str]:
    """The Sudin officers of the contract's kota and the city's legal reviewers."""
    users = get_user_model().objects.filter(is_active=True)
    legal = users.filter(groups__name=Role.OFFICER_LEGAL)
    sudin = users.filter(groups__name=Role.SUDIN_OFFICER, kota_id=contract.kota_id)
    found = (legal | sudin) if contract.kota_id else legal
    return {user.email: user.language for user in found.distinct().order_by("pk")}


def send_status_change(status_change_id: int) -> None:
    change = (
        ContractStatusChange.objects.select_related("contract", "actor")
        .filter(pk=status_change_id)
        .first()
    )
    if change is None:
        return
    contract = change.contract
    labels = dict(ContractStatus.choices)
    for email, language in _party_owners(contract).items():
        send_templated_email(
            to=[email],
            template="contract_status",
            context={
                "contract": contract,
                "change": change,
                "new_label": labels.get(change.new_status, change.new_status),
            },
            language=language,
        )


def send_expiry_reminder(reminder_id: int) -> None:
    reminder = ContractReminder.objects.select_related("contract").filter(pk=reminder_id).first()
    if reminder is None:
        return
    contract = reminder.contract
    if contract.status != ContractStatus.ACTIVE:  # terminated or renewed before the worker ran
        return
    days_left = max((contract.term_end - timezone.localdate()).days, 0)
    recipients = {**_officers(contract), **_party_owners(contract)}
    for email, language in recipients.items():
        send_templated_email(
            to=[email],
            template="contract_expiry_reminder",
            context={"contract": contract, "days_left": days_left},
            language=language,
        )
