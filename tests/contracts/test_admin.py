"""The contracts admin: every model opens; history and workflow rows cannot be edited there."""

import pytest
from django.contrib import admin
from django.urls import reverse

from contracts import services
from contracts.models import ResponseTemplate
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
