"""Maintenance windows: who may plan them, when they are active, and what the sweep does."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from partners.models import MemberRole
from partners.services import membership_add
from portal.errors import PermissionDenied, ServiceError
from sites import maintenance_services
from sites.health.windows import active_window_camera_ids
from sites.models import Area, Camera, CameraHealth, CameraStatusChange, MaintenanceWindow, Outage
from tests import factories
from tests.conftest import api_as
from tests.sites import test_health_sweeps as engine
from tests.sites.test_health_sweeps import (
    fleet_cameras,
    fleet_owner_site,
    full_sweep,
)

# The engine tests' fixtures: a simulated fleet on loopback and settings fit for it.
fleet, healthy, health_settings = engine.fleet, engine.healthy, engine.health_settings

WIB = ZoneInfo("Asia/Jakarta")


def camera_on(site, serial: str = "CAM") -> Camera:
    return Camera.objects.create(
        site=site,
        owner=site.host_partner,
        vendor="X",
        model="Y",
        serial=serial,
        resolution="1080p",
        rtsp_url="rtsp://10.20.30.4/live",
        created_by=site.host_partner.created_by,
    )


def window(actor, **fields) -> MaintenanceWindow:
    now = timezone.now()
    values = {
        "starts_at": now - timedelta(hours=1),
        "ends_at": now + timedelta(hours=1),
        "reason": "Replacing the PoE switch",
    }
    return maintenance_services.window_create(actor=actor, **(values | fields))


def test_active_window_camera_ids_expands_a_daily_window_until_repeat_until(db, approver):
    site = factories.make_site(factories.verified_partner())
    camera, other = camera_on(site, "A"), camera_on(site, "B")
    window(
        approver,
        camera=camera,
        starts_at=datetime(2026, 3, 1, 2, 0, tzinfo=WIB),
        ends_at=datetime(2026, 3, 1, 3, 0, tzinfo=WIB),
        recurrence="daily",
        repeat_until=date(2026, 3, 5),
    )
    ids = [camera.pk, other.pk]

    assert active_window_camera_ids(ids, datetime(2026, 3, 3, 2, 30, tzinfo=WIB)) == {camera.pk}
    assert active_window_camera_ids(ids, datetime(2026, 3, 3, 4, 0, tzinfo=WIB)) == set()
    assert active_window_camera_ids(ids, datetime(2026, 3, 1, 1, 59, tzinfo=WIB)) == set()
    assert active_window_camera_ids(ids, datetime(2026, 3, 5, 2, 59, tzinfo=WIB)) == {camera.pk}
    assert active_window_camera_ids(ids, datetime(2026, 3, 6, 2, 30, tzinfo=WIB)) == set()


def test_active_window_camera_ids_covers_site_partner_and_kota_and_skips_cancelled(db, approver):
    partner = factories.verified_partner()
    site, elsewhere = factories.make_site(partner), factories.make_site(partner)
    on_site, on_other_site = camera_on(site, "A"), camera_on(elsewhere, "B")
    stranger = camera_on(factories.make_site(factories.verified_partner()), "C")
    ids = [on_site.pk, on_other_site.pk, stranger.pk]
    now = timezone.now()
    weekly = window(
        approver,
        site=site,
        starts_at=now - timedelta(days=14, minutes=5),
        ends_at=now - timedelta(days=14) + timedelta(minutes=5),
        recurrence="weekly",
    )
    assert active_window_camera_ids(ids, now) == {on_site.pk}

    maintenance_services.window_cancel(actor=approver, window=weekly)
    assert active_window_camera_ids(ids, now) == set()

    window(approver, partner=partner)
    assert active_window_camera_ids(ids, now) == {on_site.pk, on_other_site.pk}

    window(approver, kota=Area.objects.get(code="31.71"))
    assert active_window_camera_ids(ids, now) == set(ids)  # every site is in Jakarta Pusat


def test_window_create_refuses_another_partners_camera_and_limits_roles(db, approver):
    site = factories.make_site(factories.verified_partner())
    camera = camera_on(site)
    outsider = factories.verified_partner()
    technician = factories.UserFactory()
    membership_add(partner=site.host_partner, user=technician, role=MemberRole.TECHNICIAN)

    with pytest.raises(Http404):
        window(outsider.created_by, camera=camera)
    with pytest.raises(Http404):
        window(outsider.created_by, partner=site.host_partner)
    with pytest.raises(PermissionDenied):
        window(technician, camera=camera)
    with pytest.raises(PermissionDenied):
        window(site.host_partner.created_by, kota=Area.objects.get(code="31.71"))
    with pytest.raises(PermissionDenied):
        window(factories.sudin_officer("31.72"), camera=camera)
    assert not MaintenanceWindow.objects.exists()

    own = window(site.host_partner.created_by, camera=camera)
    sudin = window(factories.sudin_officer("31.71"), site=site)
    city = window(approver, kota=Area.objects.get(code="31.74"))
    assert MaintenanceWindow.objects.count() == 3
    assert own.created_by == site.host_partner.created_by
    assert (sudin.site, city.kota.code) == (site, "31.74")


def test_window_create_explains_bad_input(db, approver):
    camera = camera_on(factories.make_site(factories.verified_partner()))
    now = timezone.now()

    with pytest.raises(ServiceError) as same_time:
        window(approver, camera=camera, starts_at=now, ends_at=now)
    with pytest.raises(ServiceError) as two_scopes:
        window(approver, camera=camera, site=camera.site)
    with pytest.raises(ServiceError) as too_long:
        window(approver, camera=camera, recurrence="daily", ends_at=now + timedelta(days=2))

    assert (same_time.value.field, two_scopes.value.field, too_long.value.field) == (
        "ends_at",
        "scope",
        "ends_at",
    )
    assert not MaintenanceWindow.objects.exists()


def test_window_cancel_is_refused_to_another_partner(db):
    camera = camera_on(factories.make_site(factories.verified_partner()))
    planned = window(camera.owner.created_by, camera=camera)

    with pytest.raises(PermissionDenied):
        maintenance_services.window_cancel(
            actor=factories.verified_partner().created_by, window=planned
        )
    planned.refresh_from_db()
    assert planned.cancelled_at is None


def test_sweep_keeps_a_failing_camera_in_maintenance_without_an_outage(db, healthy):
    fleet = healthy
    site = fleet_owner_site(fleet)
    camera = fleet_cameras(fleet, [40], site=site)[0]
    full_sweep()
    planned = window(site.host_partner.created_by, camera=camera)
    fleet.set_kind(40, "refused")

    for _ in range(3):
        full_sweep()

    health = CameraHealth.objects.get(camera=camera)
    assert (health.status, health.reason, health.observed) == ("maintenance", "maintenance", "down")
    assert not Outage.objects.exists()

    maintenance_services.window_cancel(actor=site.host_partner.created_by, window=planned)
    full_sweep()

    health.refresh_from_db()
    assert (health.status, health.reason) == ("down", "refused")
    assert Outage.objects.get(camera=camera).reason == "refused"
    changes = CameraStatusChange.objects.filter(camera=camera)
    assert list(changes.values_list("old_status", "new_status")) == [
        ("unknown", "up"),
        ("up", "maintenance"),
        ("maintenance", "down"),
    ]


def test_sweep_after_a_window_brings_a_healthy_camera_back_up(db, healthy):
    fleet = healthy
    site = fleet_owner_site(fleet)
    camera = fleet_cameras(fleet, [41], site=site)[0]
    planned = window(site.host_partner.created_by, camera=camera)
    full_sweep()
    assert CameraHealth.objects.get(camera=camera).status == "maintenance"

    maintenance_services.window_cancel(actor=site.host_partner.created_by, window=planned)
    full_sweep()

    assert CameraHealth.objects.get(camera=camera).status == "up"


def test_windows_api_creates_for_own_camera_and_hides_it_from_others(db):
    camera = camera_on(factories.make_site(factories.verified_partner()))
    owner, outsider = camera.owner.created_by, factories.verified_partner().created_by
    now = timezone.now()
    body = {
        "starts_at": (now + timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
        "reason": "Firmware upgrade",
    }

    refused = api_as(outsider).post("/api/health/windows/", {**body, "camera": camera.pk})
    created = api_as(owner).post("/api/health/windows/", {**body, "camera": camera.pk})
    backwards = api_as(owner).post(
        "/api/health/windows/",
        {**body, "camera": camera.pk, "ends_at": body["starts_at"], "starts_at": body["ends_at"]},
    )

    assert refused.status_code == 404
    assert created.status_code == 201, created.data
    assert (created.data["camera"], created.data["reason"]) == (camera.pk, "Firmware upgrade")
    assert (backwards.status_code, backwards.data["errors"].keys()) == (400, {"ends_at"})
    window_id = created.data["id"]
    assert [w["id"] for w in api_as(owner).get("/api/health/windows/").data["results"]] == [
        window_id
    ]
    assert api_as(outsider).get("/api/health/windows/").data["results"] == []
    assert api_as(outsider).post(f"/api/health/windows/{window_id}/cancel/").status_code == 404

    cancelled = api_as(owner).post(f"/api/health/windows/{window_id}/cancel/")

    assert cancelled.status_code == 200
    assert cancelled.data["cancelled_at"] is not None


def test_windows_page_lists_only_visible_windows(db, client, approver):
    camera = camera_on(factories.make_site(factories.verified_partner()))
    window(approver, camera=camera, reason="Own camera lens")
    window(approver, partner=factories.verified_partner(), reason="Someone else's fleet")

    client.force_login(camera.owner.created_by)
    page = client.get(reverse("sites:health-windows"), HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 200
    assert "Own camera lens" in page.content.decode()
    assert "Someone else" not in page.content.decode()
