"""Hourly and daily roll-ups from the status-change timeline, windows counted as maintenance."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from sites import maintenance_services
from sites.health import rollups
from sites.models import Camera, CameraHealth, CameraStatusChange, HealthRollup
from tests import factories

WIB = ZoneInfo("Asia/Jakarta")
HOUR = datetime(2026, 3, 2, 10, 0, tzinfo=WIB)
SECONDS = (
    "up_seconds",
    "degraded_seconds",
    "down_seconds",
    "maintenance_seconds",
    "unknown_seconds",
)


@pytest.fixture
def camera(db) -> Camera:
    site = factories.make_site(factories.verified_partner())
    camera = Camera.objects.create(
        site=site,
        owner=site.host_partner,
        vendor="X",
        model="Y",
        serial="R-1",
        resolution="1080p",
        rtsp_url="rtsp://10.20.30.4/live",
        created_by=site.host_partner.created_by,
    )
    CameraHealth.objects.create(camera=camera)
    return camera


def change(camera: Camera, old: str, new: str, at: datetime) -> None:
    CameraStatusChange.objects.create(camera=camera, old_status=old, new_status=new, created_at=at)


def seconds(camera: Camera, period: str = "hour", start: datetime = HOUR) -> dict[str, int]:
    row = HealthRollup.objects.get(camera=camera, period=period, period_start=start)
    return {name: getattr(row, name) for name in SECONDS}


def only(**values: int) -> dict[str, int]:
    return dict.fromkeys(SECONDS, 0) | {f"{k}_seconds": v for k, v in values.items()}


def test_rollup_hour_splits_the_hour_at_each_change(camera):
    change(camera, "unknown", "up", HOUR - timedelta(days=1))
    change(camera, "up", "down", HOUR + timedelta(minutes=45))
    change(camera, "down", "up", HOUR + timedelta(hours=1, minutes=5))  # the next hour's

    assert rollups.rollup_hour(HOUR) == 1

    assert seconds(camera) == only(up=2700, down=900)
    assert HealthRollup.objects.get().availability == 75.0


def test_rollup_hour_counts_time_before_the_first_check_as_unknown(camera):
    change(camera, "unknown", "degraded", HOUR + timedelta(minutes=10))
    change(camera, "degraded", "upstream_down", HOUR + timedelta(minutes=40))

    rollups.rollup_hour(HOUR)

    assert seconds(camera) == only(unknown=600, degraded=1800, down=1200)


def test_rollup_hour_counts_a_window_inside_the_hour_as_maintenance(camera, approver):
    change(camera, "unknown", "up", HOUR - timedelta(days=1))
    change(camera, "up", "down", HOUR + timedelta(minutes=20))
    change(camera, "down", "up", HOUR + timedelta(minutes=40))
    maintenance_services.window_create(
        actor=approver,
        camera=camera,
        starts_at=HOUR + timedelta(minutes=10),
        ends_at=HOUR + timedelta(minutes=30),
        reason="Lens cleaning",
    )

    rollups.rollup_hour(HOUR)

    # 0-10 up, 10-30 planned (the failure inside does not count), 30-40 down, 40-60 up.
    assert seconds(camera) == only(up=1800, maintenance=1200, down=600)


def test_rollup_hour_rerun_changes_nothing(camera):
    change(camera, "unknown", "up", HOUR - timedelta(hours=3))
    change(camera, "up", "maintenance", HOUR + timedelta(minutes=30))
    rollups.rollup_hour(HOUR)
    before = list(HealthRollup.objects.values())

    rollups.rollup_hour(HOUR)

    assert list(HealthRollup.objects.values()) == before
    assert seconds(camera) == only(up=1800, maintenance=1800)


def test_rollup_hour_skips_cameras_never_checked_by_then(camera):
    change(camera, "unknown", "up", HOUR + timedelta(hours=2))

    assert rollups.rollup_hour(HOUR) == 0
    assert not HealthRollup.objects.exists()


def test_rollup_day_sums_the_days_hours_in_jakarta_time(camera):
    change(camera, "unknown", "up", datetime(2026, 3, 1, 23, 0, tzinfo=WIB))
    change(camera, "up", "down", datetime(2026, 3, 2, 0, 30, tzinfo=WIB))
    change(camera, "down", "up", datetime(2026, 3, 2, 1, 15, tzinfo=WIB))
    for hour in (23, 24, 25):  # 23:00 belongs to the day before
        rollups.rollup_hour(datetime(2026, 3, 1, tzinfo=WIB) + timedelta(hours=hour))

    assert rollups.rollup_day(date(2026, 3, 2)) == 1
    rollups.rollup_day(date(2026, 3, 2))

    day = HealthRollup.objects.get(period="day")
    assert day.period_start == datetime(2026, 3, 2, tzinfo=WIB)
    assert seconds(camera, "day", day.period_start) == only(up=4500, down=2700)
    assert day.availability == pytest.approx(62.5)


def test_availability_excludes_maintenance_and_unknown():
    assert (
        HealthRollup(up_seconds=1800, degraded_seconds=900, down_seconds=900).availability == 75.0
    )
    assert HealthRollup(maintenance_seconds=3600).availability is None
    assert HealthRollup(up_seconds=600, maintenance_seconds=3000).availability == 100.0


def test_purge_hourly_keeps_recent_hours_and_all_days(camera, settings):
    settings.HEALTH_HOURLY_RETENTION_DAYS = 14
    now = datetime(2026, 3, 20, 12, 0, tzinfo=WIB)
    for start, period in [
        (now - timedelta(days=15), "hour"),
        (now - timedelta(days=13), "hour"),
        (now - timedelta(days=30), "day"),
    ]:
        HealthRollup.objects.create(camera=camera, period=period, period_start=start)

    assert rollups.purge_hourly(now=now) == 1

    kept = HealthRollup.objects.order_by("period_start").values_list("period", flat=True)
    assert list(kept) == ["day", "hour"]


def test_camera_health_page_shows_daily_availability(camera, client):
    for day, down in [(1, 0), (2, 21600)]:
        HealthRollup.objects.create(
            camera=camera,
            period="day",
            period_start=datetime(2026, 3, day, tzinfo=WIB),
            up_seconds=86400 - down,
            down_seconds=down,
        )
    client.force_login(camera.owner.created_by)

    page = client.get(reverse("sites:health-camera", args=[camera.pk]), HTTP_ACCEPT_LANGUAGE="en")

    html = page.content.decode()
    assert page.status_code == 200
    assert "2026-03-02" in html
    assert "75.00 %" in html
    assert "100.00 %" in html
