"""Upstream suppression: a pole or segment failing together is one incident, not many outages."""

from datetime import timedelta

from django.utils import timezone

from partners.models import PartnerKind
from sites.health.upstream import Member, plan, segment_of
from sites.models import CameraHealth, CameraStatusChange, Outage, Site, UpstreamIncident
from tests import factories
from tests.conftest import api_as
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
    # The camera owner's incident, not the pole owner's.
    assert incident.owner_id == site.host_partner_id
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


def test_sweep_gives_two_partners_on_one_segment_their_own_incidents(db, healthy, settings):
    settings.HEALTH_DOWN_AFTER = 1
    fleet = healthy
    site_a, site_b = fleet_owner_site(fleet), fleet_owner_site(fleet)
    # Both partners' cameras sit in 127.1.0.0/24: the same text, two different networks.
    cameras_a = fleet_cameras(fleet, [90, 91, 92], site=site_a, serial="A")
    cameras_b = fleet_cameras(fleet, [93, 94, 95], site=site_b, serial="B")
    for index in range(90, 96):
        fleet.set_kind(index, "refused")

    full_sweep()

    incidents = {incident.owner_id: incident for incident in UpstreamIncident.objects.all()}
    assert set(incidents) == {site_a.host_partner_id, site_b.host_partner_id}
    for incident in incidents.values():
        assert (incident.segment, incident.cameras_affected) == ("127.1.0.0/24", 3)

    fleet.set_kind(90, "ok")  # partner A's uplink is back
    full_sweep()

    mine, theirs = incidents[site_a.host_partner_id], incidents[site_b.host_partner_id]
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.ended_at is not None
    assert theirs.ended_at is None
    assert statuses(cameras_b) == [("upstream_down", "refused")] * 3
    assert statuses(cameras_a)[0] == ("up", "ok")
    assert UpstreamIncident.objects.count() == 2
    assert not Outage.objects.filter(camera__in=cameras_b).exists()


def member(
    camera_id: int,
    *,
    owner=1,
    pole=None,
    host="10.1.2.3",
    failing=True,
    reason="timeout",
    previous="up",
):
    return Member(
        camera_id=camera_id,
        owner_id=owner,
        pole_id=pole,
        urls=("", f"http://{host}/snap.jpg"),
        failing=failing,
        reason=reason,
        damped_down=failing,
        previous=previous,
    )


def test_plan_groups_each_owner_apart_on_a_shared_segment_or_pole():
    segment = [member(i, owner=1 + i % 2, host=f"10.1.2.{i}") for i in range(6)]
    pole = [member(10 + i, owner=1 + i % 2, pole=7, host=f"cam{i}.example.test") for i in range(4)]

    assert sorted(plan(segment).opened) == [
        ((1, None, "10.1.2.0/24"), 3),
        ((2, None, "10.1.2.0/24"), 3),
    ]
    assert sorted(plan(pole).opened) == [((1, 7, ""), 2), ((2, 7, ""), 2)]
    # A lone camera of a third owner on the pole is that owner's ordinary outage.
    alone = plan([*pole, member(20, owner=3, pole=7, host="cam9.example.test")])
    assert 20 not in alone.suppressed
    # One owner's camera answering closes only that owner's incident.
    back = member(0, owner=1, host="10.1.2.0", failing=False, previous="upstream_down")
    assert plan([back, *segment[1:]]).closed == {(1, None, "10.1.2.0/24")}


def test_plan_ignores_policy_blocks_and_cameras_addressed_by_name():
    blocked = [member(i, host=f"10.1.2.{i}", reason="blocked_by_policy") for i in range(3)]
    named = [member(10 + i, host=f"cam{i}.example.test") for i in range(3)]

    assert not plan(blocked)
    assert not plan(named)
    assert plan([member(i, host=f"10.1.2.{i}") for i in range(3)]).suppressed == {0, 1, 2}
    assert segment_of(["rtsp://10.9.8.7:554/live"]) == "10.9.8.0/24"
    assert segment_of(["rtsp://[2001:db8::1]/live"]) == ""


# --- /api/health/incidents/ -----------------------------------------------------------------


def incident(owner, *, segment="10.0.0.0/24", open_=True, **kw) -> UpstreamIncident:
    now = timezone.now()
    return UpstreamIncident.objects.create(
        owner=owner,
        segment=segment,
        started_at=now - timedelta(hours=1),
        ended_at=None if open_ else now,
        cameras_affected=3,
        **kw,
    )


def test_incident_api_shows_a_partner_only_its_own_incidents(owner, partner, other_owner):
    other = factories.make_partner(other_owner)
    mine = incident(partner)
    theirs = incident(other)  # the same private segment, another partner's network

    listed = api_as(owner).get("/api/health/incidents/").json()["results"]

    assert [row["id"] for row in listed] == [mine.pk]
    assert listed[0]["partner"] == partner.pk
    assert listed[0]["segment"] == "10.0.0.0/24"
    assert api_as(owner).get(f"/api/health/incidents/{theirs.pk}/").status_code == 404
    assert api_as(other_owner).get(f"/api/health/incidents/{mine.pk}/").status_code == 404
    everything = api_as(factories.officer()).get("/api/health/incidents/").json()
    assert {row["id"] for row in everything["results"]} == {mine.pk, theirs.pk}


def test_incident_api_filters_open_ones_with_constant_queries(
    owner, partner, django_assert_max_num_queries
):
    pole = factories.make_pole(factories.make_partner(kind=PartnerKind.POLE_OWNER))
    closed = incident(partner, open_=False)
    for number in range(5):
        incident(partner, segment=f"10.0.{number + 1}.0/24")
    on_pole = incident(partner, segment="", pole=pole)

    with django_assert_max_num_queries(8):
        body = api_as(owner).get("/api/health/incidents/", {"open": "true"}).json()

    ids = [row["id"] for row in body["results"]]
    assert closed.pk not in ids
    assert len(ids) == 6
    assert next(row for row in body["results"] if row["id"] == on_pole.pk)["pole_code"] == pole.code
