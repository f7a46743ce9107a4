from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils.html import escape

from contracts import services
from contracts.models import (
    ApplicationAttachment,
    ApplicationSite,
    ApplicationStatus,
    HostingApplication,
    PoleConsent,
    Programme,
    ProgrammeStatus,
    ResponseTemplate,
)
from contracts.templatetags.money import rupiah
from partners.models import PartnerKind
from portal.roles import Role
from sites.models import Area, AreaLevel, HostKind, Site
from tests import factories
from tests.conftest import pdf_upload

DECIDED_ELSEWHERE = (
    "Someone else has already decided on this application; the page shows its current state."
)


@pytest.fixture(autouse=True)
def english(client):
    """Pages in English, so the assertions hold once the Indonesian translations land."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


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


@pytest.fixture
def applicant(owner):
    return factories.verified_partner(owner)


@pytest.fixture
def reviewer(db):
    return factories.officer(Role.OFFICER_REVIEWER, language="en")


@pytest.fixture
def template(db):
    return ResponseTemplate.objects.create(
        code="photos-missing",
        title="Photos missing",
        body_id="Lampirkan foto lokasi.",
        body_en="Attach photos of the location.",
    )


def _as(client, user):
    client.force_login(user)
    return client


def _url(name: str, *args) -> str:
    return reverse(f"contracts:{name}", args=args)


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _site_post(**overrides) -> dict:
    point = factories.point_in()
    return {
        "lat": str(point["lat"]),
        "lon": str(point["lon"]),
        "address": "Jl. Kebon Sirih No. 5",
        "host_kind": HostKind.BUILDING,
        "pole": "",
        "cameras_planned": "2",
        "viewing_direction": "90",
        "notes": "",
        **overrides,
    }


def _apply_post(applicant, **overrides) -> dict:
    return {
        "applicant": str(applicant.pk),
        "title": "Kamera Jl. Kebon Sirih",
        "programme": "",
        "cofunding_cash": "25000000",
        "cofunding_in_kind": "0",
        "cofunding_csr": "0",
        "maintenance_commitment": "Our technician repairs within 48 hours.",
        **overrides,
    }


def _in_review(application, owner, reviewer, *, step: str = "legal_review"):
    services.application_submit(application=application, actor=owner)
    if step in ("technical_review", "legal_review"):
        services.application_start_review(application=application, actor=reviewer)
    if step == "legal_review":
        services.application_finish_technical_review(application=application, actor=reviewer)
    application.refresh_from_db()
    return application


# --- The whole path in the browser ----------------------------------------------------------


def test_application_pages_whole_path_to_approval(client, owner, applicant, reviewer, approver):
    _as(client, owner)
    form_page = client.get(_url("application-create"))
    assert applicant.name in form_page.content.decode()

    created = client.post(_url("application-create"), _apply_post(applicant))
    application = HostingApplication.objects.get()
    assert created.status_code == 302
    assert created["Location"] == _url("application-detail", application.pk)
    assert application.cofunding_cash == 25_000_000

    detail = client.get(_url("application-detail", application.pk)).content.decode()
    assert 'id="map-pin" data-lat-input="id_lat" data-lon-input="id_lon"' in detail

    added = client.post(_url("application-add-site", application.pk), _site_post(), follow=True)
    assert "The candidate site is added." in _messages(added)
    entry = application.candidate_sites.select_related("site__kelurahan").get()
    assert entry.cameras_planned == 2
    assert entry.site.kelurahan.name in added.content.decode()

    submitted = client.post(_url("application-submit", application.pk), follow=True)
    assert "The application is submitted. Kominfotik will review it." in _messages(submitted)

    _as(client, reviewer)
    for action in ("start-review", "finish-technical-review"):
        response = client.post(_url("application-decide", application.pk, action), {"comment": ""})
        assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == ApplicationStatus.LEGAL_REVIEW
    assert application.technical_reviewer == reviewer

    _as(client, approver)
    page = client.get(_url("application-detail", application.pk)).content.decode()
    assert _url("application-decide", application.pk, "approve") in page
    approved = client.post(
        _url("application-decide", application.pk, "approve"), {"comment": "Good."}, follow=True
    )
    assert "The application is approved." in _messages(approved)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED

    _as(client, owner)
    final = client.get(_url("application-detail", application.pk)).content.decode()
    assert "What happens next" in final
    assert "Kominfotik will draft the partnership contract (PKS)" in final
    assert "Technical review passed" in final  # the history of decisions
    assert escape(str(reviewer)) in final  # who decided


def test_application_pages_return_with_template_then_reject(
    client, owner, applicant, reviewer, approver, template
):
    application = _in_review(factories.make_application(applicant), owner, reviewer)
    _as(client, approver)
    page = client.get(_url("application-detail", application.pk)).content.decode()
    assert "Photos missing" in page  # the template select
    approver.language = "en"
    approver.save(update_fields=["language"])
    returned = client.post(
        _url("application-decide", application.pk, "return"),
        {"template": template.code, "comment": "Both corners, please."},
        follow=True,
    )
    assert "The application is returned to the applicant for changes." in _messages(returned)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.DRAFT
    decision = application.decisions.get(decision="returned")
    assert decision.reason == "Attach photos of the location.\n\nBoth corners, please."

    _as(client, owner)
    owner_page = client.get(_url("application-detail", application.pk)).content.decode()
    assert "Attach photos of the location." in owner_page
    assert _url("application-edit", application.pk) in owner_page

    application = _in_review(application, owner, reviewer, step="technical_review")
    _as(client, reviewer)
    rejected = client.post(
        _url("application-decide", application.pk, "reject"), {"template": template.code}
    )
    assert rejected.status_code == 302
    application.refresh_from_db()
    assert application.status == ApplicationStatus.REJECTED
    assert set(Site.objects.values_list("status", flat=True)) == {"rejected"}


def test_application_pages_return_without_comment_is_refused(client, owner, applicant, reviewer):
    application = _in_review(factories.make_application(applicant), owner, reviewer)
    response = _as(client, reviewer).post(
        _url("application-decide", application.pk, "return"), {"comment": ""}, follow=True
    )
    assert "Give a comment (or choose a response template) for the applicant." in _messages(
        response
    )
    application.refresh_from_db()
    assert application.status == ApplicationStatus.LEGAL_REVIEW


def test_application_pages_withdraw(client, owner, applicant):
    application = factories.make_application(applicant)
    services.application_submit(application=application, actor=owner)
    response = _as(client, owner).post(_url("application-withdraw", application.pk), follow=True)
    assert "The application is withdrawn." in _messages(response)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.WITHDRAWN
    again = client.post(_url("application-withdraw", application.pk), follow=True)
    assert DECIDED_ELSEWHERE in _messages(again)


def test_application_pages_submitter_officer_cannot_approve(client, reviewer):
    # An approver who also owns a partner applies for it, then tries to approve it himself.
    submitter = factories.officer(Role.OFFICER_APPROVER)
    applicant = factories.verified_partner(submitter)
    application = factories.make_application(applicant, actor=submitter)
    services.application_submit(application=application, actor=submitter)
    services.application_start_review(application=application, actor=reviewer)
    services.application_finish_technical_review(application=application, actor=reviewer)

    response = _as(client, submitter).post(
        _url("application-decide", application.pk, "approve"), {"comment": ""}, follow=True
    )
    assert response.status_code == 200
    assert (
        "Four-eyes rule: the approver must be neither the submitter nor the technical reviewer "
        "of this application." in _messages(response)
    )
    application.refresh_from_db()
    assert application.status == ApplicationStatus.LEGAL_REVIEW


def test_application_pages_conflict_shows_message_not_500(
    client, owner, applicant, reviewer, approver
):
    application = _in_review(factories.make_application(applicant), owner, reviewer)
    other_approver = factories.officer()
    # The page was loaded by both; the other approver decides first.
    _as(client, approver).get(_url("application-detail", application.pk))
    services.application_reject(application=application, actor=other_approver, comment="No.")
    response = client.post(
        _url("application-decide", application.pk, "approve"), {"comment": ""}, follow=True
    )
    assert response.status_code == 200
    assert DECIDED_ELSEWHERE in _messages(response)
    assert "Rejected" in response.content.decode()
    application.refresh_from_db()
    assert application.status == ApplicationStatus.REJECTED


# --- Bad input ------------------------------------------------------------------------------


def test_application_add_site_outside_jakarta_is_a_form_error(client, owner, applicant):
    application = factories.make_application(applicant, sites=0)
    response = _as(client, owner).post(
        _url("application-add-site", application.pk), _site_post(lat="-7.250000", lon="112.75")
    )
    assert response.status_code == 400
    assert "is outside DKI Jakarta." in response.content.decode()
    assert not ApplicationSite.objects.exists()
    assert not Site.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cofunding_cash", "-5", "Ensure this value is greater than or equal to 0."),
        ("cofunding_in_kind", "1.5", "Enter a whole number."),
        ("cofunding_csr", "abc", "Enter a whole number."),
        ("cost_share_1", "-1", "Ensure this value is greater than or equal to 0."),
    ],
)
def test_application_create_bad_amount_is_a_form_error(
    client, owner, applicant, field, value, message
):
    response = _as(client, owner).post(
        _url("application-create"), _apply_post(applicant, **{field: value})
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not HostingApplication.objects.exists()


def test_application_create_for_unverified_or_foreign_partner_is_refused(
    client, owner, other_partner
):
    unverified = factories.make_partner(owner)
    _as(client, owner)
    for partner in (unverified, other_partner):
        response = client.post(_url("application-create"), _apply_post(partner))
        assert "Select a valid choice." in response.content.decode()
    assert not HostingApplication.objects.exists()


def test_application_add_site_on_another_owners_pole_asks_consent(client, owner, applicant):
    pole_partner = factories.verified_partner(kind=PartnerKind.POLE_OWNER)
    pole = factories.make_pole(pole_partner, code="PLN-77")
    application = factories.make_application(applicant, sites=0)
    page = _as(client, owner).get(_url("application-detail", application.pk)).content.decode()
    assert f"PLN-77 — {pole_partner.name}" in page
    assert "(2 free)" in page
    client.post(
        _url("application-add-site", application.pk),
        _site_post(host_kind=HostKind.POLE, pole=str(pole.pk)),
    )
    entry = ApplicationSite.objects.get()
    assert entry.pole_consent == PoleConsent.PENDING
    detail = client.get(_url("application-detail", application.pk)).content.decode()
    assert "Awaiting the pole owner" in detail


def test_application_attachment_upload_and_download(client, owner, applicant):
    application = factories.make_application(applicant)
    _as(client, owner)
    bad = client.post(
        _url("application-attach", application.pk), {"file": pdf_upload("x.exe", b"MZ..")}
    )
    assert bad.status_code == 400
    assert not ApplicationAttachment.objects.exists()
    client.post(_url("application-attach", application.pk), {"file": pdf_upload("denah.pdf")})
    attachment = ApplicationAttachment.objects.get()
    page = client.get(_url("application-detail", application.pk)).content.decode()
    assert _url("application-attachment", application.pk, attachment.pk) in page
    download = client.get(_url("application-attachment", application.pk, attachment.pk))
    assert b"".join(download.streaming_content).startswith(b"%PDF-")


def test_application_remove_site(client, owner, applicant):
    application = factories.make_application(applicant, sites=2)
    site_id = application.candidate_sites.first().site_id
    response = _as(client, owner).post(
        _url("application-remove-site", application.pk, site_id), follow=True
    )
    assert "The candidate site is removed." in _messages(response)
    assert application.candidate_sites.count() == 1


# --- Nothing leaks --------------------------------------------------------------------------


def test_application_pages_other_partners_application_answers_404(
    client, owner, applicant, other_owner
):
    partner_b = factories.verified_partner(other_owner)
    theirs = factories.make_application(partner_b)
    attachment = services.application_add_attachment(
        application=theirs, actor=other_owner, upload=pdf_upload()
    )
    site_id = theirs.candidate_sites.get().site_id
    _as(client, owner)
    routes = [
        ("get", _url("application-detail", theirs.pk)),
        ("get", _url("application-edit", theirs.pk)),
        ("post", _url("application-edit", theirs.pk)),
        ("post", _url("application-add-site", theirs.pk)),
        ("post", _url("application-remove-site", theirs.pk, site_id)),
        ("post", _url("application-attach", theirs.pk)),
        ("get", _url("application-attachment", theirs.pk, attachment.pk)),
        ("post", _url("application-submit", theirs.pk)),
        ("post", _url("application-withdraw", theirs.pk)),
    ]
    for method, url in routes:
        assert getattr(client, method)(url).status_code == 404, url
    assert partner_b.name not in client.get(_url("application-list")).content.decode()
    assert HostingApplication.objects.get(pk=theirs.pk).status == ApplicationStatus.DRAFT
    assert theirs.candidate_sites.count() == 1


def test_review_pages_refused_to_partners(client, owner, applicant):
    application = factories.make_application(applicant)
    services.application_submit(application=application, actor=owner)
    _as(client, owner)
    assert client.get(_url("review-queue")).status_code == 403
    response = client.post(_url("application-decide", application.pk, "start-review"))
    assert response.status_code == 403
    application.refresh_from_db()
    assert application.status == ApplicationStatus.SUBMITTED
    assert "Review queue" not in client.get(_url("application-list")).content.decode()


def test_review_queue_sudin_officer_sees_only_their_kota(client, owner, applicant):
    pusat = factories.make_application(applicant, title="Di Pusat")
    utara = factories.make_application(applicant, title="Di Utara", kelurahan_code="31.72.01.1001")
    for application in (pusat, utara):
        services.application_submit(application=application, actor=owner)
    page = _as(client, factories.sudin_officer("31.72")).get(_url("review-queue"))
    assert [a.pk for a in page.context["applications"]] == [utara.pk]
    assert client.get(_url("application-detail", pusat.pk)).status_code == 404
    city = _as(client, factories.officer()).get(_url("review-queue"), {"kota": "31.71"})
    assert [a.pk for a in city.context["applications"]] == [pusat.pk]


def test_review_queue_filters_and_overdue_badge(client, owner, applicant):
    kecamatan = Area.objects.get(code="31.71.01")
    old = factories.make_application(applicant, title="Old one")
    new = factories.make_application(applicant, title="New one", kelurahan_code="31.72.01.1001")
    for application in (old, new):
        services.application_submit(application=application, actor=owner)
    HostingApplication.objects.filter(pk=old.pk).update(
        submitted_at=old.submitted_at - timedelta(days=20)
    )
    _as(client, factories.officer())
    everything = client.get(_url("review-queue"))
    assert [a.pk for a in everything.context["applications"]] == [old.pk, new.pk]
    assert everything.content.decode().count('class="badge overdue"') == 1
    assert [
        a.pk for a in client.get(_url("review-queue"), {"overdue": "on"}).context["applications"]
    ] == [old.pk]
    assert [
        a.pk
        for a in client.get(_url("review-queue"), {"older_than_days": "10"}).context["applications"]
    ] == [old.pk]
    assert [
        a.pk
        for a in client.get(_url("review-queue"), {"kecamatan": kecamatan.code}).context[
            "applications"
        ]
    ] == [old.pk]
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert "2 applications are waiting for review" in dashboard
    assert "1 overdue" in dashboard


# --- Pole owners ----------------------------------------------------------------------------


def test_pole_requests_lists_only_own_poles_and_accept_works(client, owner, applicant):
    pole_user, stranger = factories.UserFactory(), factories.UserFactory()
    mine = factories.make_pole(
        factories.verified_partner(pole_user, kind=PartnerKind.POLE_OWNER), code="MINE-1"
    )
    theirs = factories.make_pole(
        factories.verified_partner(stranger, kind=PartnerKind.POLE_OWNER), code="THEIRS-1"
    )
    application = factories.make_application(applicant, sites=0)
    for pole in (mine, theirs):
        services.application_add_site(
            application=application,
            actor=owner,
            address=f"Tiang {pole.code}",
            host_kind=HostKind.POLE,
            pole=pole,
            **factories.point_in(),
        )
    page = _as(client, pole_user).get(_url("pole-requests"))
    assert [entry.site.pole.code for entry in page.context["entries"]] == ["MINE-1"]
    assert "THEIRS-1" not in page.content.decode()
    # The consent email's link to the application brings the pole owner here.
    assert client.get(_url("application-detail", application.pk))["Location"] == _url(
        "pole-requests"
    )

    entry_theirs = ApplicationSite.objects.get(site__pole=theirs)
    assert client.post(_url("pole-request-answer", entry_theirs.pk, "accept")).status_code == 404
    entry_mine = ApplicationSite.objects.get(site__pole=mine)
    declined = client.post(
        _url("pole-request-answer", entry_mine.pk, "decline"), {"comment": ""}, follow=True
    )
    assert "Tell the applicant why you decline." in _messages(declined)
    accepted = client.post(_url("pole-request-answer", entry_mine.pk, "accept"), follow=True)
    assert "You accepted the camera on your pole." in _messages(accepted)
    entry_mine.refresh_from_db()
    entry_theirs.refresh_from_db()
    assert entry_mine.pole_consent == PoleConsent.ACCEPTED
    assert entry_theirs.pole_consent == PoleConsent.PENDING
    assert client.get(_url("pole-requests")).context["entries"].count() == 0


# --- Query-count guards ---------------------------------------------------------------------


def _count_queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_application_list_pages_query_count_does_not_grow(client, owner, applicant):
    officer_user = factories.officer()
    counts = {}
    for total in (3, 10):
        while HostingApplication.objects.count() < total:
            application = factories.make_application(applicant, sites=2)
            services.application_submit(application=application, actor=owner)
        counts[total] = (
            _count_queries(_as(client, owner), _url("application-list")),
            _count_queries(_as(client, officer_user), _url("review-queue")),
        )
    assert counts[3] == counts[10]


# --- Programmes -----------------------------------------------------------------------------


def _programme_post(**overrides) -> dict:
    return {
        "title": "Kamera kawasan rawan Menteng",
        "rationale": "Theft reports rose.",
        "target_kelurahan": ["31.71.01.1001"],
        "camera_target": "40",
        "period_start": "2026-01-01",
        "period_end": "2026-12-31",
        "budget_apbd": "1250000000",
        "budget_csr": "250000000",
        "budget_partner_cash": "0",
        "budget_in_kind": "0",
        **overrides,
    }


def test_programme_pages_create_and_approve(client, owner, reviewer, approver):
    kelurahan = Area.objects.get(code="31.71.01.1001")
    _as(client, reviewer)
    form = client.get(_url("programme-create")).content.decode()
    assert f"{kelurahan.name} — Kec. {kelurahan.parent.name}" in form
    assert "(rawan: " in form
    post = _programme_post(target_kelurahan=[str(kelurahan.pk)])
    created = client.post(_url("programme-create"), post)
    programme = Programme.objects.get()
    assert created["Location"] == _url("programme-detail", programme.pk)
    assert {row.source: row.amount for row in programme.budget.all()} == {
        "apbd": 1_250_000_000,
        "csr": 250_000_000,
        "partner_cash": 0,
        "in_kind": 0,
    }
    detail = client.get(_url("programme-detail", programme.pk)).content.decode()
    assert "Rp 1.250.000.000" in detail
    assert "Rp 1.500.000.000" in detail  # the total
    assert kelurahan.name in detail

    client.post(_url("programme-action", programme.pk, "submit"))
    self_approve = client.post(_url("programme-action", programme.pk, "approve"), follow=True)
    assert "Only a Kominfotik approver can take this decision." in _messages(self_approve)
    _as(client, approver).post(_url("programme-action", programme.pk, "approve"))
    programme.refresh_from_db()
    assert programme.status == ProgrammeStatus.APPROVED

    _as(client, owner)
    assert programme.title in client.get(_url("programme-list")).content.decode()
    assert client.get(_url("programme-create")).status_code == 403
    assert client.post(_url("programme-action", programme.pk, "activate")).status_code == 403
    apply_form = client.get(_url("application-create")).content.decode()
    assert programme.title in apply_form  # approved programmes can be named


def test_programme_pages_bad_budget_and_return_needs_reason(client, reviewer, approver):
    kelurahan = Area.objects.get(code="31.71.01.1001", level=AreaLevel.VILLAGE)
    _as(client, reviewer)
    response = client.post(
        _url("programme-create"),
        _programme_post(target_kelurahan=[str(kelurahan.pk)], budget_csr="-1"),
    )
    assert "Ensure this value is greater than or equal to 0." in response.content.decode()
    assert not Programme.objects.exists()
    programme = factories.make_programme(reviewer, status="submitted")
    returned = _as(client, approver).post(
        _url("programme-action", programme.pk, "return"), {"reason": ""}, follow=True
    )
    assert "Say what must change before it is resubmitted." in _messages(returned)
    programme.refresh_from_db()
    assert programme.status == ProgrammeStatus.SUBMITTED


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1_250_000_000, "Rp 1.250.000.000"), (0, "Rp 0"), (999, "Rp 999"), (1000, "Rp 1.000")],
)
def test_rupiah_filter_groups_thousands_with_dots(value, expected):
    assert rupiah(value) == expected


def test_programme_edit_only_while_draft(client, reviewer):
    programme = factories.make_programme(reviewer)
    kelurahan = Area.objects.get(code="31.71.01.1001")
    _as(client, reviewer)
    form = client.get(_url("programme-edit", programme.pk))
    assert form.context["form"].initial["budget_apbd"] == 500_000_000
    post = _programme_post(target_kelurahan=[str(kelurahan.pk)], title="Menteng, revised")
    assert client.post(_url("programme-edit", programme.pk), post).status_code == 302
    programme.refresh_from_db()
    assert programme.title == "Menteng, revised"
    services.programme_submit(programme=programme, actor=reviewer)
    refused = client.post(
        _url("programme-edit", programme.pk), {**post, "title": "Too late"}, follow=True
    )
    assert "Only a draft programme can be edited; this one is Submitted." in _messages(refused)
    programme.refresh_from_db()
    assert programme.title == "Menteng, revised"
