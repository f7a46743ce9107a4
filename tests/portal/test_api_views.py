from django.conf import settings

from partners.models import MemberRole
from portal.roles import Role
from tests import factories
from tests.conftest import api_as


def obtain_token(api, username: str, password: str):
    return api.post("/api/auth/token/", {"username": username, "password": password}, format="json")


def test_token_api_issues_a_working_token(api, owner):
    response = obtain_token(api, owner.username, factories.PASSWORD)
    assert response.status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert api.get("/api/me/").json()["username"] == owner.username


def test_token_api_wrong_password_is_400(api, owner):
    response = obtain_token(api, owner.username, "not-the-password")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"
    assert "token" not in response.json()


def test_token_api_locks_out_after_failure_limit(api, owner):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        obtain_token(api, owner.username, "guessing-again")
    response = obtain_token(api, owner.username, factories.PASSWORD)
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "locked_out"
    assert "Try again" in response.json()["detail"]
    assert "token" not in response.json()


def test_me_api_shows_roles_and_memberships(partner, owner):
    body = api_as(owner).get("/api/me/").json()
    assert body["roles"] == []
    assert body["kota"] is None
    assert body["memberships"] == [
        {
            "id": partner.memberships.get().pk,
            "partner": partner.pk,
            "partner_name": partner.name,
            "role": MemberRole.OWNER,
        }
    ]


def test_me_api_shows_sudin_kota(db):
    body = api_as(factories.sudin_officer("31.73")).get("/api/me/").json()
    assert (body["roles"], body["kota"], body["memberships"]) == ([Role.SUDIN_OFFICER], "31.73", [])
