import pytest

from partners import services
from partners.models import MemberRole, PartnerStatus
from portal.errors import Conflict, PermissionDenied, ServiceError
from tests import factories


def test_partner_register_makes_registering_user_owner(partner, owner):
    assert partner.status == PartnerStatus.REGISTERED
    membership = partner.memberships.get()
    assert membership.user == owner
    assert membership.role == MemberRole.OWNER
    assert owner.has_perm("partners.change_partner", partner)
    assert owner.has_perm("partners.manage_partner_members", partner)


def test_partner_verify_records_who_when_and_why(partner, approver):
    services.partner_verify(partner=partner, actor=approver, reason="Documents match OSS.")
    partner.refresh_from_db()
    assert partner.status == PartnerStatus.VERIFIED
    change = partner.status_changes.get()
    assert (change.actor, change.old_status, change.new_status, change.reason) == (
        approver, "registered", "verified", "Documents match OSS.")


def test_partner_verify_twice_is_a_conflict(partner, approver):
    services.partner_verify(partner=partner, actor=approver, reason="ok")
    with pytest.raises(Conflict, match="Verified"):
        services.partner_verify(partner=partner, actor=approver, reason="again")


def test_partner_verify_refused_for_member(partner, owner):
    with pytest.raises(PermissionDenied):
        services.partner_verify(partner=partner, actor=owner, reason="self-approval")
    partner.refresh_from_db()
    assert partner.status == PartnerStatus.REGISTERED


def test_partner_register_rejects_short_nib(owner):
    with pytest.raises(ServiceError) as error:
        factories.make_partner(owner, nib="12345")
    assert error.value.field == "nib"
