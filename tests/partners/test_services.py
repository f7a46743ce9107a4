import hashlib
import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone, translation

from partners import notifications, services
from partners.models import (
    CameraNetwork,
    DocumentKind,
    Invitation,
    MemberRole,
    Membership,
    NetworkStatus,
    Partner,
    PartnerDocument,
    PartnerKind,
    PartnerStatus,
    PartnerStatusChange,
)
from portal.errors import Conflict, PermissionDenied, ServiceError
from tests import factories
from tests.conftest import pdf_upload


@pytest.fixture(autouse=True)
def _english():
    """Messages are matched in their English source, whatever translations exist later."""
    with translation.override("en"):
        yield


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
        approver,
        "registered",
        "verified",
        "Documents match OSS.",
    )


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


# --- Registration ---------------------------------------------------------------------------


def test_partner_register_business_without_nib_is_refused(owner):
    with pytest.raises(ServiceError) as error:
        factories.make_partner(owner, nib="")
    assert error.value.field == "nib"
    assert not Partner.objects.filter(created_by=owner).exists()


def test_partner_register_accepts_formatted_npwp_and_stores_digits(owner):
    partner = factories.make_partner(owner, npwp="01.234.567.8-901.234.5")
    partner.refresh_from_db()
    assert partner.npwp == "0123456789012345"


def test_partner_register_refuses_fifteen_digit_npwp(owner):
    with pytest.raises(ServiceError) as error:
        factories.make_partner(owner, npwp="01.234.567.8-901.234")
    assert error.value.field == "npwp"


def test_partner_register_community_without_decree_is_refused(owner):
    with pytest.raises(ServiceError) as error:
        factories.make_partner(owner, kind=PartnerKind.COMMUNITY, sk_number="")
    assert error.value.field == "sk_number"


def test_partner_register_duplicate_nib_is_refused_with_clear_message(partner, other_owner):
    with pytest.raises(ServiceError, match="NIB is already registered") as error:
        factories.make_partner(other_owner, nib=partner.nib)
    assert error.value.field == "nib"
    assert Partner.objects.filter(nib=partner.nib).count() == 1


def test_partner_register_community_drops_nib_and_npwp(owner):
    partner = factories.make_partner(
        owner, kind=PartnerKind.COMMUNITY, nib="1234567890123", npwp="1234567890123456"
    )
    partner.refresh_from_db()
    assert (partner.nib, partner.npwp) == ("", "")


# --- Verification lifecycle -----------------------------------------------------------------

# How to bring a fresh (registered) partner into each status.
_PATHS = {
    PartnerStatus.REGISTERED: [],
    PartnerStatus.VERIFIED: [services.partner_verify],
    PartnerStatus.REJECTED: [services.partner_reject],
    PartnerStatus.SUSPENDED: [services.partner_verify, services.partner_suspend],
}


def _bring_to(partner, status, actor):
    for step in _PATHS[status]:
        step(partner=partner, actor=actor, reason="setup")
    partner.refresh_from_db()
    assert partner.status == status
    return partner


@pytest.mark.parametrize(
    ("start", "service", "end"),
    [
        (PartnerStatus.REGISTERED, services.partner_verify, PartnerStatus.VERIFIED),
        (PartnerStatus.REGISTERED, services.partner_reject, PartnerStatus.REJECTED),
        (PartnerStatus.VERIFIED, services.partner_suspend, PartnerStatus.SUSPENDED),
        (PartnerStatus.SUSPENDED, services.partner_reinstate, PartnerStatus.VERIFIED),
    ],
)
def test_partner_transition_allowed(partner, approver, start, service, end):
    _bring_to(partner, start, approver)
    service(partner=partner, actor=approver, reason="Checked against OSS.")
    partner.refresh_from_db()
    assert partner.status == end
    assert partner.status_changed_at is not None
    change = partner.status_changes.latest("created_at", "id")
    assert (change.actor, change.old_status, change.new_status, change.reason) == (
        approver,
        start,
        end,
        "Checked against OSS.",
    )


@pytest.mark.parametrize(
    ("start", "service"),
    [
        (PartnerStatus.REJECTED, services.partner_verify),
        (PartnerStatus.REJECTED, services.partner_reinstate),
        (PartnerStatus.REJECTED, services.partner_suspend),
        (PartnerStatus.REGISTERED, services.partner_suspend),
        (PartnerStatus.SUSPENDED, services.partner_reject),
        (PartnerStatus.VERIFIED, services.partner_reject),
        (PartnerStatus.VERIFIED, services.partner_verify),
        (PartnerStatus.SUSPENDED, services.partner_suspend),
    ],
)
def test_partner_transition_illegal_is_a_conflict(partner, approver, start, service):
    _bring_to(partner, start, approver)
    changes_before = partner.status_changes.count()
    with pytest.raises(Conflict):
        service(partner=partner, actor=approver, reason="Trying anyway.")
    partner.refresh_from_db()
    assert partner.status == start
    assert partner.status_changes.count() == changes_before


@pytest.mark.parametrize("reason", ["", "   "])
def test_partner_verify_requires_reason(partner, approver, reason):
    with pytest.raises(ServiceError) as error:
        services.partner_verify(partner=partner, actor=approver, reason=reason)
    assert error.value.field == "reason"
    partner.refresh_from_db()
    assert partner.status == PartnerStatus.REGISTERED
    assert not partner.status_changes.exists()


def test_partner_verify_refused_for_sudin_officer_of_another_kota(partner):
    # The partner's kelurahan (31.71.01.1001) lies in Jakarta Pusat (31.71).
    sudin_utara = factories.sudin_officer("31.72")
    with pytest.raises(PermissionDenied):
        services.partner_verify(partner=partner, actor=sudin_utara, reason="not my kota")
    partner.refresh_from_db()
    assert partner.status == PartnerStatus.REGISTERED


def test_partner_verify_allowed_for_sudin_officer_of_same_kota(partner):
    sudin_pusat = factories.sudin_officer("31.71")
    services.partner_verify(partner=partner, actor=sudin_pusat, reason="Documents match.")
    partner.refresh_from_db()
    assert partner.status == PartnerStatus.VERIFIED
    assert partner.status_changes.get().actor == sudin_pusat


# --- Concurrency (real PostgreSQL row locks, one connection per thread) ----------------------


def _race(*calls):
    """Run each call in its own thread, released together; return what each returned or raised."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - the outcome is what the test inspects
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.mark.usefixtures("areas_after_flush")
def test_partner_verify_concurrent_exactly_one_wins(monkeypatch):
    sent = []
    monkeypatch.setattr(notifications, "send_partner_status", sent.append)
    partner = factories.make_partner()
    officers = [factories.officer(), factories.officer()]
    results = _race(
        *(
            lambda o=o: services.partner_verify(
                partner=Partner.objects.get(pk=partner.pk),
                actor=o,
                reason=f"verified by {o.username}",
            )
            for o in officers
        )
    )
    winners = [r for r in results if isinstance(r, Partner)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert (len(winners), len(losers)) == (1, 1), results
    assert PartnerStatusChange.objects.filter(partner=partner).count() == 1
    assert len(sent) == 1, (sent, results)


@pytest.mark.usefixtures("areas_after_flush")
def test_membership_remove_concurrent_owners_keep_one_owner():
    partner = factories.make_partner()
    first = partner.memberships.get()
    second_user = factories.UserFactory()
    second = services.membership_add(partner=partner, user=second_user, role=MemberRole.OWNER)
    # Each owner removes the other at the same moment.
    results = _race(
        lambda: services.membership_remove(membership=second, actor=first.user),
        lambda: services.membership_remove(membership=first, actor=second_user),
    )
    assert sum(r is None for r in results) == 1, results
    assert sum(isinstance(r, ServiceError) for r in results) == 1, results
    assert Membership.objects.filter(partner=partner, role=MemberRole.OWNER).count() == 1


# --- Invitations ----------------------------------------------------------------------------


def _after_expiry():
    return timezone.now() + timedelta(days=settings.INVITATION_VALID_DAYS, hours=1)


def test_invitation_create_by_owner(partner, owner):
    invitation = services.invitation_create(
        partner=partner, actor=owner, email=" New.Staff@Example.TEST ", role=MemberRole.STAFF
    )
    assert invitation.email == "new.staff@example.test"
    assert invitation.expires_at > timezone.now()


def test_invitation_create_refused_for_staff(partner):
    staff = factories.UserFactory()
    services.membership_add(partner=partner, user=staff, role=MemberRole.STAFF)
    with pytest.raises(PermissionDenied):
        services.invitation_create(
            partner=partner, actor=staff, email="x@example.test", role=MemberRole.STAFF
        )
    assert not Invitation.objects.exists()


def test_invitation_create_duplicate_pending_is_refused(partner, owner):
    services.invitation_create(
        partner=partner, actor=owner, email="a@example.test", role=MemberRole.STAFF
    )
    with pytest.raises(ServiceError, match="already pending") as error:
        services.invitation_create(
            partner=partner, actor=owner, email="A@example.test", role=MemberRole.TECHNICIAN
        )
    assert error.value.field == "email"
    assert Invitation.objects.filter(partner=partner).count() == 1


def test_invitation_accept_by_another_email_is_refused(partner, owner):
    invitation = services.invitation_create(
        partner=partner, actor=owner, email="a@example.test", role=MemberRole.STAFF
    )
    intruder = factories.UserFactory(email="b@example.test")
    with pytest.raises(PermissionDenied):
        services.invitation_accept(token=invitation.token, user=intruder)
    assert not partner.memberships.filter(user=intruder).exists()


def test_invitation_accept_after_expiry_is_refused(partner, owner):
    invitation = services.invitation_create(
        partner=partner, actor=owner, email="a@example.test", role=MemberRole.STAFF
    )
    invitee = factories.UserFactory(email="a@example.test")
    with time_machine.travel(_after_expiry()), pytest.raises(ServiceError, match="expired"):
        services.invitation_accept(token=invitation.token, user=invitee)
    assert not partner.memberships.filter(user=invitee).exists()


def test_invitation_accept_revoked_is_refused(partner, owner):
    invitation = services.invitation_create(
        partner=partner, actor=owner, email="a@example.test", role=MemberRole.STAFF
    )
    services.invitation_revoke(invitation=invitation, actor=owner)
    invitee = factories.UserFactory(email="a@example.test")
    with pytest.raises(ServiceError, match="withdrawn"):
        services.invitation_accept(token=invitation.token, user=invitee)
    assert not partner.memberships.filter(user=invitee).exists()


@pytest.mark.parametrize(
    ("role", "can_upload"), [(MemberRole.STAFF, True), (MemberRole.TECHNICIAN, False)]
)
def test_invitation_accept_grants_role_permissions(partner, owner, role, can_upload):
    invitation = services.invitation_create(
        partner=partner, actor=owner, email="a@example.test", role=role
    )
    invitee = factories.UserFactory(email="A@Example.test")
    membership = services.invitation_accept(token=invitation.token, user=invitee)
    assert (membership.partner, membership.user, membership.role) == (partner, invitee, role)
    assert invitee.has_perm("partners.view_partner", partner)
    assert invitee.has_perm("partners.manage_partner_documents", partner) is can_upload
    assert not invitee.has_perm("partners.change_partner", partner)
    invitation.refresh_from_db()
    assert invitation.accepted_by == invitee
    with pytest.raises(ServiceError):
        services.invitation_accept(token=invitation.token, user=invitee)


def test_invitations_expire_withdraws_only_old_pending(partner, owner):
    old = services.invitation_create(
        partner=partner, actor=owner, email="old@example.test", role=MemberRole.STAFF
    )
    with time_machine.travel(timezone.now() + timedelta(days=settings.INVITATION_VALID_DAYS - 1)):
        fresh = services.invitation_create(
            partner=partner, actor=owner, email="new@example.test", role=MemberRole.STAFF
        )
    with time_machine.travel(_after_expiry()):
        assert services.invitations_expire() == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.revoked_at is not None
    assert fresh.revoked_at is None


# --- Members --------------------------------------------------------------------------------


def test_membership_change_role_refuses_demoting_last_owner(partner, owner):
    membership = partner.memberships.get()
    with pytest.raises(ServiceError, match="at least one owner"):
        services.membership_change_role(membership=membership, actor=owner, role=MemberRole.STAFF)
    membership.refresh_from_db()
    assert membership.role == MemberRole.OWNER
    assert owner.has_perm("partners.change_partner", partner)


def test_membership_remove_refuses_removing_last_owner(partner, owner):
    membership = partner.memberships.get()
    with pytest.raises(ServiceError, match="at least one owner"):
        services.membership_remove(membership=membership, actor=owner)
    assert partner.memberships.filter(user=owner).exists()


def test_membership_change_role_moves_permissions(partner, owner):
    co_owner = factories.UserFactory()
    services.membership_add(partner=partner, user=co_owner, role=MemberRole.OWNER)
    membership = partner.memberships.get(user=owner)
    services.membership_change_role(membership=membership, actor=co_owner, role=MemberRole.STAFF)
    assert not owner.has_perm("partners.change_partner", partner)
    assert not owner.has_perm("partners.manage_partner_members", partner)
    assert owner.has_perm("partners.manage_partner_documents", partner)


def test_membership_remove_takes_away_access(partner, owner):
    technician = factories.UserFactory()
    membership = services.membership_add(
        partner=partner, user=technician, role=MemberRole.TECHNICIAN
    )
    assert technician.has_perm("partners.view_partner", partner)
    services.membership_remove(membership=membership, actor=owner)
    assert not technician.has_perm("partners.view_partner", partner)


# --- Documents ------------------------------------------------------------------------------


@pytest.fixture
def private_root(settings, tmp_path):
    """Uploads go to a directory of this test's own, so "no new file" means exactly that."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path, "base_url": None},
        },
    }
    return tmp_path


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    "upload",
    [
        pytest.param(lambda: pdf_upload(name="akta.docx"), id="wrong-extension"),
        pytest.param(lambda: pdf_upload(body=b"PK\x03\x04 not a pdf"), id="wrong-magic"),
        pytest.param(lambda: pdf_upload(body=b""), id="empty"),
        pytest.param(lambda: pdf_upload(body=b"%PDF-1.7\n" + b"x" * 200), id="too-large"),
    ],
)
def test_document_upload_refuses_bad_file(partner, owner, private_root, settings, upload):
    settings.MAX_DOCUMENT_BYTES = 100
    with pytest.raises(ServiceError) as error:
        services.document_upload(
            partner=partner, actor=owner, kind=DocumentKind.DEED, upload=upload()
        )
    assert error.value.field == "file"
    assert not PartnerDocument.objects.exists()
    assert _files_under(private_root) == []


def test_document_upload_stores_random_name_and_hash(partner, owner, private_root):
    body = b"%PDF-1.7\n%test document\n"
    document = services.document_upload(
        partner=partner,
        actor=owner,
        kind=DocumentKind.NIB,
        upload=pdf_upload(name="../../etc/passwd.pdf", body=body),
    )
    document.refresh_from_db()
    assert document.original_name == "passwd.pdf"
    assert document.sha256 == hashlib.sha256(body).hexdigest()
    assert document.size == len(body)
    assert re.fullmatch(r"partner-documents/[0-9a-f]{32}\.pdf", document.file.name)
    stored = _files_under(private_root)
    assert stored == [private_root / document.file.name]
    assert stored[0].read_bytes() == body


def test_document_upload_sanitises_windows_style_name(partner, owner, private_root):
    document = services.document_upload(
        partner=partner,
        actor=owner,
        kind=DocumentKind.OTHER,
        upload=pdf_upload(name="..\\..\\evil<script>.pdf"),
    )
    assert document.original_name == "evil_script_.pdf"


def test_document_upload_refused_for_technician(partner, private_root):
    technician = factories.UserFactory()
    services.membership_add(partner=partner, user=technician, role=MemberRole.TECHNICIAN)
    with pytest.raises(PermissionDenied):
        services.document_upload(
            partner=partner, actor=technician, kind=DocumentKind.DEED, upload=pdf_upload()
        )
    assert _files_under(private_root) == []


# --- Camera networks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cidr", "ports", "field"),
    [
        ("not-a-network", [554], "cidr"),
        ("10.20.0.1/24", [554], "cidr"),
        ("10.0.0.0/8", [554], "cidr"),
        ("2001:db8::/32", [554], "cidr"),
        ("127.0.0.0/24", [554], "cidr"),
        ("169.254.10.0/24", [554], "cidr"),
        ("fe80::/64", [554], "cidr"),
        ("10.20.0.0/24", [], "ports"),
        ("10.20.0.0/24", [0], "ports"),
        ("10.20.0.0/24", [554, 65536], "ports"),
        ("10.20.0.0/24", ["554", 80], "ports"),
    ],
)
def test_network_request_refuses_bad_input(partner, owner, cidr, ports, field):
    with pytest.raises(ServiceError) as error:
        services.network_request(partner=partner, actor=owner, cidr=cidr, ports=ports)
    assert error.value.field == field
    assert not CameraNetwork.objects.exists()


def test_network_request_records_pending(partner, owner):
    network = services.network_request(
        partner=partner,
        actor=owner,
        cidr=" 10.20.0.0/24 ",
        ports=[8080, 554, 554],
        description="Gedung A",
    )
    assert (network.cidr, network.ports, network.status) == (
        "10.20.0.0/24",
        [554, 8080],
        NetworkStatus.PENDING,
    )
    change = network.status_changes.get()
    assert (change.actor, change.old_status, change.new_status) == (owner, "", "pending")


@pytest.fixture
def network(partner, owner):
    return services.network_request(partner=partner, actor=owner, cidr="10.20.0.0/24", ports=[554])


def test_network_approve_needs_verified_partner(network, approver):
    with pytest.raises(ServiceError, match="Verify the partner"):
        services.network_approve(network=network, actor=approver)
    network.refresh_from_db()
    assert network.status == NetworkStatus.PENDING


def test_network_approve_refused_for_member(partner, network, owner, approver):
    services.partner_verify(partner=partner, actor=approver, reason="ok")
    with pytest.raises(PermissionDenied):
        services.network_approve(network=network, actor=owner)
    network.refresh_from_db()
    assert network.status == NetworkStatus.PENDING


def test_network_approve_refused_for_sudin_officer_of_another_kota(partner, network, approver):
    services.partner_verify(partner=partner, actor=approver, reason="ok")
    with pytest.raises(PermissionDenied):
        services.network_approve(network=network, actor=factories.sudin_officer("31.72"))
    services.network_approve(network=network, actor=factories.sudin_officer("31.71"))
    network.refresh_from_db()
    assert network.status == NetworkStatus.APPROVED


def test_network_approve_by_officer(partner, network, approver):
    services.partner_verify(partner=partner, actor=approver, reason="ok")
    services.network_approve(network=network, actor=approver)
    network.refresh_from_db()
    assert network.status == NetworkStatus.APPROVED
    assert network.decided_at is not None
    assert list(network.status_changes.values_list("new_status", flat=True)) == [
        "pending",
        "approved",
    ]


def test_network_reject_requires_reason(network, approver):
    with pytest.raises(ServiceError) as error:
        services.network_reject(network=network, actor=approver, reason=" ")
    assert error.value.field == "reason"
    services.network_reject(network=network, actor=approver, reason="Public address range.")
    network.refresh_from_db()
    assert network.status == NetworkStatus.REJECTED


def test_network_revoke_only_from_approved(partner, network, approver):
    with pytest.raises(Conflict):
        services.network_revoke(network=network, actor=approver, reason="no longer used")
    services.partner_verify(partner=partner, actor=approver, reason="ok")
    services.network_approve(network=network, actor=approver)
    services.network_revoke(network=network, actor=approver, reason="no longer used")
    network.refresh_from_db()
    assert network.status == NetworkStatus.REVOKED
