import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from partners import services
from partners.models import (
    CameraNetwork,
    Invitation,
    MemberRole,
    Membership,
    NetworkStatus,
    Partner,
    PartnerDocument,
    PartnerKind,
    PartnerStatus,
)
from tests import factories
from tests.conftest import api_as, pdf_upload

PDF_BYTES = b"%PDF-1.7\n%test\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    """Uploaded files land in a fresh directory per test, so 'nothing stored' can be checked."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path, "base_url": None},
        },
    }
    return tmp_path


def stored_files(root) -> list:
    return [path for path in root.rglob("*") if path.is_file()]


def error_fields(response) -> set[str]:
    """Field names a 400 names: service errors nest them under "errors", DRF's are top-level."""
    body = response.json()
    return set(body.get("errors", {})) | (set(body) - {"detail", "code", "errors"})


def make_children(partner, owner) -> dict[str, int]:
    """One of each partner-owned row, made through the services."""
    invitation = services.invitation_create(
        partner=partner,
        actor=owner,
        email=f"invitee{partner.pk}@example.test",
        role=MemberRole.STAFF,
    )
    document = services.document_upload(
        partner=partner, actor=owner, kind="deed", upload=pdf_upload()
    )
    network = services.network_request(
        partner=partner, actor=owner, cidr=f"10.{partner.pk % 250}.0.0/24", ports=[554]
    )
    return {
        "partner": partner.pk,
        "membership": partner.memberships.get().pk,
        "invitation": invitation.pk,
        "document": document.pk,
        "network": network.pk,
    }


@pytest.fixture
def theirs(other_partner, other_owner) -> dict[str, int]:
    return make_children(other_partner, other_owner)


@pytest.fixture
def ours(partner, owner) -> dict[str, int]:
    return make_children(partner, owner)


# --- Nothing leaks --------------------------------------------------------------------------

DETAIL_REQUESTS = [
    ("get", "/api/partners/{partner}/", None),
    ("patch", "/api/partners/{partner}/", {"name": "Taken over"}),
    ("get", "/api/partners/{partner}/history/", None),
    ("post", "/api/partners/{partner}/verify/", {"reason": "x"}),
    ("post", "/api/partners/{partner}/reject/", {"reason": "x"}),
    ("post", "/api/partners/{partner}/suspend/", {"reason": "x"}),
    ("post", "/api/partners/{partner}/reinstate/", {"reason": "x"}),
    ("get", "/api/memberships/{membership}/", None),
    ("patch", "/api/memberships/{membership}/", {"role": "technician"}),
    ("delete", "/api/memberships/{membership}/", None),
    ("get", "/api/invitations/{invitation}/", None),
    ("post", "/api/invitations/{invitation}/revoke/", None),
    (
        "post",
        "/api/invitations/",
        {"partner": "{partner}", "email": "spy@example.test", "role": "owner"},
    ),
    ("get", "/api/documents/{document}/", None),
    ("get", "/api/documents/{document}/download/", None),
    ("get", "/api/networks/{network}/", None),
    ("get", "/api/networks/{network}/history/", None),
    ("post", "/api/networks/{network}/approve/", {"reason": "x"}),
    ("post", "/api/networks/{network}/reject/", {"reason": "x"}),
    ("post", "/api/networks/{network}/revoke/", {"reason": "x"}),
    ("post", "/api/networks/", {"partner": "{partner}", "cidr": "10.99.0.0/24", "ports": [554]}),
]


@pytest.mark.parametrize(("method", "url", "body"), DETAIL_REQUESTS)
def test_partner_api_other_partners_objects_answer_404(owner, partner, theirs, method, url, body):
    if body is not None:
        body = {k: (v.format(**theirs) if isinstance(v, str) else v) for k, v in body.items()}
    response = getattr(api_as(owner), method)(url.format(**theirs), body, format="json")
    assert response.status_code == 404, response.content
    other = Partner.objects.get(pk=theirs["partner"])
    assert other.status == PartnerStatus.REGISTERED
    assert other.name != "Taken over"
    assert Membership.objects.get(pk=theirs["membership"]).role == MemberRole.OWNER
    assert Invitation.objects.get(pk=theirs["invitation"]).revoked_at is None
    assert CameraNetwork.objects.get(pk=theirs["network"]).status == NetworkStatus.PENDING
    assert not CameraNetwork.objects.filter(cidr="10.99.0.0/24").exists()
    assert not Invitation.objects.filter(email="spy@example.test").exists()


def test_partner_api_document_upload_for_other_partner_answers_404(owner, theirs, private_storage):
    before = stored_files(private_storage)
    response = api_as(owner).post(
        "/api/documents/",
        {"partner": theirs["partner"], "kind": "deed", "file": pdf_upload()},
        format="multipart",
    )
    assert response.status_code == 404
    assert PartnerDocument.objects.filter(partner_id=theirs["partner"]).count() == 1
    assert stored_files(private_storage) == before


LIST_URLS = {
    "partner": "/api/partners/",
    "membership": "/api/memberships/",
    "invitation": "/api/invitations/",
    "document": "/api/documents/",
    "network": "/api/networks/",
}


@pytest.mark.parametrize("kind", list(LIST_URLS))
def test_partner_api_lists_contain_only_own_rows(owner, ours, theirs, kind):
    client = api_as(owner)
    response = client.get(LIST_URLS[kind])
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [ours[kind]]
    if kind != "partner":
        filtered = client.get(LIST_URLS[kind], {"partner": theirs["partner"]})
        assert filtered.status_code == 200
        assert filtered.json()["results"] == []


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/partners/"),
        ("post", "/api/partners/"),
        ("get", "/api/partners/{partner}/"),
        ("post", "/api/partners/{partner}/verify/"),
        ("get", "/api/partners/{partner}/history/"),
        ("get", "/api/memberships/"),
        ("delete", "/api/memberships/{membership}/"),
        ("get", "/api/invitations/"),
        ("post", "/api/invitations/accept/"),
        ("get", "/api/documents/"),
        ("get", "/api/documents/{document}/download/"),
        ("get", "/api/networks/"),
        ("post", "/api/networks/{network}/approve/"),
        ("get", "/api/me/"),
    ],
)
def test_partner_api_refuses_anonymous(api, ours, method, url):
    response = getattr(api, method)(url.format(**ours))
    assert response.status_code in (401, 403)
    assert "results" not in response.json()


# --- Officers -------------------------------------------------------------------------------


def test_partner_api_city_officer_sees_every_partner(approver, partner, other_partner):
    response = api_as(approver).get("/api/partners/")
    assert {row["id"] for row in response.json()["results"]} == {partner.pk, other_partner.pk}


@pytest.fixture
def barat_and_pusat(db):
    barat = factories.make_partner(kelurahan_code="31.73.01.1001")
    pusat = factories.make_partner(kelurahan_code="31.71.01.1001")
    return barat, pusat


def test_partner_api_sudin_officer_sees_only_their_kota(barat_and_pusat):
    barat, _pusat = barat_and_pusat
    sudin = factories.sudin_officer("31.73")
    response = api_as(sudin).get("/api/partners/")
    rows = response.json()["results"]
    assert [row["id"] for row in rows] == [barat.pk]
    assert rows[0]["kota"]["code"] == "31.73"


def test_partner_api_sudin_officer_verifies_only_in_their_kota(barat_and_pusat):
    barat, pusat = barat_and_pusat
    client = api_as(factories.sudin_officer("31.73"))
    assert client.post(f"/api/partners/{barat.pk}/verify/", {"reason": "OSS ok"}).status_code == 200
    assert client.post(f"/api/partners/{pusat.pk}/verify/", {"reason": "OSS ok"}).status_code == 404
    pusat.refresh_from_db()
    assert pusat.status == PartnerStatus.REGISTERED


def test_partner_api_filters_by_kota_kind_and_search(approver, barat_and_pusat):
    barat, pusat = barat_and_pusat
    community = factories.make_partner(kind=PartnerKind.COMMUNITY, name="RW 05 Gambir")
    client = api_as(approver)

    def ids(params):
        return {row["id"] for row in client.get("/api/partners/", params).json()["results"]}

    assert ids({"kota": "31.73"}) == {barat.pk}
    assert ids({"kelurahan": "31.71.01.1001"}) == {pusat.pk, community.pk}
    assert ids({"kind": "community"}) == {community.pk}
    assert ids({"search": barat.nib}) == {barat.pk}
    assert ids({"search": "rw 05"}) == {community.pk}


# --- Registration and edits -----------------------------------------------------------------


def registration(**overrides) -> dict:
    body = {
        "kind": "business",
        "name": "PT Kamera Sejahtera",
        "legal_name": "PT Kamera Sejahtera",
        "nib": "9120001234567",
        "npwp": "0123.4567.8901.2345",
        "kelurahan": "31.71.01.1001",
        "address": "Jl. Merdeka No. 1",
        "contact_name": "Budi",
        "contact_email": "budi@example.test",
        "contact_phone": "+62215550100",
    }
    body.update(overrides)
    return body


def test_partner_api_register_makes_caller_owner_and_normalises_npwp(owner):
    client = api_as(owner)
    response = client.post("/api/partners/", registration(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["npwp"] == "0123456789012345"
    assert body["status"] == "registered"
    assert (body["kelurahan"]["code"], body["kota"]["code"]) == ("31.71.01.1001", "31.71")
    me = client.get("/api/me/").json()
    assert [(m["partner"], m["role"]) for m in me["memberships"]] == [(body["id"], "owner")]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"nib": "12345"}, "nib"),
        ({"nib": "91200012345678"}, "nib"),
        ({"npwp": "01.234.567.8-901.234"}, "npwp"),
        ({"legal_name": ""}, "legal_name"),
        (
            {"kind": "community", "community_type": "rt_rw", "rw_number": "005", "sk_number": ""},
            "sk_number",
        ),
        ({"kelurahan": "31.71"}, "kelurahan"),
        ({"kelurahan": "99.99.99.9999"}, "kelurahan"),
    ],
)
def test_partner_api_register_rejects_invalid_identity(owner, overrides, field):
    response = api_as(owner).post("/api/partners/", registration(**overrides), format="json")
    assert response.status_code == 400
    assert field in error_fields(response)
    assert not Partner.objects.exists()


def test_partner_api_register_community_without_legal_identity(owner):
    body = registration(
        kind="community",
        name="RW 05 Gambir",
        community_type="rt_rw",
        rw_number="005",
        sk_number="SK/005/2026",
    )
    response = api_as(owner).post("/api/partners/", body, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["nib"], response.json()["npwp"]) == ("", "")


def test_partner_api_owner_edits_but_technician_cannot(partner, owner):
    technician = factories.UserFactory()
    services.membership_add(partner=partner, user=technician, role=MemberRole.TECHNICIAN)
    url = f"/api/partners/{partner.pk}/"
    assert api_as(technician).patch(url, {"name": "Mine now"}).status_code == 403
    response = api_as(owner).patch(url, {"contact_phone": "+62215550199"})
    assert response.status_code == 200
    partner.refresh_from_db()
    assert (partner.name, partner.contact_phone) != ("Mine now", "+62215550100")
    assert partner.contact_phone == "+62215550199"


def test_partner_api_put_is_not_offered(partner, owner):
    response = api_as(owner).put(f"/api/partners/{partner.pk}/", registration(), format="json")
    assert response.status_code == 405


# --- Verification ---------------------------------------------------------------------------


def test_partner_api_verify_then_history_shows_who_and_why(partner, approver, owner):
    response = api_as(approver).post(
        f"/api/partners/{partner.pk}/verify/", {"reason": "Matches OSS."}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "verified"
    history = api_as(owner).get(f"/api/partners/{partner.pk}/history/").json()
    assert [(h["actor_name"], h["old_status"], h["new_status"], h["reason"]) for h in history] == [
        (str(approver), "registered", "verified", "Matches OSS.")
    ]


def test_partner_api_illegal_transition_is_409(partner, approver):
    client = api_as(approver)
    response = client.post(f"/api/partners/{partner.pk}/reinstate/", {"reason": "why not"})
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert "Registered" in response.json()["detail"]


def test_partner_api_decision_without_reason_is_400(partner, approver):
    response = api_as(approver).post(f"/api/partners/{partner.pk}/reject/", {})
    assert response.status_code == 400
    assert "reason" in error_fields(response)
    partner.refresh_from_db()
    assert partner.status == PartnerStatus.REGISTERED


def test_partner_api_member_cannot_verify_own_partner(partner, owner):
    response = api_as(owner).post(f"/api/partners/{partner.pk}/verify/", {"reason": "trust me"})
    assert response.status_code == 403
    partner.refresh_from_db()
    assert partner.status == PartnerStatus.REGISTERED


def test_partner_api_suspend_and_reinstate(partner, approver):
    client = api_as(approver)
    for action, expected in [
        ("verify", "verified"),
        ("suspend", "suspended"),
        ("reinstate", "verified"),
    ]:
        response = client.post(f"/api/partners/{partner.pk}/{action}/", {"reason": action})
        assert response.json()["status"] == expected


def test_partner_api_status_email_goes_to_owner(
    partner, approver, owner, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        api_as(approver).post(f"/api/partners/{partner.pk}/verify/", {"reason": "Matches OSS."})
    assert owner.email in {address for message in mailoutbox for address in message.to}


# --- Members and invitations ----------------------------------------------------------------


def test_invitation_api_invite_and_accept(
    partner, owner, mailoutbox, django_capture_on_commit_callbacks
):
    invitee = factories.UserFactory(email="new.staff@example.test")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(owner).post(
            "/api/invitations/",
            {"partner": partner.pk, "email": "New.Staff@example.test", "role": "staff"},
        )
    assert response.status_code == 201, response.content
    assert "token" not in response.json()
    assert [message.to for message in mailoutbox] == [["new.staff@example.test"]]
    token = Invitation.objects.get(pk=response.json()["id"]).token
    assert str(token) in mailoutbox[0].body

    stranger = factories.UserFactory()
    assert (
        api_as(stranger).post("/api/invitations/accept/", {"token": str(token)}).status_code == 403
    )
    accepted = api_as(invitee).post("/api/invitations/accept/", {"token": str(token)})
    assert accepted.status_code == 200
    assert (accepted.json()["partner"], accepted.json()["role"]) == (partner.pk, "staff")
    listed = api_as(invitee).get("/api/partners/").json()["results"]
    assert [row["id"] for row in listed] == [partner.pk]
    assert api_as(owner).get("/api/invitations/").json()["results"] == []


def test_invitation_api_accept_with_bad_token_is_400(owner):
    client = api_as(owner)
    assert client.post("/api/invitations/accept/", {"token": "nope"}).status_code == 400
    response = client.post(
        "/api/invitations/accept/", {"token": "00000000-0000-0000-0000-000000000000"}
    )
    assert response.status_code == 400
    assert "not valid" in response.json()["detail"]


def test_invitation_api_revoke(partner, owner, ours):
    client = api_as(owner)
    response = client.post(f"/api/invitations/{ours['invitation']}/revoke/")
    assert response.status_code == 200
    assert client.get("/api/invitations/").json()["results"] == []
    again = client.post(f"/api/invitations/{ours['invitation']}/revoke/")
    assert again.status_code == 404  # a withdrawn invitation is no longer pending


def test_membership_api_change_role_and_remove(partner, owner):
    staff = factories.UserFactory()
    membership = services.membership_add(partner=partner, user=staff, role=MemberRole.STAFF)
    client = api_as(owner)
    url = f"/api/memberships/{membership.pk}/"
    assert api_as(staff).patch(url, {"role": "owner"}).status_code == 403
    response = client.patch(url, {"role": "technician"})
    assert response.status_code == 200
    assert response.json()["role"] == "technician"
    assert not staff.has_perm("partners.manage_partner_documents", partner)
    assert client.delete(url).status_code == 204
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_membership_api_last_owner_cannot_leave(partner, owner):
    own = partner.memberships.get()
    response = api_as(owner).delete(f"/api/memberships/{own.pk}/")
    assert response.status_code == 400
    assert "owner" in response.json()["detail"]


# --- Documents ------------------------------------------------------------------------------


def upload(client, partner, file, kind="deed"):
    return client.post(
        "/api/documents/", {"partner": partner.pk, "kind": kind, "file": file}, format="multipart"
    )


def test_document_api_upload_hash_and_download_same_bytes(partner, owner):
    client = api_as(owner)
    response = upload(client, partner, SimpleUploadedFile("Akta Pendirian.pdf", PDF_BYTES))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sha256"] == hashlib.sha256(PDF_BYTES).hexdigest()
    assert (body["size"], body["original_name"]) == (len(PDF_BYTES), "Akta Pendirian.pdf")
    assert "file" not in body
    assert "partner-documents" not in response.content.decode()

    download = client.get(f"/api/documents/{body['id']}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF_BYTES
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment")
    assert download["X-Content-Type-Options"] == "nosniff"


def test_document_api_officer_downloads_but_operator_does_not(partner, owner, approver, ours):
    url = f"/api/documents/{ours['document']}/download/"
    assert api_as(approver).get(url).status_code == 200
    operator = factories.UserFactory(roles=["operator"])
    assert api_as(operator).get(url).status_code == 404


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("akta.docx", PDF_BYTES, "PDF"),
        ("akta.pdf", b"MZ\x90\x00 not a pdf at all", "not a PDF"),
        ("akta.pdf", PDF_BYTES * 4, "too large"),
    ],
)
def test_document_api_rejects_bad_files_and_stores_nothing(
    partner, owner, settings, private_storage, name, data, message
):
    settings.MAX_DOCUMENT_BYTES = len(PDF_BYTES) * 2
    response = upload(api_as(owner), partner, SimpleUploadedFile(name, data))
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert "file" in error_fields(response)
    assert not PartnerDocument.objects.exists()
    assert stored_files(private_storage) == []


def test_document_api_technician_cannot_upload(partner):
    technician = factories.UserFactory()
    services.membership_add(partner=partner, user=technician, role=MemberRole.TECHNICIAN)
    response = upload(api_as(technician), partner, pdf_upload())
    assert response.status_code == 403
    assert not PartnerDocument.objects.exists()


# --- Camera networks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cidr", "ports", "field"),
    [
        ("not-a-network", [554], "cidr"),
        ("10.1.2.3/24", [554], "cidr"),
        ("10.0.0.0/8", [554], "cidr"),
        ("10.1.2.0/24", [70000], "ports"),
        ("10.1.2.0/24", [], "ports"),
    ],
)
def test_network_api_rejects_bad_requests(partner, owner, cidr, ports, field):
    response = api_as(owner).post(
        "/api/networks/", {"partner": partner.pk, "cidr": cidr, "ports": ports}, format="json"
    )
    assert response.status_code == 400
    assert field in error_fields(response)
    assert not CameraNetwork.objects.exists()


def test_network_api_approve_requires_verified_partner(partner, owner, approver):
    created = api_as(owner).post(
        "/api/networks/",
        {"partner": partner.pk, "cidr": "10.1.2.0/24", "ports": [554, 80, 554]},
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["ports"] == [80, 554]
    url = f"/api/networks/{created.json()['id']}/approve/"
    officer = api_as(approver)

    refused = officer.post(url, {})
    assert refused.status_code == 400
    assert "Verify the partner" in refused.json()["detail"]
    assert api_as(owner).post(url, {}).status_code == 403

    services.partner_verify(partner=partner, actor=approver, reason="ok")
    approved = officer.post(url, {})
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    history = officer.get(f"/api/networks/{created.json()['id']}/history/").json()
    assert [(h["old_status"], h["new_status"]) for h in history] == [
        ("", "pending"),
        ("pending", "approved"),
    ]


# --- Query counts ---------------------------------------------------------------------------


@pytest.mark.parametrize("count", [3, 10])
@pytest.mark.parametrize("as_officer", [True, False])
def test_partner_api_list_queries_do_not_grow_with_rows(
    django_assert_max_num_queries, owner, approver, count, as_officer
):
    for _ in range(count):
        factories.make_partner(owner)
    client = api_as(approver if as_officer else owner)
    with django_assert_max_num_queries(4):
        response = client.get("/api/partners/")
    assert response.json()["count"] == count
