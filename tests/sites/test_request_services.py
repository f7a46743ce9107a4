import importlib
import io
import itertools
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.apps import apps as django_apps
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.http import Http404
from django.utils import timezone, translation
from PIL import Image

from portal.crypto import encrypt
from portal.errors import Conflict, PermissionDenied, ServiceError
from portal.models import RateLimitBucket
from portal.ratelimit import RateLimited
from sites import request_selectors as selectors
from sites import request_services as services
from sites import services as site_services
from sites.models import (
    Area,
    Camera,
    ContactVerification,
    CoverageRequest,
    RequestFollow,
    RequestStatus,
    RequestStatusChange,
    RequestSupport,
    ResidentContact,
)
from tests import factories

# Gambir (31.71.01.1001, Jakarta Pusat): its label point and small offsets stay inside it.
GAMBIR = {"lat": Decimal("-6.175305"), "lon": Decimal("106.826442")}
# Tebet Timur (31.74.01.1001, Jakarta Selatan).
TEBET = {"lat": Decimal("-6.233805"), "lon": Decimal("106.855641")}
DESCRIPTION = "Sering ada jambret di depan gang setelah magrib."
_addresses = itertools.count(1)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def committed(db, django_capture_on_commit_callbacks):
    """Run a service and its after-commit work (emails) as a real request would."""

    def run(function, /, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(**kwargs)

    return run


@pytest.fixture
def city_officer(db):
    return factories.officer()


def near(dlat: str = "0", dlon: str = "0") -> dict:
    return {"lat": GAMBIR["lat"] + Decimal(dlat), "lon": GAMBIR["lon"] + Decimal(dlon)}


def submit(committed, *, contact="warga@example.test", ip=None, **overrides):
    """Each call comes from its own address unless `ip` is given (the per-address limit)."""
    number = next(_addresses)
    ip = ip or f"10.{number // 250}.{number % 250}.1"
    fields = {
        **GAMBIR,
        "category": "theft",
        "description": DESCRIPTION,
        "contact": contact,
        "name": "Siti Rahayu",
        "consent": True,
        "language": "en",
        "ip": ip,
        **overrides,
    }
    return committed(services.request_submit, **fields)


def secrets_of(message) -> tuple[str, str]:
    token = re.search(r"/requests/verify/([^/\s]+)/", message.body).group(1)
    code = re.search(r"(?m)(?<![\w-])(\d{6})\s*$", message.body).group(1)
    return token, code


def confirm(committed, message):
    token, _code = secrets_of(message)
    return committed(services.contact_verify, token=token)


def submitted(committed, mailoutbox, **overrides) -> CoverageRequest:
    """A request whose contact confirmed it (status submitted)."""
    request, _verification = submit(committed, **overrides)
    confirm(committed, mailoutbox[-1])
    request.refresh_from_db()
    return request


def supporter(committed, mailoutbox, request, email: str, *, verify=True):
    committed(
        services.request_support,
        request=request,
        contact_value=email,
        ip="198.51.100.7",
        language="en",
    )
    if verify:
        confirm(committed, mailoutbox[-1])
    request.refresh_from_db()


def verified_contact(email: str, language: str = "en") -> ResidentContact:
    return ResidentContact.objects.create(
        kind="email",
        value_hash=services.contact_hash(email),
        value_encrypted=encrypt(email),
        language=language,
        verified_at=timezone.now(),
    )


def jpeg(size=(40, 30)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, format="JPEG")
    return SimpleUploadedFile("spot.jpg", buffer.getvalue(), content_type="image/jpeg")


def photo_files() -> set[str]:
    folder = Path(settings.STORAGES["default"]["OPTIONS"]["location"]) / "request-photos"
    return {path.name for path in folder.glob("*")} if folder.exists() else set()


def activate(site, officer, partner):
    """Take a proposed site through approval and installation to active (with one camera)."""
    site_services.site_approve(site=site, actor=officer)
    site_services.site_start_installation(site=site, actor=officer)
    Camera.objects.create(
        site=site,
        owner=partner,
        vendor="Dahua",
        model="IPC-HFW",
        serial=f"REQ-{site.pk}",
        resolution="1920x1080",
        created_by=partner.created_by,
    )
    return site_services.site_confirm_installation(site=site, actor=officer)


# --- Submitting and verifying -------------------------------------------------------------


def test_request_submit_waits_unverified_and_emails_a_link_and_code(committed, mailoutbox):
    request, verification = submit(committed)

    assert re.fullmatch(r"REQ-\d{4}-\d{6}", request.reference)
    assert request.status == RequestStatus.UNVERIFIED
    assert request.kelurahan.code == "31.71.01.1001"
    assert request.privacy_notice_version == services.PRIVACY_NOTICE_VERSION
    with pytest.raises(Http404):
        selectors.request_public(reference=request.reference)
    [message] = mailoutbox
    assert message.to == ["warga@example.test"]
    assert request.reference in message.subject
    token, code = secrets_of(message)
    # Only hashes are kept: neither the address, the link nor the code is stored as such.
    contact = ResidentContact.objects.get()
    assert "warga@example.test" not in contact.value_encrypted
    assert services.contact_value(contact) == "warga@example.test"
    assert token not in verification.token_hash
    assert code not in verification.code_hash
    assert verification.expires_at - timezone.now() == pytest.approx(
        timedelta(hours=settings.REQUEST_VERIFICATION_HOURS), abs=timedelta(minutes=1)
    )


def test_request_submit_numbers_references_within_the_year(committed):
    first, _v = submit(committed, contact="a@example.test")
    second, _v = submit(committed, contact="b@example.test")
    assert int(second.reference[-6:]) == int(first.reference[-6:]) + 1


def test_contact_verify_by_link_submits_the_request_once(committed, mailoutbox):
    request, _verification = submit(committed)
    verification = confirm(committed, mailoutbox[0])

    request.refresh_from_db()
    assert verification.request == request
    assert request.status == RequestStatus.SUBMITTED
    assert request.verified_at is not None
    assert verification.contact.verified_at is not None
    change = RequestStatusChange.objects.get(request=request)
    assert (change.old_status, change.new_status, change.actor) == ("unverified", "submitted", None)
    assert selectors.request_public(reference=request.reference) == request
    # The requester gets a receipt with the tracking page.
    assert mailoutbox[-1].to == ["warga@example.test"]
    assert f"/requests/{request.reference}/" in mailoutbox[-1].body

    with pytest.raises(ServiceError, match="already been used"):
        confirm(committed, mailoutbox[0])


def test_contact_verify_by_code_accepts_the_right_code(committed, mailoutbox):
    request, _verification = submit(committed)
    _token, code = secrets_of(mailoutbox[0])

    committed(services.contact_verify, contact_value="Warga@Example.test ", code=code)

    request.refresh_from_db()
    assert request.status == RequestStatus.SUBMITTED


def test_contact_verify_gives_up_after_five_wrong_codes(committed, mailoutbox):
    request, verification = submit(committed)
    _token, code = secrets_of(mailoutbox[0])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    for _attempt in range(services.MAX_VERIFICATION_ATTEMPTS):
        with pytest.raises(ServiceError, match="code is wrong"):
            services.contact_verify(contact_value="warga@example.test", code=wrong)
    with pytest.raises(ServiceError, match="code is wrong"):
        services.contact_verify(contact_value="warga@example.test", code=code)

    verification.refresh_from_db()
    assert verification.attempts == services.MAX_VERIFICATION_ATTEMPTS
    request.refresh_from_db()
    assert request.status == RequestStatus.UNVERIFIED


def test_contact_verify_refuses_an_expired_link(committed, mailoutbox):
    request, _verification = submit(committed)
    later = timezone.now() + timedelta(hours=settings.REQUEST_VERIFICATION_HOURS, minutes=1)
    with time_machine.travel(later, tick=False), pytest.raises(ServiceError, match="expired"):
        confirm(committed, mailoutbox[0])
    request.refresh_from_db()
    assert request.status == RequestStatus.UNVERIFIED


def test_contact_verify_refuses_an_unknown_token(db):
    with pytest.raises(ServiceError, match="not valid"):
        services.contact_verify(token="not-a-token")


# --- Refusals: nothing is stored ----------------------------------------------------------


def _nothing_stored():
    assert not CoverageRequest.objects.exists()
    assert not ResidentContact.objects.exists()
    assert not ContactVerification.objects.exists()
    assert not RateLimitBucket.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"lat": "-6.914744", "lon": "107.609810"}, "lat", "outside DKI Jakarta"),
        ({"lat": "abc"}, "lat", "Pin the spot"),
        ({"consent": False}, "consent", "privacy notice"),
        ({"category": "noise"}, "category", "Choose a category"),
        ({"description": "   "}, "description", "Describe"),
        ({"description": "x" * 2001}, "description", "under 2000"),
        ({"description": "NIK saya 3171012345678901 tolong"}, "description", "NIK"),
        ({"name": "n" * 121}, "name", "under 120"),
        ({"contact": "not-an-address"}, "contact", "valid email"),
        ({"contact": "+62 812 3456 7890"}, "contact", "SMS is not available"),
    ],
)
def test_request_submit_refuses_bad_input_and_stores_nothing(
    committed, mailoutbox, overrides, field, message
):
    with pytest.raises(ServiceError, match=message) as refused:
        submit(committed, **overrides)
    assert field in refused.value.errors
    _nothing_stored()
    assert mailoutbox == []


def test_request_submit_outside_jakarta_names_the_problem(committed):
    with pytest.raises(ServiceError) as refused:
        submit(committed, lat="-6.914744", lon="107.609810")  # Bandung
    assert refused.value.code == "outside_jakarta"
    assert refused.value.field == "lat"


def test_request_submit_refuses_a_filled_honeypot_vaguely(committed, mailoutbox):
    with pytest.raises(ServiceError) as refused:
        submit(committed, honeypot="http://spam.example")
    assert refused.value.code == "rejected"
    assert "honeypot" not in refused.value.message.lower()
    _nothing_stored()
    assert mailoutbox == []


def test_request_submit_refuses_a_photo_that_is_not_an_image(committed):
    fake = SimpleUploadedFile("spot.jpg", b"MZ\x90\x00 not an image", content_type="image/jpeg")
    before = photo_files()
    with pytest.raises(ServiceError) as refused:
        submit(committed, photo=fake)
    assert refused.value.field == "photo"
    _nothing_stored()
    assert photo_files() == before


def test_request_submit_stores_the_photo_reencoded(committed):
    request, _verification = submit(committed, photo=jpeg())
    assert request.photo_extension == "jpg"
    assert request.photo.name.startswith("request-photos/")
    with request.photo.open("rb") as stored:
        assert Image.open(stored).format == "JPEG"


def test_request_submit_leaves_no_photo_behind_when_a_later_step_fails(committed, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("mail queue down")

    monkeypatch.setattr(services, "_new_verification", broken)
    before = photo_files()
    with pytest.raises(RuntimeError):
        submit(committed, photo=jpeg())
    assert not CoverageRequest.objects.exists()
    assert photo_files() == before


# --- Rate limits --------------------------------------------------------------------------


def test_request_submit_is_limited_per_contact(committed, mailoutbox):
    limit = settings.REQUEST_RATE_LIMIT_CONTACT_PER_HOUR
    for number in range(limit):
        submit(committed, ip=f"203.0.113.{number + 1}")

    with pytest.raises(RateLimited) as refused:
        submit(committed, ip="203.0.113.200")

    assert refused.value.status_code == 429
    assert 0 < refused.value.retry_after <= 3600
    assert CoverageRequest.objects.count() == limit
    assert len(mailoutbox) == limit


def test_request_submit_is_limited_per_address_until_the_window_ends(committed):
    limit = settings.REQUEST_RATE_LIMIT_IP_PER_HOUR
    start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    with time_machine.travel(start + timedelta(minutes=10), tick=False) as clock:
        for number in range(limit):
            submit(committed, contact=f"w{number}@example.test", ip="203.0.113.5")
        with pytest.raises(RateLimited) as refused:
            submit(committed, contact="another@example.test", ip="203.0.113.5")
        assert refused.value.retry_after == 50 * 60
        assert CoverageRequest.objects.count() == limit

        clock.move_to(start + timedelta(hours=1, seconds=1))
        submit(committed, contact="another@example.test", ip="203.0.113.5")
    assert CoverageRequest.objects.count() == limit + 1


def test_request_submit_refused_input_does_not_use_up_the_limit(committed):
    for _attempt in range(settings.REQUEST_RATE_LIMIT_IP_PER_HOUR + 2):
        with pytest.raises(ServiceError):
            submit(committed, consent=False)
    submit(committed)
    assert CoverageRequest.objects.count() == 1


# --- Supports and follows -----------------------------------------------------------------


def test_request_support_counts_only_once_verified(committed, mailoutbox):
    request = submitted(committed, mailoutbox)
    supporter(committed, mailoutbox, request, "tetangga@example.test", verify=False)
    assert request.supports_count == 0
    assert RequestSupport.objects.get().verified_at is None

    confirm(committed, mailoutbox[-1])
    request.refresh_from_db()
    assert request.supports_count == 1


def test_request_support_is_one_per_contact(committed, mailoutbox):
    request = submitted(committed, mailoutbox)
    resident = verified_contact("tetangga@example.test")
    services.request_support(request=request, contact=resident, ip="198.51.100.1", language="en")
    assert request.supports_count == 1

    with pytest.raises(Conflict, match="already support"):
        services.request_support(
            request=request, contact=resident, ip="198.51.100.1", language="en"
        )
    # Through the email route, a second support is verified but never counted twice.
    supporter(committed, mailoutbox, request, "tetangga@example.test")
    assert request.supports_count == 1
    assert RequestSupport.objects.count() == 1


def test_request_support_only_while_open(committed, mailoutbox, city_officer):
    request = submitted(committed, mailoutbox)
    supporter(committed, mailoutbox, request, "pending@example.test", verify=False)
    services.request_decline(request=request, actor=city_officer, reason="Private land.")
    resident = verified_contact("late@example.test")

    with pytest.raises(Conflict, match="no longer open"):
        services.request_support(request=request, contact=resident, ip="1.2.3.4", language="en")
    with pytest.raises(Conflict, match="no longer open"):
        services.request_support(
            request=request, contact_value="x@example.test", ip="1.2.3.4", language="en"
        )
    # A support waiting for verification does not count once the request has closed.
    with pytest.raises(Conflict, match="no longer open"):
        confirm(committed, mailoutbox[-1])
    request.refresh_from_db()
    assert request.supports_count == 0


def test_request_support_refuses_the_requester_and_unverified_requests(committed, mailoutbox):
    request = submitted(committed, mailoutbox)
    with pytest.raises(Conflict, match="your own request"):
        services.request_support(
            request=request, contact_value="warga@example.test", ip="1.2.3.4", language="en"
        )
    pending, _verification = submit(committed, contact="other@example.test")
    with pytest.raises(ServiceError, match="not public"):
        services.request_support(
            request=pending, contact_value="x@example.test", ip="1.2.3.4", language="en"
        )


def test_request_support_is_rate_limited_per_contact(committed, mailoutbox, settings):
    settings.REQUEST_SUPPORT_RATE_LIMIT_CONTACT_PER_HOUR = 2
    requests = [
        submitted(committed, mailoutbox, contact=f"r{n}@example.test", ip=f"10.0.0.{n}")
        for n in range(3)
    ]
    for request in requests[:2]:
        supporter(committed, mailoutbox, request, "fan@example.test", verify=False)
    sent = len(mailoutbox)
    with pytest.raises(RateLimited):
        supporter(committed, mailoutbox, requests[2], "fan@example.test", verify=False)
    assert len(mailoutbox) == sent
    assert not RequestSupport.objects.filter(request=requests[2]).exists()


def test_request_follow_emails_followers_on_every_change(committed, mailoutbox, city_officer):
    request = submitted(committed, mailoutbox)
    committed(
        services.request_follow,
        request=request,
        contact_value="pengikut@example.test",
        ip="1.2.3.4",
        language="en",
    )
    confirm(committed, mailoutbox[-1])
    assert RequestFollow.objects.get().verified_at is not None
    mailoutbox.clear()

    committed(services.request_start_review, request=request, actor=city_officer)

    assert sorted(message.to[0] for message in mailoutbox) == [
        "pengikut@example.test",
        "warga@example.test",
    ]
    assert all("under review" in message.subject for message in mailoutbox)


def test_request_unfollow_stops_the_emails(committed, mailoutbox, city_officer):
    request = submitted(committed, mailoutbox)
    follower = verified_contact("pengikut@example.test")
    services.request_follow(request=request, contact=follower, ip="1.2.3.4", language="en")
    services.request_unfollow(request=request, contact=follower)
    mailoutbox.clear()
    committed(services.request_start_review, request=request, actor=city_officer)
    assert [message.to for message in mailoutbox] == [["warga@example.test"]]


# --- The whole path -----------------------------------------------------------------------


def test_whole_path_from_pin_to_confirmed_camera_and_reopened(committed, mailoutbox, city_officer):
    owner = factories.UserFactory()
    partner = factories.verified_partner(owner)
    site = factories.make_site(partner)
    request = submitted(committed, mailoutbox)

    committed(services.request_start_review, request=request, actor=city_officer)
    committed(services.request_plan, request=request, actor=city_officer, site=site)
    request.refresh_from_db()
    assert (request.status, request.site) == (RequestStatus.PLANNED, site)

    mailoutbox.clear()
    with translation.override("en"):
        committed(activate, site=site, officer=city_officer, partner=partner)
    request.refresh_from_db()
    assert request.status == RequestStatus.INSTALLED
    [asked] = mailoutbox
    assert asked.to == ["warga@example.test"]
    assert "working" in asked.subject
    link = re.search(r"/requests/REQ-[\d-]+/working/(\S+)/", asked.body)
    token = link.group(1)
    assert services.feedback_contact(request=request, token=token) == request.contact

    committed(services.request_feedback, token=token, answer="confirm")
    request.refresh_from_db()
    assert request.status == RequestStatus.CONFIRMED
    assert request.closed_at is not None

    committed(
        services.request_feedback, token=token, answer="reopen", reason="Faces the wrong way."
    )
    request.refresh_from_db()
    assert request.status == RequestStatus.REOPENED
    assert request.closed_at is None
    assert list(request.status_changes.values_list("new_status", flat=True)) == [
        "submitted",
        "under_review",
        "planned",
        "installed",
        "confirmed",
        "reopened",
    ]
    assert request.status_changes.get(new_status="reopened").reason == "Faces the wrong way."


def test_request_plan_on_an_active_site_installs_at_once(committed, mailoutbox, city_officer):
    partner = factories.verified_partner()
    site = factories.make_active_site(partner)
    request = submitted(committed, mailoutbox)
    committed(services.request_start_review, request=request, actor=city_officer)

    request = committed(services.request_plan, request=request, actor=city_officer, site=site)

    assert request.status == RequestStatus.INSTALLED


def test_request_confirm_only_by_the_requester(committed, mailoutbox, city_officer):
    partner = factories.verified_partner()
    site = factories.make_active_site(partner)
    request = submitted(committed, mailoutbox)
    services.request_start_review(request=request, actor=city_officer)
    services.request_plan(request=request, actor=city_officer, site=site)
    stranger = verified_contact("stranger@example.test")
    with pytest.raises(PermissionDenied):
        services.request_confirm(request=request, contact=stranger)
    with pytest.raises(ServiceError, match="not valid"):
        services.request_feedback(token="forged:token", answer="confirm")


def test_request_feedback_link_expires(committed, mailoutbox):
    request = submitted(committed, mailoutbox)
    token = services.feedback_token(request_id=request.pk, contact_id=request.contact_id)
    later = timezone.now() + timedelta(days=settings.REQUEST_FEEDBACK_LINK_DAYS + 1)
    with time_machine.travel(later, tick=False):
        assert services.feedback_contact(request=request, token=token) is None
        with pytest.raises(ServiceError, match="expired"):
            services.request_feedback(token=token, answer="confirm")


def test_request_transitions_are_guarded(committed, mailoutbox, city_officer):
    request = submitted(committed, mailoutbox)
    with pytest.raises(Conflict, match="cannot become"):
        services.request_reopen(request=request, actor=city_officer, reason="No.")
    with pytest.raises(ServiceError, match="reason"):
        services.request_decline(request=request, actor=city_officer)


def test_request_decline_with_template_in_the_requesters_language(
    committed, mailoutbox, city_officer
):
    request = submitted(committed, mailoutbox, language="id")
    mailoutbox.clear()
    committed(
        services.request_decline,
        request=request,
        actor=city_officer,
        template="private-property",
        reason="Hubungi pengelola gedung.",
    )
    request.refresh_from_db()
    assert request.status == RequestStatus.DECLINED
    assert request.decline_reason.startswith("Lokasi berada di lahan pribadi")
    assert request.decline_reason.endswith("Hubungi pengelola gedung.")
    [message] = mailoutbox
    assert "Lokasi berada di lahan pribadi" in message.body
    other = submitted(committed, mailoutbox, contact="b@example.test")
    with pytest.raises(ServiceError, match="Unknown decline template"):
        services.request_decline(request=other, actor=city_officer, template="nope")


def test_request_add_note_is_private_and_for_officers(committed, mailoutbox, city_officer):
    request = submitted(committed, mailoutbox)
    note = services.request_add_note(request=request, actor=city_officer, body=" Site survey 3/5 ")
    assert note.body == "Site survey 3/5"
    partner_user = factories.UserFactory()
    factories.make_partner(partner_user)
    with pytest.raises(PermissionDenied):
        services.request_add_note(request=request, actor=partner_user, body="hi")


# --- Officers and scoping -----------------------------------------------------------------


def test_sudin_officer_acts_only_in_own_kota(committed, mailoutbox):
    pusat = submitted(committed, mailoutbox)
    selatan = submitted(committed, mailoutbox, contact="b@example.test", **TEBET)
    sudin = factories.sudin_officer("31.74")

    with pytest.raises(PermissionDenied):
        services.request_start_review(request=pusat, actor=sudin)
    services.request_start_review(request=selatan, actor=sudin)

    queue = selectors.officer_queue(user=sudin)
    assert [row.reference for row in queue] == [selatan.reference]
    with pytest.raises(Http404):
        selectors.officer_request(user=sudin, reference=pusat.reference)


def test_sudin_officer_cannot_plan_on_a_site_in_another_kota(committed, mailoutbox):
    request = submitted(committed, mailoutbox, **TEBET)
    sudin = factories.sudin_officer("31.74")
    services.request_start_review(request=request, actor=sudin)
    site = factories.make_site(factories.verified_partner())  # in Gambir, Jakarta Pusat
    with pytest.raises(PermissionDenied, match="outside your area"):
        services.request_plan(request=request, actor=sudin, site=site)


def test_officer_queue_is_empty_for_residents_and_partners(committed, mailoutbox, owner, partner):
    submitted(committed, mailoutbox)
    assert not selectors.officer_queue(user=owner).exists()
    operator = factories.UserFactory(roles=["operator"])
    assert selectors.officer_queue(user=operator).count() == 1
    with pytest.raises(PermissionDenied):
        services.request_start_review(request=CoverageRequest.objects.get(), actor=operator)


def test_officer_queue_puts_requests_over_the_threshold_first(
    committed, mailoutbox, city_officer, settings
):
    settings.REQUEST_SUPPORT_THRESHOLD = 2
    Area.objects.filter(code="31.74.01.1001").update(rawan_level=3)
    rawan = submitted(committed, mailoutbox, contact="a@example.test", **TEBET)
    popular = submitted(committed, mailoutbox, contact="b@example.test")
    for email in ("s1@example.test", "s2@example.test"):
        supporter(committed, mailoutbox, popular, email)
    # Next to a working camera: a lower score than the rawan one, yet first for its supports.
    partner = factories.verified_partner()
    committed(activate, site=factories.make_site(partner), officer=city_officer, partner=partner)

    queue = list(selectors.officer_queue(user=city_officer))
    assert [row.reference for row in queue] == [popular.reference, rawan.reference]
    assert queue[0].priority_score < queue[1].priority_score
    assert (
        selectors.officer_queue(user=city_officer, filters={"above_threshold": True}).count() == 1
    )


def test_request_priority_shows_its_parts(committed, mailoutbox, city_officer, settings):
    settings.REQUEST_SUPPORT_THRESHOLD = 4
    Area.objects.filter(code="31.71.01.1001").update(rawan_level=2)
    request = submitted(committed, mailoutbox)
    supporter(committed, mailoutbox, request, "s1@example.test")
    submitted(committed, mailoutbox, contact="n@example.test", **near("0.002"))  # ~220 m
    submitted(committed, mailoutbox, contact="f@example.test", **near("0.01"))  # ~1.1 km

    far = selectors.request_priority(request=request)
    assert far["parts"] == {
        "supports": 1,
        "rawan": 2,
        "distance_to_camera_m": None,
        "recent_nearby": 1,
    }
    assert far["points"] == {
        "supports": 10.0,
        "rawan": 20.0,
        "distance_to_camera_m": 20.0,
        "recent_nearby": 1.0,
    }
    assert far["score"] == 51.0

    # An active camera about 110 m away lowers the need.
    partner = factories.verified_partner()
    site = factories.make_site(partner, **near("0.001"))
    committed(activate, site=site, officer=city_officer, partner=partner)
    close = selectors.request_priority(request=request)
    assert 100 <= close["parts"]["distance_to_camera_m"] <= 120
    assert close["score"] < far["score"]


def test_request_priority_ignores_sites_without_a_camera_or_not_active(committed, mailoutbox):
    request = submitted(committed, mailoutbox)
    partner = factories.verified_partner()
    factories.make_site(partner, **near("0.0005"))  # proposed
    factories.make_active_site(partner, cameras=0, **near("0.0005"))
    factories.make_active_site(partner, **near("0.003"))  # ~330 m, with a camera
    services.requests_priority_refresh_open()
    assert 320 <= selectors.request_priority(request=request)["parts"]["distance_to_camera_m"] < 340


# --- Stored priority: refreshed where its inputs change -------------------------------------


def stored(request: CoverageRequest) -> dict:
    request.refresh_from_db()
    return selectors.priority_of(request)


def test_request_priority_is_refreshed_when_a_support_counts(committed, mailoutbox, settings):
    settings.REQUEST_SUPPORT_THRESHOLD = 2
    request = submitted(committed, mailoutbox)
    assert stored(request)["score"] == 20.0  # no camera within 1 km, nothing else
    supporter(committed, mailoutbox, request, "s1@example.test", verify=False)
    assert stored(request)["score"] == 20.0  # waiting for its verification: not counted yet

    confirm(committed, mailoutbox[-1])
    assert stored(request)["score"] == 40.0
    assert request.priority_rank == 40.0
    supporter(committed, mailoutbox, request, "s2@example.test")
    assert stored(request)["score"] == 60.0
    # At the threshold: ahead of every request below it in the queue's one sort key.
    assert request.priority_rank == 160.0


def test_request_priority_is_refreshed_when_a_nearby_site_goes_active_or_not(
    committed, mailoutbox, city_officer
):
    request = submitted(committed, mailoutbox)
    far = submitted(committed, mailoutbox, contact="far@example.test", **TEBET)
    partner = factories.verified_partner()
    site = factories.make_site(partner, **near("0.001"))  # ~110 m
    assert stored(request)["parts"]["distance_to_camera_m"] is None

    committed(activate, site=site, officer=city_officer, partner=partner)
    assert 100 <= stored(request)["parts"]["distance_to_camera_m"] <= 120
    assert stored(request)["score"] < 20.0
    assert stored(far)["parts"]["distance_to_camera_m"] is None  # ~7 km away

    committed(site_services.site_suspend, site=site, actor=city_officer, reason="Pole repairs.")
    assert stored(request)["parts"]["distance_to_camera_m"] is None
    committed(site_services.site_resume, site=site, actor=city_officer)
    assert 100 <= stored(request)["parts"]["distance_to_camera_m"] <= 120


def test_request_priority_is_refreshed_when_a_camera_joins_an_active_site(
    committed, mailoutbox, city_officer
):
    request = submitted(committed, mailoutbox)
    partner = factories.verified_partner()
    site = factories.make_active_site(partner, cameras=0, **near("0.001"))
    factories.approved_network(partner)
    assert stored(request)["parts"]["distance_to_camera_m"] is None

    committed(
        site_services.camera_register,
        site=site,
        owner=partner,
        actor=partner.created_by,
        vendor="Hikvision",
        model="DS-2CD",
        serial="PRIORITY-1",
        resolution="1920x1080",
        rtsp_url="rtsp://10.20.30.7/live",
    )
    assert 100 <= stored(request)["parts"]["distance_to_camera_m"] <= 120


def test_request_priority_counts_a_neighbour_once_verified_and_not_once_merged(
    committed, mailoutbox, city_officer
):
    request = submitted(committed, mailoutbox)
    neighbour, _verification = submit(committed, contact="n@example.test", **near("0.002"))
    assert stored(request)["parts"]["recent_nearby"] == 0  # unverified: not counted

    confirm(committed, mailoutbox[-1])
    assert stored(request)["parts"]["recent_nearby"] == 1
    assert stored(neighbour)["parts"]["recent_nearby"] == 1

    committed(
        services.request_merge,
        request=neighbour,
        into=request,
        actor=city_officer,
        reason="Same corner.",
    )
    after = stored(request)
    assert after["parts"]["recent_nearby"] == 0
    assert after["parts"]["supports"] == 1  # the duplicate's requester now supports it
    assert after["points"]["supports"] > 0


def test_area_set_rawan_rescores_the_kelurahans_open_requests(committed, mailoutbox, city_officer):
    request = submitted(committed, mailoutbox)
    declined = submitted(committed, mailoutbox, contact="d@example.test", **near("0.001"))
    assert declined.kelurahan_id == request.kelurahan_id
    committed(services.request_decline, request=declined, actor=city_officer, reason="Covered.")
    before = stored(declined)["score"]

    committed(
        site_services.area_set_rawan,
        area=Area.objects.get(code="31.71.01.1001"),
        actor=city_officer,
        level=3,
        reason="Street crime reports.",
    )
    assert stored(request)["parts"]["rawan"] == 3
    assert stored(request)["points"]["rawan"] == 30.0
    # Out of the queue: a closed request keeps the priority it had when it left.
    assert stored(declined)["score"] == before


def test_refresh_request_priorities_task_moves_the_90_day_window(committed, mailoutbox):
    from sites import tasks

    request = submitted(committed, mailoutbox)
    submitted(committed, mailoutbox, contact="n@example.test", **near("0.002"))
    assert stored(request)["parts"]["recent_nearby"] == 1
    Area.objects.filter(code="31.71.01.1001").update(rawan_level=2)  # not through the service

    with time_machine.travel(timezone.now() + timedelta(days=91)):
        assert tasks.refresh_request_priorities.delay().get() == 2
    after = stored(request)
    assert after["parts"]["recent_nearby"] == 0
    assert after["parts"]["rawan"] == 2
    assert after["score"] == 40.0


def test_stored_priority_matches_a_fresh_computation(committed, mailoutbox, city_officer):
    request = submitted(committed, mailoutbox)
    for number, offset in enumerate(("0.001", "0.002", "0.004", "0.01")):
        other = submitted(committed, mailoutbox, contact=f"o{number}@example.test", **near(offset))
        supporter(committed, mailoutbox, other, f"s{number}@example.test")
    partner = factories.verified_partner()
    site = factories.make_site(partner, **near("0", "0.002"))
    committed(activate, site=site, officer=city_officer, partner=partner)

    open_requests = CoverageRequest.objects.filter(status=RequestStatus.SUBMITTED)
    ids = list(open_requests.values_list("pk", flat=True))
    sql, params = selectors.priority_sql(ids=ids, now=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fresh = {row[0]: row[1:] for row in cursor.fetchall()}
    for row in open_requests:
        rawan, distance, recent, score, rank = fresh[row.pk]
        assert (row.priority_rawan, row.priority_recent) == (rawan, recent), row
        assert row.priority_distance_m == pytest.approx(distance), row
        assert (row.priority_score, row.priority_rank) == (
            pytest.approx(score),
            pytest.approx(rank),
        )
    assert len(ids) == 5
    assert request.pk in fresh


def test_fill_migration_stores_what_the_service_stores(committed, mailoutbox, city_officer):
    """0018 holds a frozen copy of the priority SQL: it must agree with the service's."""
    fill = importlib.import_module("sites.migrations.0018_fill_request_priority").fill
    request = submitted(committed, mailoutbox)
    supporter(committed, mailoutbox, request, "s@example.test")
    submitted(committed, mailoutbox, contact="n@example.test", **near("0.002"))
    Area.objects.filter(code="31.71.01.1001").update(rawan_level=1)
    factories.make_active_site(factories.verified_partner(), **near("0.004"))
    fields = [
        "priority_rawan",
        "priority_distance_m",
        "priority_recent",
        "priority_score",
        "priority_rank",
    ]
    services.requests_priority_refresh(requests=CoverageRequest.objects.all())
    expected = {row["id"]: row for row in CoverageRequest.objects.values("id", *fields)}
    CoverageRequest.objects.update(
        priority_rawan=0,
        priority_distance_m=None,
        priority_recent=0,
        priority_score=0,
        priority_rank=0,
    )

    with connection.schema_editor() as editor:
        fill(django_apps, editor)

    filled = {row["id"]: row for row in CoverageRequest.objects.values("id", *fields)}
    assert filled.keys() == expected.keys()
    for pk, row in expected.items():
        assert filled[pk] == pytest.approx(row)
    assert expected[request.pk]["priority_distance_m"] is not None
    assert expected[request.pk]["priority_recent"] == 1


def test_officer_queue_is_ordered_by_the_stored_rank(committed, mailoutbox, city_officer):
    first = submitted(committed, mailoutbox)
    second = submitted(committed, mailoutbox, contact="b@example.test", **TEBET)
    closed = submitted(committed, mailoutbox, contact="c@example.test", **near("0.02"))
    committed(services.request_decline, request=closed, actor=city_officer, reason="Covered.")
    assert [row.reference for row in selectors.officer_queue(user=city_officer)] == [
        first.reference,  # equal scores: oldest first
        second.reference,
    ]
    CoverageRequest.objects.filter(pk=second.pk).update(priority_rank=99)
    assert [row.reference for row in selectors.officer_queue(user=city_officer)] == [
        second.reference,
        first.reference,
    ]


# --- Duplicates and merge -----------------------------------------------------------------


def test_requests_nearby_lists_open_verified_requests_nearest_first(
    committed, mailoutbox, city_officer
):
    close = submitted(committed, mailoutbox, contact="a@example.test", **near("0.0003"))
    closer = submitted(committed, mailoutbox, contact="b@example.test", **near("0.0001"))
    submitted(committed, mailoutbox, contact="c@example.test", **near("0.003"))  # ~330 m
    declined = submitted(committed, mailoutbox, contact="d@example.test", **near("0.0002"))
    services.request_decline(request=declined, actor=city_officer, reason="Covered.")
    submit(committed, contact="e@example.test", **near("0.0001"))  # unverified

    found = selectors.requests_nearby(**GAMBIR)

    assert [row["reference"] for row in found] == [closer.reference, close.reference]
    assert found[0]["distance_m"] == 10
    assert found[0]["lat"] == Decimal("-6.175")
    assert set(found[0]) == {
        "reference",
        "category",
        "category_label",
        "status",
        "status_label",
        "lat",
        "lon",
        "kelurahan_code",
        "kelurahan_name",
        "supports_count",
        "created",
        "distance_m",
    }
    assert len(selectors.requests_nearby(**GAMBIR, radius_m=400)) == 3


def test_request_merge_carries_supports_and_follows_over_once(committed, mailoutbox, city_officer):
    survivor = submitted(committed, mailoutbox, contact="first@example.test")
    duplicate = submitted(committed, mailoutbox, contact="second@example.test", **near("0.0002"))
    supporter(committed, mailoutbox, survivor, "both@example.test")
    supporter(committed, mailoutbox, duplicate, "both@example.test")
    supporter(committed, mailoutbox, duplicate, "only@example.test")
    supporter(committed, mailoutbox, duplicate, "first@example.test")  # survivor's requester
    supporter(committed, mailoutbox, duplicate, "pending@example.test", verify=False)
    pending_link = mailoutbox[-1]
    follower = verified_contact("follower@example.test")
    services.request_follow(request=duplicate, contact=follower, ip="1.2.3.4", language="en")
    mailoutbox.clear()

    committed(
        services.request_merge,
        request=duplicate,
        into=survivor,
        actor=city_officer,
        reason="Same corner.",
    )

    duplicate.refresh_from_db()
    survivor.refresh_from_db()
    assert duplicate.status == RequestStatus.MERGED
    assert duplicate.merged_into == survivor
    assert duplicate.closed_at is not None
    supporters = {
        services.contact_value(row.contact): row.verified_at is not None
        for row in survivor.supports.select_related("contact")
    }
    assert supporters == {
        "both@example.test": True,
        "only@example.test": True,
        "second@example.test": True,  # the duplicate's requester
        "pending@example.test": False,
    }
    assert survivor.supports_count == 3
    followers = {services.contact_value(row.contact) for row in survivor.follows.all()}
    assert followers == {"follower@example.test", "second@example.test"}
    # The duplicate's requester and followers hear where the request went.
    assert {message.to[0] for message in mailoutbox} == {
        "second@example.test",
        "follower@example.test",
    }
    assert survivor.reference in mailoutbox[0].body

    # A support confirmed after the merge counts for the survivor.
    confirm(committed, pending_link)
    survivor.refresh_from_db()
    assert survivor.supports_count == 4


def test_request_merge_refuses_itself_and_closed_targets(committed, mailoutbox, city_officer):
    one = submitted(committed, mailoutbox, contact="a@example.test")
    two = submitted(committed, mailoutbox, contact="b@example.test")
    with pytest.raises(ServiceError, match="itself"):
        services.request_merge(request=one, into=one, actor=city_officer)
    services.request_decline(request=two, actor=city_officer, reason="No.")
    with pytest.raises(ServiceError, match="open request"):
        services.request_merge(request=one, into=two, actor=city_officer)


# --- Counts -------------------------------------------------------------------------------


def test_request_counts_by_kelurahan(committed, mailoutbox, city_officer):
    one = submitted(committed, mailoutbox, contact="a@example.test")
    two = submitted(committed, mailoutbox, contact="b@example.test")
    submitted(committed, mailoutbox, contact="c@example.test", **TEBET)
    submit(committed, contact="d@example.test")  # unverified: not counted
    services.request_merge(request=two, into=one, actor=city_officer)

    counts = {row["code"]: row for row in selectors.request_counts_by_kelurahan()}
    assert counts["31.71.01.1001"]["total"] == 1
    assert counts["31.71.01.1001"]["open"] == 1
    assert counts["31.71.01.1001"]["supports"] == 1
    assert counts["31.74.01.1001"]["total"] == 1


# --- Privacy ------------------------------------------------------------------------------


def test_purge_erases_personal_data_a_year_after_closure(committed, mailoutbox, city_officer):
    old = submitted(committed, mailoutbox, contact="old@example.test", photo=jpeg())
    supporter(committed, mailoutbox, old, "fan@example.test")
    recent = submitted(committed, mailoutbox, contact="recent@example.test")
    services.request_decline(request=old, actor=city_officer, reason="Covered.")
    photo_name = Path(old.photo.name).name

    with time_machine.travel(timezone.now() + timedelta(days=200), tick=False):
        services.request_decline(request=recent, actor=city_officer, reason="Covered.")
        abandoned, _v = submit(committed, contact="ghost@example.test")
    assert photo_name in photo_files()

    later = timezone.now() + timedelta(days=settings.REQUEST_PURGE_AFTER_DAYS + 1)
    with time_machine.travel(later, tick=False):
        assert committed(services.requests_purge_personal_data) == 1
        assert committed(services.requests_purge_personal_data) == 0

    old.refresh_from_db()
    assert (old.contact, old.requester_name, old.photo.name) == (None, "", "")
    assert old.personal_data_purged_at is not None
    assert old.supports_count == 1  # the count stays, the people behind it go
    assert not old.supports.exists()
    assert photo_name not in photo_files()
    recent.refresh_from_db()
    assert recent.contact is not None
    assert not CoverageRequest.objects.filter(pk=abandoned.pk).exists()
    remaining = {services.contact_value(contact) for contact in ResidentContact.objects.all()}
    assert remaining == {"recent@example.test"}


def test_purge_drops_supports_never_confirmed_after_a_week(committed, mailoutbox):
    request = submitted(committed, mailoutbox)
    supporter(committed, mailoutbox, request, "ragu@example.test", verify=False)
    assert request.supports.filter(verified_at__isnull=True).count() == 1

    with time_machine.travel(timezone.now() + timedelta(days=3), tick=False):
        committed(services.requests_purge_personal_data)
    assert request.supports.count() == 1
    with time_machine.travel(
        timezone.now() + timedelta(days=services.UNVERIFIED_KEEP_DAYS + 1), tick=False
    ):
        committed(services.requests_purge_personal_data)
    assert not request.supports.exists()
    hashes = ResidentContact.objects.values_list("value_hash", flat=True)
    assert services.contact_hash("ragu@example.test") not in hashes


def test_purge_closes_installations_nobody_answered_about(committed, mailoutbox, city_officer):
    site = factories.make_active_site(factories.verified_partner())
    request = submitted(committed, mailoutbox)
    committed(services.request_start_review, request=request, actor=city_officer)
    committed(services.request_plan, request=request, actor=city_officer, site=site)

    days = services.UNANSWERED_INSTALLED_DAYS
    with time_machine.travel(timezone.now() + timedelta(days=days - 1), tick=False):
        committed(services.requests_purge_personal_data)
    request.refresh_from_db()
    assert request.status == RequestStatus.INSTALLED
    with time_machine.travel(timezone.now() + timedelta(days=days + 1), tick=False):
        committed(services.requests_purge_personal_data)
    request.refresh_from_db()
    assert request.status == RequestStatus.CONFIRMED
    assert request.closed_at is not None
    assert "taken as working" in request.status_changes.get(new_status="confirmed").reason


def test_resident_export_holds_everything_about_the_contact(committed, mailoutbox):
    own = submitted(committed, mailoutbox, contact="me@example.test")
    other = submitted(committed, mailoutbox, contact="other@example.test")
    supporter(committed, mailoutbox, other, "me@example.test")
    contact = ResidentContact.objects.get(value_hash=services.contact_hash("me@example.test"))

    data = services.resident_export(contact=contact)

    assert data["contact"]["value"] == "me@example.test"
    assert data["contact"]["name"] == "Siti Rahayu"
    [mine] = data["requests"]
    assert mine["reference"] == own.reference
    assert mine["description"] == DESCRIPTION
    assert [step["to"] for step in mine["history"]] == ["submitted"]
    assert [row["request"] for row in data["supports"]] == [other.reference]
    assert {row["purpose"] for row in data["verifications"]} == {"submit", "support"}
    for verification in contact.verifications.all():
        assert verification.token_hash not in str(data)


def test_resident_delete_anonymises_requests_and_withdraws_supports(committed, mailoutbox):
    own = submitted(committed, mailoutbox, contact="me@example.test", photo=jpeg())
    pending, _v = submit(committed, contact="me@example.test", **near("0.001"))
    other = submitted(committed, mailoutbox, contact="other@example.test")
    supporter(committed, mailoutbox, other, "me@example.test")
    assert other.supports_count == 1
    contact = ResidentContact.objects.get(value_hash=services.contact_hash("me@example.test"))
    photo_name = Path(own.photo.name).name

    committed(services.resident_delete, contact=contact)

    own.refresh_from_db()
    other.refresh_from_db()
    assert (own.contact, own.requester_name, own.photo.name) == (None, "", "")
    assert own.status == RequestStatus.SUBMITTED
    assert not CoverageRequest.objects.filter(pk=pending.pk).exists()
    assert other.supports_count == 0
    assert not ResidentContact.objects.filter(pk=contact.pk).exists()
    assert photo_name not in photo_files()


def test_resident_request_access_tells_nothing_about_unknown_addresses(committed, mailoutbox):
    committed(
        services.resident_request_access,
        contact_value="nobody@example.test",
        ip="1.2.3.4",
        language="en",
    )
    assert mailoutbox == []
    assert not ResidentContact.objects.exists()
    submitted(committed, mailoutbox, contact="me@example.test")
    mailoutbox.clear()
    committed(
        services.resident_request_access,
        contact_value="me@example.test",
        ip="1.2.3.4",
        language="en",
    )
    verification = confirm(committed, mailoutbox[-1])
    assert verification.purpose == "access"
    assert verification.request is None


def test_request_submit_does_not_rename_someone_elses_contact_until_confirmed(
    committed, mailoutbox
):
    submitted(committed, mailoutbox, name="Siti Rahayu")
    submit(committed, name="Prank Name", **near("0.001"))
    contact = ResidentContact.objects.get()
    assert contact.name == "Siti Rahayu"

    confirm(committed, mailoutbox[-1])
    contact.refresh_from_db()
    assert contact.name == "Prank Name"


def test_resumed_site_installs_the_requests_planned_on_it(committed, mailoutbox, city_officer):
    partner = factories.verified_partner()
    site = factories.make_active_site(partner)
    site_services.site_suspend(site=site, actor=city_officer, reason="Pole repairs.")
    request = submitted(committed, mailoutbox)
    services.request_start_review(request=request, actor=city_officer)
    services.request_plan(request=request, actor=city_officer, site=site)
    request.refresh_from_db()
    assert request.status == RequestStatus.PLANNED

    site_services.site_resume(site=site, actor=city_officer)

    request.refresh_from_db()
    assert request.status == RequestStatus.INSTALLED
    assert services.request_mark_installed_for_site(site_id=site.pk) == 0
