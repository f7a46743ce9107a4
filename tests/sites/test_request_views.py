import html
import io
import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from portal.roles import Role
from sites import request_services as services
from sites.api import NewestIdFirst
from sites.models import (
    ContactVerification,
    CoverageRequest,
    DeclineTemplate,
    RequestNote,
    RequestStatus,
    ResidentContact,
)
from tests import factories

# Gambir (31.71.01.1001, Jakarta Pusat) and Tebet Timur (31.74.01.1001, Jakarta Selatan).
GAMBIR = {"lat": "-6.175305", "lon": "106.826442"}
TEBET = {"lat": "-6.233805", "lon": "106.855641"}
NAME = "Siti Rahayu"
EMAIL = "siti.rahayu@example.test"
DESCRIPTION = "Sering ada jambret di depan gang Mawar setelah magrib."


@pytest.fixture(autouse=True)
def english(client, db):
    """Pages in English, so the assertions hold once the Indonesian translations land."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def public(db):
    """Someone else's browser: no resident session, English."""
    browser = Client()
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return browser


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    """A POST whose after-commit work (the emails) runs, as in a real request."""

    def run(browser, url, data=None, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return browser.post(url, data or {}, **kwargs)

    return run


def png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 8), "blue").save(buffer, format="PNG")
    return SimpleUploadedFile("tempat.png", buffer.getvalue(), content_type="image/png")


def form_data(**overrides) -> dict:
    data = {
        **GAMBIR,
        "category": "theft",
        "description": DESCRIPTION,
        "contact": EMAIL,
        "name": NAME,
        "consent": "on",
        "website": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def link_and_code(message) -> tuple[str, str]:
    path = re.search(r"https?://[^/\s]+(/requests/verify/[^/\s]+/)", message.body).group(1)
    code = re.search(r"(?<![\d-])(\d{6})(?!\d)", message.body).group(1)
    return path, code


def confirm_by_link(browser, post, message):
    path, _code = link_and_code(message)
    return post(browser, path)


def make_request(browser, post, **overrides) -> CoverageRequest:
    """A request submitted through the form and confirmed by its emailed link."""
    response = post(browser, reverse("sites:request-new"), form_data(**overrides))
    assert response.status_code == 302, response.content.decode()
    confirm_by_link(browser, post, mail.outbox[-1])
    request = CoverageRequest.objects.order_by("-id").first()
    assert request.status == RequestStatus.SUBMITTED
    return request


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- The whole path ---------------------------------------------------------------------------


def test_request_pages_whole_path_from_pin_to_tracking(client, post):
    form = page(client.get(reverse("sites:request-new")))
    assert 'id="map-pin"' in form
    assert "js/request-map.js" in form
    assert reverse("sites:request-nearby") in form
    assert reverse("sites:request-privacy") in form
    assert 'name="website"' in form

    response = post(client, reverse("sites:request-new"), form_data(photo=png()))
    assert response.status_code == 302
    assert response.url == reverse("sites:request-check-email")
    stored = CoverageRequest.objects.get()
    assert stored.status == RequestStatus.UNVERIFIED
    assert stored.photo
    assert stored.photo_extension == "png"
    assert stored.requester_name == NAME
    # Not public until the email is confirmed.
    assert client.get(reverse("sites:request-detail", args=[stored.reference])).status_code == 404

    check = page(client.get(response.url))
    assert "Check your email" in check
    assert EMAIL in check  # the resident's own page, pre-filling the code form

    [message] = mail.outbox
    assert message.to == [EMAIL]
    path, _code = link_and_code(message)
    assert "Confirm" in page(client.get(path))  # opening the link alone uses nothing
    assert ContactVerification.objects.get().used_at is None
    confirmed = post(client, path)
    assert confirmed.status_code == 302
    assert confirmed.url == reverse("sites:request-confirmed", args=[stored.reference])

    done = page(client.get(confirmed.url))
    assert stored.reference in done
    assert f"http://testserver/requests/{stored.reference}/" in done

    stored.refresh_from_db()
    assert stored.status == RequestStatus.SUBMITTED
    tracking = page(client.get(reverse("sites:request-detail", args=[stored.reference])))
    assert stored.reference in tracking
    assert "Theft" in tracking
    assert "Submitted" in tracking
    assert "Gambir" in tracking
    # The requester's own request: nothing to support, already followed by being the requester.
    assert "This is your request" in tracking
    assert stored.reference in page(client.get(reverse("sites:request-list")))


def test_request_code_form_confirms_and_a_wrong_code_is_clear(client, post):
    post(client, reverse("sites:request-new"), form_data())
    _path, code = link_and_code(mail.outbox[0])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    refused = post(client, reverse("sites:request-check-email"), {"contact": EMAIL, "code": wrong})
    assert "The code is wrong or has expired" in page(refused)
    assert CoverageRequest.objects.get().status == RequestStatus.UNVERIFIED

    accepted = post(client, reverse("sites:request-check-email"), {"contact": EMAIL, "code": code})
    reference = CoverageRequest.objects.get().reference
    assert accepted.url == reverse("sites:request-confirmed", args=[reference])
    assert CoverageRequest.objects.get().status == RequestStatus.SUBMITTED


def test_request_verify_link_errors_are_clear(client, post):
    post(client, reverse("sites:request-new"), form_data())
    path, _code = link_and_code(mail.outbox[0])

    bogus = post(client, reverse("sites:request-verify", args=["not-a-token"]))
    assert bogus.status_code == 400
    assert "This link is not valid" in bogus.content.decode()

    with time_machine.travel(
        timezone.now() + timedelta(hours=settings.REQUEST_VERIFICATION_HOURS, minutes=1)
    ):
        expired = post(client, path)
    assert expired.status_code == 400
    assert "This link has expired" in expired.content.decode()

    assert post(client, path).status_code == 302
    used = post(client, path)
    assert used.status_code == 400
    assert "This link has already been used" in used.content.decode()


# --- Bad input stores nothing -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        ({"consent": None}, "consent", "Please accept the privacy notice"),
        ({"lat": "-6.914744", "lon": "107.609810"}, "lat", "outside DKI Jakarta"),
        ({"contact": "+62 812 3456 7890"}, "contact", "SMS is not available"),
        ({"contact": "bukan-email"}, "contact", "valid email"),
        ({"description": ""}, "description", "required"),
        ({"description": "x" * 2001}, "description", "at most 2000"),
        ({"description": "NIK saya 3171234567890001"}, "description", "NIK"),
        ({"category": "ghosts"}, "category", "valid choice"),
        ({"website": "http://spam.example"}, None, "could not be accepted"),
        (
            {"photo": SimpleUploadedFile("x.png", b"not an image", content_type="image/png")},
            "photo",
            "Only JPEG and PNG",
        ),
    ],
)
def test_request_form_errors_store_nothing(client, post, overrides, field, expected):
    response = post(client, reverse("sites:request-new"), form_data(**overrides))
    assert response.status_code == 200
    form = response.context["form"]
    errors = form.errors.get(field) if field else form.non_field_errors()
    assert any(expected in error for error in errors or []), form.errors
    assert expected in response.content.decode()
    assert not CoverageRequest.objects.exists()
    assert not ResidentContact.objects.exists()
    assert not mail.outbox


# --- Public pages show nothing personal --------------------------------------------------------


def test_request_public_pages_contain_no_personal_data(client, public, post):
    request = make_request(client, post, photo=png())
    # A supporter and a follower, so their rows exist too.
    post(
        public, reverse("sites:request-support", args=[request.reference]), {"contact": "b@x.test"}
    )
    confirm_by_link(public, post, mail.outbox[-1])
    request.refresh_from_db()
    assert request.supports_count == 1

    urls = [
        reverse("sites:request-list"),
        reverse("sites:request-list") + "?status=open&kelurahan=31.71.01.1001",
        reverse("sites:request-detail", args=[request.reference]),
        reverse("sites:request-confirmed", args=[request.reference]),
        reverse("sites:request-nearby") + "?lat=-6.1753&lon=106.8264",
    ]
    for browser in (Client(), public):
        for url in urls:
            body = page(browser.get(url))
            for secret in (NAME, EMAIL, "b@x.test", DESCRIPTION, "Mawar", "request-photos"):
                assert secret not in body, (url, secret)
            # Only the rounded location, never the pin itself.
            assert "-6.175305" not in body, url
            assert "106.826442" not in body, url
            assert "-6.175" in body or url.endswith(f"{request.reference}/confirmed/"), url


def test_request_nearby_lists_open_requests_with_support_links(client, public, post):
    request = make_request(client, post)
    body = public.get(reverse("sites:request-nearby"), {"lat": "-6.17545", "lon": "106.82650"})
    assert body.status_code == 200
    data = body.json()
    assert data["name"] == "Gambir"
    [item] = data["results"]
    assert item["reference"] == request.reference
    assert item["support_url"] == reverse("sites:request-detail", args=[request.reference]) + (
        "#support"
    )
    assert item["supports_count"] == 0
    assert set(item) >= {"category_label", "status_label", "distance_m"}
    assert not {"description", "name", "contact", "photo"} & set(item)

    far = public.get(reverse("sites:request-nearby"), {"lat": TEBET["lat"], "lon": TEBET["lon"]})
    assert far.json()["results"] == []
    outside = public.get(reverse("sites:request-nearby"), {"lat": "-6.9147", "lon": "107.6098"})
    assert outside.status_code == 400
    assert "outside DKI Jakarta" in outside.json()["detail"]
    assert public.get(reverse("sites:request-nearby"), {"lat": "x"}).status_code == 400


def test_request_list_filters_and_counts_per_kelurahan(client, public, post):
    gambir = make_request(client, post)
    tebet = make_request(client, post, contact="other@example.test", category="vandalism", **TEBET)
    listing = page(public.get(reverse("sites:request-list")))
    assert gambir.reference in listing
    assert tebet.reference in listing
    assert "Tebet Timur" in listing

    only_tebet = page(public.get(reverse("sites:request-list"), {"kelurahan": "31.74.01.1001"}))
    assert tebet.reference in only_tebet
    assert gambir.reference not in only_tebet
    theft = page(public.get(reverse("sites:request-list"), {"category": "theft"}))
    assert gambir.reference in theft
    assert tebet.reference not in theft
    counts = public.get(reverse("sites:request-list")).context["counts"]()
    assert {row["code"]: row["open"] for row in counts} == {
        "31.71.01.1001": 1,
        "31.74.01.1001": 1,
    }


def test_request_list_pages_by_cursor_newest_first(client, public, post, monkeypatch):
    monkeypatch.setattr(NewestIdFirst, "page_size", 2)
    made = [make_request(client, post, contact=f"warga{n}@example.test") for n in range(3)]

    first = public.get(reverse("sites:request-list"), {"status": "open"})
    assert [row.reference for row, _point in first.context["rows"]] == [
        made[2].reference,
        made[1].reference,
    ]
    assert first.context["previous_url"] is None
    older = re.search(r'<a rel="next" href="([^"]+)"', page(first)).group(1)
    second = public.get(html.unescape(older))
    assert [row.reference for row, _point in second.context["rows"]] == [made[0].reference]
    assert "status=open" in second.context["previous_url"]  # filters carry over
    assert second.context["next_url"] is None
    assert public.get(reverse("sites:request-list"), {"cursor": "bogus"}).status_code == 404


def test_request_list_counts_per_kelurahan_are_at_most_a_minute_old(client, public, post):
    def open_in_gambir() -> int:
        body = page(public.get(reverse("sites:request-list")))
        row = re.search(r'href="\?kelurahan=31\.71\.01\.1001">Gambir</a>.*?</tr>', body).group()
        return int(re.findall(r'<td class="num">(\d+)</td>', row)[0])

    make_request(client, post)
    assert open_in_gambir() == 1
    make_request(client, post, contact="other@example.test")
    assert open_in_gambir() == 1
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert open_in_gambir() == 2


def test_request_list_query_count_is_constant(client, public, post, django_assert_max_num_queries):
    for number in range(3):
        make_request(client, post, contact=f"warga{number}@example.test")
    with django_assert_max_num_queries(5):
        page(public.get(reverse("sites:request-list")))


# --- Supports and follows ----------------------------------------------------------------------


def test_request_support_by_email_then_at_once_with_the_resident_session(client, public, post):
    request = make_request(client, post)
    other = make_request(client, post, contact="other@example.test", **TEBET)
    support_url = reverse("sites:request-support", args=[request.reference])

    asked = post(public, support_url, {"contact": "pendukung@example.test"})
    assert asked.url == reverse("sites:request-check-email")
    request.refresh_from_db()
    assert request.supports_count == 0  # not until the email is confirmed
    done = confirm_by_link(public, post, mail.outbox[-1])
    assert done.url == reverse("sites:request-detail", args=[request.reference])
    request.refresh_from_db()
    assert request.supports_count == 1
    tracking = page(public.get(done.url))
    assert "Thank you: your support is counted." in tracking
    assert "You support this request" in tracking

    # The session holds the verified contact: no more emails for supports or follows.
    sent = len(mail.outbox)
    again = post(public, support_url)
    assert "You already support this request." in page(public.get(again.url))
    assert post(public, reverse("sites:request-support", args=[other.reference])).status_code == 302
    other.refresh_from_db()
    assert other.supports_count == 1
    post(public, reverse("sites:request-follow", args=[other.reference]))
    assert "You follow this request" in page(
        public.get(reverse("sites:request-detail", args=[other.reference]))
    )
    assert len(mail.outbox) == sent
    post(public, reverse("sites:request-unfollow", args=[other.reference]))
    assert "You follow this request" not in page(
        public.get(reverse("sites:request-detail", args=[other.reference]))
    )


def test_request_support_refuses_a_phone_number_and_a_closed_request(client, public, post):
    request = make_request(client, post)
    url = reverse("sites:request-support", args=[request.reference])
    refused = post(public, url, {"contact": "0812 3456 7890"})
    assert "SMS is not available" in page(public.get(refused.url.split("#")[0]))
    CoverageRequest.objects.filter(pk=request.pk).update(status=RequestStatus.DECLINED)
    closed = post(public, url, {"contact": "late@example.test"})
    assert "no longer open" in page(public.get(closed.url.split("#")[0]))
    assert request.supports.count() == 0


def test_request_resident_session_expires(client, public, post):
    request = make_request(client, post)
    with time_machine.travel(timezone.now() + timedelta(hours=3)):
        response = post(client, reverse("sites:request-follow", args=[request.reference]))
    # No session any more: the form asks for an email again.
    assert response.url.endswith("#support")


# --- "Is it working?" ---------------------------------------------------------------------------


def feedback_link(message) -> str:
    return re.search(r"https?://[^/\s]+(/requests/[^/\s]+/working/[^/\s]+/)", message.body).group(1)


def test_request_working_page_confirms_or_reopens(
    client, public, post, django_capture_on_commit_callbacks
):
    request = make_request(client, post)
    officer = factories.officer()
    site = factories.make_active_site(factories.verified_partner(), cameras=1)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_start_review(request=request, actor=officer)
        services.request_plan(request=request, actor=officer, site=site)
    request.refresh_from_db()
    assert request.status == RequestStatus.INSTALLED
    link = feedback_link(mail.outbox[-1])

    asking = page(public.get(link))
    assert "Is the camera working?" in asking
    assert "Yes, it works" in asking
    # Reopening needs a reason.
    refused = post(public, link, {"answer": "reopen", "reason": ""})
    assert refused.status_code == 200
    assert "Give a reason." in refused.content.decode()
    assert post(public, link, {"answer": "confirm"}).status_code == 302
    request.refresh_from_db()
    assert request.status == RequestStatus.CONFIRMED

    reopened = post(
        public, link, {"answer": "reopen", "reason": "Kameranya menghadap ke arah lain."}
    )
    assert reopened.status_code == 302
    request.refresh_from_db()
    assert request.status == RequestStatus.REOPENED
    # A resident's words stay off the public page.
    assert "menghadap" not in page(public.get(reopened.url))

    # The requester's own session offers the same question on the tracking page.
    CoverageRequest.objects.filter(pk=request.pk).update(status=RequestStatus.INSTALLED)
    own = page(client.get(reverse("sites:request-detail", args=[request.reference])))
    assert "Is the camera working? Tell us" in own
    assert "Is the camera working? Tell us" not in page(public.get(reopened.url))

    forged = public.get(reverse("sites:request-working", args=[request.reference, "forged"]))
    assert forged.status_code == 400
    assert "This link is not valid" in forged.content.decode()


# --- The resident's own data ------------------------------------------------------------------


def test_resident_me_shows_exports_and_deletes_own_data(client, public, post):
    request = make_request(client, post, photo=png())
    supported = make_request(client, post, contact="other@example.test", **TEBET)

    # A new browser: access by email, then the code.
    access = page(public.get(reverse("sites:resident-me")))
    assert "Send me a link" in access
    sent = post(public, reverse("sites:resident-me"), {"contact": EMAIL})
    assert sent.url == reverse("sites:request-check-email")
    _path, code = link_and_code(mail.outbox[-1])
    opened = post(public, reverse("sites:request-check-email"), {"contact": EMAIL, "code": code})
    assert opened.url == reverse("sites:resident-me")
    post(public, reverse("sites:request-support", args=[supported.reference]))

    mine = page(public.get(reverse("sites:resident-me")))
    assert EMAIL in mine
    assert request.reference in mine
    assert supported.reference in mine

    export = public.get(reverse("sites:resident-export"))
    assert export.status_code == 200
    assert export["Content-Disposition"].startswith("attachment")
    data = json.loads(export.content)
    assert data["contact"]["value"] == EMAIL
    assert [item["description"] for item in data["requests"]] == [DESCRIPTION]
    assert [row["request"] for row in data["supports"]] == [supported.reference]

    confirm_page = page(public.get(reverse("sites:resident-delete")))
    assert "This cannot be undone" in confirm_page
    not_ticked = public.post(reverse("sites:resident-delete"), {})
    assert "Tick the box to confirm." in page(not_ticked)
    assert ResidentContact.objects.filter(pk=request.contact_id).exists()

    deleted = post(public, reverse("sites:resident-delete"), {"confirm": "on"})
    assert deleted.url == reverse("sites:request-list")
    request.refresh_from_db()
    supported.refresh_from_db()
    assert request.contact is None
    assert request.requester_name == ""
    assert not request.photo
    assert request.status == RequestStatus.SUBMITTED  # the need stays on the map
    assert supported.supports_count == 0
    # The session is over too.
    assert "Send me a link" in page(public.get(reverse("sites:resident-me")))
    assert public.get(reverse("sites:resident-export")).url == reverse("sites:resident-me")


def test_resident_access_answers_the_same_for_an_unknown_address(public, post):
    response = post(public, reverse("sites:resident-me"), {"contact": "nobody@example.test"})
    assert response.url == reverse("sites:request-check-email")
    assert not mail.outbox


# --- Officers ----------------------------------------------------------------------------------


@pytest.fixture
def submitted(client, post):
    return make_request(client, post, photo=png())


def test_request_officer_pages_refuse_everyone_else(submitted):
    manage = reverse("sites:request-manage", args=[submitted.reference])
    urls = [
        reverse("sites:request-queue"),
        manage,
        reverse("sites:request-photo", args=[submitted.reference]),
    ]
    anonymous = Client()
    for url in urls:
        response = anonymous.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    owner = factories.UserFactory()
    factories.make_partner(owner)
    for user in (
        owner,
        factories.UserFactory(roles=[Role.RESIDENT]),
        factories.officer(Role.OPERATOR),
    ):
        browser = Client()
        browser.force_login(user)
        for url in urls:
            assert browser.get(url).status_code == 403, (user, url)
        assert browser.post(f"{manage}review/").status_code == 403
    submitted.refresh_from_db()
    assert submitted.status == RequestStatus.SUBMITTED


def test_request_officer_sees_everything_on_manage_page(client, submitted):
    officer = factories.officer()
    client.force_login(officer)
    body = page(client.get(reverse("sites:request-manage", args=[submitted.reference])))
    assert DESCRIPTION in body
    assert NAME in body
    assert "-6.175305" in body
    assert "Start review" in body
    photo = client.get(reverse("sites:request-photo", args=[submitted.reference]))
    assert photo.status_code == 200
    assert photo["Content-Type"] == "image/png"
    assert b"".join(photo.streaming_content).startswith(b"\x89PNG")


def test_request_sudin_officer_only_sees_own_kota(client, post):
    gambir = make_request(client, post)
    tebet = make_request(client, post, contact="other@example.test", **TEBET)
    sudin = factories.sudin_officer("31.74")
    browser = Client()
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    browser.force_login(sudin)

    queue = page(browser.get(reverse("sites:request-queue")))
    assert tebet.reference in queue
    assert gambir.reference not in queue
    assert browser.get(reverse("sites:request-manage", args=[tebet.reference])).status_code == 200
    assert browser.get(reverse("sites:request-manage", args=[gambir.reference])).status_code == 404
    assert browser.get(reverse("sites:request-photo", args=[gambir.reference])).status_code == 404
    acted = browser.post(reverse("sites:request-manage-action", args=[gambir.reference, "review"]))
    assert acted.status_code == 404
    # Merging into another kota's request is refused like a missing one.
    merge = browser.post(
        reverse("sites:request-manage-action", args=[tebet.reference, "merge"]),
        {"into": gambir.reference},
    )
    assert "No request with this reference." in page(merge)
    gambir.refresh_from_db()
    tebet.refresh_from_db()
    assert (gambir.status, tebet.status) == (RequestStatus.SUBMITTED, RequestStatus.SUBMITTED)


def test_request_officer_reviews_notes_and_plans_from_the_manage_page(client, public, submitted):
    officer = factories.officer()
    partner = factories.verified_partner()
    near = factories.make_site(partner, lat=Decimal("-6.1760"), lon=Decimal("106.8270"))
    far = factories.make_site(
        partner,
        kelurahan_code="31.74.01.1001",
        **{key: Decimal(value) for key, value in TEBET.items()},
    )
    client.force_login(officer)
    manage = reverse("sites:request-manage", args=[submitted.reference])
    act = lambda step, data=None: client.post(  # noqa: E731
        reverse("sites:request-manage-action", args=[submitted.reference, step]), data or {}
    )

    # Planning is not offered before the review.
    assert act("plan", {"site": near.pk}).status_code == 302
    submitted.refresh_from_db()
    assert submitted.status == RequestStatus.SUBMITTED

    assert act("review").url == manage
    assert act("note", {"body": "Cek tiang PLN di sudut jalan."}).url == manage
    assert RequestNote.objects.get().author == officer
    body = page(client.get(manage))
    assert "Cek tiang PLN" in body
    plan_form = client.get(manage).context["forms"]["plan"]
    offered = [value for value, _label in plan_form.fields["site"].choices if value]
    assert [int(str(value)) for value in offered] == [near.pk]
    assert far.pk not in offered

    assert act("plan", {"site": near.pk, "reason": "Kamera di gedung sebelah."}).url == manage
    submitted.refresh_from_db()
    assert submitted.status == RequestStatus.PLANNED
    assert submitted.site == near

    tracking = page(public.get(reverse("sites:request-detail", args=[submitted.reference])))
    assert "Kominfotik" in tracking
    assert officer.username not in tracking
    assert officer.full_name not in tracking
    assert "Kamera di gedung sebelah." in tracking
    assert "A site in kelurahan Gambir" in tracking
    assert near.address not in tracking
    assert partner.name not in tracking
    assert "Cek tiang PLN" not in tracking


def test_request_officer_declines_with_a_template(client, public, submitted):
    template = DeclineTemplate.objects.first()
    assert template is not None, "decline templates are seeded"
    client.force_login(factories.officer())
    action = reverse("sites:request-manage-action", args=[submitted.reference, "decline"])
    empty = client.post(action, {})
    assert "Choose a standard reason or write one." in page(empty)
    assert client.post(action, {"template": template.code}).status_code == 302
    submitted.refresh_from_db()
    assert submitted.status == RequestStatus.DECLINED
    assert template.body_en in submitted.decline_reason or template.body_id in (
        submitted.decline_reason
    )
    tracking = page(public.get(reverse("sites:request-detail", args=[submitted.reference])))
    assert "Declined" in tracking
    assert "This request is closed for support." in tracking


def test_request_officer_merges_a_duplicate(client, public, post, submitted):
    duplicate = make_request(client, post, contact="dupe@example.test", lat="-6.175400")
    client.force_login(factories.officer())
    candidates = page(client.get(reverse("sites:request-manage", args=[duplicate.reference])))
    assert submitted.reference in candidates.split("Open requests within")[1]
    action = reverse("sites:request-manage-action", args=[duplicate.reference, "merge"])
    assert "No request with this reference." in page(client.post(action, {"into": "REQ-1-1"}))
    assert client.post(action, {"into": submitted.reference.lower()}).status_code == 302
    duplicate.refresh_from_db()
    submitted.refresh_from_db()
    assert duplicate.status == RequestStatus.MERGED
    assert duplicate.merged_into == submitted
    assert submitted.supports_count == 1  # the duplicate's requester now supports the survivor
    tracking = page(public.get(reverse("sites:request-detail", args=[duplicate.reference])))
    assert submitted.reference in tracking
    manage = page(client.get(reverse("sites:request-manage", args=[submitted.reference])))
    assert duplicate.reference in manage


def test_request_queue_shows_score_parts_and_threshold_badge(client, public, post, settings):
    settings.REQUEST_SUPPORT_THRESHOLD = 1
    quiet = make_request(client, post, **TEBET)
    popular = make_request(client, post, contact="other@example.test")
    post(
        public, reverse("sites:request-support", args=[popular.reference]), {"contact": "c@x.test"}
    )
    confirm_by_link(public, post, mail.outbox[-1])

    officer = Client()
    officer.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    officer.force_login(factories.officer())
    response = officer.get(reverse("sites:request-queue"))
    body = page(response)
    assert [entry["request"].reference for entry in response.context["entries"]] == [
        popular.reference,
        quiet.reference,
    ]
    assert set(response.context["entries"][0]["priority"]["parts"]) == {
        "supports",
        "rawan",
        "distance_to_camera_m",
        "recent_nearby",
    }
    assert body.count("≥ 1") == 1
    assert "Nearest camera" in body
    only_popular = officer.get(reverse("sites:request-queue"), {"above_threshold": "on"})
    assert [entry["request"] for entry in only_popular.context["entries"]] == [popular]
    by_kota = officer.get(reverse("sites:request-queue"), {"kota": "31.74"})
    assert [entry["request"] for entry in by_kota.context["entries"]] == [quiet]


def test_request_queue_query_count_is_constant(client, post, django_assert_max_num_queries):
    for number in range(3):
        make_request(client, post, contact=f"warga{number}@example.test")
    client.force_login(factories.officer())
    with django_assert_max_num_queries(8):
        response = client.get(reverse("sites:request-queue"))
    assert len(response.context["entries"]) == 3


# --- Abuse ---------------------------------------------------------------------------------------


def test_request_submission_over_the_rate_limit_gets_a_friendly_429(client, post, settings):
    settings.REQUEST_RATE_LIMIT_IP_PER_HOUR = 1
    assert post(client, reverse("sites:request-new"), form_data()).status_code == 302
    response = post(client, reverse("sites:request-new"), form_data(contact="dua@example.test"))
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    body = response.content.decode()
    assert "Please wait a moment" in body
    assert "Too many attempts" in body
    assert "You can try again in" in body
    assert CoverageRequest.objects.count() == 1
    assert len(mail.outbox) == 1


def test_request_privacy_notice_in_both_languages(public):
    english = page(public.get(reverse("sites:request-privacy")))
    assert "never ask for your NIK" in english
    assert f"{settings.REQUEST_PURGE_AFTER_DAYS} days" in english
    assert services.PRIVACY_NOTICE_VERSION in english
    assert reverse("sites:resident-me") in english
    indonesian = Client()  # the default language
    body = page(indonesian.get(reverse("sites:request-privacy")))
    assert '<html lang="id">' in body
    assert services.PRIVACY_NOTICE_VERSION in body
