"""Open311 GeoReport v2: shapes checked against the spec's field lists, JSON and XML."""

import itertools
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from sites import open311
from sites.models import CoverageRequest, RequestStatus, ResidentContact
from tests import factories

BASE = "/open311/v2"
GAMBIR = "31.71.01.1001"

# Field lists from http://wiki.open311.org/GeoReport_v2/ ("Response" tables).
SERVICE_KEYS = {
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
}
DEFINITION_KEYS = {"service_code", "attributes"}
ATTRIBUTE_KEYS = {
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
}
VALUE_KEYS = {"key", "name"}
# POST answers with a token (batch services) and so, per the spec, without service_request_id.
CREATED_KEYS = {"token", "service_notice", "account_id"}
TOKEN_KEYS = {"service_request_id", "token"}
REQUEST_KEYS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
ERROR_KEYS = {"code", "description"}
DISCOVERY_KEYS = {"changeset", "contact", "key_service", "endpoints"}
ENDPOINT_KEYS = {"specification", "url", "changeset", "type", "formats"}
W3_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")

_numbers = itertools.count(1)


@pytest.fixture
def client():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def make_request(
    *,
    status=RequestStatus.SUBMITTED,
    category="theft",
    created_at=None,
    code=GAMBIR,
    **fields,
) -> CoverageRequest:
    """A request straight in the database, with the personal data a real one carries."""
    area = factories.kelurahan(code)
    contact = ResidentContact.objects.create(
        kind="email",
        value_hash=f"hash-{next(_numbers)}",
        value_encrypted="encrypted",
        name="Siti Rahayu",
        verified_at=timezone.now(),
    )
    now = timezone.now()
    item = CoverageRequest.objects.create(
        reference=f"REQ-2026-{next(_numbers):06d}",
        lat=Decimal(area.lat) + Decimal("0.000432"),
        lon=Decimal(area.lon) + Decimal("0.000271"),
        kelurahan=area,
        category=category,
        description="Gang sempit di belakang rumah Bu Siti, sering ada jambret malam hari.",
        contact=contact,
        requester_name="Siti Rahayu",
        consent_at=now,
        privacy_notice_version="2026-12",
        status=status,
        status_changed_at=now,
        verified_at=None if status == RequestStatus.UNVERIFIED else now,
        closed_at=now if status in open311.STATUS_GROUPS["closed"] else None,
        **fields,
    )
    if created_at:
        CoverageRequest.objects.filter(pk=item.pk).update(created_at=created_at)
        item.refresh_from_db()
    return item


def xml_of(response) -> ET.Element:
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)


def tags(element: ET.Element) -> set[str]:
    return {child.tag for child in element}


def assert_errors(response, status: int, fmt: str = "json") -> list[str]:
    """The spec's error shape; returns the descriptions."""
    assert response.status_code == status
    if fmt == "json":
        assert response["Content-Type"] == "application/json; charset=utf-8"
        errors = response.json()
        assert isinstance(errors, list)
        assert errors
        for error in errors:
            assert set(error) == ERROR_KEYS
            assert error["code"] == status
        return [error["description"] for error in errors]
    root = xml_of(response)
    assert root.tag == "errors"
    assert root
    for error in root:
        assert error.tag == "error"
        assert tags(error) == ERROR_KEYS
        assert error.findtext("code") == str(status)
    return [error.findtext("description") for error in root]


# --- Services -----------------------------------------------------------------------------------


def test_services_json_lists_one_service_per_category(client, db):
    response = client.get(f"{BASE}/services.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    services = response.json()
    assert [service["service_code"] for service in services] == [
        "theft",
        "violence",
        "sexual_violence",
        "vandalism",
        "traffic",
        "other",
    ]
    for service in services:
        assert set(service) == SERVICE_KEYS
        assert service["metadata"] is True
        assert service["type"] == "batch"
    theft = services[0]
    assert theft["service_name"] == "Theft"
    assert "pencurian" in theft["keywords"]
    assert theft["group"] == "crime"


def test_services_xml_has_spec_elements(client, db):
    root = xml_of(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    assert len(root) == 6
    for service in root:
        assert service.tag == "service"
        assert tags(service) == SERVICE_KEYS
    assert root[0].findtext("metadata") == "true"
    assert root[0].findtext("service_name") == "Theft"


def test_services_keep_english_names_in_any_language(db):
    response = Client(HTTP_ACCEPT_LANGUAGE="id").get(f"{BASE}/services.json")
    assert response.json()[0]["service_name"] == "Theft"


def test_service_definition_asks_for_consent(client, db):
    response = client.get(f"{BASE}/services/traffic.json")
    assert response.status_code == 200
    definition = response.json()
    assert set(definition) == DEFINITION_KEYS
    assert definition["service_code"] == "traffic"
    [consent] = definition["attributes"]
    assert set(consent) == ATTRIBUTE_KEYS
    assert consent["code"] == "consent"
    assert consent["required"] is True
    assert consent["variable"] is True
    assert consent["datatype"] == "singlevaluelist"
    assert consent["order"] == 1
    assert "privacy" in consent["description"]
    assert "http" in consent["description"]
    assert consent["values"] == [{"key": "yes", "name": "Yes, I agree"}]


def test_service_definition_xml_has_spec_elements(client, db):
    root = xml_of(client.get(f"{BASE}/services/theft.xml"))
    assert root.tag == "service_definition"
    assert tags(root) == DEFINITION_KEYS
    assert root.findtext("service_code") == "theft"
    attributes = root.find("attributes")
    [attribute] = list(attributes)
    assert attribute.tag == "attribute"
    assert tags(attribute) == ATTRIBUTE_KEYS
    assert attribute.findtext("required") == "true"
    [value] = list(attribute.find("values"))
    assert value.tag == "value"
    assert tags(value) == VALUE_KEYS
    assert value.findtext("key") == "yes"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_service_definition_unknown_code_is_404(client, db, fmt):
    descriptions = assert_errors(client.get(f"{BASE}/services/pothole.{fmt}"), 404, fmt)
    assert "pothole" in descriptions[0]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_wrong_jurisdiction_is_404(client, db, fmt):
    response = client.get(f"{BASE}/services.{fmt}", {"jurisdiction_id": "sfgov.org"})
    descriptions = assert_errors(response, 404, fmt)
    assert "jurisdiction_id" in descriptions[0]


def test_own_jurisdiction_is_accepted(client, db, settings):
    settings.OPEN311_JURISDICTION_ID = "jakarta.go.id"
    response = client.get(f"{BASE}/services.json", {"jurisdiction_id": "jakarta.go.id"})
    assert response.status_code == 200


def test_discovery_lists_this_endpoint(client, db):
    body = client.get(f"{BASE}/discovery.json").json()
    assert set(body) == DISCOVERY_KEYS
    [endpoint] = body["endpoints"]
    assert set(endpoint) == ENDPOINT_KEYS
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    root = xml_of(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.tag for f in root.find("endpoints/endpoint/formats")] == ["format", "format"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_wrong_method_is_405_in_error_format(client, db, fmt):
    response = client.post(f"{BASE}/services.{fmt}")
    assert_errors(response, 405, fmt)
    assert response["Allow"] == "GET"


def test_unknown_resource_is_404_in_xml(client, db):
    assert_errors(client.get(f"{BASE}/services.html"), 404, "xml")
    assert_errors(client.get(f"{BASE}/nothing/here.json"), 404, "json")
    csrf_client = Client(enforce_csrf_checks=True)
    assert_errors(csrf_client.post(f"{BASE}/requests.html"), 404, "xml")


# --- POST requests ------------------------------------------------------------------------------


def submission(**overrides) -> dict:
    point = factories.point_in(GAMBIR)
    data = {
        "jurisdiction_id": "jakarta.go.id",
        "service_code": "theft",
        "lat": str(point["lat"]),
        "long": str(point["lon"]),
        "email": "warga@example.test",
        "first_name": "Siti",
        "last_name": "Rahayu",
        "description": "Sering ada jambret di gang ini setelah magrib.",
        "attribute[consent]": "yes",
        "api_key": "ignored",
        "device_id": "ignored",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def verification_link(message) -> str:
    match = re.search(r"https?://[^/\s]+(/\S*/verify/\S+)", message.body)
    assert match, message.body
    return match.group(1)


def test_create_verify_and_follow_a_request(client, db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{BASE}/requests.json", submission())
    assert response.status_code == 200, response.content
    [created] = response.json()
    assert set(created) == CREATED_KEYS
    assert created["account_id"] is None
    assert "email" in created["service_notice"]
    token = created["token"]

    # Until the email is confirmed, the token resolves to nothing and nothing is public.
    pending = client.get(f"{BASE}/tokens/{token}.json").json()
    assert pending == [{"service_request_id": None, "token": token}]
    assert client.get(f"{BASE}/requests.json").json() == []

    [message] = mail.outbox
    assert message.to == ["warga@example.test"]
    link = verification_link(message)
    # Opening the link asks for one press (mail scanners open links); pressing confirms.
    assert client.get(link).status_code == 200
    assert client.get(f"{BASE}/tokens/{token}.json").json()[0]["service_request_id"] is None
    client.post(link)

    [resolved] = client.get(f"{BASE}/tokens/{token}.json").json()
    assert set(resolved) == TOKEN_KEYS
    reference = resolved["service_request_id"]
    assert re.fullmatch(r"REQ-\d{4}-\d{6}", reference)

    [item] = client.get(f"{BASE}/requests/{reference}.json").json()
    assert item["status"] == "open"
    assert item["service_code"] == "theft"
    assert [row["service_request_id"] for row in client.get(f"{BASE}/requests.json").json()] == [
        reference
    ]
    stored = CoverageRequest.objects.get(reference=reference)
    assert stored.requester_name == "Siti Rahayu"
    assert stored.status == RequestStatus.SUBMITTED


def test_create_answers_in_xml(client, db):
    root = xml_of(client.post(f"{BASE}/requests.xml", submission()))
    assert root.tag == "service_requests"
    [request] = list(root)
    assert request.tag == "request"
    assert tags(request) == CREATED_KEYS
    token = request.findtext("token")
    token_root = xml_of(client.get(f"{BASE}/tokens/{token}.xml"))
    assert token_root.tag == "service_requests"
    assert tags(token_root[0]) == TOKEN_KEYS
    assert token_root[0].findtext("service_request_id") == ""


def test_create_without_csrf_token_works(db):
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    assert client.post(f"{BASE}/requests.json", submission()).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"lat": None, "long": None, "address_string": "Jl. Medan Merdeka"}, "lat and long"),
        ({"email": None}, "email is required"),
        ({"email": None, "phone": "+62215550100"}, "SMS is not available"),
        ({"media_url": "http://example.test/photo.jpg"}, "media_url"),
        ({"attribute[consent]": None}, "attribute[consent]"),
        ({"attribute[consent]": "no"}, "attribute[consent]"),
        ({"service_code": None}, "service_code was not provided"),
        ({"email": "0812 3456 7890"}, "email: Verification by SMS"),
        ({"email": "not-an-address"}, "email: "),
        ({"description": None}, "description: "),
    ],
)
def test_create_refuses_bad_input_and_stores_nothing(client, db, overrides, expected):
    descriptions = assert_errors(client.post(f"{BASE}/requests.json", submission(**overrides)), 400)
    assert any(expected in description for description in descriptions), descriptions
    assert not CoverageRequest.objects.exists()
    assert not ResidentContact.objects.exists()
    assert not mail.outbox


def test_create_reports_every_problem_at_once_in_xml(client, db):
    response = client.post(
        f"{BASE}/requests.xml", submission(lat=None, email=None, **{"attribute[consent]": None})
    )
    assert len(assert_errors(response, 400, "xml")) == 3


def test_create_unknown_service_code_is_404(client, db):
    assert_errors(client.post(f"{BASE}/requests.json", submission(service_code="pothole")), 404)
    assert not CoverageRequest.objects.exists()


def test_create_wrong_jurisdiction_is_404(client, db):
    response = client.post(f"{BASE}/requests.json", submission(jurisdiction_id="sfgov.org"))
    assert_errors(response, 404)
    assert not CoverageRequest.objects.exists()


def test_create_outside_jakarta_is_refused(client, db):
    response = client.post(f"{BASE}/requests.json", submission(lat="-6.9175", long="107.6191"))
    [description] = assert_errors(response, 400)
    assert description.startswith("lat: ")
    assert "outside DKI Jakarta" in description
    assert not CoverageRequest.objects.exists()


def test_create_with_phone_and_email_keeps_only_the_email(client, db):
    response = client.post(f"{BASE}/requests.json", submission(phone="+62215550100"))
    assert response.status_code == 200
    assert list(ResidentContact.objects.values_list("kind", flat=True)) == ["email"]


def test_create_rate_limited_is_429_with_retry_after(client, db, settings):
    settings.REQUEST_RATE_LIMIT_CONTACT_PER_HOUR = 2
    for _ in range(2):
        assert client.post(f"{BASE}/requests.json", submission()).status_code == 200
    response = client.post(f"{BASE}/requests.xml", submission())
    [description] = assert_errors(response, 429, "xml")
    assert "Try again" in description
    assert 0 < int(response["Retry-After"]) <= 3600
    assert CoverageRequest.objects.count() == 2


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_reads_are_rate_limited_like_the_public_api(client, db, settings, fmt):
    settings.REQUEST_API_READS_PER_HOUR = 2
    client.get(f"{BASE}/services.{fmt}")
    client.get(f"{BASE}/requests.{fmt}")
    response = client.get(f"{BASE}/requests.{fmt}")
    assert_errors(response, 429, fmt)
    assert 0 < int(response["Retry-After"]) <= 3600


# --- GET requests -------------------------------------------------------------------------------


def test_request_list_json_has_spec_fields(client, db):
    item = make_request()
    response = client.get(f"{BASE}/requests.json")
    assert response.status_code == 200
    [row] = response.json()
    assert set(row) == REQUEST_KEYS
    assert row["service_request_id"] == item.reference
    assert row["status"] == "open"
    assert row["status_notes"] == "Submitted"
    assert row["service_name"] == "Theft"
    assert row["agency_responsible"] == "Diskominfotik DKI Jakarta"
    assert row["address_id"] == GAMBIR
    assert row["address"].startswith("Gambir, Gambir, ")
    assert W3_DATETIME.match(row["requested_datetime"])
    assert W3_DATETIME.match(row["updated_datetime"])
    assert row["lat"] == round(float(item.lat), 3)
    assert row["long"] == round(float(item.lon), 3)


def test_request_list_xml_has_spec_elements(client, db):
    make_request()
    make_request(status=RequestStatus.DECLINED, decline_reason="Sudah ada kamera di sini.")
    root = xml_of(client.get(f"{BASE}/requests.xml"))
    assert root.tag == "service_requests"
    assert len(root) == 2
    for request in root:
        assert request.tag == "request"
        assert tags(request) == REQUEST_KEYS
    assert [r.findtext("status") for r in root] == ["closed", "open"]
    assert root[0].findtext("status_notes") == "Sudah ada kamera di sini."


def test_request_list_never_shows_unverified_requests(client, db):
    make_request(status=RequestStatus.UNVERIFIED)
    assert client.get(f"{BASE}/requests.json").json() == []


def test_request_list_filters_by_status(client, db):
    open_ids = {
        make_request(status=status).reference
        for status in (RequestStatus.UNDER_REVIEW, RequestStatus.PLANNED, RequestStatus.INSTALLED)
    }
    survivor = make_request()
    open_ids.add(survivor.reference)
    closed_ids = {
        make_request(status=RequestStatus.CONFIRMED).reference,
        make_request(status=RequestStatus.MERGED, merged_into=survivor).reference,
    }

    def ids(**params):
        return {
            row["service_request_id"] for row in client.get(f"{BASE}/requests.json", params).json()
        }

    assert ids(status="open") == open_ids
    assert ids(status="closed") == closed_ids
    assert ids(status="open,closed") == open_ids | closed_ids
    assert ids() == open_ids | closed_ids


def test_request_list_merged_request_points_to_survivor(client, db):
    survivor = make_request()
    merged = make_request(status=RequestStatus.MERGED, merged_into=survivor)
    [row] = client.get(f"{BASE}/requests/{merged.reference}.json").json()
    assert row["status"] == "closed"
    assert row["status_notes"] == f"Merged into {survivor.reference}."


def test_request_list_filters_by_service_code(client, db):
    theft = make_request(category="theft")
    traffic = make_request(category="traffic")
    make_request(category="vandalism")
    rows = client.get(f"{BASE}/requests.json", {"service_code": "theft,traffic"}).json()
    assert {row["service_request_id"] for row in rows} == {theft.reference, traffic.reference}
    assert_errors(client.get(f"{BASE}/requests.json", {"service_code": "pothole"}), 404)


def test_request_list_service_request_id_overrides_other_arguments(client, db):
    old = make_request(created_at=timezone.now() - timedelta(days=200), category="traffic")
    recent = make_request()
    make_request()
    params = {"service_request_id": f"{old.reference}, {recent.reference}", "service_code": "other"}
    rows = client.get(f"{BASE}/requests.json", params).json()
    assert {row["service_request_id"] for row in rows} == {old.reference, recent.reference}


def test_request_list_dates_default_to_the_last_90_days(client, db):
    now = timezone.now()
    recent = make_request(created_at=now - timedelta(days=10))
    old = make_request(created_at=now - timedelta(days=120))
    rows = client.get(f"{BASE}/requests.json").json()
    assert [row["service_request_id"] for row in rows] == [recent.reference]

    params = {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-03-01T00:00:00+07:00"}
    CoverageRequest.objects.filter(pk=old.pk).update(created_at=datetime(2026, 2, 1, tzinfo=UTC))
    rows = client.get(f"{BASE}/requests.json", params).json()
    assert [row["service_request_id"] for row in rows] == [old.reference]
    rows = client.get(f"{BASE}/requests.json", {"start_date": "2026-01-15"}).json()
    assert [row["service_request_id"] for row in rows] == [old.reference]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "90 days"),
        ({"start_date": "2026-03-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "before"),
        ({"start_date": "yesterday"}, "w3"),
        ({"end_date": "2026-13-45T00:00:00Z"}, "w3"),
        ({"status": "pending"}, "open or closed"),
    ],
)
def test_request_list_refuses_bad_filters(client, db, params, expected):
    descriptions = assert_errors(client.get(f"{BASE}/requests.xml", params), 400, "xml")
    assert expected in descriptions[0]


def test_request_list_returns_at_most_the_limit_newest_first(client, db, monkeypatch):
    monkeypatch.setattr(open311, "MAX_RESULTS", 2)
    now = timezone.now()
    rows = [make_request(created_at=now - timedelta(hours=hours)) for hours in (3, 1, 2)]
    listed = [row["service_request_id"] for row in client.get(f"{BASE}/requests.json").json()]
    assert listed == [rows[1].reference, rows[2].reference]


def test_request_list_query_count_is_constant(client, db, django_assert_max_num_queries):
    survivor = make_request()
    make_request(status=RequestStatus.MERGED, merged_into=survivor)
    with django_assert_max_num_queries(3):
        client.get(f"{BASE}/requests.json")
    for _ in range(10):
        make_request(status=RequestStatus.MERGED, merged_into=make_request(code="31.73.01.1001"))
    with django_assert_max_num_queries(3):
        assert len(client.get(f"{BASE}/requests.xml").content) > 0


def test_request_detail_json_and_xml(client, db):
    item = make_request(status=RequestStatus.PLANNED)
    [row] = client.get(f"{BASE}/requests/{item.reference}.json").json()
    assert set(row) == REQUEST_KEYS
    assert (row["status"], row["status_notes"]) == ("open", "Planned")
    root = xml_of(client.get(f"{BASE}/requests/{item.reference}.xml"))
    assert root.tag == "service_requests"
    [request] = list(root)
    assert request.tag == "request"
    assert tags(request) == REQUEST_KEYS
    assert request.findtext("service_request_id") == item.reference


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_request_detail_unknown_or_unverified_is_404(client, db, fmt):
    hidden = make_request(status=RequestStatus.UNVERIFIED)
    assert_errors(client.get(f"{BASE}/requests/{hidden.reference}.{fmt}"), 404, fmt)
    assert_errors(client.get(f"{BASE}/requests/REQ-2026-999999.{fmt}"), 404, fmt)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_token_unknown_or_forged_is_404(client, db, fmt):
    assert_errors(client.get(f"{BASE}/tokens/123.{fmt}"), 404, fmt)
    assert_errors(client.get(f"{BASE}/tokens/MQ:forged.{fmt}"), 404, fmt)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_responses_carry_no_personal_data(client, db, fmt):
    item = make_request()
    bodies = [
        client.get(f"{BASE}/requests.{fmt}").content,
        client.get(f"{BASE}/requests/{item.reference}.{fmt}").content,
    ]
    for body in bodies:
        text = body.decode()
        for secret in ("Siti", "Rahayu", "jambret", "example.test", str(item.lat), str(item.lon)):
            assert secret not in text
    [row] = client.get(f"{BASE}/requests.json").json()
    assert row["description"] is None
    assert row["media_url"] is None
