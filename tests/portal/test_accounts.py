import re
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from portal.roles import Role
from tests import factories

User = get_user_model()

GOOD_PASSWORD = "lantern-kembang-7731"


@pytest.fixture(autouse=True)
def english(client):
    """Pages in English, so the assertions hold once the Indonesian translations land."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def _register(client, **overrides):
    data = {
        "username": "siti",
        "full_name": "Siti Rahmawati",
        "email": "siti@example.test",
        "password": GOOD_PASSWORD,
        "password_confirm": GOOD_PASSWORD,
        **overrides,
    }
    return client.post(reverse("register"), data)


def _login(client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


# --- registration ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_register_creates_resident_signs_in_and_opens_dashboard(client):
    response = _register(client)
    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    user = User.objects.get(username="siti")
    assert (user.full_name, user.email) == ("Siti Rahmawati", "siti@example.test")
    assert user.groups.filter(name=Role.RESIDENT).exists()
    dashboard = client.get(response.url)
    assert dashboard.status_code == 200
    assert "Siti Rahmawati" in dashboard.content.decode()


@pytest.mark.django_db
def test_register_refuses_weak_password_with_validator_message(client):
    response = _register(client, password="12345", password_confirm="12345")
    assert response.status_code == 200
    page = response.content.decode()
    assert "This password is too short. It must contain at least 10 characters." in page
    assert "This password is entirely numeric." in page
    assert not User.objects.filter(username="siti").exists()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_register_refuses_mismatched_passwords(client):
    response = _register(client, password_confirm=GOOD_PASSWORD + "x")
    assert "The two passwords do not match." in response.content.decode()
    assert not User.objects.filter(username="siti").exists()


@pytest.mark.django_db
def test_register_refuses_an_email_already_used_in_another_case(client):
    factories.UserFactory(email="siti@example.test")
    response = _register(client, email="SITI@Example.test")
    assert response.status_code == 200
    assert "An account with this email address already exists." in response.content.decode()
    assert not User.objects.filter(username="siti").exists()


# --- sign in, lockout, sign out -------------------------------------------------------------


@pytest.mark.django_db
def test_login_with_right_password_opens_dashboard(client):
    user = factories.UserFactory()
    response = _login(client, user.username, factories.PASSWORD)
    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
def test_login_wrong_password_shows_form_error(client):
    user = factories.UserFactory()
    response = _login(client, user.username, "not-the-password")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


@pytest.mark.django_db
def test_login_locked_out_after_failure_limit_even_with_right_password(client):
    user = factories.UserFactory()
    for _attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, user.username, "not-the-password").status_code == 200
    locked = _login(client, user.username, "not-the-password")
    assert locked.status_code in (403, 429)
    assert "Sign-in temporarily blocked" in locked.content.decode()

    again = _login(client, user.username, factories.PASSWORD)
    assert again.status_code in (403, 429)
    assert "Sign-in temporarily blocked" in again.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_logout_only_by_post(client):
    user = factories.UserFactory()
    client.force_login(user)
    assert client.get(reverse("logout")).status_code == 405
    assert "_auth_user_id" in client.session
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_dashboard_anonymous_redirects_to_login(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


# --- passwords ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_password_reset_email_link_sets_a_new_password(client):
    user = factories.UserFactory(email="budi@example.test")
    response = client.post(reverse("password_reset"), {"email": "BUDI@example.test"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["budi@example.test"]
    link = re.search(r"https?://\S+/accounts/password/reset/\S+/", message.body).group(0)
    assert link.startswith(settings.SITE_URL)
    assert link in message.alternatives[0][0]

    confirm = client.get(urlparse(link).path)
    assert confirm.status_code == 302  # Django swaps the token for a session and redirects
    form_page = client.get(confirm.url)
    assert "Choose a new password" in form_page.content.decode()
    new_password = "a-brand-new-secret-99"
    done = client.post(confirm.url, {"new_password1": new_password, "new_password2": new_password})
    assert done.status_code == 302
    assert done.url == reverse("password_reset_complete")
    user.refresh_from_db()
    assert user.check_password(new_password)
    # The link works once.
    assert "This link is not valid" in client.get(urlparse(link).path, follow=True).content.decode()


@pytest.mark.django_db
def test_password_change_needs_the_old_password(client):
    user = factories.UserFactory()
    client.force_login(user)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "wrong",
            "new_password1": GOOD_PASSWORD,
            "new_password2": GOOD_PASSWORD,
        },
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(factories.PASSWORD)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": factories.PASSWORD,
            "new_password1": GOOD_PASSWORD,
            "new_password2": GOOD_PASSWORD,
        },
    )
    assert response.url == reverse("password_change_done")
    user.refresh_from_db()
    assert user.check_password(GOOD_PASSWORD)


# --- language, home, dashboard --------------------------------------------------------------


@pytest.mark.django_db
def test_language_defaults_to_indonesian_and_switches_to_english():
    client = Client()
    assert '<html lang="id">' in client.get(reverse("home")).content.decode()
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    page = client.get(reverse("home")).content.decode()
    assert '<html lang="en">' in page
    assert "Create an account" in page


@pytest.mark.django_db
def test_language_switch_saves_a_signed_in_persons_preference_for_emails(client):
    user = factories.UserFactory(language="id")
    client.force_login(user)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    user.refresh_from_db()
    assert user.language == "en"


@pytest.mark.django_db
def test_language_switch_ignores_an_unknown_language(client):
    user = factories.UserFactory(language="id")
    client.force_login(user)
    response = client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.language == "id"


@pytest.mark.django_db
def test_home_offers_register_and_login_to_visitors(client):
    page = client.get(reverse("home")).content.decode()
    assert reverse("register") in page
    assert reverse("login") in page
    assert 'name="csrf-token"' in page


@pytest.mark.django_db
def test_dashboard_lists_my_organisations_with_role_and_status(
    client, owner, partner, other_partner
):
    client.force_login(owner)
    page = client.get(reverse("dashboard")).content.decode()
    assert partner.name in page
    assert ">Owner<" in page
    assert ">Registered<" in page
    assert other_partner.name not in page
    assert "Partners awaiting verification" not in page


@pytest.mark.django_db
def test_dashboard_shows_officer_the_partners_awaiting_verification(client, approver, partner):
    client.force_login(approver)
    page = client.get(reverse("dashboard")).content.decode()
    assert "Partners awaiting verification" in page
    assert partner.name in page
