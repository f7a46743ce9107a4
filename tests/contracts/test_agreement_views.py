from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from contracts import agreement_services as services
from contracts import services as pipeline
from contracts.models import Contract, ContractDocument, ContractParty, ContractStatusChange
from portal.roles import Role
from tests import factories
from tests.conftest import pdf_upload


@pytest.fixture(autouse=True)
def english(client):
    """Pages in English, so the assertions hold once the Indonesian translations land."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


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


@pytest.fixture
def drafter(db):
    return factories.officer(Role.OFFICER_REVIEWER, language="en")


@pytest.fixture
def legal(db):
    return factories.officer(Role.OFFICER_LEGAL, language="en")


@pytest.fixture
def host(owner):
    return factories.verified_partner(owner)


@pytest.fixture
def site(host):
    return factories.make_active_site(host, cameras=2)


def _as(user) -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(user)
    return client


def _url(name: str, *args) -> str:
    return reverse(f"contracts:{name}", args=args)


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
    return contract


def _signed(drafter, legal, partner, sites, **kw):
    contract = _draft(drafter, partner, sites, **kw)
    services.contract_submit_for_review(contract=contract, actor=drafter)
    services.contract_sign(contract=contract, actor=legal, signed_pdf=pdf_upload("ttd.pdf"))
    return Contract.objects.get(pk=contract.pk)


# --- Officers draft and steer a contract through its pages ----------------------------------


def test_contract_pages_officer_drafts_and_takes_it_into_force(drafter, legal, host, site, owner):
    officer = _as(drafter)
    assert officer.get(_url("contract-create")).status_code == 200
    today = timezone.localdate()
    created = officer.post(
        _url("contract-create"),
        {
            "number": "PKS/0005/DISKOMINFOTIK/2026",
            "title": "Kamera Jl. Sabang",
            "term_start": today.isoformat(),
            "term_end": (today + timedelta(days=365)).isoformat(),
            "renewal": "none",
            "total_value": 150_000_000,
            "first_party_signatory": "Budi Santoso",
            "first_party_signatory_title": "Kepala Dinas",
        },
    )
    contract = Contract.objects.get(number="PKS/0005/DISKOMINFOTIK/2026")
    assert created.status_code == 302
    assert created["Location"] == _url("contract-detail", contract.pk)
    pk = contract.pk

    steps = [
        ("contract-set-party", {"partner": host.pk, "roles": ["host", "maintainer"]}),
        ("contract-add-share", {"kind": "apbd", "amount": 100_000_000}),
        ("contract-add-share", {"kind": "cash", "partner": host.pk, "amount": 40_000_000}),
        ("contract-add-site", {"site": site.pk}),
        ("contract-add-obligation", {"kind": "repair", "value": "24", "responsible": host.pk}),
    ]
    for name, data in steps:
        response = officer.post(_url(name, pk), data)
        assert response.status_code == 302, (name, response.content)
    attached = officer.post(
        _url("contract-add-document", pk), {"kind": "annex", "file": pdf_upload("lampiran.pdf")}
    )
    assert attached.status_code == 302

    page = officer.get(_url("contract-detail", pk)).content.decode()
    # The co-funding table says the shares do not reach the total, with both amounts.
    assert "The shares add up to Rp 140.000.000, not the total value of Rp 150.000.000" in page
    assert "Jl. Medan Merdeka Barat No. 9" in page
    refused = officer.post(_url("contract-action", pk, "submit"), follow=True)
    assert "but the contract&#x27;s total value is Rp 150.000.000" in refused.content.decode()
    assert Contract.objects.get(pk=pk).status == "draft"

    edited = officer.post(
        _url("contract-edit", pk),
        {
            "number": "PKS/0005/DISKOMINFOTIK/2026",
            "title": "Kamera Jl. Sabang",
            "term_start": today.isoformat(),
            "term_end": (today + timedelta(days=365)).isoformat(),
            "renewal": "none",
            "total_value": 140_000_000,
            "first_party_signatory": "Budi Santoso",
            "first_party_signatory_title": "Kepala Dinas",
        },
    )
    assert edited.status_code == 302
    assert (
        "The shares add up to the total value."
        in officer.get(_url("contract-detail", pk)).content.decode()
    )
    officer.post(_url("contract-action", pk, "submit"))
    assert Contract.objects.get(pk=pk).status == "legal_review"

    # The legal reviewer sees the signing form; the officer who sent it does not.
    assert "Record the signature" not in officer.get(_url("contract-detail", pk)).content.decode()
    reviewer = _as(legal)
    assert "Record the signature" in reviewer.get(_url("contract-detail", pk)).content.decode()
    signed = reviewer.post(_url("contract-sign", pk), {"signed_pdf": pdf_upload("ttd.pdf")})
    assert signed.status_code == 302
    contract = Contract.objects.get(pk=pk)
    assert contract.status == "signed"
    page = officer.get(_url("contract-detail", pk)).content.decode()
    assert "The signed agreement is final" in page
    assert "Attach a draft text or an annex" not in page

    officer.post(_url("contract-action", pk, "activate"))
    assert Contract.objects.get(pk=pk).status == "active"

    # A party's owner downloads the signed agreement from the page.
    signed_document = ContractDocument.objects.get(contract_id=pk, kind="signed")
    download = _as(owner).get(_url("contract-document", pk, signed_document.pk))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"

    amended = officer.post(_url("contract-amend", pk), {"reason": "Tambah kamera"})
    addendum = Contract.objects.get(number=contract.number, version=2)
    assert amended["Location"] == _url("contract-detail", addendum.pk)
    page = officer.get(_url("contract-detail", addendum.pk)).content.decode()
    assert "PKS/0005/DISKOMINFOTIK/2026 (addendum 1)" in page
    assert _url("contract-detail", pk) in page  # the version it amends stays readable


def test_contract_pages_form_errors_show_on_the_page(drafter, host):
    contract = _draft(drafter, host, [])
    officer = _as(drafter)
    response = officer.post(
        _url("contract-add-obligation", contract.pk),
        {"kind": "uptime", "value": "120", "responsible": host.pk},
    )
    assert response.status_code == 400
    assert "The value must be between 50 and 100." in response.content.decode()
    apbd = officer.post(
        _url("contract-add-share", contract.pk),
        {"kind": "apbd", "partner": host.pk, "amount": 5},
    )
    assert "APBD money is the city&#x27;s" in apbd.content.decode()


def test_contract_pages_return_needs_a_reason(drafter, legal, host, site):
    contract = _draft(drafter, host, [site])
    services.contract_submit_for_review(contract=contract, actor=drafter)
    reviewer = _as(legal)
    refused = reviewer.post(_url("contract-action", contract.pk, "return"), follow=True)
    assert "Say what must change" in refused.content.decode()
    reviewer.post(_url("contract-action", contract.pk, "return"), {"reason": "Pasal 5"})
    assert Contract.objects.get(pk=contract.pk).status == "draft"


def test_application_page_offers_officers_to_draft_the_contract(drafter, owner, host):
    application = factories.make_application(host, cofunding_cash=10_000_000)
    reviewer = factories.officer(Role.OFFICER_REVIEWER)
    pipeline.application_submit(application=application, actor=owner)
    pipeline.application_start_review(application=application, actor=reviewer)
    pipeline.application_finish_technical_review(application=application, actor=reviewer)
    pipeline.application_approve(application=application, actor=factories.officer())
    page_url = _url("application-detail", application.pk)
    assert "Draft contract" not in _as(owner).get(page_url).content.decode()
    officer = _as(drafter)
    assert "Draft contract" in officer.get(page_url).content.decode()
    response = officer.post(_url("contract-from-application", application.pk))
    contract = Contract.objects.get(application=application)
    assert response["Location"] == _url("contract-detail", contract.pk)
    assert contract.number in officer.get(page_url).content.decode()
    again = officer.post(_url("contract-from-application", application.pk), follow=True)
    assert "already has contract" in again.content.decode()
    assert _as(owner).post(_url("contract-from-application", application.pk)).status_code == 403
    assert Contract.objects.count() == 1


# --- Partners read their contracts ----------------------------------------------------------


def test_contract_list_officers_see_all_partners_their_own(drafter, host, site, owner, other_owner):
    mine = _draft(drafter, host, [site])
    other = factories.verified_partner(other_owner)
    theirs = _draft(drafter, other, [], number="PKS/0002/DISKOMINFOTIK/2026")
    page = _as(owner).get(_url("contract-list")).content.decode()
    assert "My contracts" in page
    assert mine.number in page
    assert theirs.number not in page
    officer_page = _as(drafter).get(_url("contract-list")).content.decode()
    assert mine.number in officer_page
    assert theirs.number in officer_page
    filtered = _as(drafter).get(_url("contract-list"), {"q": "0002"}).content.decode()
    assert theirs.number in filtered
    assert mine.number not in filtered


def test_contract_page_is_read_only_for_a_party(drafter, legal, host, site, owner):
    contract = _signed(drafter, legal, host, [site])
    client = _as(owner)
    page = client.get(_url("contract-detail", contract.pk)).content.decode()
    for form_text in (
        "Add a party",
        "Add a share",
        "Cover a site",
        "Add an obligation",
        "Terminate",
    ):
        assert form_text not in page
    document = ContractDocument.objects.get(contract=contract)
    assert _url("contract-document", contract.pk, document.pk) in page
    assert client.get(_url("contract-document", contract.pk, document.pk)).status_code == 200


OFFICER_POSTS = [
    ("contract-edit", ()),
    ("contract-set-party", ()),
    ("contract-remove-party", ("partner",)),
    ("contract-add-share", ()),
    ("contract-remove-share", ("share",)),
    ("contract-add-site", ()),
    ("contract-remove-site", ("site",)),
    ("contract-add-obligation", ()),
    ("contract-remove-obligation", ("obligation",)),
    ("contract-add-document", ()),
    ("contract-sign", ()),
    ("contract-amend", ()),
    ("contract-action", ("submit",)),
    ("contract-action", ("terminate",)),
]


@pytest.fixture
def theirs(drafter, other_owner):
    partner = factories.verified_partner(other_owner)
    site = factories.make_active_site(partner)
    contract = _draft(drafter, partner, [site])
    services.contract_add_document(
        contract=contract, actor=drafter, upload=pdf_upload("draf.pdf"), kind="draft"
    )
    return {
        "contract": contract,
        "partner": partner.pk,
        "share": contract.shares.get().pk,
        "site": site.pk,
        "obligation": contract.obligations.get().pk,
        "document": contract.documents.get().pk,
        "submit": "submit",
        "terminate": "terminate",
    }


def _post_url(name, extra, ids):
    return _url(name, ids["contract"].pk, *(ids[key] for key in extra))


def _unchanged(ids):
    contract = Contract.objects.get(pk=ids["contract"].pk)
    assert (contract.status, contract.title) == ("draft", "Kerja sama CCTV")
    assert ContractParty.objects.filter(contract=contract).count() == 1
    assert contract.shares.count() == contract.covered_sites.count() == 1
    assert (
        contract.obligations.count()
        == ContractDocument.objects.filter(contract=contract).count()
        == 1
    )
    assert ContractStatusChange.objects.filter(contract=contract).count() == 1
    assert Contract.objects.count() == 1


@pytest.mark.parametrize(("name", "extra"), OFFICER_POSTS)
def test_contract_pages_other_partner_gets_404(owner, host, theirs, name, extra):
    response = _as(owner).post(_post_url(name, extra, theirs), {"reason": "x", "title": "x"})
    assert response.status_code == 404
    _unchanged(theirs)


@pytest.mark.parametrize(("name", "extra"), OFFICER_POSTS)
def test_contract_pages_party_member_cannot_take_officer_steps(other_owner, theirs, name, extra):
    response = _as(other_owner).post(_post_url(name, extra, theirs), {"reason": "x", "title": "x"})
    assert response.status_code == 403
    _unchanged(theirs)


def test_contract_pages_nothing_leaks_to_another_partner_or_kota(owner, host, theirs):
    contract = theirs["contract"]
    reads = [
        _url("contract-detail", contract.pk),
        _url("contract-document", contract.pk, theirs["document"]),
    ]
    for user in (owner, factories.sudin_officer("31.72")):
        client = _as(user)
        for url in reads:
            assert client.get(url).status_code == 404, url
        assert contract.number not in client.get(_url("contract-list")).content.decode()


def test_contract_documents_not_for_operators(other_owner, theirs):
    contract = theirs["contract"]
    operator = _as(factories.officer(Role.OPERATOR))
    page = operator.get(_url("contract-detail", contract.pk))
    assert page.status_code == 200
    document_url = _url("contract-document", contract.pk, theirs["document"])
    assert document_url not in page.content.decode()
    assert operator.get(document_url).status_code == 404
    assert operator.get(_url("contract-create")).status_code == 403


def test_contract_pages_need_login(client, theirs):
    response = client.get(_url("contract-detail", theirs["contract"].pk))
    assert response.status_code == 302
    assert settings.LOGIN_URL in response["Location"]
