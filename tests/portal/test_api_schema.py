import re

import pytest

from tests.conftest import api_as

EXPECTED_PATHS = [
    "/api/auth/token/",
    "/api/me/",
    "/api/partners/",
    "/api/partners/{id}/",
    "/api/partners/{id}/verify/",
    "/api/partners/{id}/reject/",
    "/api/partners/{id}/suspend/",
    "/api/partners/{id}/reinstate/",
    "/api/partners/{id}/history/",
    "/api/memberships/",
    "/api/memberships/{id}/",
    "/api/invitations/",
    "/api/invitations/{id}/revoke/",
    "/api/invitations/accept/",
    "/api/documents/",
    "/api/documents/{id}/",
    "/api/documents/{id}/download/",
    "/api/networks/",
    "/api/networks/{id}/approve/",
    "/api/networks/{id}/reject/",
    "/api/networks/{id}/revoke/",
    "/api/networks/{id}/history/",
    "/api/areas/",
    "/api/areas/{code}/",
    "/api/areas/locate/",
    "/api/areas/{code}/rawan/",
]


@pytest.fixture
def schema(owner) -> dict:
    response = api_as(owner).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_api_schema_is_openapi_3_with_every_path(schema):
    assert schema["openapi"].startswith("3.")
    missing = [path for path in EXPECTED_PATHS if path not in schema["paths"]]
    assert missing == []


def test_api_schema_describes_actions_with_their_real_bodies(schema):
    paths = schema["paths"]
    verify = paths["/api/partners/{id}/verify/"]["post"]
    assert verify["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ReasonRequest"
    )
    assert {"200", "403", "409"} <= set(verify["responses"])
    upload = paths["/api/documents/"]["post"]["requestBody"]["content"]
    assert list(upload) == ["multipart/form-data"]
    assert (
        "application/pdf"
        in paths["/api/documents/{id}/download/"]["get"]["responses"]["200"]["content"]
    )
    locate_params = {p["name"] for p in paths["/api/areas/locate/"]["get"]["parameters"]}
    assert {"lat", "lon"} <= locate_params
    partner_params = {p["name"] for p in paths["/api/partners/"]["get"]["parameters"]}
    assert {"kind", "status", "kelurahan", "kota", "search"} <= partner_params


def test_api_schema_never_exposes_storage_path_or_invitation_token(schema):
    components = schema["components"]["schemas"]
    assert "file" not in components["Document"]["properties"]
    assert "token" not in components["Invitation"]["properties"]


def test_api_docs_served_without_any_cdn(owner):
    response = api_as(owner).get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert re.search(r"cdn|unpkg|jsdelivr", page, re.IGNORECASE) is None
    for asset in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert asset.startswith("/static/"), asset
