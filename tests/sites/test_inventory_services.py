import threading

import pytest
from django.db import connection
from django.utils import translation

from partners import services as partner_services
from partners.models import MemberRole, PartnerKind
from portal.crypto import decrypt
from portal.errors import Conflict, PermissionDenied, ServiceError
from sites import services
from sites.models import Camera, HostKind, Site, SiteStatus, SiteStatusChange, UtilityPole
from tests import factories

OUTSIDE_JAKARTA = {"lat": "-6.914744", "lon": "107.609810"}  # Bandung


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def pole_owner(db):
    return factories.make_partner(kind=PartnerKind.POLE_OWNER)


@pytest.fixture
def pole(pole_owner):
    return factories.make_pole(pole_owner, code="TN-001", slots_total=1)


@pytest.fixture
def host(db):
    return factories.verified_partner()


@pytest.fixture
def site(host):
    return factories.make_site(host)


def _member(partner, role):
    user = factories.UserFactory()
    partner_services.membership_add(partner=partner, user=user, role=role)
    return user


def _to_installing(site, approver):
    services.site_approve(site=site, actor=approver)
    return services.site_start_installation(site=site, actor=approver)


def _camera_fields(**overrides) -> dict:
    return {
        "vendor": "Hikvision",
        "model": "DS-2CD2143",
        "serial": "SN-0001",
        "resolution": "2688x1520",
        "rtsp_url": "rtsp://10.20.30.40/Streaming/Channels/101",
        "username": "admin",
        "password": "s3cret-Pass!",
        **overrides,
    }


# --- Poles ----------------------------------------------------------------------------------


def test_pole_create_assigns_kelurahan_from_the_point(pole_owner):
    pole = factories.make_pole(pole_owner, code="TN-9", kelurahan_code="31.73.01.1001")
    assert pole.kelurahan.code == "31.73.01.1001"
    assert (pole.slots_total, pole.slots_used, pole.slots_free) == (2, 0, 2)


def test_pole_create_refuses_a_point_outside_jakarta(pole_owner):
    with pytest.raises(ServiceError) as error:
        services.pole_create(
            owner=pole_owner,
            actor=pole_owner.created_by,
            code="X",
            slots_total=1,
            **OUTSIDE_JAKARTA,
        )
    assert error.value.field == "lat"
    assert "outside DKI Jakarta" in error.value.message
    assert not UtilityPole.objects.exists()


def test_pole_create_refuses_a_duplicate_code_of_the_same_owner(pole_owner, pole):
    with pytest.raises(ServiceError) as error:
        factories.make_pole(pole_owner, code="TN-001")
    assert error.value.field == "code"
    # Another owner may use the same code.
    other = factories.make_partner(kind=PartnerKind.POLE_OWNER)
    assert factories.make_pole(other, code="TN-001").code == "TN-001"


def test_pole_create_only_for_pole_owners(partner, owner):
    with pytest.raises(ServiceError) as error:
        services.pole_create(
            owner=partner, actor=owner, code="X", slots_total=1, **factories.point_in()
        )
    assert error.value.field == "owner"


def test_pole_create_refused_for_technician_and_strangers(pole_owner, other_owner):
    technician = _member(pole_owner, MemberRole.TECHNICIAN)
    staff = _member(pole_owner, MemberRole.STAFF)
    for actor in (technician, other_owner):
        with pytest.raises(PermissionDenied):
            services.pole_create(
                owner=pole_owner, actor=actor, code="X", slots_total=1, **factories.point_in()
            )
    pole = services.pole_create(
        owner=pole_owner, actor=staff, code="X", slots_total=1, **factories.point_in()
    )
    assert pole.owner == pole_owner


def test_pole_update_moves_kelurahan_and_keeps_slots_above_used(pole_owner, pole, host, approver):
    site = factories.make_site(host, pole=pole)
    services.site_approve(site=site, actor=approver)
    with pytest.raises(ServiceError) as error:
        services.pole_update(pole=pole, actor=pole_owner.created_by, slots_total=0)
    assert error.value.field == "slots_total"
    pole = services.pole_update(
        pole=pole, actor=pole_owner.created_by, slots_total=3, **factories.point_in("31.74.01.1001")
    )
    pole.refresh_from_db()
    assert (pole.slots_total, pole.slots_used, pole.kelurahan.code) == (3, 1, "31.74.01.1001")


# --- Sites: proposal --------------------------------------------------------------------------


def test_site_propose_records_proposed_with_kelurahan(site, host):
    assert site.status == SiteStatus.PROPOSED
    assert site.kelurahan.code == "31.71.01.1001"
    change = SiteStatusChange.objects.get(site=site)
    assert (change.old_status, change.new_status, change.actor) == ("", "proposed", host.created_by)


def test_site_propose_refuses_outside_jakarta(host):
    with pytest.raises(ServiceError) as error:
        services.site_propose(
            host_partner=host,
            actor=host.created_by,
            address="Jl. Asia Afrika",
            host_kind=HostKind.BUILDING,
            **OUTSIDE_JAKARTA,
        )
    assert error.value.field == "lat"
    assert not Site.objects.exists()


def test_site_propose_pole_kind_needs_a_pole_and_others_forbid_one(host, pole):
    with pytest.raises(ServiceError) as error:
        factories.make_site(host, host_kind=HostKind.POLE)
    assert error.value.field == "pole"
    with pytest.raises(ServiceError) as error:
        factories.make_site(host, host_kind=HostKind.BUILDING, pole=pole)
    assert error.value.field == "pole"
    assert not Site.objects.exists()


def test_site_propose_on_another_owners_pole_is_allowed(host, pole):
    site = factories.make_site(host, pole=pole)
    assert site.pole == pole
    assert site.host_partner != pole.owner


def test_site_propose_refuses_a_full_pole(host, pole, approver):
    services.site_approve(site=factories.make_site(host, pole=pole), actor=approver)
    with pytest.raises(ServiceError, match="This pole has no free attachment slot"):
        factories.make_site(host, pole=pole)


def test_site_propose_refused_for_non_members(host, other_owner):
    with pytest.raises(PermissionDenied):
        factories.make_site(host, actor=other_owner)


def test_site_propose_allowed_for_technician_and_officer(host, approver):
    technician = _member(host, MemberRole.TECHNICIAN)
    assert factories.make_site(host, actor=technician).created_by == technician
    assert factories.make_site(host, actor=approver).created_by == approver


def test_site_update_only_while_proposed(site, host, approver):
    services.site_update(site=site, actor=host.created_by, address="Jl. Baru 1", notes="corner")
    site.refresh_from_db()
    assert (site.address, site.notes) == ("Jl. Baru 1", "corner")
    services.site_survey(site=site, actor=approver)
    with pytest.raises(Conflict):
        services.site_update(site=site, actor=host.created_by, address="Jl. Lain")


# --- Sites: lifecycle -------------------------------------------------------------------------


def test_site_full_lifecycle_records_every_step(site, host, approver):
    services.site_survey(site=site, actor=approver, notes="Line of sight ok")
    services.site_approve(site=site, actor=approver)
    services.site_start_installation(site=site, actor=host.created_by)
    factories.approved_network(host)
    services.camera_register(site=site, owner=host, actor=host.created_by, **_camera_fields())
    services.site_confirm_installation(site=site, actor=approver)
    services.site_suspend(site=site, actor=approver, reason="Maintenance breach")
    services.site_resume(site=site, actor=approver)
    services.site_decommission(site=site, actor=approver, reason="Building demolished")
    steps = list(site.status_changes.values_list("old_status", "new_status"))
    assert steps == [
        ("", "proposed"),
        ("proposed", "surveyed"),
        ("surveyed", "approved"),
        ("approved", "installing"),
        ("installing", "active"),
        ("active", "suspended"),
        ("suspended", "active"),
        ("active", "decommissioned"),
    ]
    assert site.cameras.get().installed_at is not None


@pytest.mark.parametrize(
    ("service", "kwargs"),
    [
        (services.site_start_installation, {}),
        (services.site_confirm_installation, {}),
        (services.site_suspend, {"reason": "x"}),
        (services.site_resume, {}),
        (services.site_decommission, {"reason": "x"}),
    ],
)
def test_site_illegal_transitions_from_proposed_are_conflicts(site, approver, service, kwargs):
    with pytest.raises(Conflict):
        service(site=site, actor=approver, **kwargs)
    site.refresh_from_db()
    assert site.status == SiteStatus.PROPOSED
    assert site.status_changes.count() == 1


def test_site_rejected_and_decommissioned_are_final(site, approver):
    services.site_reject(site=site, actor=approver, reason="No line of sight")
    for service in (services.site_approve, services.site_survey):
        with pytest.raises(Conflict):
            service(site=site, actor=approver)
    with pytest.raises(Conflict):
        services.site_reject(site=site, actor=approver, reason="again")


def test_site_resume_only_from_suspended(site, approver):
    services.site_approve(site=site, actor=approver)
    with pytest.raises(Conflict):
        services.site_resume(site=site, actor=approver)


def test_site_decisions_refused_for_partner_members(site, host):
    for service, kwargs in (
        (services.site_survey, {}),
        (services.site_approve, {}),
        (services.site_reject, {"reason": "x"}),
    ):
        with pytest.raises(PermissionDenied):
            service(site=site, actor=host.created_by, **kwargs)
    site.refresh_from_db()
    assert site.status == SiteStatus.PROPOSED


def test_site_decisions_need_a_reason_where_it_matters(site, approver):
    with pytest.raises(ServiceError) as error:
        services.site_reject(site=site, actor=approver, reason=" ")
    assert error.value.field == "reason"


def test_site_sudin_officer_decides_only_in_own_kota(site):
    elsewhere = factories.sudin_officer("31.73")
    with pytest.raises(PermissionDenied):
        services.site_approve(site=site, actor=elsewhere)
    services.site_approve(site=site, actor=factories.sudin_officer("31.71"))
    site.refresh_from_db()
    assert site.status == SiteStatus.APPROVED


def test_site_confirm_installation_needs_a_camera(site, approver):
    _to_installing(site, approver)
    with pytest.raises(ServiceError, match="at least one camera"):
        services.site_confirm_installation(site=site, actor=approver)
    site.refresh_from_db()
    assert site.status == SiteStatus.INSTALLING


# --- Pole slots -------------------------------------------------------------------------------


def test_site_approve_reserves_a_slot(host, pole, approver):
    site = factories.make_site(host, pole=pole)
    services.site_approve(site=site, actor=approver)
    pole.refresh_from_db()
    site.refresh_from_db()
    assert (pole.slots_used, site.holds_pole_slot) == (1, True)


def test_site_approve_on_a_full_pole_is_a_conflict_and_changes_nothing(host, pole, approver):
    first, second = factories.make_site(host, pole=pole), factories.make_site(host, pole=pole)
    services.site_approve(site=first, actor=approver)
    with pytest.raises(Conflict, match="This pole has no free attachment slot"):
        services.site_approve(site=second, actor=approver)
    second.refresh_from_db()
    assert (second.status, second.holds_pole_slot) == (SiteStatus.PROPOSED, False)
    assert second.status_changes.count() == 1
    pole.refresh_from_db()
    assert pole.slots_used == 1


def test_site_decommission_frees_the_slot_once(host, pole, approver):
    site = factories.make_site(host, pole=pole)
    services.site_approve(site=site, actor=approver)
    services.site_decommission(site=site, actor=approver, reason="Pole replaced")
    pole.refresh_from_db()
    site.refresh_from_db()
    assert (pole.slots_used, site.holds_pole_slot) == (0, False)
    with pytest.raises(Conflict):
        services.site_decommission(site=site, actor=approver, reason="again")
    pole.refresh_from_db()
    assert pole.slots_used == 0
    # The freed slot can be taken by another site.
    services.site_approve(site=factories.make_site(host, pole=pole), actor=approver)
    pole.refresh_from_db()
    assert pole.slots_used == 1


def test_site_reject_of_unapproved_site_leaves_other_slots_alone(host, pole, approver):
    holder = factories.make_site(host, pole=pole)
    services.site_approve(site=holder, actor=approver)
    pole = services.pole_update(pole=pole, actor=pole.owner.created_by, slots_total=2)
    waiting = factories.make_site(host, pole=pole)
    services.site_reject(site=waiting, actor=approver, reason="Too close to the other one")
    pole.refresh_from_db()
    assert pole.slots_used == 1


@pytest.mark.django_db(transaction=True)
def test_site_approve_concurrent_on_last_slot_exactly_one_wins(areas_after_flush):
    pole_owner = factories.make_partner(kind=PartnerKind.POLE_OWNER)
    pole = factories.make_pole(pole_owner, slots_total=1)
    host = factories.make_partner()
    sites = [factories.make_site(host, pole=pole), factories.make_site(host, pole=pole)]
    officers = [factories.officer(), factories.officer()]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(site, officer):
        try:
            barrier.wait(timeout=10)
            services.site_approve(site=site, actor=officer)
            outcomes.append("won")
        except Conflict as error:
            outcomes.append(error.code)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=approve, args=pair) for pair in zip(sites, officers, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["no_free_slot", "won"]
    pole.refresh_from_db()
    assert pole.slots_used == 1
    assert Site.objects.filter(status=SiteStatus.APPROVED, holds_pole_slot=True).count() == 1


# --- Cameras ----------------------------------------------------------------------------------


@pytest.fixture
def approved_site(site, approver):
    services.site_approve(site=site, actor=approver)
    return site


@pytest.fixture
def network(host):
    return factories.approved_network(host, cidr="10.20.30.0/24", ports=(554, 80))


def test_camera_register_stores_the_password_encrypted(approved_site, host, network):
    camera = services.camera_register(
        site=approved_site, owner=host, actor=host.created_by, **_camera_fields()
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT password_encrypted FROM sites_camera WHERE id = %s", [camera.pk])
        stored = cursor.fetchone()[0]
    assert stored
    assert "s3cret-Pass!" not in stored
    assert decrypt(stored) == "s3cret-Pass!"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"rtsp_url": "rtsp://10.9.9.9/live"}, "rtsp_url", "10.9.9.9:554 is not inside"),
        ({"rtsp_url": "rtsp://10.20.30.40:8554/live"}, "rtsp_url", "10.20.30.40:8554"),
        (
            {"rtsp_url": "", "snapshot_url": "https://10.20.30.40/snap.jpg"},
            "snapshot_url",
            "10.20.30.40:443",
        ),
        ({"rtsp_url": "http://10.20.30.40/live"}, "rtsp_url", "rtsp://"),
        ({"rtsp_url": "rtsp://admin:pw@10.20.30.40/live"}, "rtsp_url", "own fields"),
        ({"rtsp_url": ""}, "rtsp_url", "at least one way"),
    ],
)
def test_camera_register_refuses_addresses_outside_approved_networks(
    approved_site, host, network, fields, field, message
):
    with pytest.raises(ServiceError) as error:
        services.camera_register(
            site=approved_site, owner=host, actor=host.created_by, **_camera_fields(**fields)
        )
    assert error.value.field == field
    assert message in error.value.message
    assert not Camera.objects.exists()


def test_camera_register_names_the_partner_in_the_error(approved_site, host, network):
    with pytest.raises(ServiceError) as error:
        services.camera_register(
            site=approved_site,
            owner=host,
            actor=host.created_by,
            **_camera_fields(rtsp_url="rtsp://10.9.9.9/live"),
        )
    assert error.value.message == (
        f"10.9.9.9:554 is not inside a camera network approved for {host.name}."
    )


def test_camera_register_refuses_pending_network_and_other_partners_network(approved_site, host):
    partner_services.network_request(
        partner=host, actor=host.created_by, cidr="10.20.30.0/24", ports=[554]
    )
    other = factories.verified_partner()
    factories.approved_network(other, cidr="10.50.0.0/24", ports=(554,))
    for url in ("rtsp://10.20.30.40/live", "rtsp://10.50.0.9/live"):
        with pytest.raises(ServiceError, match="is not inside a camera network approved"):
            services.camera_register(
                site=approved_site,
                owner=host,
                actor=host.created_by,
                **_camera_fields(rtsp_url=url),
            )
    assert not Camera.objects.exists()


def test_camera_register_refuses_a_hostname_that_does_not_resolve(
    approved_site, host, network, monkeypatch
):
    monkeypatch.setattr(services.socket, "getaddrinfo", _raise_gaierror)
    with pytest.raises(ServiceError, match="cannot be resolved"):
        services.camera_register(
            site=approved_site,
            owner=host,
            actor=host.created_by,
            **_camera_fields(rtsp_url="rtsp://cam.invalid/live"),
        )


def test_camera_register_checks_every_resolved_address(approved_site, host, network, monkeypatch):
    def two_addresses(host, port, *args):
        return [(2, 1, 6, "", ("10.20.30.5", 0)), (2, 1, 6, "", ("192.168.1.5", 0))]

    monkeypatch.setattr(services.socket, "getaddrinfo", two_addresses)
    with pytest.raises(ServiceError, match="192.168.1.5:554"):
        services.camera_register(
            site=approved_site,
            owner=host,
            actor=host.created_by,
            **_camera_fields(rtsp_url="rtsp://cam.example.test/live"),
        )


def _raise_gaierror(*args, **kwargs):
    import socket

    raise socket.gaierror("no such host")


def test_camera_register_refuses_duplicate_serial(approved_site, host, network):
    services.camera_register(
        site=approved_site, owner=host, actor=host.created_by, **_camera_fields()
    )
    with pytest.raises(ServiceError) as error:
        services.camera_register(
            site=approved_site, owner=host, actor=host.created_by, **_camera_fields()
        )
    assert error.value.field == "serial"
    assert Camera.objects.count() == 1


def test_camera_register_needs_an_approved_site_and_verified_owner(site, host, network):
    with pytest.raises(ServiceError) as error:
        services.camera_register(site=site, owner=host, actor=host.created_by, **_camera_fields())
    assert error.value.field == "site"
    unverified = factories.make_partner(host.created_by)
    services.site_approve(site=site, actor=factories.officer())
    with pytest.raises(ServiceError) as error:
        services.camera_register(
            site=site, owner=unverified, actor=host.created_by, **_camera_fields()
        )
    assert error.value.field == "owner"
    assert not Camera.objects.exists()


def test_camera_register_refused_for_strangers(approved_site, host, network, other_owner):
    with pytest.raises(PermissionDenied):
        services.camera_register(
            site=approved_site, owner=host, actor=other_owner, **_camera_fields()
        )


def test_camera_update_keeps_password_when_empty_and_rechecks_urls(approved_site, host, network):
    camera = services.camera_register(
        site=approved_site, owner=host, actor=host.created_by, **_camera_fields()
    )
    services.camera_update(camera=camera, actor=host.created_by, password="", model="New")
    camera.refresh_from_db()
    assert (camera.model, decrypt(camera.password_encrypted)) == ("New", "s3cret-Pass!")
    services.camera_update(camera=camera, actor=host.created_by, password="changed")
    camera.refresh_from_db()
    assert decrypt(camera.password_encrypted) == "changed"
    with pytest.raises(ServiceError) as error:
        services.camera_update(
            camera=camera, actor=host.created_by, rtsp_url="rtsp://10.9.9.9/live"
        )
    assert error.value.field == "rtsp_url"
    camera.refresh_from_db()
    assert camera.rtsp_url == "rtsp://10.20.30.40/Streaming/Channels/101"


def test_site_withdraw_by_host_member_ends_rejected_with_reason(site, host, other_owner):
    with pytest.raises(PermissionDenied):
        services.site_withdraw(site=site, actor=other_owner, reason="not ours")
    with pytest.raises(ServiceError) as error:
        services.site_withdraw(site=site, actor=host.created_by, reason="")
    assert error.value.field == "reason"
    services.site_withdraw(site=site, actor=host.created_by, reason="Application withdrawn")
    site.refresh_from_db()
    assert site.status == SiteStatus.REJECTED
    assert site.status_changes.last().reason == "Application withdrawn"
    with pytest.raises(Conflict):
        services.site_withdraw(site=site, actor=host.created_by, reason="again")
