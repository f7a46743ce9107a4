import re

import pytest
from django.utils import translation

from portal.models import RateLimitBucket
from portal.roles import Role
from sites import request_services as services
from sites.models import CoverageRequest, RequestNote, RequestStatus, ResidentContact
from tests import factories
from tests.conftest import api_as
from tests.sites.test_request_services import (
    DESCRIPTION,
    GAMBIR,
    TEBET,
    jpeg,
    near,
    secrets_of,
    submit,
    submitted,
    supporter,
)

NAME = "Siti Rahayu"
EMAIL = "warga@example.test"
SECRET_WORDS = "rumah-pak-budi-no-7"


@pytest.fixture
def committed(db, django_capture_on_commit_callbacks):
    def run(function, /, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(**kwargs)

    return run


@pytest.fixture
def city_officer(db):
    return factories.officer()


@pytest.fixture
def posted(db, api, django_capture_on_commit_callbacks):
    """POST through the API with after-commit work (emails) run, as in production."""

    def run(url, data=None, client=None, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return (client or api).post(url, data or {}, **kwargs)

    return run


def form(**overrides) -> dict:
    data = {
        "lat": str(GAMBIR["lat"]),
        "lon": str(GAMBIR["lon"]),
        "category": "theft",
        "description": f"{DESCRIPTION} Dekat {SECRET_WORDS}.",
        "contact": EMAIL,
        "name": NAME,
        "consent": "true",
        "language": "en",
        "website": "",
    }
    data.update(overrides)
    return data


# --- Submitting and verifying -------------------------------------------------------------


def test_submit_verify_and_see_the_public_request(api, posted, mailoutbox):
    response = posted("/api/requests/", {**form(), "photo": jpeg()}, format="multipart")
    assert response.status_code == 202, response.json()
    reference = response.json()["reference"]
    assert response.json()["status"] == "unverified"
    assert api.get(f"/api/requests/{reference}/").status_code == 404

    token, _code = secrets_of(mailoutbox[0])
    verified = posted("/api/requests/verify/", {"token": token}, format="json")

    assert verified.status_code == 200, verified.json()
    assert verified.json() == {"purpose": "submit", "reference": reference, "status": "submitted"}
    detail = api.get(f"/api/requests/{reference}/").json()
    assert detail["status"] == "submitted"
    assert detail["kelurahan"] == {"code": "31.71.01.1001", "name": "Gambir"}
    assert [step["status"] for step in detail["history"]] == ["submitted"]


def test_verify_with_address_and_code(api, posted, mailoutbox):
    posted("/api/requests/", form(), format="multipart")
    _token, code = secrets_of(mailoutbox[0])
    wrong = posted("/api/requests/verify/", {"contact": EMAIL, "code": "000000"}, format="json")
    if code == "000000":  # pragma: no cover - one chance in a million
        return
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "invalid_code"
    right = posted("/api/requests/verify/", {"contact": EMAIL, "code": code}, format="json")
    assert right.status_code == 200
    assert right.json()["status"] == "submitted"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"lat": "-6.914744", "lon": "107.609810"}, "lat"),
        ({"consent": "false"}, "consent"),
        ({"contact": "0812 3456 7890"}, "contact"),
        ({"description": ""}, "description"),
    ],
)
def test_submit_refuses_bad_input_with_field_errors(posted, mailoutbox, overrides, field):
    response = posted("/api/requests/", form(**overrides), format="multipart")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not CoverageRequest.objects.exists()
    assert mailoutbox == []


def test_submit_refuses_a_filled_honeypot(posted, mailoutbox):
    response = posted("/api/requests/", form(website="http://spam.example"), format="multipart")
    assert response.status_code == 400
    assert response.json()["code"] == "rejected"
    assert not CoverageRequest.objects.exists()


def test_submit_rate_limited_answers_429_with_retry_after(posted, mailoutbox, settings):
    settings.REQUEST_RATE_LIMIT_IP_PER_HOUR = 1
    assert posted("/api/requests/", form(), format="multipart").status_code == 202

    response = posted("/api/requests/", form(contact="other@example.test"), format="multipart")

    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= 3600
    assert CoverageRequest.objects.count() == 1
    assert len(mailoutbox) == 1


def test_public_reads_are_throttled_per_address(api, db, settings):
    settings.REQUEST_API_READS_PER_HOUR = 2
    assert api.get("/api/requests/").status_code == 200
    assert api.get("/api/request-counts/").status_code == 200
    response = api.get("/api/requests/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["code"] == "rate_limited"
    # Another address has its own allowance.
    assert api.get("/api/requests/", REMOTE_ADDR="198.51.100.9").status_code == 200


# --- Public reads: no personal data -------------------------------------------------------


def test_public_endpoints_never_show_personal_data(
    api, committed, posted, mailoutbox, city_officer
):
    with translation.override("en"):
        request, _v = submit(
            committed, description=f"{DESCRIPTION} {SECRET_WORDS}", photo=jpeg(), name=NAME
        )
    token, _code = secrets_of(mailoutbox[0])
    posted("/api/requests/verify/", {"token": token}, format="json")
    services.request_add_note(
        request=CoverageRequest.objects.get(), actor=city_officer, body="note-for-officers"
    )
    other = api_as(factories.UserFactory())  # a signed-in partner member sees the same

    responses = [
        api.get("/api/requests/"),
        api.get(f"/api/requests/{request.reference}/"),
        api.get("/api/requests/nearby/", {"lat": GAMBIR["lat"], "lon": GAMBIR["lon"]}),
        api.get("/api/request-counts/"),
        other.get("/api/requests/"),
        other.get(f"/api/requests/{request.reference}/"),
        posted(f"/api/requests/{request.reference}/follow/", {"contact": "f@example.test"}),
        posted(f"/api/requests/{request.reference}/support/", {"contact": "s@example.test"}),
    ]

    stored = CoverageRequest.objects.get()
    for response in responses:
        assert response.status_code in (200, 202), response.content
        body = response.content.decode()
        for secret in (NAME, EMAIL, SECRET_WORDS, DESCRIPTION, stored.photo.name, "note-for"):
            assert secret not in body, (response.request["PATH_INFO"], secret)
        assert "photo" not in body
        assert "6.175305" not in body  # only the rounded location
    [row] = responses[0].json()["results"]
    assert (row["lat"], row["lon"]) == (-6.175, 106.826)


def test_public_list_shows_verified_requests_with_filters(api, committed, mailoutbox, city_officer):
    with translation.override("en"):
        pusat = submitted(committed, mailoutbox, contact="a@example.test")
        selatan = submitted(committed, mailoutbox, contact="b@example.test", **TEBET)
        services.request_decline(request=selatan, actor=city_officer, reason="Covered.")
        submit(committed, contact="c@example.test")  # unverified

    def references(**params):
        return [row["reference"] for row in api.get("/api/requests/", params).json()["results"]]

    assert sorted(references()) == sorted([pusat.reference, selatan.reference])
    assert references(status="open") == [pusat.reference]
    assert references(kota="31.74") == [selatan.reference]
    assert api.get("/api/requests/", {"status": "nope"}).status_code == 400


def test_public_list_query_count_is_constant(
    api, committed, mailoutbox, django_assert_max_num_queries
):
    with translation.override("en"):
        for number in range(6):
            submitted(committed, mailoutbox, contact=f"n{number}@example.test")
    with django_assert_max_num_queries(4):
        response = api.get("/api/requests/")
    assert len(response.json()["results"]) == 6


def test_nearby_lists_duplicates_before_submitting(api, committed, mailoutbox):
    with translation.override("en"):
        close = submitted(committed, mailoutbox, **near("0.0005"))
        submitted(committed, mailoutbox, contact="far@example.test", **near("0.005"))
    response = api.get("/api/requests/nearby/", {"lat": GAMBIR["lat"], "lon": GAMBIR["lon"]})
    assert response.status_code == 200
    assert [row["reference"] for row in response.json()] == [close.reference]
    assert response.json()[0]["distance_m"] == 60
    assert api.get("/api/requests/nearby/", {"lat": "x"}).status_code == 400


def test_counts_per_kelurahan_for_anyone(api, committed, mailoutbox):
    with translation.override("en"):
        submitted(committed, mailoutbox)
    [row] = api.get("/api/request-counts/").json()
    assert (row["code"], row["total"], row["open"]) == ("31.71.01.1001", 1, 1)


# --- Supports, follows, feedback ----------------------------------------------------------


def test_support_by_email_counts_after_verification(api, committed, posted, mailoutbox):
    with translation.override("en"):
        request = submitted(committed, mailoutbox)
    url = f"/api/requests/{request.reference}/support/"

    response = posted(url, {"contact": "tetangga@example.test"}, format="json")

    assert response.status_code == 202
    assert response.json()["counted"] is False
    assert response.json()["supports_count"] == 0
    token, _code = secrets_of(mailoutbox[-1])
    assert posted("/api/requests/verify/", {"token": token}, format="json").json()["purpose"] == (
        "support"
    )
    assert api.get(f"/api/requests/{request.reference}/").json()["supports_count"] == 1


def test_support_with_a_resident_session_counts_at_once_and_only_once(
    api, committed, posted, mailoutbox
):
    with translation.override("en"):
        first = submitted(committed, mailoutbox, contact="a@example.test")
        second = submitted(committed, mailoutbox, contact="b@example.test")
    # Confirming anything (here: a follow) starts the resident's session.
    posted(f"/api/requests/{first.reference}/follow/", {"contact": "me@example.test"})
    token, _code = secrets_of(mailoutbox[-1])
    posted("/api/requests/verify/", {"token": token}, format="json")

    url = f"/api/requests/{second.reference}/support/"
    counted = posted(url)
    assert counted.status_code == 200
    assert counted.json() == {
        "counted": True,
        "detail": "Your support is counted.",
        "supports_count": 1,
    }
    again = posted(url)
    assert again.status_code == 409
    assert again.json()["code"] == "already_supported"


def test_support_refused_on_closed_requests(api, committed, posted, mailoutbox, city_officer):
    with translation.override("en"):
        request = submitted(committed, mailoutbox)
        services.request_decline(request=request, actor=city_officer, reason="Covered.")
    response = posted(f"/api/requests/{request.reference}/support/", {"contact": "x@example.test"})
    assert response.status_code == 409
    assert not ResidentContact.objects.filter(
        value_hash=services.contact_hash("x@example.test")
    ).exists()


def test_feedback_confirms_the_installed_camera(api, committed, posted, mailoutbox, city_officer):
    site = factories.make_active_site(factories.verified_partner())
    with translation.override("en"):
        request = submitted(committed, mailoutbox)
        services.request_start_review(request=request, actor=city_officer)
        services.request_plan(request=request, actor=city_officer, site=site)
    token = services.feedback_token(request_id=request.pk, contact_id=request.contact_id)

    response = posted("/api/requests/feedback/", {"token": token, "answer": "confirm"})

    assert response.status_code == 200
    assert response.json()["status"] == "confirmed"
    bad = posted("/api/requests/feedback/", {"token": "x", "answer": "confirm"})
    assert bad.status_code == 400


# --- Officers -----------------------------------------------------------------------------


def test_officer_queue_shows_full_fields_and_priority(committed, mailoutbox, city_officer):
    with translation.override("en"):
        request = submitted(committed, mailoutbox, description=f"{DESCRIPTION} {SECRET_WORDS}")
    client = api_as(city_officer)

    [row] = client.get("/api/request-queue/").json()["results"]

    assert row["reference"] == request.reference
    assert SECRET_WORDS in row["description"]
    assert row["requester_name"] == NAME
    assert set(row["priority"]["parts"]) == {
        "supports",
        "rawan",
        "distance_to_camera_m",
        "recent_nearby",
    }
    assert EMAIL not in str(row)


@pytest.mark.parametrize("who", ["anonymous", "partner", "resident_role"])
def test_officer_queue_refuses_everyone_else(api, committed, mailoutbox, who):
    with translation.override("en"):
        request = submitted(committed, mailoutbox)
    if who == "anonymous":
        client = api
    elif who == "partner":
        user = factories.UserFactory()
        factories.make_partner(user)
        client = api_as(user)
    else:
        client = api_as(factories.UserFactory(roles=[Role.RESIDENT]))
    assert client.get("/api/request-queue/").status_code in (401, 403)
    assert client.get(f"/api/request-queue/{request.reference}/").status_code in (401, 403)
    response = client.post(f"/api/request-queue/{request.reference}/review/", {})
    assert response.status_code in (401, 403)
    request.refresh_from_db()
    assert request.status == RequestStatus.SUBMITTED


def test_operator_reads_the_queue_but_cannot_act(committed, mailoutbox):
    with translation.override("en"):
        request = submitted(committed, mailoutbox)
    client = api_as(factories.UserFactory(roles=[Role.OPERATOR]))
    assert client.get("/api/request-queue/").json()["count"] == 1
    assert client.post(f"/api/request-queue/{request.reference}/review/", {}).status_code == 403


def test_sudin_officer_sees_and_acts_only_in_own_kota(committed, mailoutbox):
    with translation.override("en"):
        pusat = submitted(committed, mailoutbox, contact="a@example.test")
        selatan = submitted(committed, mailoutbox, contact="b@example.test", **TEBET)
    client = api_as(factories.sudin_officer("31.74"))

    assert [row["reference"] for row in client.get("/api/request-queue/").json()["results"]] == [
        selatan.reference
    ]
    assert client.get(f"/api/request-queue/{pusat.reference}/").status_code == 404
    assert client.post(f"/api/request-queue/{pusat.reference}/review/", {}).status_code == 404
    assert client.post(f"/api/request-queue/{selatan.reference}/review/", {}).status_code == 200


def test_officer_actions_walk_the_lifecycle(committed, posted, mailoutbox, city_officer):
    partner = factories.verified_partner()
    site = factories.make_site(partner)
    with translation.override("en"):
        request = submitted(committed, mailoutbox, contact="a@example.test")
        duplicate = submitted(committed, mailoutbox, contact="b@example.test", **near("0.0002"))
        declined = submitted(committed, mailoutbox, contact="c@example.test", **near("0.001"))
    client = api_as(city_officer)
    base = "/api/request-queue"

    def step(reference, name, data=None):
        return posted(f"{base}/{reference}/{name}/", data or {}, client=client, format="json")

    assert step(request.reference, "review").json()["status"] == "under_review"
    planned = step(request.reference, "plan", {"site": site.pk, "reason": "Pole nearby."})
    assert planned.status_code == 200, planned.json()
    assert planned.json()["site"]["id"] == site.pk
    assert step(request.reference, "review").json()["site"] is None
    assert step(request.reference, "plan", {"site": 999999}).status_code == 404

    merged = step(duplicate.reference, "merge", {"into": request.reference})
    assert merged.status_code == 200, merged.json()
    assert merged.json()["merged_into"] == request.reference
    assert client.get(f"{base}/{request.reference}/").json()["supports_count"] == 1

    refused = step(declined.reference, "decline", {"template": "already-covered"})
    assert refused.json()["status"] == "declined"
    assert "active camera" in refused.json()["decline_reason"]
    again = step(declined.reference, "decline", {"reason": "Twice."})
    assert again.status_code == 409

    note = step(request.reference, "note", {"body": "Call the RW head."})
    assert note.status_code == 201
    detail = client.get(f"{base}/{request.reference}/").json()
    assert [row["body"] for row in detail["notes"]] == ["Call the RW head."]
    assert [row["new_status"] for row in detail["history"]] == [
        "submitted",
        "under_review",
        "planned",
        "under_review",
    ]
    assert RequestNote.objects.count() == 1


def test_officer_queue_query_count_is_constant(
    committed, mailoutbox, city_officer, django_assert_max_num_queries
):
    with translation.override("en"):
        for number in range(5):
            request = submitted(committed, mailoutbox, contact=f"n{number}@example.test")
            supporter(committed, mailoutbox, request, f"s{number}@example.test")
    client = api_as(city_officer)
    client.get("/api/request-queue/")  # warm the role cache of the session user
    with django_assert_max_num_queries(6):
        response = client.get("/api/request-queue/")
    assert response.json()["count"] == 5


def test_officer_gets_the_photo_and_nobody_else(api, committed, mailoutbox, city_officer):
    with translation.override("en"):
        request = submitted(committed, mailoutbox, photo=jpeg())
    response = api_as(city_officer).get(f"/api/request-queue/{request.reference}/photo/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert api.get(f"/api/request-queue/{request.reference}/photo/").status_code in (401, 403)


def test_rate_limit_buckets_are_shared_rows(posted, mailoutbox):
    posted("/api/requests/", form(), format="multipart")
    keys = set(RateLimitBucket.objects.values_list("key", flat=True))
    assert any(re.match(r"req-submit:ip:", key) for key in keys)
    assert any(key.startswith("req-submit:contact:") and EMAIL not in key for key in keys)


def test_officers_list_the_decline_templates(api, city_officer):
    response = api_as(city_officer).get("/api/request-queue/decline-templates/")
    assert response.status_code == 200
    assert "private-property" in {row["code"] for row in response.json()}
    assert api.get("/api/request-queue/decline-templates/").status_code in (401, 403)
