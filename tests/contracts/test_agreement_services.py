import hashlib
import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.http import Http404
from django.utils import timezone, translation

from contracts import agreement_selectors as selectors
from contracts import agreement_services as services
from contracts import services as pipeline
from contracts.models import (
    Contract,
    ContractDocument,
    ContractParty,
    ContractReminder,
    ContractSite,
    ContractStatusChange,
    DocumentKind,
    FundingShare,
    Obligation,
    ObligationKind,
    PartyRole,
    RenewalTerms,
    ShareKind,
)
from partners.models import MemberRole, PartnerKind
from partners.services import membership_add
from portal.errors import Conflict, PermissionDenied, ServiceError
from portal.roles import Role
from sites.models import HostKind
from tests import factories
from tests.conftest import pdf_upload

WIB = ZoneInfo("Asia/Jakarta")


@pytest.fixture(autouse=True)
def _english():
    """Service messages are matched in their English source (Indonesian is the default)."""
    with translation.override("en"):
        yield


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
    # Emails are read in English, the source language (Indonesian is the default).
    owner.language = "en"
    owner.save(update_fields=["language"])
    return factories.verified_partner(owner)


@pytest.fixture
def site(host):
    return factories.make_active_site(host, cameras=2)


def _create(actor, number="PKS/0001/DISKOMINFOTIK/2026", **kw) -> Contract:
    fields = {
        "title": "Kerja sama CCTV Jl. Sabang",
        "term_start": timezone.localdate(),
        "term_end": timezone.localdate() + timedelta(days=365),
        "total_value": 100_000_000,
        "first_party_signatory": "Budi Santoso",
        **kw,
    }
    return services.contract_create(actor=actor, number=number, **fields)


def _complete_draft(actor, partner, sites, number="PKS/0001/DISKOMINFOTIK/2026", **kw) -> Contract:
    """A draft ready for legal review: one party, its sites, shares adding up, one obligation."""
    contract = _create(actor, number=number, **kw)
    services.contract_set_party(
        contract=contract,
        actor=actor,
        partner=partner,
        roles=[PartyRole.HOST, PartyRole.MAINTAINER, PartyRole.FUNDER],
    )
    services.contract_add_share(
        contract=contract, actor=actor, kind=ShareKind.APBD, amount=60_000_000
    )
    services.contract_add_share(
        contract=contract, actor=actor, kind=ShareKind.CASH, amount=40_000_000, partner=partner
    )
    for site in sites:
        services.contract_add_site(contract=contract, actor=actor, site=site)
    services.contract_add_obligation(
        contract=contract,
        actor=actor,
        kind=ObligationKind.REPAIR,
        value=24,
        responsible=partner,
    )
    return contract


def _signed(drafter, legal, partner, sites, **kw) -> Contract:
    contract = _complete_draft(drafter, partner, sites, **kw)
    services.contract_submit_for_review(contract=contract, actor=drafter)
    services.contract_sign(contract=contract, actor=legal, signed_pdf=pdf_upload("pks.pdf"))
    return Contract.objects.get(pk=contract.pk)


def _active(drafter, legal, partner, sites, **kw) -> Contract:
    contract = _signed(drafter, legal, partner, sites, **kw)
    services.contract_activate(contract=contract, actor=drafter)
    return Contract.objects.get(pk=contract.pk)


def _statuses(contract: Contract) -> list[tuple[str, str]]:
    return list(
        ContractStatusChange.objects.filter(contract=contract)
        .order_by("created_at", "id")
        .values_list("old_status", "new_status")
    )


# --- Drafting -------------------------------------------------------------------------------


def test_contract_create_by_officer_records_draft(drafter):
    contract = _create(drafter)
    assert (contract.status, contract.version, contract.created_by) == ("draft", 1, drafter)
    assert _statuses(contract) == [("", "draft")]


@pytest.mark.parametrize("who", ["partner_owner", "operator"])
def test_contract_create_refused_to_non_officers(owner, host, who):
    actor = owner if who == "partner_owner" else factories.officer(Role.OPERATOR)
    with pytest.raises(PermissionDenied):
        _create(actor)
    assert not Contract.objects.exists()


def test_contract_create_number_is_unique(drafter):
    _create(drafter)
    with pytest.raises(ServiceError, match="already exists") as error:
        _create(drafter)
    assert error.value.field == "number"


def test_contract_create_term_end_before_start_refused(drafter):
    with pytest.raises(ServiceError, match="cannot end before"):
        _create(drafter, term_end=timezone.localdate() - timedelta(days=1))


def test_contract_create_sudin_officer_only_in_own_kota(db):
    sudin = factories.sudin_officer("31.71")
    contract = _create(sudin)
    assert contract.kota.code == "31.71"
    with pytest.raises(PermissionDenied):
        _create(sudin, number="PKS/2", kota="31.72")


def test_contract_update_only_draft_and_in_scope(drafter, legal, host, site):
    contract = _complete_draft(drafter, host, [site])
    services.contract_update(
        contract=contract, actor=drafter, title="Baru", total_value="100000000"
    )
    assert Contract.objects.get(pk=contract.pk).title == "Baru"
    with pytest.raises(PermissionDenied):
        services.contract_update(
            contract=contract, actor=factories.sudin_officer("31.72"), title="x"
        )
    services.contract_submit_for_review(contract=contract, actor=drafter)
    with pytest.raises(Conflict, match="only while the contract is a draft"):
        services.contract_update(contract=contract, actor=drafter, title="Lagi")


# --- From an application --------------------------------------------------------------------


def _approved_application(owner, host):
    """An approved corridor application: a co-applicant, a building site and a site on a third
    partner's pole (accepted by its owner)."""
    neighbour = factories.verified_partner()
    pole_owner_user = factories.UserFactory()
    pole_partner = factories.verified_partner(pole_owner_user, kind=PartnerKind.POLE_OWNER)
    pole = factories.make_pole(pole_partner, slots_total=2)
    application = factories.make_application(
        host,
        cofunding_cash=50_000_000,
        cofunding_in_kind=10_000_000,
        co_applicants=[(neighbour, 15_000_000)],
    )
    entry = pipeline.application_add_site(
        application=application,
        actor=owner,
        address="Jl. Tiang No. 1",
        host_kind=HostKind.POLE,
        pole=pole,
        cameras_planned=1,
        **factories.point_in(),
    )
    pipeline.pole_consent_accept(entry=entry, actor=pole_owner_user)
    reviewer = factories.officer(Role.OFFICER_REVIEWER)
    pipeline.application_submit(application=application, actor=owner)
    pipeline.application_start_review(application=application, actor=reviewer)
    pipeline.application_finish_technical_review(application=application, actor=reviewer)
    pipeline.application_approve(application=application, actor=factories.officer())
    application.refresh_from_db()
    return application, neighbour, pole_partner


def test_contract_draft_from_application_prefills_everything(drafter, owner, host):
    application, neighbour, pole_partner = _approved_application(owner, host)
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=WIB), tick=False):
        contract = services.contract_draft_from_application(application=application, actor=drafter)
    assert contract.number == "PKS/0001/DISKOMINFOTIK/2026"
    assert (contract.term_start, contract.term_end) == (date(2026, 3, 2), date(2031, 3, 2))
    assert contract.kota.code == "31.71"
    roles = {p.partner_id: p.roles for p in ContractParty.objects.filter(contract=contract)}
    assert roles == {
        host.pk: ["host", "funder", "maintainer"],
        neighbour.pk: ["funder"],
        pole_partner.pk: ["pole_owner"],
    }
    shares = set(
        FundingShare.objects.filter(contract=contract).values_list("partner_id", "kind", "amount")
    )
    assert shares == {
        (host.pk, "cash", 50_000_000),
        (host.pk, "in_kind", 10_000_000),
        (neighbour.pk, "cash", 15_000_000),
    }
    assert contract.total_value == 75_000_000
    covered = ContractSite.objects.filter(contract=contract)
    assert covered.count() == 2
    assert not covered.filter(in_force=True).exists()
    assert _statuses(contract) == [("", "draft")]
    # The next one drafted that year takes the next number.
    again, *_ = _approved_application(owner, host)
    with time_machine.travel(datetime(2026, 5, 1, 9, tzinfo=WIB), tick=False):
        second = services.contract_draft_from_application(application=again, actor=drafter)
    assert second.number == "PKS/0002/DISKOMINFOTIK/2026"


def test_contract_draft_from_application_refuses_unapproved_and_a_second_draft(
    drafter, owner, host
):
    draft_application = factories.make_application(host)
    with pytest.raises(ServiceError, match="approved application"):
        services.contract_draft_from_application(application=draft_application, actor=drafter)
    application, *_ = _approved_application(owner, host)
    first = services.contract_draft_from_application(application=application, actor=drafter)
    with pytest.raises(Conflict, match=first.number):
        services.contract_draft_from_application(application=application, actor=drafter)
    with pytest.raises(PermissionDenied):
        services.contract_draft_from_application(application=application, actor=owner)
    assert Contract.objects.count() == 1


# --- Parties, shares, sites, obligations ----------------------------------------------------


def test_contract_set_party_replaces_roles_and_refuses_unverified(drafter, host):
    contract = _create(drafter)
    services.contract_set_party(contract=contract, actor=drafter, partner=host, roles=["host"])
    services.contract_set_party(
        contract=contract,
        actor=drafter,
        partner=host,
        roles=["maintainer", "maintainer"],
        signatory="Ani",
    )
    party = ContractParty.objects.get(contract=contract)
    assert (party.roles, party.signatory) == (["maintainer"], "Ani")
    with pytest.raises(ServiceError, match="at least one role"):
        services.contract_set_party(contract=contract, actor=drafter, partner=host, roles=[])
    with pytest.raises(ServiceError, match="not a verified partner"):
        services.contract_set_party(
            contract=contract, actor=drafter, partner=factories.make_partner(), roles=["host"]
        )


def test_contract_remove_party_refused_while_it_owes_or_pays(drafter, host, site):
    contract = _complete_draft(drafter, host, [site])
    with pytest.raises(ServiceError, match="funding share"):
        services.contract_remove_party(contract=contract, actor=drafter, partner=host)
    assert ContractParty.objects.filter(contract=contract).count() == 1


@pytest.mark.parametrize("amount", [0, -5, 1.5, "abc", True, None])
def test_contract_add_share_amount_must_be_whole_and_positive(drafter, amount):
    contract = _create(drafter)
    with pytest.raises(ServiceError) as error:
        services.contract_add_share(contract=contract, actor=drafter, kind="apbd", amount=amount)
    assert error.value.field == "amount"
    assert not FundingShare.objects.exists()


def test_contract_add_share_apbd_only_from_the_city_partner_shares_only_from_parties(
    drafter, host, other_partner
):
    contract = _create(drafter)
    services.contract_set_party(contract=contract, actor=drafter, partner=host, roles=["funder"])
    with pytest.raises(ServiceError, match="APBD money is the city's"):
        services.contract_add_share(
            contract=contract, actor=drafter, kind="apbd", amount=1, partner=host
        )
    with pytest.raises(ServiceError, match="Name the party"):
        services.contract_add_share(contract=contract, actor=drafter, kind="cash", amount=1)
    with pytest.raises(ServiceError, match="not a party"):
        services.contract_add_share(
            contract=contract, actor=drafter, kind="csr", amount=1, partner=other_partner
        )
    share = services.contract_add_share(
        contract=contract, actor=drafter, kind="csr", amount="2500000", partner=host
    )
    assert share.amount == 2_500_000
    services.contract_remove_share(contract=contract, actor=drafter, share=share)
    assert not FundingShare.objects.exists()


def test_contract_add_site_only_approved_sites(drafter, host):
    proposed = factories.make_site(host)
    contract = _create(drafter)
    with pytest.raises(ServiceError, match="Only an approved"):
        services.contract_add_site(contract=contract, actor=drafter, site=proposed)


def test_contract_add_site_refuses_a_site_under_another_active_contract(drafter, legal, host, site):
    first = _active(drafter, legal, host, [site])
    second = _create(drafter, number="PKS/0002/DISKOMINFOTIK/2026")
    with pytest.raises(Conflict, match=f"already covered by contract {first.number}") as error:
        services.contract_add_site(contract=second, actor=drafter, site=site)
    assert error.value.status_code == 409
    assert not ContractSite.objects.filter(contract=second).exists()


def test_contract_add_site_sets_kota_and_sudin_stays_in_its_kota(drafter, host, site):
    contract = _create(drafter)
    services.contract_add_site(contract=contract, actor=drafter, site=site)
    assert Contract.objects.get(pk=contract.pk).kota.code == "31.71"
    utara = factories.make_active_site(host, kelurahan_code="31.72.01.1001")
    with pytest.raises(PermissionDenied):
        services.contract_add_site(
            contract=contract, actor=factories.sudin_officer("31.71"), site=utara
        )


def test_contract_remove_site_refused_while_an_obligation_names_it(drafter, host, site):
    contract = _complete_draft(drafter, host, [site])
    services.contract_add_obligation(
        contract=contract,
        actor=drafter,
        kind=ObligationKind.UPTIME,
        value="99.5",
        responsible=host,
        sites=[site],
    )
    with pytest.raises(ServiceError, match="names this site"):
        services.contract_remove_site(contract=contract, actor=drafter, site=site)


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("uptime", 101, "between 50 and 100"),
        ("uptime", None, "needs a value"),
        ("repair", "abc", "Enter a number"),
        ("repair", "1.234", "two decimals"),
        ("acknowledge", 0, "between 1 and 336"),
        ("signage", 1, "takes no value"),
        ("nonsense", None, "Unknown kind"),
    ],
)
def test_contract_add_obligation_value_bounds(drafter, host, site, kind, value, message):
    contract = _create(drafter)
    services.contract_set_party(contract=contract, actor=drafter, partner=host, roles=["host"])
    with pytest.raises(ServiceError, match=message):
        services.contract_add_obligation(
            contract=contract, actor=drafter, kind=kind, value=value, responsible=host
        )
    assert not Obligation.objects.exists()


def test_contract_add_obligation_responsible_party_covered_sites_one_per_site(
    drafter, host, other_partner, site
):
    contract = _create(drafter)
    services.contract_set_party(contract=contract, actor=drafter, partner=host, roles=["host"])
    with pytest.raises(ServiceError, match="must be a party"):
        services.contract_add_obligation(
            contract=contract, actor=drafter, kind="signage", responsible=other_partner
        )
    with pytest.raises(ServiceError, match="sites the contract covers"):
        services.contract_add_obligation(
            contract=contract, actor=drafter, kind="signage", responsible=host, sites=[site]
        )
    services.contract_add_site(contract=contract, actor=drafter, site=site)
    services.contract_add_obligation(
        contract=contract, actor=drafter, kind="repair", value=24, responsible=host
    )
    with pytest.raises(ServiceError, match="already has this obligation"):
        services.contract_add_obligation(
            contract=contract, actor=drafter, kind="repair", value=12, responsible=host
        )
    specific = services.contract_add_obligation(
        contract=contract, actor=drafter, kind="repair", value=8, responsible=host, sites=[site]
    )
    with pytest.raises(ServiceError, match="already has an obligation of this kind"):
        services.contract_add_obligation(
            contract=contract, actor=drafter, kind="repair", value=6, responsible=host, sites=[site]
        )
    assert list(specific.sites.all()) == [site]
    services.contract_remove_obligation(contract=contract, actor=drafter, obligation=specific)
    assert Obligation.objects.filter(contract=contract).count() == 1


@pytest.mark.parametrize("step", ["party", "share", "site", "obligation"])
def test_contract_draft_edits_refused_after_submission(drafter, host, other_partner, site, step):
    contract = _complete_draft(drafter, host, [site])
    services.contract_submit_for_review(contract=contract, actor=drafter)
    calls = {
        "party": lambda: services.contract_set_party(
            contract=contract, actor=drafter, partner=other_partner, roles=["funder"]
        ),
        "share": lambda: services.contract_add_share(
            contract=contract, actor=drafter, kind="apbd", amount=1
        ),
        "site": lambda: services.contract_remove_site(contract=contract, actor=drafter, site=site),
        "obligation": lambda: services.contract_add_obligation(
            contract=contract, actor=drafter, kind="signage", responsible=host
        ),
    }
    with pytest.raises(Conflict) as error:
        calls[step]()
    assert error.value.status_code == 409


def test_contract_draft_edits_refused_to_partner_members(owner, drafter, host):
    contract = _create(drafter)
    with pytest.raises(PermissionDenied):
        services.contract_set_party(contract=contract, actor=owner, partner=host, roles=["host"])


# --- Submission and the co-funding check ----------------------------------------------------


def test_contract_submit_refuses_shares_not_adding_up_with_both_numbers(drafter, host, site):
    contract = _complete_draft(drafter, host, [site], total_value=150_000_000)
    with pytest.raises(ServiceError) as error:
        services.contract_submit_for_review(contract=contract, actor=drafter)
    assert error.value.code == "shares_mismatch"
    assert "Rp 100.000.000" in error.value.message
    assert "Rp 150.000.000" in error.value.message
    assert Contract.objects.get(pk=contract.pk).status == "draft"
    services.contract_update(contract=contract, actor=drafter, total_value=100_000_000)
    services.contract_submit_for_review(contract=contract, actor=drafter)
    assert _statuses(contract)[-1] == ("draft", "legal_review")


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("party", "at least one partner as a party"),
        ("site", "at least one site"),
        ("obligation", "at least one obligation"),
    ],
)
def test_contract_submit_refuses_an_incomplete_draft(drafter, host, site, missing, message):
    contract = _create(drafter, total_value=0)
    if missing != "party":
        services.contract_set_party(contract=contract, actor=drafter, partner=host, roles=["host"])
    if missing == "obligation":
        services.contract_add_site(contract=contract, actor=drafter, site=site)
    with pytest.raises(ServiceError, match=message):
        services.contract_submit_for_review(contract=contract, actor=drafter)
    assert Contract.objects.get(pk=contract.pk).status == "draft"


def test_contract_return_needs_the_legal_reviewer_and_a_reason(
    drafter, legal, approver, host, site
):
    contract = _complete_draft(drafter, host, [site])
    services.contract_submit_for_review(contract=contract, actor=drafter)
    with pytest.raises(PermissionDenied):
        services.contract_return(contract=contract, actor=approver, reason="Pasal 5")
    with pytest.raises(ServiceError, match="what must change"):
        services.contract_return(contract=contract, actor=legal, reason=" ")
    services.contract_return(contract=contract, actor=legal, reason="Pasal 5 kurang jelas")
    assert _statuses(contract)[-1] == ("legal_review", "draft")
    assert ContractStatusChange.objects.filter(contract=contract).last().reason == (
        "Pasal 5 kurang jelas"
    )


# --- Signing and documents ------------------------------------------------------------------


def test_contract_sign_stores_the_signed_pdf_with_its_sha256(drafter, legal, host, site):
    contract = _complete_draft(drafter, host, [site])
    services.contract_add_document(
        contract=contract, actor=drafter, upload=pdf_upload("draf.pdf"), kind=DocumentKind.DRAFT
    )
    services.contract_submit_for_review(contract=contract, actor=drafter)
    body = b"%PDF-1.7\nsigned by both\n"
    services.contract_sign(
        contract=contract, actor=legal, signed_pdf=pdf_upload("ttd.pdf", body=body)
    )
    contract.refresh_from_db()
    assert (contract.status, contract.signed_at is not None) == ("signed", True)
    signed = ContractDocument.objects.get(contract=contract, kind=DocumentKind.SIGNED)
    assert signed.sha256 == hashlib.sha256(body).hexdigest()
    assert (signed.original_name, signed.uploaded_by) == ("ttd.pdf", legal)
    assert signed.file.read() == body


def test_contract_sign_four_eyes_the_submitter_cannot_sign(host, site):
    both = factories.UserFactory(roles=[Role.OFFICER_LEGAL, Role.OFFICER_REVIEWER])
    contract = _complete_draft(both, host, [site])
    services.contract_submit_for_review(contract=contract, actor=both)
    with pytest.raises(PermissionDenied, match="Four-eyes"):
        services.contract_sign(contract=contract, actor=both, signed_pdf=pdf_upload())
    assert Contract.objects.get(pk=contract.pk).status == "legal_review"
    assert not ContractDocument.objects.exists()


def test_contract_sign_refused_to_reviewers_and_for_a_non_pdf(drafter, legal, host, site):
    contract = _complete_draft(drafter, host, [site])
    services.contract_submit_for_review(contract=contract, actor=drafter)
    with pytest.raises(PermissionDenied):
        services.contract_sign(
            contract=contract,
            actor=factories.officer(Role.OFFICER_REVIEWER),
            signed_pdf=pdf_upload(),
        )
    with pytest.raises(ServiceError, match="not a PDF"):
        services.contract_sign(
            contract=contract, actor=legal, signed_pdf=pdf_upload(body=b"GIF89a not a pdf")
        )
    assert Contract.objects.get(pk=contract.pk).status == "legal_review"


def test_contract_documents_immutable_once_signed(drafter, legal, host, site):
    contract = _signed(drafter, legal, host, [site])
    with pytest.raises(Conflict, match="no longer be added"):
        services.contract_add_document(
            contract=contract, actor=drafter, upload=pdf_upload(), kind=DocumentKind.ANNEX
        )
    document = ContractDocument.objects.get(contract=contract)
    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
        ContractDocument.objects.filter(pk=document.pk).update(sha256="0" * 64)
    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
        ContractDocument.objects.filter(pk=document.pk).delete()
    assert ContractDocument.objects.get(pk=document.pk).sha256 == document.sha256


def test_contract_add_document_only_drafts_and_annexes(drafter, host):
    contract = _create(drafter)
    with pytest.raises(ServiceError, match="uploaded when the contract is signed"):
        services.contract_add_document(
            contract=contract, actor=drafter, upload=pdf_upload(), kind=DocumentKind.SIGNED
        )
    with pytest.raises(PermissionDenied):
        services.contract_add_document(
            contract=contract, actor=host.created_by, upload=pdf_upload(), kind="annex"
        )


# --- Activation, one active contract per site, termination ----------------------------------


def test_contract_activate_puts_its_sites_in_force(drafter, legal, host, site):
    contract = _active(drafter, legal, host, [site])
    assert contract.status == "active"
    assert ContractSite.objects.get(contract=contract).in_force is True
    assert selectors.contract_in_force_for_site(site_id=site.pk) == contract
    assert [s for _o, s in _statuses(contract)] == ["draft", "legal_review", "signed", "active"]
    assert {c.serial for c in selectors.contract_cameras(contract=contract)} == set(
        site.cameras.values_list("serial", flat=True)
    )


def test_contract_activate_by_hand_waits_for_the_term_start(drafter, legal, host, site):
    start = timezone.localdate() + timedelta(days=10)
    contract = _signed(drafter, legal, host, [site], term_start=start)
    with pytest.raises(ServiceError, match="becomes active on that day"):
        services.contract_activate(contract=contract, actor=drafter)
    with pytest.raises(PermissionDenied):
        services.contract_activate(contract=contract, actor=host.created_by)


def test_contract_second_active_contract_on_a_site_is_a_409(drafter, legal, host, site):
    # Both drafted (and signed) before either came into force: activation is the last word.
    first = _complete_draft(drafter, host, [site])
    second = _complete_draft(drafter, host, [site], number="PKS/0002/DISKOMINFOTIK/2026")
    for contract in (first, second):
        services.contract_submit_for_review(contract=contract, actor=drafter)
        services.contract_sign(contract=contract, actor=legal, signed_pdf=pdf_upload())
    services.contract_activate(contract=first, actor=drafter)
    with pytest.raises(Conflict, match=f"already covered by contract {first.number}") as error:
        services.contract_activate(contract=second, actor=drafter)
    assert error.value.status_code == 409
    assert Contract.objects.get(pk=second.pk).status == "signed"
    assert list(ContractSite.objects.filter(in_force=True).values_list("contract", flat=True)) == [
        first.pk
    ]


def test_contract_terminate_needs_a_reason_and_ends_coverage(drafter, legal, approver, host, site):
    contract = _active(drafter, legal, host, [site])
    with pytest.raises(ServiceError, match="reason"):
        services.contract_terminate(contract=contract, actor=approver, reason="")
    with pytest.raises(PermissionDenied):
        services.contract_terminate(contract=contract, actor=drafter, reason="x")
    services.contract_terminate(contract=contract, actor=approver, reason="Mitra wanprestasi")
    contract.refresh_from_db()
    assert (contract.status, contract.termination_reason) == ("terminated", "Mitra wanprestasi")
    assert not ContractSite.objects.filter(in_force=True).exists()
    assert selectors.contract_in_force_for_site(site_id=site.pk) is None
    # The site is free for a new contract.
    services.contract_add_site(contract=_create(drafter, number="PKS/9"), actor=drafter, site=site)


def test_contract_status_emails_go_to_the_parties_owners(
    drafter, legal, host, site, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _active(drafter, legal, host, [site])
    subjects = [m.subject for m in mail.outbox if owner.email in m.to]
    assert any("Agreement signed" in s for s in subjects)
    assert any("Agreement in force" in s for s in subjects)


# --- Amendments -----------------------------------------------------------------------------


def test_contract_amend_copies_the_version_and_keeps_the_old_in_force(drafter, legal, host, site):
    original = _active(drafter, legal, host, [site])
    addendum = services.contract_amend(contract=original, actor=drafter, reason="Tambah kamera")
    assert (addendum.number, addendum.version, addendum.amends) == (
        original.number,
        2,
        original,
    )
    assert addendum.status == "draft"
    assert list(addendum.parties.values_list("partner", "roles")) == [
        (host.pk, ["host", "maintainer", "funder"])
    ]
    assert sorted(addendum.shares.values_list("kind", "amount")) == [
        ("apbd", 60_000_000),
        ("cash", 40_000_000),
    ]
    assert list(addendum.covered_sites.values_list("site", "in_force")) == [(site.pk, False)]
    assert list(addendum.obligations.values_list("kind", "value")) == [("repair", 24)]
    assert selectors.contract_in_force_for_site(site_id=site.pk) == original
    with pytest.raises(Conflict, match="already being prepared"):
        services.contract_amend(contract=original, actor=drafter, reason="Lagi")
    with pytest.raises(Conflict, match="Only an active contract"):
        services.contract_amend(contract=addendum, actor=drafter, reason="x")


def test_contract_addendum_supersedes_the_old_version_with_history_readable(
    drafter, legal, host, site
):
    original = _active(drafter, legal, host, [site])
    extra_site = factories.make_active_site(host)
    addendum = services.contract_amend(contract=original, actor=drafter, reason="Tambah kamera")
    services.contract_add_site(contract=addendum, actor=drafter, site=extra_site)
    services.contract_submit_for_review(contract=addendum, actor=drafter)
    services.contract_sign(contract=addendum, actor=legal, signed_pdf=pdf_upload())
    # Signed, the addendum waits; the version in force stays in force until it is activated.
    original.refresh_from_db()
    assert original.status == "active"
    assert ContractSite.objects.get(contract=original, site=site).in_force is True
    services.contract_activate(contract=addendum, actor=drafter)

    original.refresh_from_db()
    addendum.refresh_from_db()
    assert (original.status, addendum.status) == ("superseded", "active")
    assert str(addendum) == f"{original.number} (addendum 1)"
    in_force = set(ContractSite.objects.filter(in_force=True).values_list("contract", "site"))
    assert in_force == {(addendum.pk, site.pk), (addendum.pk, extra_site.pk)}
    assert _statuses(original)[-1] == ("active", "superseded")
    assert [s for _o, s in _statuses(addendum)] == [
        "draft",
        "legal_review",
        "signed",
        "active",
    ]
    versions = selectors.contract_versions(user=drafter, contract=addendum)
    assert [(v.version, v.status) for v in versions] == [(1, "superseded"), (2, "active")]
    history = selectors.contract_history(contract=original)
    assert [row.new_status for row in history][-1] == "superseded"
    # Both versions and their documents stay: one signed PDF each.
    assert ContractDocument.objects.filter(kind="signed").count() == 2


def test_contract_addendum_with_a_site_under_another_contract_changes_nothing(
    drafter, legal, host, site
):
    original = _active(drafter, legal, host, [site])
    contested = factories.make_active_site(host)
    addendum = services.contract_amend(contract=original, actor=drafter, reason="Tambah")
    services.contract_add_site(contract=addendum, actor=drafter, site=contested)
    services.contract_submit_for_review(contract=addendum, actor=drafter)
    services.contract_sign(contract=addendum, actor=legal, signed_pdf=pdf_upload())
    # Meanwhile another contract came into force at the contested site (written directly: the
    # services would already refuse to add a site a signed addendum covers).
    factories.make_contract([(host, ["host"])], sites=[contested], number="PKS/0099/X/2026")
    with pytest.raises(Conflict, match="already covered"):
        services.contract_activate(contract=addendum, actor=drafter)
    assert Contract.objects.get(pk=original.pk).status == "active"
    assert Contract.objects.get(pk=addendum.pk).status == "signed"
    assert ContractSite.objects.get(contract=original).in_force is True
    assert not ContractSite.objects.filter(contract=addendum, in_force=True).exists()


# --- Scheduled terms ------------------------------------------------------------------------


def _at(day: date):
    return time_machine.travel(
        datetime(day.year, day.month, day.day, 1, 20, tzinfo=WIB), tick=False
    )


def test_apply_contract_terms_activates_on_the_start_date_and_expires_after_the_end(
    drafter, legal, host, site
):
    with _at(date(2026, 1, 5)):
        contract = _signed(
            drafter,
            legal,
            host,
            [site],
            term_start=date(2026, 2, 1),
            term_end=date(2026, 12, 31),
        )
        assert services.apply_contract_terms()["activated"] == 0
    with _at(date(2026, 1, 31)):
        services.apply_contract_terms()
        assert Contract.objects.get(pk=contract.pk).status == "signed"
    with _at(date(2026, 2, 1)):
        assert services.apply_contract_terms() == {
            "activated": 1,
            "expired": 0,
            "renewed": 0,
            "skipped": 0,
        }
        assert services.apply_contract_terms()["activated"] == 0  # safe to run twice
    assert Contract.objects.get(pk=contract.pk).status == "active"
    assert ContractSite.objects.get(contract=contract).in_force is True
    with _at(date(2026, 12, 31)):  # the last day is still in force
        services.apply_contract_terms()
        assert Contract.objects.get(pk=contract.pk).status == "active"
    with _at(date(2027, 1, 1)):
        assert services.apply_contract_terms()["expired"] == 1
    assert Contract.objects.get(pk=contract.pk).status == "expired"
    assert not ContractSite.objects.filter(in_force=True).exists()
    system_rows = ContractStatusChange.objects.filter(contract=contract, actor__isnull=True)
    assert list(system_rows.values_list("new_status", flat=True)) == ["active", "expired"]


def test_apply_contract_terms_skips_a_contract_whose_site_is_taken(drafter, legal, host, site):
    with _at(date(2026, 1, 5)):
        waiting = _complete_draft(drafter, host, [site], term_start=date(2026, 2, 1))
        other = _complete_draft(drafter, host, [site], number="PKS/0002/DISKOMINFOTIK/2026")
        for contract in (waiting, other):
            services.contract_submit_for_review(contract=contract, actor=drafter)
            services.contract_sign(contract=contract, actor=legal, signed_pdf=pdf_upload())
        services.contract_activate(contract=other, actor=drafter)
    with _at(date(2026, 2, 1)):
        assert services.apply_contract_terms()["skipped"] == 1
    assert Contract.objects.get(pk=waiting.pk).status == "signed"


def test_apply_contract_terms_renews_automatically(drafter, legal, host, site):
    with _at(date(2026, 1, 1)):
        contract = _active(
            drafter,
            legal,
            host,
            [site],
            term_start=date(2026, 1, 1),
            term_end=date(2026, 12, 31),
            renewal=RenewalTerms.AUTOMATIC,
        )
    with _at(date(2026, 12, 1)):
        services.send_contract_expiry_reminders()
    assert ContractReminder.objects.filter(contract=contract).exists()
    with _at(date(2027, 1, 1)):
        assert services.apply_contract_terms()["renewed"] == 1
        assert services.apply_contract_terms()["renewed"] == 0
    contract.refresh_from_db()
    assert (contract.status, contract.term_start, contract.term_end) == (
        "active",
        date(2027, 1, 1),
        date(2027, 12, 31),
    )
    last = ContractStatusChange.objects.filter(contract=contract).last()
    assert (last.old_status, last.new_status) == ("active", "active")
    assert "2027-12-31" in last.reason
    # The next term gets its own reminders.
    assert not ContractReminder.objects.filter(contract=contract).exists()


# --- Expiry reminders -----------------------------------------------------------------------


@pytest.fixture
def remind(django_capture_on_commit_callbacks):
    """Run the reminders as the beat would, emails (sent after commit) included."""

    def run() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return services.send_contract_expiry_reminders()

    return run


def _reminded(contract) -> list[int]:
    return sorted(
        ContractReminder.objects.filter(contract=contract).values_list("days_before", flat=True)
    )


def test_expiry_reminders_at_90_30_and_7_days_never_twice(
    drafter, legal, host, site, owner, remind
):
    sudin = factories.sudin_officer("31.71", language="en")
    other_sudin = factories.sudin_officer("31.72")
    with _at(date(2026, 1, 1)):
        contract = _active(
            drafter, legal, host, [site], term_start=date(2026, 1, 1), term_end=date(2026, 12, 31)
        )
    mail.outbox.clear()
    end = date(2026, 12, 31)
    with _at(end - timedelta(days=91)):
        assert remind() == 0
    with _at(end - timedelta(days=90)):
        assert remind() == 1
        assert remind() == 0
    assert _reminded(contract) == [90]
    recipients = {address for message in mail.outbox for address in message.to}
    assert recipients == {owner.email, legal.email, sudin.email}
    assert other_sudin.email not in recipients
    to_owner = next(m for m in mail.outbox if owner.email in m.to)
    assert "ends in 90 days" in to_owner.subject
    assert contract.number in to_owner.body
    with _at(end - timedelta(days=45)):
        assert remind() == 0
    with _at(end - timedelta(days=30)):
        assert remind() == 1
    with _at(end - timedelta(days=7)):
        assert remind() == 1
    with _at(end - timedelta(days=2)):
        assert remind() == 0
    assert _reminded(contract) == [7, 30, 90]
    assert len([m for m in mail.outbox if owner.email in m.to]) == 3


def test_expiry_reminder_missed_threshold_sends_one_for_the_nearest(
    drafter, legal, host, site, remind
):
    with _at(date(2026, 1, 1)):
        contract = _active(
            drafter, legal, host, [site], term_start=date(2026, 1, 1), term_end=date(2026, 12, 31)
        )
    mail.outbox.clear()
    # The beat missed 90 and 30: one reminder (for 30), and 90 is not sent later.
    with _at(date(2026, 12, 11)):
        assert remind() == 1
    assert _reminded(contract) == [30, 90]
    with _at(date(2026, 12, 12)):
        assert remind() == 0
    assert all("ends in 20 days" in m.subject for m in mail.outbox)


def test_expiry_reminders_skip_contracts_not_active(drafter, legal, host, site, remind):
    with _at(date(2026, 1, 1)):
        _signed(
            drafter, legal, host, [site], term_start=date(2026, 6, 1), term_end=date(2026, 7, 1)
        )
    with _at(date(2026, 5, 1)):
        assert remind() == 0
    assert not ContractReminder.objects.exists()


# --- Selectors ------------------------------------------------------------------------------


def test_contract_list_scoped_and_filtered(drafter, legal, host, site, owner, other_owner):
    mine = _active(drafter, legal, host, [site])
    theirs_partner = factories.verified_partner(other_owner)
    theirs = _create(drafter, number="PKS/0002/DISKOMINFOTIK/2026", title="Lain")
    services.contract_set_party(
        contract=theirs, actor=drafter, partner=theirs_partner, roles=["host"]
    )
    assert [c.pk for c in selectors.contract_list(user=owner)] == [mine.pk]
    assert [c.pk for c in selectors.contract_list(user=other_owner)] == [theirs.pk]
    officer_list = selectors.contract_list(user=drafter)
    assert {c.pk for c in officer_list} == {mine.pk, theirs.pk}
    assert [c.pk for c in selectors.contract_list(user=drafter, filters={"q": "lain"})] == [
        theirs.pk
    ]
    assert [c.pk for c in selectors.contract_list(user=drafter, filters={"partner": host.pk})] == [
        mine.pk
    ]
    assert [
        c.pk for c in selectors.contract_list(user=drafter, filters={"expiring_within_days": 400})
    ] == [mine.pk]
    assert not selectors.contract_list(user=drafter, filters={"expiring_within_days": 30})
    assert [c.pk for c in selectors.contract_list(user=drafter, filters={"status": "draft"})] == [
        theirs.pk
    ]
    listed = selectors.contract_list(user=owner).get()
    assert (listed.site_count, listed.shares_total) == (1, 100_000_000)
    # A Sudin officer sees their kota's contracts only (the draft has no kota yet).
    assert [c.pk for c in selectors.contract_list(user=factories.sudin_officer("31.71"))] == [
        mine.pk
    ]
    assert not selectors.contract_list(user=factories.sudin_officer("31.72"))


def test_contract_documents_download_only_for_parties_and_officers(
    drafter, legal, host, site, owner, other_owner
):
    contract = _signed(drafter, legal, host, [site])
    document = ContractDocument.objects.get(contract=contract)
    technician = factories.UserFactory()
    membership_add(partner=host, user=technician, role=MemberRole.TECHNICIAN)
    for user in (owner, technician, drafter, legal):
        found = selectors.contract_document_for_download(
            user=user, contract_pk=contract.pk, document_pk=document.pk
        )
        assert found == document
    for user in (other_owner, factories.officer(Role.OPERATOR), factories.sudin_officer("31.72")):
        with pytest.raises(Http404):
            selectors.contract_document_for_download(
                user=user, contract_pk=contract.pk, document_pk=document.pk
            )


# --- Concurrency (real PostgreSQL row locks, one connection per thread) ----------------------


def _race(*calls):
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index, call):
        try:
            with translation.override("en"):
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
def test_contract_sign_concurrent_exactly_one_wins():
    drafter = factories.officer(Role.OFFICER_REVIEWER)
    host = factories.verified_partner()
    site = factories.make_active_site(host)
    contract = _complete_draft(drafter, host, [site])
    services.contract_submit_for_review(contract=contract, actor=drafter)
    signers = [factories.officer(Role.OFFICER_LEGAL), factories.officer()]
    results = _race(
        *(
            lambda s=s: services.contract_sign(
                contract=Contract.objects.get(pk=contract.pk),
                actor=s,
                signed_pdf=pdf_upload(),
            )
            for s in signers
        )
    )
    winners = [r for r in results if isinstance(r, Contract)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert (len(winners), len(losers)) == (1, 1), results
    assert ContractDocument.objects.filter(contract=contract).count() == 1
    assert ContractStatusChange.objects.filter(contract=contract, new_status="signed").count() == 1


@pytest.mark.usefixtures("areas_after_flush")
def test_contract_activate_concurrent_one_contract_per_site():
    drafter = factories.officer(Role.OFFICER_REVIEWER)
    legal = factories.officer(Role.OFFICER_LEGAL)
    host = factories.verified_partner()
    site = factories.make_active_site(host)
    contracts = [_complete_draft(drafter, host, [site], number=n) for n in ("PKS/A", "PKS/B")]
    for contract in contracts:
        services.contract_submit_for_review(contract=contract, actor=drafter)
        services.contract_sign(contract=contract, actor=legal, signed_pdf=pdf_upload())
    # Two different contracts on one site, and the same contract twice.
    results = _race(
        *(
            lambda c=c: services.contract_activate(
                contract=Contract.objects.get(pk=c.pk), actor=drafter
            )
            for c in (*contracts, contracts[0])
        )
    )
    winners = [r for r in results if isinstance(r, Contract)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert (len(winners), len(losers)) == (1, 2), results
    assert ContractSite.objects.filter(in_force=True).count() == 1
    assert Contract.objects.filter(status="active").count() == 1
