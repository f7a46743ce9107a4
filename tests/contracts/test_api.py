import pytest
from django.utils import translation

from contracts import services
from contracts.models import ApplicationAttachment, ApplicationStatus, HostingApplication
from partners.models import PartnerKind
from portal.roles import Role
from sites.models import HostKind, Site
from tests import factories
from tests.conftest import api_as, pdf_upload


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path, "base_url": None},
        },
    }
    return tmp_path


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def applicant(owner):
    return factories.verified_partner(owner)


@pytest.fixture
def reviewer(db):
    return factories.officer(Role.OFFICER_REVIEWER)


def _site_body(**kw) -> dict:
    point = factories.point_in()
    return {
        "lat": str(point["lat"]),
        "lon": str(point["lon"]),
        "address": "Jl. Contoh No. 3",
        "host_kind": HostKind.BUILDING,
        "cameras_planned": 2,
        **kw,
    }


# --- The whole path through the API ---------------------------------------------------------


def test_application_api_lifecycle_approve(owner, applicant, reviewer, approver):
    client = api_as(owner)
    programme = factories.make_programme(status="approved")
    created = client.post(
        "/api/applications/",
        {
            "applicant": applicant.pk,
            "title": "Kamera Jl. Sabang",
            "programme": programme.pk,
            "cofunding_cash": 25_000_000,
            "maintenance_commitment": "Our technician repairs within 48 hours.",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    app_id = created.json()["id"]
    site = client.post(f"/api/applications/{app_id}/sites/", _site_body(), format="json")
    assert site.status_code == 201, site.content
    assert site.json()["site"]["kota"]["code"] == "31.71"
    edited = client.patch(f"/api/applications/{app_id}/", {"title": "Sabang"}, format="json")
    assert (edited.status_code, edited.json()["title"]) == (200, "Sabang")

    assert client.post(f"/api/applications/{app_id}/submit/").json()["status"] == "submitted"
    # A draft can no longer be edited once submitted.
    assert (
        client.patch(f"/api/applications/{app_id}/", {"title": "x"}, format="json").status_code
        == 409
    )
    officer = api_as(reviewer)
    assert officer.post(f"/api/applications/{app_id}/start-review/").status_code == 200
    passed = officer.post(f"/api/applications/{app_id}/finish-technical-review/")
    assert passed.json()["status"] == "legal_review"
    refused = officer.post(f"/api/applications/{app_id}/approve/")
    assert refused.status_code == 403  # a technical reviewer is not an approver
    approved = api_as(approver).post(f"/api/applications/{app_id}/approve/", {"comment": "OK"})
    assert approved.status_code == 200, approved.content
    body = approved.json()
    assert body["status"] == "approved"
    assert [s["site"]["status"] for s in body["candidate_sites"]] == ["approved"]

    again = api_as(factories.officer()).post(f"/api/applications/{app_id}/approve/")
    assert again.status_code == 409
    assert again.json()["detail"].startswith("The application is now “Approved”")

    history = client.get(f"/api/applications/{app_id}/decisions/").json()
    assert [h["decision"] for h in history] == [
        "created",
        "submitted",
        "review_started",
        "technical_passed",
        "approved",
    ]
    assert history[-1]["comment"] == "OK"
    steps = client.get(f"/api/applications/{app_id}/next-steps/").json()
    assert steps[1]["code"] == "contract"


def test_application_api_return_with_template(owner, applicant, reviewer):
    application = factories.make_application(applicant)
    services.application_submit(application=application, actor=owner)
    officer = api_as(reviewer)
    empty = officer.post(f"/api/applications/{application.pk}/return/", {}, format="json")
    assert empty.status_code == 400
    returned = officer.post(
        f"/api/applications/{application.pk}/return/",
        {"template": "missing-documents", "comment": "The IMB."},
        format="json",
    )
    assert returned.json()["status"] == "draft"
    comment = api_as(owner).get(f"/api/applications/{application.pk}/decisions/").json()[-1]
    assert comment["decision"] == "returned"
    assert comment["comment"].endswith("The IMB.")
    unknown = officer.post(
        f"/api/applications/{application.pk}/reject/", {"template": "nope"}, format="json"
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == {"template": ["Unknown response template."]}


@pytest.mark.parametrize(
    ("field", "value"),
    [("cofunding_cash", -1), ("cofunding_in_kind", 1.5), ("cofunding_csr", "banyak")],
)
def test_application_api_bad_amount_is_400_and_stores_nothing(owner, applicant, field, value):
    response = api_as(owner).post(
        "/api/applications/",
        {"applicant": applicant.pk, "title": "T", "maintenance_commitment": "M", field: value},
        format="json",
    )
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not HostingApplication.objects.exists()


def test_application_api_site_outside_jakarta_is_400(owner, applicant):
    application = factories.make_application(applicant, sites=0)
    response = api_as(owner).post(
        f"/api/applications/{application.pk}/sites/",
        _site_body(lat="-6.9175", lon="107.6191"),
        format="json",
    )
    assert response.status_code == 400
    assert "outside DKI Jakarta" in response.json()["detail"]
    assert not Site.objects.exists()


def test_application_api_remove_site(owner, applicant):
    application = factories.make_application(applicant, sites=2)
    site_id = application.candidate_sites.first().site_id
    client = api_as(owner)
    assert client.delete(f"/api/applications/{application.pk}/sites/{site_id}/").status_code == 204
    assert application.candidate_sites.count() == 1
    assert client.delete(f"/api/applications/{application.pk}/sites/{site_id}/").status_code == 404


def test_application_api_attachment_upload_and_download(owner, applicant, private_storage):
    application = factories.make_application(applicant)
    client = api_as(owner)
    url = f"/api/applications/{application.pk}/attachments/"
    bad = client.post(url, {"file": pdf_upload("x.exe", b"MZ...")}, format="multipart")
    assert bad.status_code == 400
    assert not ApplicationAttachment.objects.exists()
    uploaded = client.post(url, {"file": pdf_upload("denah.pdf")}, format="multipart")
    assert uploaded.status_code == 201, uploaded.content
    download = client.get(uploaded.json()["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"%PDF-")
    detail = client.get(f"/api/applications/{application.pk}/").json()
    assert [a["original_name"] for a in detail["attachments"]] == ["denah.pdf"]


def test_pole_consent_api(owner, applicant, reviewer):
    pole_user = factories.UserFactory()
    pole_partner = factories.verified_partner(pole_user, kind=PartnerKind.POLE_OWNER)
    pole = factories.make_pole(pole_partner)
    application = factories.make_application(applicant, sites=0)
    added = api_as(owner).post(
        f"/api/applications/{application.pk}/sites/",
        _site_body(host_kind=HostKind.POLE, pole=pole.pk),
        format="json",
    )
    assert added.json()["pole_consent"] == "pending"
    entry_id = added.json()["id"]
    services.application_submit(application=application, actor=owner)
    services.application_start_review(application=application, actor=reviewer)
    blocked = api_as(reviewer).post(f"/api/applications/{application.pk}/finish-technical-review/")
    assert blocked.status_code == 400
    assert blocked.json()["detail"] == "The pole owner must accept before review can finish."

    pole_client = api_as(pole_user)
    listed = pole_client.get("/api/application-sites/", {"pole_consent": "pending"}).json()
    assert [e["id"] for e in listed["results"]] == [entry_id]
    assert pole_client.get(f"/api/applications/{application.pk}/").status_code == 404
    assert api_as(owner).post(f"/api/application-sites/{entry_id}/accept-pole/").status_code == 403
    accepted = pole_client.post(
        f"/api/application-sites/{entry_id}/accept-pole/", {"comment": "Fine"}
    )
    assert (accepted.status_code, accepted.json()["pole_consent"]) == (200, "accepted")
    assert pole_client.post(f"/api/application-sites/{entry_id}/decline-pole/").status_code in {
        400,
        409,
    }
    finished = api_as(reviewer).post(f"/api/applications/{application.pk}/finish-technical-review/")
    assert finished.status_code == 200


# --- Programmes, templates, queue -----------------------------------------------------------


def test_programme_api_readable_by_all_written_by_officers(owner, reviewer, approver):
    body = {
        "title": "Rawan Tanah Abang",
        "rationale": "Street crime.",
        "target_kelurahan": ["31.71.01.1001"],
        "camera_target": 30,
        "period_start": "2026-01-01",
        "period_end": "2026-12-31",
        "budget": {"apbd": 100_000_000, "csr": 5},
    }
    assert api_as(owner).post("/api/programmes/", body, format="json").status_code == 403
    negative = api_as(reviewer).post(
        "/api/programmes/", {**body, "budget": {"apbd": -3}}, format="json"
    )
    assert negative.status_code == 400
    assert "negative" in negative.json()["detail"]
    created = api_as(reviewer).post("/api/programmes/", body, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["budget_total"] == 100_000_005
    assert api_as(reviewer).post(f"/api/programmes/{pk}/submit/").status_code == 200
    assert api_as(reviewer).post(f"/api/programmes/{pk}/approve/").status_code == 403
    assert api_as(approver).post(f"/api/programmes/{pk}/approve/").json()["status"] == "approved"
    listed = api_as(owner).get("/api/programmes/").json()
    assert [p["id"] for p in listed["results"]] == [pk]
    history = api_as(owner).get(f"/api/programmes/{pk}/history/").json()
    assert [h["new_status"] for h in history] == ["draft", "submitted", "approved"]


def test_response_templates_api(owner):
    response = api_as(owner).get("/api/response-templates/")
    assert response.status_code == 200
    codes = {t["code"] for t in response.json()}
    assert {"missing-documents", "pole-not-accepted"} <= codes
    one = api_as(owner).get("/api/response-templates/missing-documents/").json()
    assert one["body_en"].startswith("Supporting documents")


def test_review_queue_api_officers_only_and_sudin_scoped(owner, applicant):
    pusat = factories.make_application(applicant)
    utara = factories.make_application(applicant, kelurahan_code="31.72.01.1001")
    for application in (pusat, utara):
        services.application_submit(application=application, actor=owner)
    assert api_as(owner).get("/api/review-queue/").status_code == 403
    sudin = api_as(factories.sudin_officer("31.72")).get("/api/review-queue/").json()
    assert [a["id"] for a in sudin["results"]] == [utara.pk]
    city = api_as(factories.officer()).get("/api/review-queue/", {"kota": "31.71"}).json()
    assert [a["id"] for a in city["results"]] == [pusat.pk]
    assert city["results"][0]["overdue"] is False
    assert city["results"][0]["age_days"] == 0
    overdue = api_as(factories.officer()).get("/api/review-queue/", {"overdue": "true"}).json()
    assert overdue["results"] == []


# --- Nothing leaks --------------------------------------------------------------------------


@pytest.fixture
def theirs(other_owner):
    """Partner B's application, with a site, an attachment and a decision."""
    partner_b = factories.verified_partner(other_owner)
    application = factories.make_application(partner_b)
    attachment = services.application_add_attachment(
        application=application, actor=other_owner, upload=pdf_upload()
    )
    entry = application.candidate_sites.get()
    return {"app": application.pk, "site": entry.site_id, "entry": entry.pk, "att": attachment.pk}


LEAK_ROUTES = [
    ("get", "/api/applications/{app}/", None),
    ("patch", "/api/applications/{app}/", {"title": "mine now"}),
    ("post", "/api/applications/{app}/sites/", "SITE"),
    ("delete", "/api/applications/{app}/sites/{site}/", None),
    ("post", "/api/applications/{app}/attachments/", "FILE"),
    ("get", "/api/applications/{app}/attachments/{att}/download/", None),
    ("post", "/api/applications/{app}/submit/", {}),
    ("post", "/api/applications/{app}/withdraw/", {}),
    ("post", "/api/applications/{app}/start-review/", {}),
    ("post", "/api/applications/{app}/finish-technical-review/", {}),
    ("post", "/api/applications/{app}/approve/", {}),
    ("post", "/api/applications/{app}/reject/", {"comment": "x"}),
    ("post", "/api/applications/{app}/return/", {"comment": "x"}),
    ("get", "/api/applications/{app}/decisions/", None),
    ("get", "/api/applications/{app}/next-steps/", None),
    ("get", "/api/application-sites/{entry}/", None),
    ("post", "/api/application-sites/{entry}/accept-pole/", {}),
    ("post", "/api/application-sites/{entry}/decline-pole/", {"comment": "x"}),
]


@pytest.mark.parametrize(("method", "url", "body"), LEAK_ROUTES)
def test_contracts_api_other_partners_objects_answer_404(
    owner, applicant, theirs, method, url, body
):
    client = api_as(owner)
    path = url.format(**theirs)
    if body == "SITE":
        response = client.post(path, _site_body(), format="json")
    elif body == "FILE":
        response = client.post(path, {"file": pdf_upload()}, format="multipart")
    elif body is None:
        response = getattr(client, method)(path)
    else:
        response = getattr(client, method)(path, body, format="json")
    assert response.status_code == 404, response.content
    application = HostingApplication.objects.get(pk=theirs["app"])
    assert (application.status, application.title) == (
        ApplicationStatus.DRAFT,
        "Kamera di depan toko",
    )
    assert application.attachments.count() == 1
    assert application.candidate_sites.count() == 1


def test_contracts_api_lists_only_own_rows(owner, applicant, theirs):
    mine = factories.make_application(applicant)
    client = api_as(owner)
    assert [a["id"] for a in client.get("/api/applications/").json()["results"]] == [mine.pk]
    entries = client.get("/api/application-sites/").json()["results"]
    assert [e["application"] for e in entries] == [mine.pk]
    # Filtering by the other partner's id finds nothing rather than an error.
    other_partner = HostingApplication.objects.get(pk=theirs["app"]).applicant_id
    filtered = client.get("/api/applications/", {"applicant": other_partner}).json()
    assert filtered["count"] == 0


def test_contracts_api_anonymous_refused(api, theirs):
    for path in ("/api/applications/", "/api/programmes/", "/api/review-queue/"):
        assert api.get(path).status_code in {401, 403}


def test_contracts_api_application_create_for_other_partner_answers_404(owner, other_owner):
    partner_b = factories.verified_partner(other_owner)
    response = api_as(owner).post(
        "/api/applications/",
        {"applicant": partner_b.pk, "title": "T", "maintenance_commitment": "M"},
        format="json",
    )
    assert response.status_code == 404
    assert not HostingApplication.objects.exists()


# --- Query counts ---------------------------------------------------------------------------


@pytest.mark.parametrize("count", [2, 8])
def test_application_list_and_queue_queries_do_not_grow_with_rows(
    django_assert_max_num_queries, owner, applicant, approver, count
):
    neighbour = factories.verified_partner()
    for _ in range(count):
        application = factories.make_application(applicant, sites=2, co_applicants=[(neighbour, 1)])
        services.application_submit(application=application, actor=owner)
    owner_client, officer_client = api_as(owner), api_as(approver)
    with django_assert_max_num_queries(6):
        listed = owner_client.get("/api/applications/")
    assert listed.json()["count"] == count
    with django_assert_max_num_queries(6):
        queue = officer_client.get("/api/review-queue/")
    assert queue.json()["count"] == count
    assert {a["site_count"] for a in queue.json()["results"]} == {2}
    assert {a["camera_count"] for a in queue.json()["results"]} == {4}
    with django_assert_max_num_queries(14):
        detail = owner_client.get(f"/api/applications/{application.pk}/")
    assert len(detail.json()["candidate_sites"]) == 2


# --- OpenAPI --------------------------------------------------------------------------------

CONTRACT_PATHS = [
    "/api/programmes/",
    "/api/programmes/{id}/",
    "/api/programmes/{id}/submit/",
    "/api/programmes/{id}/approve/",
    "/api/programmes/{id}/return/",
    "/api/programmes/{id}/activate/",
    "/api/programmes/{id}/close/",
    "/api/programmes/{id}/history/",
    "/api/applications/",
    "/api/applications/{id}/",
    "/api/applications/{id}/sites/",
    "/api/applications/{id}/sites/{site_id}/",
    "/api/applications/{id}/attachments/",
    "/api/applications/{id}/attachments/{attachment_id}/download/",
    "/api/applications/{id}/submit/",
    "/api/applications/{id}/start-review/",
    "/api/applications/{id}/finish-technical-review/",
    "/api/applications/{id}/approve/",
    "/api/applications/{id}/reject/",
    "/api/applications/{id}/return/",
    "/api/applications/{id}/withdraw/",
    "/api/applications/{id}/decisions/",
    "/api/applications/{id}/next-steps/",
    "/api/application-sites/",
    "/api/application-sites/{id}/accept-pole/",
    "/api/application-sites/{id}/decline-pole/",
    "/api/review-queue/",
    "/api/response-templates/",
    "/api/response-templates/{code}/",
]


def test_contracts_api_in_openapi_schema(owner):
    schema = api_as(owner).get("/api/schema/", {"format": "json"}).json()
    assert [path for path in CONTRACT_PATHS if path not in schema["paths"]] == []
    approve = schema["paths"]["/api/applications/{id}/approve/"]["post"]
    assert {"403", "409"} <= set(approve["responses"])
    queue_params = {p["name"] for p in schema["paths"]["/api/review-queue/"]["get"]["parameters"]}
    assert {
        "kota",
        "kecamatan",
        "status",
        "programme",
        "overdue",
        "older_than_days",
    } <= queue_params
