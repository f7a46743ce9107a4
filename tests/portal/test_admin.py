"""The Django admin: every project model opens, and nothing there bypasses the services."""

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone, translation

from partners import services as partner_services
from partners.models import DocumentKind, MemberRole, PartnerStatus, PartnerStatusChange
from portal.models import RateLimitBucket
from sites.models import Area
from sites.services import area_set_rawan
from tests import factories
from tests.conftest import pdf_upload

PROJECT_APPS = {"portal", "partners", "sites"}
REGISTERED = sorted(
    model._meta.label for model in admin.site._registry if model._meta.app_label in PROJECT_APPS
)
STATUS_LOGS = [
    "partners.PartnerStatusChange",
    "partners.CameraNetworkStatusChange",
    "sites.RawanLevelChange",
    "sites.SiteStatusChange",
    "sites.CameraStatusChange",
]
# Written only by the health sweeps: the admin may look, never add, change or delete.
HEALTH_ROWS = [
    "sites.CameraHealth",
    "sites.Outage",
    "sites.HealthSweep",
    "sites.MaintenanceWindow",
    "sites.UpstreamIncident",
    "sites.HealthRollup",
    "sites.CameraHeartbeatKey",
]

# Residents' data: read-only, and the admin never shows a contact, a name or a photo.
REQUEST_ROWS = [
    "sites.CoverageRequest",
    "sites.ResidentContact",
    "sites.ContactVerification",
    "sites.RequestSupport",
    "sites.RequestFollow",
    "sites.RequestNote",
]


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def admin_client(admin_client, settings):
    """Messages are matched in their English source: the admin's requests ask for English."""
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return admin_client


@pytest.fixture
def objects(settings, tmp_path, partner, owner, approver):
    """One row of every registered model, made the way the portal makes them."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path, "base_url": None},
        },
    }
    partner_services.partner_verify(partner=partner, actor=approver, reason="Documents match.")
    network = partner_services.network_request(
        partner=partner, actor=owner, cidr="10.9.0.0/24", ports=[554]
    )
    area = Area.objects.get(code="31.71.01.1001")
    area_set_rawan(area=area, actor=approver, level=2, reason="Laporan Polsek")
    invitation = partner_services.invitation_create(
        partner=partner, actor=owner, email="staff@example.test", role=MemberRole.STAFF
    )
    document = partner_services.document_upload(
        partner=partner, actor=owner, kind=DocumentKind.DEED, upload=pdf_upload()
    )
    return {
        "portal.User": owner,
        "portal.RateLimitBucket": RateLimitBucket.objects.create(
            key="request-submit:ip:192.0.2.1", window_start=timezone.now(), hits=1
        ),
        "partners.Partner": partner,
        "partners.Membership": partner.memberships.get(),
        "partners.Invitation": invitation,
        "partners.PartnerDocument": document,
        "partners.CameraNetwork": network,
        "partners.PartnerStatusChange": partner.status_changes.get(),
        "partners.CameraNetworkStatusChange": network.status_changes.get(),
        "sites.Area": area,
        "sites.RawanLevelChange": area.rawan_changes.get(),
        **factories.inventory_rows(partner, approver),
        **_health_rows(),
        **_request_rows(owner),
    }


def _request_rows(officer_user) -> dict:
    from django.utils import timezone

    from sites.models import (
        ContactVerification,
        CoverageRequest,
        DeclineTemplate,
        RequestFollow,
        RequestNote,
        RequestStatusChange,
        RequestSupport,
        ResidentContact,
    )

    now = timezone.now()
    contact = ResidentContact.objects.create(
        kind="email", value_hash="a" * 64, value_encrypted="x", verified_at=now
    )
    request = CoverageRequest.objects.create(
        reference="REQ-2026-000001",
        lat="-6.175392",
        lon="106.827153",
        kelurahan=Area.objects.get(code="31.71.01.1001"),
        category="theft",
        requester_name="Siti Rahmawati",
        description="Banyak jambret di sini.",
        contact=contact,
        consent_at=now,
        privacy_notice_version="2026-12",
        status="submitted",
    )
    return {
        "sites.ResidentContact": contact,
        "sites.ContactVerification": ContactVerification.objects.create(
            contact=contact,
            purpose="submit",
            request=request,
            token_hash="b" * 64,
            code_hash="c" * 64,
            expires_at=now,
        ),
        "sites.CoverageRequest": request,
        "sites.RequestStatusChange": RequestStatusChange.objects.create(
            request=request, old_status="unverified", new_status="submitted"
        ),
        "sites.RequestSupport": RequestSupport.objects.create(request=request, contact=contact),
        "sites.RequestFollow": RequestFollow.objects.create(request=request, contact=contact),
        "sites.RequestNote": RequestNote.objects.create(
            request=request, author=officer_user, body="Cek lokasi."
        ),
        "sites.DeclineTemplate": DeclineTemplate.objects.first(),
    }


def _health_rows() -> dict:
    from datetime import timedelta

    from django.utils import timezone

    from sites import heartbeat_services
    from sites.models import (
        Camera,
        CameraHealth,
        CameraStatusChange,
        HealthRollup,
        HealthSweep,
        MaintenanceWindow,
        Outage,
        UpstreamIncident,
    )

    camera, now = Camera.objects.get(), timezone.now()
    sweep = HealthSweep.objects.create(started_at=now, deadline=now + timedelta(minutes=5))
    sweep.batch_rows.create(number=1, first_camera_id=camera.pk, last_camera_id=camera.pk)
    return {
        "sites.CameraHealth": CameraHealth.objects.create(camera=camera, status="down"),
        "sites.Outage": Outage.objects.create(camera=camera, started_at=now, reason="timeout"),
        "sites.HealthSweep": sweep,
        "sites.CameraStatusChange": CameraStatusChange.objects.create(
            camera=camera, sweep=sweep, old_status="up", new_status="down", reason="timeout"
        ),
        "sites.MaintenanceWindow": MaintenanceWindow.objects.create(
            camera=camera,
            starts_at=now,
            ends_at=now + timedelta(hours=1),
            reason="Lens cleaning",
            created_by=camera.created_by,
        ),
        "sites.UpstreamIncident": UpstreamIncident.objects.create(
            owner=camera.owner,
            segment="10.77.0.0/24",
            started_at=now,
            cameras_affected=3,
            sweep=sweep,
        ),
        "sites.CameraHeartbeatKey": heartbeat_services.heartbeat_key_issue(
            camera=camera, actor=camera.created_by
        ).key,
        "sites.HealthRollup": HealthRollup.objects.create(
            camera=camera, period="hour", period_start=now, up_seconds=3600
        ),
    }


def _url(label: str, view: str, *args) -> str:
    app_label, model_name = label.lower().split(".")
    return reverse(f"admin:{app_label}_{model_name}_{view}", args=args)


def test_admin_registers_every_model_except_boundaries():
    expected = [
        "portal.User",
        "partners.Partner",
        "partners.Membership",
        "partners.Invitation",
        "partners.PartnerDocument",
        "partners.CameraNetwork",
        *STATUS_LOGS,
        "sites.Area",
        "sites.UtilityPole",
        "sites.Site",
        "sites.Camera",
        *HEALTH_ROWS,
        "portal.RateLimitBucket",
        *REQUEST_ROWS,
        "sites.RequestStatusChange",
        "sites.DeclineTemplate",
    ]
    assert sorted(expected) == REGISTERED


@pytest.mark.parametrize("label", HEALTH_ROWS)
def test_admin_health_rows_refuse_add_change_and_delete(admin_client, objects, label):
    obj = objects[label]
    assert admin_client.get(_url(label, "add")).status_code == 403
    assert admin_client.post(_url(label, "delete", obj.pk), {"post": "yes"}).status_code == 403
    admin_client.post(_url(label, "change", obj.pk), {"reason": "rewritten", "status": "up"})
    assert type(obj).objects.filter(pk=obj.pk).exists()
    assert admin_client.get(_url(label, "change", obj.pk)).context["has_change_permission"] is False


@pytest.mark.parametrize("label", REGISTERED)
def test_admin_changelist_and_change_page_open(admin_client, objects, label):
    obj = objects[label]
    changelist = admin_client.get(_url(label, "changelist"), {"q": str(obj)[:3]})
    assert changelist.status_code == 200
    change = admin_client.get(_url(label, "change", obj.pk))
    assert change.status_code == 200


@pytest.mark.parametrize("label", STATUS_LOGS)
def test_admin_status_logs_refuse_add_change_and_delete(admin_client, objects, label):
    obj = objects[label]
    before = (obj.new_status, obj.reason)
    assert admin_client.get(_url(label, "add")).status_code == 403
    assert admin_client.post(_url(label, "delete", obj.pk), {"post": "yes"}).status_code == 403
    admin_client.post(_url(label, "change", obj.pk), {"new_status": "x", "reason": "rewritten"})
    obj.refresh_from_db()
    assert (obj.new_status, obj.reason) == before
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_admin_document_page_shows_no_link_to_private_file(admin_client, objects):
    document = objects["partners.PartnerDocument"]
    page = admin_client.get(_url("partners.PartnerDocument", "change", document.pk))
    assert document.file.name in page.text
    assert f'href="{document.file.name}' not in page.text
    assert (
        str(objects["partners.Invitation"].token)
        not in admin_client.get(
            _url("partners.Invitation", "change", objects["partners.Invitation"].pk)
        ).text
    )


def test_admin_partner_status_is_read_only(admin_client, partner):
    page = admin_client.get(_url("partners.Partner", "change", partner.pk))
    assert "status" not in page.context["adminform"].form.fields
    assert "status" in page.context["adminform"].readonly_fields


def _action(client, action: str, partner):
    return client.post(
        _url("partners.Partner", "changelist"),
        {"action": action, "_selected_action": [partner.pk]},
        follow=True,
    )


def test_admin_verify_action_goes_through_the_service(admin_client, admin_user, partner):
    response = _action(admin_client, "verify", partner)
    assert response.status_code == 200
    partner.refresh_from_db()
    assert partner.status == PartnerStatus.VERIFIED
    change = PartnerStatusChange.objects.get(partner=partner)
    assert (change.actor, change.reason) == (admin_user, "Verified via admin by admin")


def test_admin_suspend_action_reports_refusal(admin_client, partner):
    response = _action(admin_client, "suspend", partner)
    messages = [str(m) for m in response.context["messages"]]
    assert any("Cannot change status" in m for m in messages), messages
    partner.refresh_from_db()
    assert partner.status == PartnerStatus.REGISTERED
    assert not PartnerStatusChange.objects.filter(partner=partner).exists()


def _resubmit(client, url: str, **changes) -> object:
    """POST the admin change form back with its own initial values plus `changes`."""
    page = client.get(url)
    form = page.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value is not None:
            data[name] = field.prepare_value(value) if hasattr(value, "pk") else value
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
    data.update(changes)
    return client.post(url, data, follow=True)


def test_admin_partner_edit_is_saved_through_the_service(admin_client, partner):
    url = _url("partners.Partner", "change", partner.pk)
    response = _resubmit(admin_client, url, contact_phone="+62215559999")
    assert response.redirect_chain, response.context["adminform"].form.errors
    partner.refresh_from_db()
    assert partner.contact_phone == "+62215559999"


def test_admin_partner_edit_refused_by_service_is_reported(admin_client, partner, approver):
    partner_services.partner_verify(partner=partner, actor=approver, reason="ok")
    old_nib = partner.nib
    url = _url("partners.Partner", "change", partner.pk)
    response = _resubmit(admin_client, url, nib="9999999999999")
    messages = [str(m) for m in response.context["messages"]]
    assert any("legal identity" in m for m in messages), messages
    partner.refresh_from_db()
    assert partner.nib == old_nib


def test_admin_user_add_page_asks_for_email(admin_client):
    page = admin_client.get(_url("portal.User", "add"))
    assert "email" in page.context["adminform"].form.fields
    factories.UserFactory()  # the change list still renders with a portal user in it
    assert admin_client.get(_url("portal.User", "changelist")).status_code == 200


@pytest.mark.parametrize("label", REQUEST_ROWS)
def test_admin_request_rows_are_read_only(admin_client, objects, label):
    obj = objects[label]
    assert admin_client.get(_url(label, "add")).status_code == 403
    assert admin_client.post(_url(label, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_admin_request_pages_show_no_personal_data(admin_client, objects):
    request = objects["sites.CoverageRequest"]
    pages = [
        admin_client.get(_url("sites.CoverageRequest", "change", request.pk)),
        admin_client.get(_url("sites.CoverageRequest", "changelist")),
        admin_client.get(_url("sites.ResidentContact", "change", request.contact_id)),
    ]
    for page in pages:
        assert page.status_code == 200
        assert "Siti Rahmawati" not in page.content.decode()
        assert "a" * 64 not in page.content.decode()
