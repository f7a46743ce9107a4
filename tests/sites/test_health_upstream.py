"""Upstream suppression: a pole or segment failing together is one incident, not many outages."""

from partners.models import PartnerKind
from sites.health.upstream import Member, plan, segment_of
from sites.models import CameraHealth, CameraStatusChange, Outage, Site, UpstreamIncident
from tests import factories
from tests.sites import test_health_sweeps as engine
from tests.sites.test_health_sweeps import (
    approve_network,
    deployed_site,
    fleet_cameras,
    fleet_owner_site,
    full_sweep,
)

# The engine tests' fixtures: a simulated fleet on loopback and settings fit for it.
fleet, healthy, health_settings = engine.fleet, engine.healthy, engine.health_settings


def pole_site(fleet_sim) -> Site:
    """A deployed site on a pole, its partner's network approved for the fleet."""
    pole = factories.make_pole(factories.make_partner(kind=PartnerKind.POLE_OWNER))
    site = deployed_site()
    Site.objects.filter(pk=site.pk).update(host_kind="pole", pole=pole)
    site.refresh_from_db()
    approve_network(site.host_partner, "127.1.0.0/16", [fleet_sim.http_port, fleet_sim.rtsp_port])
    return site


def statuses(cameras) -> list[tuple[str, str]]:
    rows = CameraHealth.objects.filter(camera__in=cameras).order_by("camera_id")
    return list(rows.values_list("status", "reason"))


def test_sweep_opens_one_pole_incident_instead_of_camera_outages(db, healthy):
    fleet = healthy
    site = pole_site(fleet)
    cameras = fleet_cameras(fleet, [60, 61, 62], site=site)
    full_sweep()
    for index in (60, 61, 62):
        fleet.set_kind(index, "refused")

    full_sweep()
    full_sweep()
    assert not UpstreamIncident.objects.exists()  # damping first: two failures are a blip
    third = full_sweep()

    incident = UpstreamIncident.objects.get()
    assert (incident.pole_id, incident.segment) == (site.pole_id, "")
    assert (incident.cameras_affected, incident.sweep_id, incident.ended_at) == (3, third.pk, None)
    assert statuses(cameras) == [("upstream_down", "refused")] * 3
    assert not Outage.objects.exists()
    assert CameraStatusChange.objects.filter(new_status="down").count() == 0

    full_sweep()  # still failing: the same incident, nothing new
    assert UpstreamIncident.objects.count() == 1
    assert not Outage.objects.exists()


def test_sweep_closes_the_incident_when_one_camera_answers(db, healthy, settings):
    settings.HEALTH_DOWN_AFTER = 1
    fleet = healthy
    site = pole_site(fleet)
    cameras = fleet_cameras(fleet, [63, 64, 65], site=site)
    for index in (63, 64, 65):
        fleet.set_kind(index, "refused")
    full_sweep()
    incident = UpstreamIncident.objects.get()

    fleet.set_kind(63, "ok")
    closing = full_sweep()

    incident.refresh_from_db()
    assert incident.ended_at is not None
    assert incident.ended_at >= closing.started_at
    assert UpstreamIncident.objects.count() == 1
    # The camera that answers is up; the others now follow normal damping as single cameras.
    assert statuses(cameras) == [("up", "ok"), ("down", "refused"), ("down", "refused")]
    assert set(Outage.objects.values_list("camera_id", flat=True)) == {
        cameras[1].pk,
        cameras[2].pk,
    }


def test_sweep_opens_a_segment_incident_for_three_cameras_of_one_owner(db, healthy, settings):
    settings.HEALTH_DOWN_AFTER = 1
    fleet = healthy
    site = fleet_owner_site(fleet)
    cameras = fleet_cameras(fleet, [70, 71, 72], site=site)
    for index in (70, 71, 72):
        fleet.set_kind(index, "refused")

    full_sweep()

    incident = UpstreamIncident.objects.get()
    assert (incident.pole_id, incident.segment) == (None, "127.1.0.0/24")
    assert statuses(cameras) == [("upstream_down", "refused")] * 3
    assert not Outage.objects.exists()


def test_sweep_treats_two_failing_cameras_without_a_pole_as_ordinary_outages(db, healthy, settings):
    settings.HEALTH_DOWN_AFTER = 1
    fleet = healthy
    site = fleet_owner_site(fleet)
    cameras = fleet_cameras(fleet, [73, 74, 75], site=site)
    fleet.set_kind(73, "refused")
    fleet.set_kind(74, "refused")

    full_sweep()

    assert not UpstreamIncident.objects.exists()
    assert statuses(cameras) == [("down", "refused"), ("down", "refused"), ("up", "ok")]
    assert Outage.objects.count() == 2


def member(camera_id: int, *, pole=None, host="10.1.2.3", failing=True, reason="timeout"):
    return Member(
        camera_id=camera_id,
        owner_id=1,
        pole_id=pole,
        urls=("", f"http://{host}/snap.jpg"),
        failing=failing,
        reason=reason,
        damped_down=failing,
        previous="up",
    )


def test_plan_ignores_policy_blocks_and_cameras_addressed_by_name():
    blocked = [member(i, host=f"10.1.2.{i}", reason="blocked_by_policy") for i in range(3)]
    named = [member(10 + i, host=f"cam{i}.example.test") for i in range(3)]

    assert not plan(blocked)
    assert not plan(named)
    assert plan([member(i, host=f"10.1.2.{i}") for i in range(3)]).suppressed == {0, 1, 2}
    assert segment_of(["rtsp://10.9.8.7:554/live"]) == "10.9.8.0/24"
    assert segment_of(["rtsp://[2001:db8::1]/live"]) == ""
