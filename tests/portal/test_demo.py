import ipaddress
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q

from contracts.models import ApplicationStatus, HostingApplication, Programme
from partners.models import CameraNetwork, Partner, PartnerKind
from portal.demo import seed_demo
from portal.demo_logins import DEMO_PASSWORD, DEMO_USERS
from portal.roles import Role
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
        networks.setdefault(network.partner_id, []).append(ipaddress.ip_network(network.cidr))
    for camera in list(Camera.objects.order_by("id"))[::30]:
        host = urlsplit(camera.rtsp_url).hostname
        assert any(ipaddress.ip_address(host) in n for n in networks[camera.owner_id]), camera


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
