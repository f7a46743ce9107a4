"""The contracts admin: every model opens; history and workflow rows cannot be edited there."""

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from contracts import services
from contracts.models import (
    Breach,
    ContractDocument,
    ContractReminder,
    ContractStatusChange,
    MaintenanceTicket,
    OutboxCursor,
    ResponseTemplate,
    SlaEvaluation,
    TicketEvent,
    TicketEvidence,
)
from tests import factories
from tests.conftest import pdf_upload

CONTRACT_MODELS = sorted(
    model._meta.label for model in admin.site._registry if model._meta.app_label == "contracts"
)
READ_ONLY = [label for label in CONTRACT_MODELS if label != "contracts.ResponseTemplate"]


@pytest.fixture
def admin_client(admin_client, settings):
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return admin_client


@pytest.fixture
def objects(settings, tmp_path, owner, other_owner):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path, "base_url": None},
        },
    }
    programme = factories.make_programme(status="approved")
    applicant = factories.verified_partner(owner)
    neighbour = factories.verified_partner(other_owner)
    application = factories.make_application(
        applicant, programme=programme, co_applicants=[(neighbour, 1_000)]
    )
    attachment = services.application_add_attachment(
        application=application, actor=owner, upload=pdf_upload()
    )
    return {
        "contracts.Programme": programme,
        "contracts.ProgrammeBudget": programme.budget.first(),
        "contracts.ProgrammeStatusChange": programme.status_changes.first(),
        "contracts.HostingApplication": application,
        "contracts.ApplicationParty": application.parties.get(),
        "contracts.ApplicationSite": application.candidate_sites.get(),
        "contracts.ApplicationDecision": application.decisions.get(),
        "contracts.ApplicationAttachment": attachment,
        "contracts.ResponseTemplate": ResponseTemplate.objects.first(),
        **_agreement_rows(applicant),
    }


def _agreement_rows(partner) -> dict:
    """One row of every agreement and ticket model, written directly (the admin only reads)."""
    site = factories.make_active_site(partner, cameras=1)
    camera = site.cameras.get()
    contract = factories.make_contract(
        [(partner, ["host", "maintainer"])], sites=[site], obligations={"repair": 24}
    )
    document = ContractDocument.objects.create(
        contract=contract,
        kind="signed",
        file="contract-documents/x.pdf",
        original_name="pks.pdf",
        size=10,
        sha256="0" * 64,
        uploaded_by=contract.created_by,
    )
    now = timezone.now()
    ticket = MaintenanceTicket.objects.create(
        reference="TKT-2026-000001",
        source="officer",
        title="Kamera mati",
        site=site,
        camera=camera,
        contract=contract,
        responsible=partner,
        opened_at=now,
    )
    return {
        "contracts.Contract": contract,
        "contracts.ContractStatusChange": ContractStatusChange.objects.create(
            contract=contract, new_status="active"
        ),
        "contracts.ContractParty": contract.parties.get(),
        "contracts.FundingShare": contract.shares.get(),
        "contracts.ContractSite": contract.covered_sites.get(),
        "contracts.ContractDocument": document,
        "contracts.Obligation": contract.obligations.get(),
        "contracts.ContractReminder": ContractReminder.objects.create(
            contract=contract, days_before=30, sent_at=now
        ),
        "contracts.MaintenanceTicket": ticket,
        "contracts.TicketEvent": TicketEvent.objects.create(ticket=ticket, new_status="open"),
        "contracts.TicketEvidence": TicketEvidence.objects.create(
            ticket=ticket,
            file="ticket-evidence/x.jpg",
            extension="jpg",
            size=10,
            sha256="0" * 64,
            uploaded_by=contract.created_by,
        ),
        "contracts.Breach": Breach.objects.create(
            contract=contract,
            responsible=partner,
            kind="repair_late",
            ticket=ticket,
            detected_at=now,
        ),
        "contracts.SlaEvaluation": SlaEvaluation.objects.create(
            contract=contract, month=now.date().replace(day=1), evaluated_at=now
        ),
        "contracts.OutboxCursor": OutboxCursor.objects.create(name="tickets"),
    }


def _url(label: str, view: str, *args) -> str:
    app_label, model_name = label.lower().split(".")
    return reverse(f"admin:{app_label}_{model_name}_{view}", args=args)


def test_admin_registers_every_contracts_model():
    assert (
        sorted(
            [
                "contracts.Programme",
                "contracts.ProgrammeBudget",
                "contracts.ProgrammeStatusChange",
                "contracts.HostingApplication",
                "contracts.ApplicationParty",
                "contracts.ApplicationSite",
                "contracts.ApplicationDecision",
                "contracts.ApplicationAttachment",
                "contracts.ResponseTemplate",
                "contracts.Contract",
                "contracts.ContractStatusChange",
                "contracts.ContractParty",
                "contracts.FundingShare",
                "contracts.ContractSite",
                "contracts.ContractDocument",
                "contracts.Obligation",
                "contracts.ContractReminder",
                "contracts.MaintenanceTicket",
                "contracts.TicketEvent",
                "contracts.TicketEvidence",
                "contracts.Breach",
                "contracts.SlaEvaluation",
                "contracts.OutboxCursor",
            ]
        )
        == CONTRACT_MODELS
    )


@pytest.mark.parametrize("label", CONTRACT_MODELS)
def test_admin_changelist_and_change_page_open(admin_client, objects, label):
    obj = objects[label]
    assert admin_client.get(_url(label, "changelist")).status_code == 200
    assert admin_client.get(_url(label, "change", obj.pk)).status_code == 200


@pytest.mark.parametrize("label", READ_ONLY)
def test_admin_workflow_rows_refuse_add_and_delete(admin_client, objects, label):
    obj = objects[label]
    assert admin_client.get(_url(label, "add")).status_code == 403
    assert admin_client.post(_url(label, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_admin_decision_cannot_be_rewritten(admin_client, objects):
    decision = objects["contracts.ApplicationDecision"]
    admin_client.post(
        _url("contracts.ApplicationDecision", "change", decision.pk),
        {"new_status": "approved", "reason": "rewritten"},
    )
    decision.refresh_from_db()
    assert (decision.new_status, decision.reason) == ("draft", "")
