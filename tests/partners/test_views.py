import re
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from partners import services
from partners.models import (
    CameraNetwork,
    Invitation,
    MemberRole,
    Membership,
    NetworkStatus,
    Partner,
    PartnerDocument,
    PartnerStatus,
)
from portal.roles import Role
from tests import factories
from tests.conftest import pdf_upload


@pytest.fixture(autouse=True)
def english(client):
    """Pages in English, so the assertions hold once the Indonesian translations land."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def other_objects(other_partner, other_owner):
    """Partner B with one of everything a page can point at."""
    invitation = services.invitation_create(
        partner=other_partner,
        actor=other_owner,
        email="b-guest@example.test",
        role=MemberRole.STAFF,
    )
    document = services.document_upload(
        partner=other_partner, actor=other_owner, kind="deed", upload=pdf_upload()
    )
    network = services.network_request(
        partner=other_partner, actor=other_owner, cidr="10.9.0.0/24", ports=[554]
    )
    return {
        "partner": other_partner,
        "membership": other_partner.memberships.get(),
        "invitation": invitation,
        "document": document,
        "network": network,
    }


def _page_urls(partner_pk: int, objects: dict) -> list[tuple[str, str]]:
    """Every partner page that names an object of partner B, reached through `partner_pk`."""
    membership, invitation = objects["membership"].pk, objects["invitation"].pk
    document, network = objects["document"].pk, objects["network"].pk
    return [
        ("get", reverse("partners:partner-detail", args=[partner_pk])),
        ("get", reverse("partners:partner-edit", args=[partner_pk])),
        ("post", reverse("partners:partner-edit", args=[partner_pk])),
        ("get", reverse("partners:invitation-create", args=[partner_pk])),
        ("post", reverse("partners:invitation-create", args=[partner_pk])),
        ("post", reverse("partners:invitation-revoke", args=[partner_pk, invitation])),
        ("post", reverse("partners:member-role", args=[partner_pk, membership])),
        ("post", reverse("partners:member-remove", args=[partner_pk, membership])),
        ("get", reverse("partners:document-upload", args=[partner_pk])),
        ("post", reverse("partners:document-upload", args=[partner_pk])),
        ("get", reverse("partners:document-download", args=[partner_pk, document])),
        ("get", reverse("partners:network-create", args=[partner_pk])),
        ("post", reverse("partners:network-create", args=[partner_pk])),
        *[
            (method, reverse("partners:partner-decide", args=[partner_pk, action]))
            for action in ("verify", "reject", "suspend", "reinstate")
            for method in ("get", "post")
        ],
        *[
            (method, reverse("partners:network-decide", args=[partner_pk, network, action]))
            for action in ("approve", "reject", "revoke")
            for method in ("get", "post")
        ],
    ]


def _form_data() -> dict:
    return {
        "role": "owner",
        "email": "x@example.test",
        "reason": "because",
        "cidr": "10.1.0.0/24",
        "ports": "554",
        "name": "Hijacked",
        "kind": "deed",
    }


# --- nothing leaks --------------------------------------------------------------------------


def test_partner_pages_of_another_partner_answer_404(client, owner, partner, other_objects):
    client.force_login(owner)
    for method, url in _page_urls(other_objects["partner"].pk, other_objects):
        response = getattr(client, method)(url, _form_data())
        assert response.status_code == 404, (method, url)


def test_another_partners_objects_through_my_partner_answer_404(
    client, owner, partner, other_objects
):
    """Partner A's id in the path does not open partner B's members, documents or networks."""
    client.force_login(owner)
    urls = [
        (m, u)
        for m, u in _page_urls(partner.pk, other_objects)
        if re.search(r"/\d+/(invitations|members|documents|networks)/\d+/", u)
    ]
    assert len(urls) == 10
    for method, url in urls:
        response = getattr(client, method)(url, _form_data())
        assert response.status_code == 404, (method, url)


def test_nothing_changes_when_another_partner_is_attacked(client, owner, partner, other_objects):
    client.force_login(owner)
    for method, url in _page_urls(other_objects["partner"].pk, other_objects):
        getattr(client, method)(url, _form_data())
    other = Partner.objects.get(pk=other_objects["partner"].pk)
    assert (other.name, other.status) == (other_objects["partner"].name, PartnerStatus.REGISTERED)
    assert other.memberships.get().role == MemberRole.OWNER
    assert Invitation.objects.get(pk=other_objects["invitation"].pk).revoked_at is None
    assert not Invitation.objects.filter(email="x@example.test").exists()
    assert CameraNetwork.objects.filter(partner=other).count() == 1


def test_partner_list_shows_only_my_partners(client, owner, partner, other_partner):
    client.force_login(owner)
    page = client.get(reverse("partners:partner-list")).content.decode()
    assert partner.name in page
    assert other_partner.name not in page


def test_partner_list_shows_officer_every_partner_and_filters(
    client, approver, partner, other_partner
):
    services.partner_verify(partner=partner, actor=approver, reason="ok")
    client.force_login(approver)
    page = client.get(reverse("partners:partner-list")).content.decode()
    assert partner.name in page
    assert other_partner.name in page
    page = client.get(reverse("partners:partner-list"), {"status": "verified"}).content.decode()
    assert partner.name in page
    assert other_partner.name not in page


def test_partner_list_query_count_does_not_grow_with_partners(
    client, approver, django_assert_max_num_queries
):
    partners = [factories.make_partner() for _ in range(5)]
    client.force_login(approver)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("partners:partner-list"))
    page = response.content.decode()
    assert all(partner.name in page for partner in partners)


def test_partner_pages_send_anonymous_to_login(client, partner, other_objects):
    for method, url in [
        *_page_urls(partner.pk, other_objects),
        ("get", reverse("partners:partner-list")),
        ("get", reverse("partners:partner-register")),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 302, (method, url)
        assert response.url.startswith(reverse("login")), (method, url)


def test_technician_cannot_open_owner_pages(client, partner):
    technician = factories.UserFactory()
    services.membership_add(partner=partner, user=technician, role=MemberRole.TECHNICIAN)
    client.force_login(technician)
    assert client.get(reverse("partners:partner-detail", args=[partner.pk])).status_code == 200
    for name in ("partner-edit", "invitation-create", "document-upload", "network-create"):
        assert client.get(reverse(f"partners:{name}", args=[partner.pk])).status_code == 403


# --- registration and edit ------------------------------------------------------------------


def _registration_data(**overrides) -> dict:
    return {
        "name": "PT Kamera Kota",
        "legal_name": "PT Kamera Kota Mandiri",
        "nib": "9120001239999",
        "npwp": "0123.4567.8901.2399",
        "kelurahan": factories.kelurahan().pk,
        "address": "Jl. Merdeka No. 5",
        "contact_name": "Dewi",
        "contact_email": "dewi@example.test",
        "contact_phone": "+62215550199",
        **overrides,
    }


def test_partner_register_asks_for_the_kind_first(client, owner):
    client.force_login(owner)
    page = client.get(reverse("partners:partner-register")).content.decode()
    assert 'name="kind"' in page
    assert 'name="nib"' not in page
    community = client.get(reverse("partners:partner-register"), {"kind": "community"})
    assert 'name="sk_number"' in community.content.decode()
    assert 'name="nib"' not in community.content.decode()


def test_partner_register_makes_me_owner(client, owner):
    client.force_login(owner)
    url = reverse("partners:partner-register") + "?kind=business"
    response = client.post(url, _registration_data())
    partner = Partner.objects.get(name="PT Kamera Kota")
    assert response.status_code == 302
    assert response.url == reverse("partners:partner-detail", args=[partner.pk])
    assert partner.npwp == "0123456789012399"
    assert partner.memberships.get().user == owner


def test_partner_register_with_bad_nib_shows_form_error_and_creates_nothing(client, owner):
    client.force_login(owner)
    url = reverse("partners:partner-register") + "?kind=business"
    response = client.post(url, _registration_data(nib="12345"))
    assert response.status_code == 200
    assert "NIB must be exactly 13 digits." in response.content.decode()
    assert response.context["form"].errors["nib"] == ["NIB must be exactly 13 digits."]
    assert not Partner.objects.filter(name="PT Kamera Kota").exists()


def test_partner_register_community_needs_its_decree(client, owner):
    client.force_login(owner)
    url = reverse("partners:partner-register") + "?kind=community"
    data = _registration_data(community_type="rt_rw", rw_number="005")
    response = client.post(url, data)
    assert "sk_number" in response.context["form"].errors
    response = client.post(url, {**data, "sk_number": "SK/12/2026"})
    partner = Partner.objects.get(name="PT Kamera Kota")
    assert (partner.kind, partner.nib, partner.rw_number) == ("community", "", "005")


def test_partner_edit_saves_and_keeps_verified_identity(client, owner, partner, approver):
    services.partner_verify(partner=partner, actor=approver, reason="ok")
    client.force_login(owner)
    url = reverse("partners:partner-edit", args=[partner.pk])
    data = {
        **_registration_data(name="Renamed Ltd", nib="9999999999999"),
        "kelurahan": partner.kelurahan_id,
    }
    response = client.post(url, data)
    assert response.status_code == 302
    partner.refresh_from_db()
    assert partner.name == "Renamed Ltd"
    assert partner.nib != "9999999999999"  # the field is disabled for a verified partner


# --- members and invitations ----------------------------------------------------------------


def test_invitation_flow_end_to_end(client, owner, partner, django_capture_on_commit_callbacks):
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("partners:invitation-create", args=[partner.pk]),
            {"email": "Rina@Example.test", "role": "staff"},
        )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["rina@example.test"]
    assert partner.name in email.subject
    link = re.search(r"https?://\S+/partners/invitations/[0-9a-f-]+/", email.body).group(0)
    assert link in email.alternatives[0][0]

    rina = factories.UserFactory(email="rina@example.test")
    client.force_login(rina)
    path = urlparse(link).path
    page = client.get(path)
    assert page.status_code == 200
    assert partner.name in page.content.decode()
    response = client.post(path, follow=True)
    assert response.redirect_chain[-1][0] == reverse("partners:partner-detail", args=[partner.pk])
    assert f"You are now a member of {partner.name}." in response.content.decode()
    assert Membership.objects.get(partner=partner, user=rina).role == MemberRole.STAFF
    assert rina.has_perm("partners.manage_partner_documents", partner)


def test_invitation_accept_requires_login(client, owner, partner):
    invitation = services.invitation_create(
        partner=partner, actor=owner, email="x@example.test", role="staff"
    )
    response = client.get(reverse("partners:invitation-accept", args=[invitation.token]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_invitation_accept_by_another_address_is_refused(client, owner, partner):
    invitation = services.invitation_create(
        partner=partner, actor=owner, email="x@example.test", role="staff"
    )
    stranger = factories.UserFactory()
    client.force_login(stranger)
    response = client.post(reverse("partners:invitation-accept", args=[invitation.token]))
    assert response.status_code == 200
    assert "This invitation was sent to another email address." in response.content.decode()
    assert not Membership.objects.filter(partner=partner, user=stranger).exists()


def test_invitation_revoke_withdraws_it(client, owner, partner):
    invitation = services.invitation_create(
        partner=partner, actor=owner, email="x@example.test", role="staff"
    )
    client.force_login(owner)
    response = client.post(
        reverse("partners:invitation-revoke", args=[partner.pk, invitation.pk]), follow=True
    )
    assert "The invitation to x@example.test is withdrawn." in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None


def test_member_role_change_and_last_owner_kept(client, owner, partner):
    colleague = factories.UserFactory()
    membership = services.membership_add(partner=partner, user=colleague, role=MemberRole.STAFF)
    client.force_login(owner)
    url = reverse("partners:member-role", args=[partner.pk, membership.pk])
    client.post(url, {"role": "technician"})
    membership.refresh_from_db()
    assert membership.role == MemberRole.TECHNICIAN

    own = partner.memberships.get(user=owner)
    response = client.post(
        reverse("partners:member-role", args=[partner.pk, own.pk]), {"role": "staff"}, follow=True
    )
    assert "A partner must keep at least one owner." in response.content.decode()
    own.refresh_from_db()
    assert own.role == MemberRole.OWNER


def test_member_remove(client, owner, partner):
    colleague = factories.UserFactory()
    membership = services.membership_add(partner=partner, user=colleague, role=MemberRole.STAFF)
    client.force_login(owner)
    client.post(reverse("partners:member-remove", args=[partner.pk, membership.pk]))
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert not colleague.has_perm("partners.view_partner", partner)


# --- documents ------------------------------------------------------------------------------


def test_document_upload_refuses_a_non_pdf(client, owner, partner):
    client.force_login(owner)
    fake = SimpleUploadedFile("akta.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    response = client.post(
        reverse("partners:document-upload", args=[partner.pk]), {"kind": "deed", "file": fake}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["file"] == ["The file is not a PDF document."]
    assert not PartnerDocument.objects.filter(partner=partner).exists()


def test_document_upload_then_download_as_attachment(client, owner, partner):
    client.force_login(owner)
    response = client.post(
        reverse("partners:document-upload", args=[partner.pk]),
        {"kind": "deed", "file": pdf_upload("Akta Pendirian.pdf")},
    )
    assert response.status_code == 302
    document = PartnerDocument.objects.get(partner=partner)
    download = client.get(reverse("partners:document-download", args=[partner.pk, document.pk]))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment;")
    assert "Akta Pendirian.pdf" in download["Content-Disposition"]
    assert b"".join(download.streaming_content).startswith(b"%PDF-")


def test_document_download_for_officers_not_operators(client, owner, partner, approver):
    document = services.document_upload(
        partner=partner, actor=owner, kind="deed", upload=pdf_upload()
    )
    url = reverse("partners:document-download", args=[partner.pk, document.pk])
    client.force_login(approver)
    assert client.get(url).status_code == 200
    client.force_login(factories.UserFactory(roles=[Role.OPERATOR]))
    assert client.get(url).status_code == 404
    client.force_login(factories.UserFactory(roles=[Role.RESIDENT]))
    assert client.get(url).status_code == 404


# --- officer decisions ----------------------------------------------------------------------


def test_officer_verifies_partner_from_the_page(
    client, approver, owner, partner, django_capture_on_commit_callbacks
):
    client.force_login(approver)
    url = reverse("partners:partner-decide", args=[partner.pk, "verify"])
    assert client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"reason": "NIB matches OSS."}, follow=True)
    assert "The partner is now verified." in response.content.decode()
    assert "NIB matches OSS." in response.content.decode()  # the history on the detail page
    partner.refresh_from_db()
    assert partner.status == PartnerStatus.VERIFIED
    change = partner.status_changes.get()
    assert (change.actor, change.new_status, change.reason) == (
        approver,
        "verified",
        "NIB matches OSS.",
    )
    assert owner.email in {address for message in mail.outbox for address in message.to}


def test_second_verify_shows_conflict_not_500(client, approver, partner):
    client.force_login(approver)
    url = reverse("partners:partner-decide", args=[partner.pk, "verify"])
    client.post(url, {"reason": "first"})
    response = client.post(url, {"reason": "second"}, follow=True)
    assert response.status_code == 200
    assert "Someone else has already decided on this." in response.content.decode()
    assert partner.status_changes.count() == 1


def test_decision_without_reason_shows_form_error(client, approver, partner):
    client.force_login(approver)
    response = client.post(
        reverse("partners:partner-decide", args=[partner.pk, "reject"]), {"reason": " "}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["Give a reason for this decision."]
    partner.refresh_from_db()
    assert partner.status == PartnerStatus.REGISTERED


def test_owner_cannot_verify_own_partner(client, owner, partner):
    client.force_login(owner)
    url = reverse("partners:partner-decide", args=[partner.pk, "verify"])
    assert client.get(url).status_code == 403
    assert client.post(url, {"reason": "me"}).status_code == 403
    partner.refresh_from_db()
    assert partner.status == PartnerStatus.REGISTERED


# --- camera networks ------------------------------------------------------------------------


def test_network_propose_checks_ports_and_cidr(client, owner, partner):
    client.force_login(owner)
    url = reverse("partners:network-create", args=[partner.pk])
    response = client.post(url, {"cidr": "10.20.0.0/24", "ports": "554, rtsp"})
    assert "ports" in response.context["form"].errors
    response = client.post(url, {"cidr": "10.20.0.1/24", "ports": "554"})
    assert "cidr" in response.context["form"].errors
    response = client.post(url, {"cidr": "10.20.0.0/24", "ports": "554, 80", "description": "Pos"})
    assert response.status_code == 302
    network = CameraNetwork.objects.get(partner=partner)
    assert (network.ports, network.status) == ([80, 554], NetworkStatus.PENDING)


def test_network_approval_waits_for_partner_verification(client, owner, partner, approver):
    network = services.network_request(
        partner=partner, actor=owner, cidr="10.30.0.0/24", ports=[554]
    )
    client.force_login(approver)
    url = reverse("partners:network-decide", args=[partner.pk, network.pk, "approve"])
    response = client.post(url, {"reason": ""})
    assert "Verify the partner before approving its networks." in response.content.decode()
    services.partner_verify(partner=partner, actor=approver, reason="ok")
    response = client.post(url, {"reason": ""}, follow=True)
    assert "The camera network is approved." in response.content.decode()
    network.refresh_from_db()
    assert network.status == NetworkStatus.APPROVED
