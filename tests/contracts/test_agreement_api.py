import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from contracts import agreement_services as services
from contracts import services as pipeline
from contracts.models import (
    Contract,
    ContractDocument,
    ContractParty,
    ContractStatusChange,
    FundingShare,
    Obligation,
)
from portal.roles import Role
from tests import factories
from tests.conftest import api_as, pdf_upload


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path, "base_url": None},
        },
    }
    return tmp_path


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def drafter(db):
    return factories.officer(Role.OFFICER_REVIEWER)


@pytest.fixture
def legal(db):
    return factories.officer(Role.OFFICER_LEGAL)


@pytest.fixture
def host(owner):
    return factories.verified_partner(owner)


@pytest.fixture
def site(host):
    return factories.make_active_site(host, cameras=2)


def _draft(actor, partner, sites, number="PKS/0001/DISKOMINFOTIK/2026", total=100_000_000):
    today = timezone.localdate()
    contract = services.contract_create(
        actor=actor,
        number=number,
        title="Kerja sama CCTV",
        term_start=today,
        term_end=today + timedelta(days=365),
        total_value=total,
        first_party_signatory="Budi Santoso",
    )
    services.contract_set_party(
        contract=contract, actor=actor, partner=partner, roles=["host", "maintainer"]
    )
    services.contract_add_share(
        contract=contract, actor=actor, kind="cash", amount=total, partner=partner
    )
    for site in sites:
        services.contract_add_site(contract=contract, actor=actor, site=site)
    services.contract_add_obligation(
        contract=contract, actor=actor, kind="repair", value=24, responsible=partner
    )
    services.contract_add_document(
        contract=contract, actor=actor, upload=pdf_upload("draf.pdf"), kind="draft"
    )
    return contract


def _to(status, contract, drafter, legal):
    if status in {"legal_review", "signed", "active"}:
        services.contract_submit_for_review(contract=contract, actor=drafter)
    if status in {"signed", "active"}:
        services.contract_sign(contract=contract, actor=legal, signed_pdf=pdf_upload("ttd.pdf"))
    if status == "active":
        services.contract_activate(contract=contract, actor=drafter)
    return Contract.objects.get(pk=contract.pk)


# --- The whole path through the API ---------------------------------------------------------


def test_contract_api_lifecycle(drafter, legal, host, site, owner):
    officer = api_as(drafter)
    today = timezone.localdate()
    created = officer.post(
        "/api/contracts/",
        {
            "number": "PKS/0007/DISKOMINFOTIK/2026",
            "title": "Kamera Jl. Sabang",
            "term_start": str(today),
            "term_end": str(today + timedelta(days=730)),
            "total_value": 150_000_000,
            "first_party_signatory": "Budi Santoso",
            "renewal": "by_addendum",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    base = f"/api/contracts/{pk}"
    party = officer.post(
        f"{base}/parties/",
        {"partner": host.pk, "roles": ["host", "maintainer"], "signatory": "Ani"},
        format="json",
    )
    assert party.status_code == 200, party.content
    assert party.json()["parties"][0]["partner"]["id"] == host.pk
    apbd = officer.post(f"{base}/shares/", {"kind": "apbd", "amount": 100_000_000}, format="json")
    assert apbd.status_code == 200, apbd.content
    cash = officer.post(
        f"{base}/shares/", {"kind": "cash", "amount": 40_000_000, "partner": host.pk}, format="json"
    )
    assert cash.json()["shares_total"] == 140_000_000
    assert officer.post(f"{base}/sites/", {"site": site.pk}, format="json").status_code == 200
    obligation = officer.post(
        f"{base}/obligations/",
        {"kind": "uptime", "value": "99.5", "responsible": host.pk, "sites": [site.pk]},
        format="json",
    )
    assert obligation.status_code == 201, obligation.content
    assert obligation.json()["sites"] == [site.pk]
    annex = officer.post(
        f"{base}/documents/",
        {"file": pdf_upload("lampiran.pdf"), "kind": "annex"},
        format="multipart",
    )
    assert annex.status_code == 201, annex.content

    # The shares do not add up yet: the answer names both amounts.
    refused = officer.post(f"{base}/submit/", {}, format="json")
    assert refused.status_code == 400
    assert "Rp 140.000.000" in refused.json()["detail"]
    assert "Rp 150.000.000" in refused.json()["detail"]
    assert officer.patch(f"{base}/", {"total_value": 140_000_000}, format="json").status_code == 200
    # Four-eyes: the officer who sent it to legal review cannot sign, whatever their roles.
    both = factories.UserFactory(roles=[Role.OFFICER_REVIEWER, Role.OFFICER_LEGAL])
    submitted = api_as(both).post(f"{base}/submit/", {}, format="json")
    assert submitted.json()["status"] == "legal_review"
    body = b"%PDF-1.7\nsigned\n"
    own = api_as(both).post(
        f"{base}/sign/", {"signed_pdf": pdf_upload("ttd.pdf", body=body)}, format="multipart"
    )
    assert own.status_code == 403, own.content
    signed = api_as(legal).post(
        f"{base}/sign/", {"signed_pdf": pdf_upload("ttd.pdf", body=body)}, format="multipart"
    )
    assert signed.status_code == 200, signed.content
    assert signed.json()["status"] == "signed"
    documents = {d["kind"]: d for d in signed.json()["documents"]}
    assert documents["signed"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert set(documents) == {"signed", "annex"}
    # Nothing is added once signed.
    late = officer.post(
        f"{base}/documents/", {"file": pdf_upload(), "kind": "annex"}, format="multipart"
    )
    assert late.status_code == 409

    active = officer.post(f"{base}/activate/", {}, format="json")
    assert (active.status_code, active.json()["status"]) == (200, "active")
    covered = active.json()["sites"][0]
    assert (covered["site"]["id"], covered["in_force"], covered["camera_count"]) == (
        site.pk,
        True,
        2,
    )
    cameras = officer.get(f"{base}/cameras/").json()
    assert len(cameras) == 2
    history = officer.get(f"{base}/history/").json()
    assert [row["new_status"] for row in history] == [
        "draft",
        "legal_review",
        "signed",
        "active",
    ]

    # The party's owner downloads the signed PDF.
    download = api_as(owner).get(documents["signed"]["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == body
    assert download["Content-Type"] == "application/pdf"

    amended = officer.post(f"{base}/amend/", {"reason": "Tambah kamera"}, format="json")
    assert amended.status_code == 201, amended.content
    assert (amended.json()["version"], amended.json()["status"]) == (2, "draft")
    assert [v["version"] for v in amended.json()["versions"]] == [1, 2]


def test_contract_api_from_application(drafter, owner, host):
    application = factories.make_application(host, cofunding_cash=25_000_000)
    reviewer = factories.officer(Role.OFFICER_REVIEWER)
    pipeline.application_submit(application=application, actor=owner)
    pipeline.application_start_review(application=application, actor=reviewer)
    pipeline.application_finish_technical_review(application=application, actor=reviewer)
    pipeline.application_approve(application=application, actor=factories.officer())
    client = api_as(drafter)
    created = client.post(
        "/api/contracts/from-application/", {"application": application.pk}, format="json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["number"].startswith("PKS/0001/DISKOMINFOTIK/")
    assert body["total_value"] == body["shares_total"] == 25_000_000
    assert body["parties"][0]["roles"] == ["host", "funder", "maintainer"]
    assert len(body["sites"]) == 1
    again = client.post(
        "/api/contracts/from-application/", {"application": application.pk}, format="json"
    )
    assert again.status_code == 409
    # The applicant's own owner sees the application but drafts no contract.
    mine = api_as(owner).post(
        "/api/contracts/from-application/", {"application": application.pk}, format="json"
    )
    assert mine.status_code == 403


def test_contract_api_draft_edits_and_removals(drafter, host, site):
    contract = _draft(drafter, host, [site])
    client = api_as(drafter)
    base = f"/api/contracts/{contract.pk}"
    bad = client.post(
        f"{base}/shares/", {"kind": "cash", "amount": -1, "partner": host.pk}, format="json"
    )
    assert (bad.status_code, bad.json()["errors"]) == (
        400,
        {"amount": ["The amount must be more than Rp 0."]},
    )
    stranger = factories.verified_partner()
    not_party = client.post(
        f"{base}/shares/", {"kind": "csr", "amount": 5, "partner": stranger.pk}, format="json"
    )
    assert not_party.status_code == 400
    bounds = client.post(
        f"{base}/obligations/",
        {"kind": "uptime", "value": 120, "responsible": host.pk},
        format="json",
    )
    assert bounds.status_code == 400
    assert "between 50 and 100" in bounds.json()["detail"]
    obligation = Obligation.objects.get(contract=contract)
    assert client.delete(f"{base}/obligations/{obligation.pk}/").status_code == 204
    share = FundingShare.objects.get(contract=contract)
    assert client.delete(f"{base}/shares/{share.pk}/").status_code == 204
    assert client.delete(f"{base}/sites/{site.pk}/").status_code == 204
    assert client.delete(f"{base}/parties/{host.pk}/").status_code == 204
    assert client.delete(f"{base}/parties/{host.pk}/").status_code == 404
    assert not ContractParty.objects.filter(contract=contract).exists()


# --- Who may do what ------------------------------------------------------------------------

OFFICER_ROUTES = [
    ("patch", "/api/contracts/{pk}/", {"title": "mine now"}),
    ("post", "/api/contracts/{pk}/parties/", "PARTY"),
    ("delete", "/api/contracts/{pk}/parties/{partner}/", None),
    ("post", "/api/contracts/{pk}/shares/", {"kind": "apbd", "amount": 1}),
    ("delete", "/api/contracts/{pk}/shares/{share}/", None),
    ("post", "/api/contracts/{pk}/sites/", "SITE"),
    ("delete", "/api/contracts/{pk}/sites/{site}/", None),
    ("post", "/api/contracts/{pk}/obligations/", "OBLIGATION"),
    ("delete", "/api/contracts/{pk}/obligations/{obligation}/", None),
    ("post", "/api/contracts/{pk}/documents/", "FILE"),
    ("post", "/api/contracts/{pk}/submit/", {}),
    ("post", "/api/contracts/{pk}/return/", {"reason": "x"}),
    ("post", "/api/contracts/{pk}/sign/", "SIGN"),
    ("post", "/api/contracts/{pk}/activate/", {}),
    ("post", "/api/contracts/{pk}/terminate/", {"reason": "x"}),
    ("post", "/api/contracts/{pk}/amend/", {"reason": "x"}),
]
READ_ROUTES = [
    ("get", "/api/contracts/{pk}/", None),
    ("get", "/api/contracts/{pk}/history/", None),
    ("get", "/api/contracts/{pk}/cameras/", None),
    ("get", "/api/contracts/{pk}/documents/{document}/download/", None),
]


@pytest.fixture
def theirs(drafter, other_owner):
    """A draft contract of another partner, with one of everything."""
    partner = factories.verified_partner(other_owner)
    site = factories.make_active_site(partner)
    contract = _draft(drafter, partner, [site])
    return {
        "pk": contract.pk,
        "partner": partner.pk,
        "share": contract.shares.get().pk,
        "site": site.pk,
        "obligation": contract.obligations.get().pk,
        "document": contract.documents.get().pk,
    }


def _call(client, method, url, body, ids):
    path = url.format(**ids)
    if body == "PARTY":
        return client.post(path, {"partner": ids["partner"], "roles": ["funder"]}, format="json")
    if body == "SITE":
        return client.post(path, {"site": ids["site"]}, format="json")
    if body == "OBLIGATION":
        return client.post(path, {"kind": "signage", "responsible": ids["partner"]}, format="json")
    if body == "FILE":
        return client.post(path, {"file": pdf_upload(), "kind": "annex"}, format="multipart")
    if body == "SIGN":
        return client.post(path, {"signed_pdf": pdf_upload()}, format="multipart")
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, body, format="json")


def _unchanged(ids):
    contract = Contract.objects.get(pk=ids["pk"])
    assert (contract.status, contract.title, contract.version) == ("draft", "Kerja sama CCTV", 1)
    assert Contract.objects.filter(number=contract.number).count() == 1
    assert contract.parties.count() == contract.shares.count() == 1
    assert contract.obligations.count() == contract.covered_sites.count() == 1
    assert ContractDocument.objects.filter(contract=contract).count() == 1
    assert ContractStatusChange.objects.filter(contract=contract).count() == 1


@pytest.mark.parametrize(("method", "url", "body"), OFFICER_ROUTES + READ_ROUTES)
def test_contract_api_other_partners_contract_answers_404(owner, host, theirs, method, url, body):
    response = _call(api_as(owner), method, url, body, theirs)
    assert response.status_code == 404, (url, response.content)
    _unchanged(theirs)


@pytest.mark.parametrize(("method", "url", "body"), OFFICER_ROUTES + READ_ROUTES)
def test_contract_api_sudin_of_another_kota_gets_404(theirs, method, url, body):
    response = _call(api_as(factories.sudin_officer("31.72")), method, url, body, theirs)
    assert response.status_code == 404, (url, response.content)
    _unchanged(theirs)


@pytest.mark.parametrize(("method", "url", "body"), OFFICER_ROUTES)
def test_contract_api_party_member_cannot_take_officer_steps(
    other_owner, theirs, method, url, body
):
    response = _call(api_as(other_owner), method, url, body, theirs)
    assert response.status_code == 403, (url, response.content)
    _unchanged(theirs)


@pytest.mark.parametrize(("method", "url", "body"), OFFICER_ROUTES)
def test_contract_api_operator_reads_but_never_writes(theirs, method, url, body):
    response = _call(api_as(factories.officer(Role.OPERATOR)), method, url, body, theirs)
    assert response.status_code == 403, (url, response.content)
    _unchanged(theirs)


def test_contract_api_documents_only_for_parties_and_officers(other_owner, theirs, drafter):
    path = "/api/contracts/{pk}/documents/{document}/download/".format(**theirs)
    assert api_as(other_owner).get(path).status_code == 200
    assert api_as(drafter).get(path).status_code == 200
    operator = api_as(factories.officer(Role.OPERATOR))
    assert operator.get(path).status_code == 404
    # The operator sees the contract but no download link.
    detail = operator.get("/api/contracts/{pk}/".format(**theirs)).json()
    assert detail["documents"][0]["download_url"] is None
    assert detail["documents"][0]["sha256"]
    party_view = api_as(other_owner).get("/api/contracts/{pk}/".format(**theirs)).json()
    assert party_view["documents"][0]["download_url"].endswith(path)


def test_contract_api_create_refused_to_partners(owner, host):
    today = timezone.localdate()
    response = api_as(owner).post(
        "/api/contracts/",
        {
            "number": "PKS/X",
            "title": "T",
            "term_start": str(today),
            "term_end": str(today),
            "total_value": 0,
            "first_party_signatory": "X",
        },
        format="json",
    )
    assert response.status_code == 403
    assert not Contract.objects.exists()


def test_contract_api_lists_only_own_contracts(owner, host, site, drafter, theirs):
    mine = _draft(drafter, host, [site], number="PKS/0002/DISKOMINFOTIK/2026")
    client = api_as(owner)
    assert [c["id"] for c in client.get("/api/contracts/").json()["results"]] == [mine.pk]
    assert client.get("/api/contracts/", {"partner": theirs["partner"]}).json()["count"] == 0
    assert client.get("/api/contracts/", {"q": "PKS"}).json()["count"] == 1
    officer_list = api_as(drafter).get("/api/contracts/", {"partner": theirs["partner"]}).json()
    assert [c["id"] for c in officer_list["results"]] == [theirs["pk"]]


def test_contract_api_anonymous_refused(api, theirs):
    assert api.get("/api/contracts/").status_code in {401, 403}
    assert api.get("/api/contracts/{pk}/".format(**theirs)).status_code in {401, 403}


# --- Query counts ---------------------------------------------------------------------------


@pytest.mark.parametrize("count", [2, 8])
def test_contract_list_queries_do_not_grow_with_rows(
    django_assert_max_num_queries, owner, host, drafter, legal, count
):
    neighbour = factories.verified_partner()
    for number in range(count):
        sites = [factories.make_active_site(host), factories.make_active_site(host)]
        contract = _draft(drafter, host, sites, number=f"PKS/{number}")
        services.contract_set_party(
            contract=contract, actor=drafter, partner=neighbour, roles=["funder"]
        )
        _to("active", contract, drafter, legal)
    client = api_as(owner)
    with django_assert_max_num_queries(8):
        listed = client.get("/api/contracts/")
    assert listed.json()["count"] == count
    assert {c["site_count"] for c in listed.json()["results"]} == {2}
    assert {len(c["parties"]) for c in listed.json()["results"]} == {2}
    with django_assert_max_num_queries(18):
        detail = client.get(f"/api/contracts/{contract.pk}/")
    assert len(detail.json()["sites"]) == 2


# --- OpenAPI --------------------------------------------------------------------------------

CONTRACT_PATHS = [
    "/api/contracts/",
    "/api/contracts/{id}/",
    "/api/contracts/from-application/",
    "/api/contracts/{id}/parties/",
    "/api/contracts/{id}/parties/{partner_id}/",
    "/api/contracts/{id}/shares/",
    "/api/contracts/{id}/shares/{share_id}/",
    "/api/contracts/{id}/sites/",
    "/api/contracts/{id}/sites/{site_id}/",
    "/api/contracts/{id}/obligations/",
    "/api/contracts/{id}/obligations/{obligation_id}/",
    "/api/contracts/{id}/documents/",
    "/api/contracts/{id}/documents/{document_id}/download/",
    "/api/contracts/{id}/submit/",
    "/api/contracts/{id}/return/",
    "/api/contracts/{id}/sign/",
    "/api/contracts/{id}/activate/",
    "/api/contracts/{id}/terminate/",
    "/api/contracts/{id}/amend/",
    "/api/contracts/{id}/history/",
    "/api/contracts/{id}/cameras/",
]


def test_contract_api_in_openapi_schema(owner):
    schema = api_as(owner).get("/api/schema/", {"format": "json"}).json()
    assert [path for path in CONTRACT_PATHS if path not in schema["paths"]] == []
    sign = schema["paths"]["/api/contracts/{id}/sign/"]["post"]
    assert list(sign["requestBody"]["content"]) == ["multipart/form-data"]
    assert {"403", "409"} <= set(sign["responses"])
    params = {p["name"] for p in schema["paths"]["/api/contracts/"]["get"]["parameters"]}
    assert {"status", "partner", "kota", "expiring_within_days", "q"} <= params
