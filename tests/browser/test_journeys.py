"""The portal's main journeys, in a real browser: a resident asks for a camera on the map, a
business applies to host cameras, officers approve it (four eyes), and an operator watches a
camera go down.

Everything happens through the pages, with clicks and typing; the database is touched only to
set the scene (people, partners) and, for the camera, through the health sweep's own code.
"""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from contracts import services as contract_services
from contracts.models import ApplicationStatus, HostingApplication
from portal.roles import Role
from sites import heartbeat_services
from sites.health import sweeps
from sites.models import (
    CameraHealth,
    CameraHeartbeatKey,
    CameraStatusChange,
    CoverageRequest,
    HealthSweep,
    Outage,
    SweepBatch,
)
from tests import factories
from tests.browser.conftest import sign_in, skip_or_fail

try:
    from playwright.sync_api import expect
except ImportError:  # the conftest's verdict: skip here, fail in CI
    skip_or_fail("the playwright package is not installed (requirements-dev.txt)", module=True)

pytestmark = pytest.mark.browser

VERIFY_LINK = re.compile(r"https?://[^/\s]+(/requests/verify/[^/\s]+/)")


def pin_on_map(page) -> None:
    """Click the middle of the pin map (it opens on central Jakarta) and wait for the pin."""
    canvas = page.locator("#map-pin .map-pin-canvas.leaflet-container")
    expect(canvas).to_be_visible()
    canvas.click()
    expect(page.locator("#map-pin .leaflet-marker-icon")).to_be_visible()
    expect(page.locator("#id_lat")).to_have_value(re.compile(r"^-6\.\d+$"))
    expect(page.locator("#id_lon")).to_have_value(re.compile(r"^106\.\d+$"))


# --- a resident asks for a camera ----------------------------------------------------------------


def test_resident_submits_a_request_on_the_map_and_confirms_by_email(page, snap):
    page.goto("/requests/new/")
    expect(page.get_by_role("heading", name="Request a camera")).to_be_visible()

    pin_on_map(page)
    # The duplicates lookup answers only for a point inside Jakarta: nobody asked here yet.
    expect(page.locator("#request-nearby .request-nearby-status")).to_contain_text(
        "Yours will be the first"
    )
    page.locator("input[name=category][value=theft]").check()
    page.fill("#id_description", "Motorbikes stolen at night behind the market.")
    page.fill("#id_contact", "warga@example.test")
    page.locator("#id_consent").check()
    snap(page, "form-filled")
    page.get_by_role("button", name="Send the request").click()

    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    expect(page.locator("main")).to_contain_text("warga@example.test")
    coverage = CoverageRequest.objects.get()
    assert coverage.status == "unverified"

    # The live server runs in this process, so its email lands in the same locmem outbox.
    [message] = [m for m in mail.outbox if "warga@example.test" in m.to]
    link = VERIFY_LINK.search(message.body)
    assert link, message.body
    page.goto(link.group(1))
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("heading", name="Thank you: your request is sent")).to_be_visible()
    expect(page.locator("main strong")).to_have_text(coverage.reference)
    page.get_by_role("link", name="Track the request").click()
    expect(page).to_have_url(re.compile(rf"/requests/{re.escape(coverage.reference)}/"))
    expect(page.locator("main")).to_contain_text(coverage.reference)
    coverage.refresh_from_db()
    assert coverage.status == "submitted"


# --- a business applies, officers approve --------------------------------------------------------


def test_business_applies_to_host_cameras_with_a_site_on_the_map(page, snap):
    member = factories.UserFactory()
    partner = factories.verified_partner(member, name="PT Toko Maju Jaya")
    sign_in(page, member)

    page.goto("/applications/new/")
    expect(page.get_by_role("heading", name="Apply to host cameras")).to_be_visible()
    page.locator("#id_applicant").select_option(str(partner.pk))
    page.fill("#id_title", "Kamera di depan Toko Maju")
    page.fill("#id_cofunding_cash", "25000000")
    page.fill("#id_maintenance_commitment", "Our technician repairs within 48 hours.")
    page.get_by_role("button", name="Save draft").click()

    expect(page.locator("h1 .badge")).to_have_text("Draft")
    application = HostingApplication.objects.get(applicant=partner)

    pin_on_map(page)
    # The kelurahan under the pin is named below the map: the point is inside Jakarta.
    expect(page.locator("#map-pin .map-pin-area")).to_contain_text("Jakarta")
    page.fill("#id_address", "Jl. Pasar Baru No. 12")
    page.locator("#id_host_kind").select_option("building")
    page.fill("#id_cameras_planned", "2")
    snap(page, "site-pinned")
    page.get_by_role("button", name="Add site").click()

    expect(page.locator("#sites table")).to_contain_text("Jl. Pasar Baru No. 12")
    page.get_by_role("button", name="Submit to Kominfotik").click()

    expect(page.locator("h1 .badge")).to_have_text("Submitted")
    expect(page.locator("main .messages")).to_contain_text("Kominfotik will review it")
    application.refresh_from_db()
    assert application.status == ApplicationStatus.SUBMITTED
    assert application.candidate_sites.get().cameras_planned == 2


def test_officers_review_and_a_second_officer_approves(open_page, snap):
    applicant = factories.verified_partner(name="PT Warung Sejahtera")
    application = factories.make_application(applicant, title="Kamera Warung Sejahtera")
    contract_services.application_submit(application=application, actor=applicant.created_by)
    reviewer = factories.officer(Role.OFFICER_REVIEWER)
    approver = factories.officer(Role.OFFICER_APPROVER)

    review = open_page("reviewer")
    sign_in(review, reviewer)
    review.goto("/review/")
    review.get_by_role("link", name="Kamera Warung Sejahtera").click()
    expect(review.locator("h1 .badge")).to_have_text("Submitted")
    review.get_by_role("button", name="Start technical review").click()
    expect(review.locator("h1 .badge")).to_have_text("Technical review")
    review.fill("#id_comment", "Site survey done; mounting height is fine.")
    review.get_by_role("button", name="Finish technical review").click()
    expect(review.locator("h1 .badge")).to_have_text("Legal review")
    snap(review, "reviewed")

    approve = open_page("approver")
    sign_in(approve, approver)
    approve.goto(f"/applications/{application.pk}/")
    expect(approve.locator("h1 .badge")).to_have_text("Legal review")
    approve.get_by_role("button", name="Approve").click()

    expect(approve.locator("h1 .badge")).to_have_text("Approved")
    expect(approve.locator("#history")).to_contain_text("Site survey done")
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED
    assert application.technical_reviewer == reviewer
    # The reviewer's page, reloaded, shows the outcome too.
    review.reload()
    expect(review.locator("h1 .badge")).to_have_text("Approved")


def test_the_reviewer_cannot_approve_their_own_review(open_page):
    applicant = factories.verified_partner()
    application = factories.make_application(applicant, title="Kamera Gang Mawar")
    contract_services.application_submit(application=application, actor=applicant.created_by)
    # An approver may review too, but then someone else must approve.
    approver = factories.officer(Role.OFFICER_APPROVER)
    contract_services.application_start_review(application=application, actor=approver)
    contract_services.application_finish_technical_review(application=application, actor=approver)

    page = open_page()
    sign_in(page, approver)
    page.goto(f"/applications/{application.pk}/")
    page.get_by_role("button", name="Approve").click()

    expect(page.locator("main .messages")).to_contain_text("Four-eyes rule")
    expect(page.locator("h1 .badge")).to_have_text("Legal review")


# --- an operator watches a camera go down --------------------------------------------------------


def _sweep() -> None:
    """One health sweep, batch by batch, as the beat task and its workers run it."""
    sweep = sweeps.start_sweep()
    assert sweep is not None
    for number in SweepBatch.objects.filter(sweep=sweep).values_list("number", flat=True):
        sweeps.run_batch(sweep.pk, number)
    assert HealthSweep.objects.get(pk=sweep.pk).status == "finished"


@pytest.fixture
def push_camera():
    """A camera behind NAT that pushes heartbeats: the sweep judges it without any network."""
    host = factories.verified_partner(name="PT Kamera Pasar")
    site = factories.make_active_site(host, cameras=1)
    camera = site.cameras.get()
    issued = heartbeat_services.heartbeat_key_issue(camera=camera, actor=host.created_by)
    heartbeat_services.heartbeat_record(key=issued.key, status="up")
    _sweep()
    assert CameraHealth.objects.get(camera=camera).status == "up"
    return camera


def _falls_silent(camera) -> None:
    """The camera's last heartbeat is older than the timeout; sweeps run until damping says down."""
    silent_since = timezone.now() - timedelta(seconds=settings.HEALTH_HEARTBEAT_TIMEOUT + 60)
    CameraHeartbeatKey.objects.filter(camera=camera).update(last_heartbeat_at=silent_since)
    for _ in range(settings.HEALTH_DOWN_AFTER):
        _sweep()
    assert CameraHealth.objects.get(camera=camera).status == "down"
    assert Outage.objects.filter(camera=camera, ended_at__isnull=True).exists()


@pytest.fixture
def operator(page):
    """An operator of the NOC, signed in."""
    user = factories.UserFactory(roles=[Role.OPERATOR])
    sign_in(page, user)
    return user


def test_operator_view_shows_a_camera_going_down_without_reload(page, operator, push_camera, snap):
    # The page's poll runs on a timer; Playwright's clock moves it on instead of a sleep.
    page.clock.install()
    page.goto("/operator/")
    totals = page.locator("#live-totals")
    expect(totals.locator("[data-status=up]")).to_have_text("1")
    expect(totals.locator("[data-status=down]")).to_have_text("0")
    snap(page, "before")
    # A mark on this document: a reload would wipe it.
    page.evaluate("window.stillTheSamePage = true")

    _falls_silent(push_camera)
    interval = int(page.locator("#operator-live").get_attribute("data-interval"))
    with page.expect_response(lambda response: "/operator/live.json" in response.url) as polled:
        page.clock.run_for(interval * 1000 + 1000)
    assert polled.value.ok

    expect(totals.locator("[data-status=down]")).to_have_text("1")
    expect(totals.locator("[data-status=up]")).to_have_text("0")
    change = page.locator("#live-changes tbody tr").first
    expect(change).to_contain_text("PT Kamera Pasar")
    expect(change).to_contain_text("no_heartbeat")
    expect(change.locator(".badge.health-down")).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True
    assert CameraStatusChange.objects.filter(camera=push_camera, new_status="down").count() == 1


def test_fleet_page_shows_a_camera_down_after_a_reload(page, operator, push_camera):
    page.goto("/health/")
    totals = page.locator("#fleet-totals")
    expect(totals.locator("[data-status=up]")).to_have_text("1")
    expect(totals.locator("[data-status=down]")).to_have_text("0")

    _falls_silent(push_camera)
    page.reload()

    expect(totals.locator("[data-status=down]")).to_have_text("1")
    expect(totals.locator("[data-status=up]")).to_have_text("0")
    change = page.locator("#recent-changes tbody tr").first
    expect(change).to_contain_text("up → down")
    expect(change).to_contain_text("no_heartbeat")
    expect(change).to_contain_text("PT Kamera Pasar")
