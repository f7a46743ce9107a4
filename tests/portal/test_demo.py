import pytest
from django.contrib.auth import get_user_model

from partners.models import CameraNetwork, Partner, PartnerKind
from portal.demo import seed_demo
from portal.demo_logins import DEMO_PASSWORD, DEMO_USERS
from portal.roles import Role


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
