import ipaddress
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q

from contracts.models import ApplicationStatus, HostingApplication, Programme
from partners.models import CameraNetwork, Partner, PartnerKind
from portal import launcher
from portal.demo import seed_demo
from portal.demo_fleet import DEMO_CAMERAS, FLEET
from portal.demo_logins import DEMO_PASSWORD, DEMO_USERS
from portal.roles import Role
from sites.health.simulator import camera_address
from sites.models import Camera, Site, SiteStatus, UtilityPole
from sites.selectors import kelurahan_at


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


def test_seed_demo_twice_creates_everything_once(db, debug):
    seed_demo()
    counts = (
        get_user_model().objects.count(),
        Partner.objects.count(),
        CameraNetwork.objects.count(),
    )
    seed_demo()
    assert counts == (
        get_user_model().objects.count(),
        Partner.objects.count(),
        CameraNetwork.objects.count(),
    )
    assert set(Partner.objects.values_list("kind", flat=True)) == set(PartnerKind.values)


def test_seed_demo_every_listed_login_works_and_every_role_has_a_user(db, debug):
    seed_demo()
    for username, _description in DEMO_USERS:
        user = get_user_model().objects.get(username=username)
        assert user.check_password(DEMO_PASSWORD), username
    for role in Role.values:
        assert get_user_model().objects.filter(groups__name=role).exists(), role


def test_seed_demo_refuses_without_debug(db, settings):
    settings.DEBUG = False
    with pytest.raises(RuntimeError, match="DEBUG"):
        seed_demo()


def test_seed_demo_builds_the_2018_baseline_fleet(db, debug):
    seed_demo()
    assert Camera.objects.filter(site__status=SiteStatus.ACTIVE).count() == 6000
    # Spread over the five mainland kota, every site inside the kelurahan it names.
    kota = set(Site.objects.values_list("kelurahan__parent__parent__code", flat=True))
    assert kota == {"31.71", "31.72", "31.73", "31.74", "31.75"}
    for site in list(Site.objects.order_by("id"))[::20]:
        assert kelurahan_at(lat=site.lat, lon=site.lon).pk == site.kelurahan_id
    # Pole slot bookkeeping agrees with the sites that hold a slot.
    mismatched = UtilityPole.objects.annotate(
        holders=Count("sites", filter=Q(sites__holds_pole_slot=True))
    ).exclude(slots_used=F("holders"))
    assert not mismatched.exists()


def test_seed_demo_cameras_lie_inside_their_owners_approved_networks(db, debug):
    seed_demo()
    networks = {}
    for network in CameraNetwork.objects.filter(status="approved"):
        networks.setdefault(network.partner_id, []).append(network)
    for camera in list(Camera.objects.order_by("id"))[::30]:
        for url in (camera.rtsp_url, camera.snapshot_url, camera.onvif_url):
            parts = urlsplit(url)
            assert any(
                ipaddress.ip_address(parts.hostname) in n.network() and parts.port in n.ports
                for n in networks[camera.owner_id]
            ), url


def test_seed_demo_cameras_are_the_simulators_cameras_in_order(db, debug, monkeypatch):
    monkeypatch.setenv("SIMULATOR_HTTP_PORT", "28080")
    monkeypatch.setenv("SIMULATOR_RTSP_PORT", "28554")
    seed_demo()
    owners = {name: index for index, (name, *_rest) in enumerate(FLEET)}
    cameras = sorted(
        Camera.objects.select_related("owner"), key=lambda c: (owners[c.owner.name], c.pk)
    )
    assert len(cameras) == DEMO_CAMERAS
    for index in (0, 1, 2499, 2500, 5999):
        address = camera_address(index)
        assert cameras[index].rtsp_url == f"rtsp://{address}:28554/stream1"
        assert cameras[index].snapshot_url == f"http://{address}:28080/snapshot.jpg"
        assert cameras[index].onvif_url == f"http://{address}:28080/onvif/device_service"
    # The /16 10.x networks stay, for realism; the loopback one is approved for each owner.
    for name in owners:
        cidrs = set(
            CameraNetwork.objects.filter(partner__name=name, status="approved").values_list(
                "cidr", flat=True
            )
        )
        assert "127.1.0.0/16" in cidrs, name
        assert any(c.startswith("10.") for c in cidrs), name
    assert CameraNetwork.objects.get(partner__name=FLEET[0][0], cidr="127.1.0.0/16").ports == [
        28080,
        28554,
    ]


def test_launcher_starts_the_simulator_and_lets_only_celery_reach_loopback(monkeypatch):
    monkeypatch.setenv("SIMULATOR_HTTP_PORT", "19080")
    monkeypatch.setenv("SIMULATOR_RTSP_PORT", "19554")
    http_port, rtsp_port = launcher.simulator_ports()
    commands = launcher.build_commands(
        host="127.0.0.1",
        port="8000",
        concurrency="2",
        cameras=6000,
        http_port=http_port,
        rtsp_port=rtsp_port,
    )
    assert set(commands) == {"web", "worker", "beat", "simulator"}
    simulator = commands["simulator"].command
    assert simulator[1:3] == ["manage.py", "simulate_fleet"]
    options = dict(zip(simulator[3::2], simulator[4::2], strict=True))
    assert options == {
        "--cameras": "6000",
        "--seed": "2018",
        "--http-port": "19080",
        "--rtsp-port": "19554",
    }
    assert commands["worker"].env == {"HEALTH_ALLOW_LOOPBACK": "1"}
    assert commands["beat"].env == {"HEALTH_ALLOW_LOOPBACK": "1"}
    assert "HEALTH_ALLOW_LOOPBACK" not in commands["web"].env


def test_launcher_simulator_ports_default_to_18080_and_18554(monkeypatch):
    monkeypatch.delenv("SIMULATOR_HTTP_PORT", raising=False)
    monkeypatch.delenv("SIMULATOR_RTSP_PORT", raising=False)
    assert launcher.simulator_ports() == (18080, 18554)


def test_seed_demo_has_applications_in_every_state_and_programmes(db, debug):
    seed_demo()
    reached = set(HostingApplication.objects.values_list("status", flat=True))
    assert reached == set(ApplicationStatus.values)
    returned = HostingApplication.objects.get(title__contains="dikembalikan")
    assert returned.status == ApplicationStatus.DRAFT
    assert returned.decisions.filter(decision="returned").exists()
    approved = HostingApplication.objects.get(status=ApplicationStatus.APPROVED)
    assert set(approved.candidate_sites.values_list("site__status", flat=True)) == {"approved"}
    assert set(Programme.objects.values_list("status", flat=True)) == {
        "draft",
        "submitted",
        "approved",
        "active",
    }


def test_seed_demo_has_contracts_in_force_over_the_fleet_and_a_draft_from_the_application(
    db, debug, settings, tmp_path
):
    from contracts.models import Contract, ContractDocument, ContractSite

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path, "base_url": None},
        },
    }
    seed_demo()
    statuses = sorted(Contract.objects.values_list("status", flat=True))
    assert statuses == ["active", "active", "draft", "legal_review"]
    assert ContractSite.objects.filter(in_force=True).count() == 70
    assert ContractDocument.objects.filter(kind="signed").count() == 2
    draft = Contract.objects.get(status="draft")
    assert draft.application.status == ApplicationStatus.APPROVED
    seed_demo()
    assert Contract.objects.count() == 4
