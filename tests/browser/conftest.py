"""Browser tests: Playwright drives Debian's Chromium against a live server of the portal.

Chromium comes from the distribution (`scripts/install-browser.sh`), never from Playwright's own
download: `playwright install` cannot reach its CDN here, and CI must test the browser the
project's scripts install. Without /usr/bin/chromium the tests skip on a developer's machine and
fail in CI (CI=true), where the scripts must have installed it.

Every page a test opens is photographed when the test ends, passed or failed, into
var/artifacts/screenshots/<test>.png (<test>-<who>.png for a second person's page), so CI keeps
what the browser last showed. A failed test also leaves the page's HTML beside its picture.
"""

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connections

from tests import factories

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "artifacts" / "screenshots"
# Generous: the machine has two cores and other suites may be running beside this one.
TIMEOUT_MS = 20_000
# A phone-sized window would hide the navigation; the 375 px layout has its own tests.
VIEWPORT = {"width": 1280, "height": 900}
# Chromium's own background traffic (updates, sync, Google lookups) has nowhere to go here.
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]

_REPORTS = pytest.StashKey[dict]()


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str, *, module: bool = False) -> None:
    """Skip on a developer's machine; in CI a missing browser is a broken pipeline, not a skip."""
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: run scripts/install-browser.sh first)", pytrace=False)
    pytest.skip(
        f"{reason}; run scripts/install-browser.sh to enable the browser tests",
        allow_module_level=module,
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Kept on the test so the page fixture knows at teardown whether the test failed.
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _failed(node) -> bool:
    reports = node.stash.get(_REPORTS, {})
    return any(report.failed for report in reports.values())


def _artifact_name(node, who: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", node.name).strip("_")
    return f"{name}-{who}" if who else name


@pytest.fixture(autouse=True)
def _need_chromium() -> None:
    """Autouse, so the verdict comes before the live server and the database are set up."""
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("the playwright package is not installed (requirements-dev.txt)")


@pytest.fixture
def browser(monkeypatch) -> Iterator:
    """Headless Chromium, one per test.

    Playwright's sync API keeps an asyncio loop running in this thread, which makes Django refuse
    ORM calls from the test ("async unsafe") although they are plain synchronous code. The flag
    that allows them lives only as long as this fixture, and so does the loop: the rest of the
    suite runs as before. Tests use `transactional_db` (the live server's thread must see their
    rows), so the second connection Django opens meanwhile commits like the first.
    """
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    expect.set_options(timeout=TIMEOUT_MS)
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        # While that loop runs, Django keeps this thread's database connections apart from the
        # ones it uses without a loop (asgiref's Local): close them now, or the one the test used
        # stays open and the test database cannot be dropped at the end of the run.
        connections.close_all()
        playwright.stop()


@pytest.fixture
def portal(live_server, areas_after_flush) -> str:
    """The live server's address, with the reference areas in its (flushed) database."""
    return live_server.url


@pytest.fixture
def open_page(browser, portal, request) -> Iterator[Callable]:
    """open_page(who="") -> a page in a fresh browser context: its own cookies, so each person
    of a journey has their own session. English, so the tests read the source strings."""
    opened: list[tuple[str, object]] = []
    origin = urlsplit(portal)

    def block_outside(route) -> None:
        # Map tiles and anything else off this server: the tests never touch the network.
        if urlsplit(route.request.url).netloc == origin.netloc:
            route.continue_()
        else:
            route.abort()

    def open_(who: str = ""):
        context = browser.new_context(base_url=portal, locale="en-GB", viewport=VIEWPORT)
        context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": portal}])
        context.route("**/*", block_outside)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        opened.append((who, page))
        return page

    yield open_

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    failed = _failed(request.node)
    for who, page in opened:
        name = _artifact_name(request.node, who)
        try:
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
            if failed:
                (SCREENSHOTS / f"{name}.html").write_text(page.content(), encoding="utf-8")
        finally:
            page.context.close()


@pytest.fixture
def page(open_page):
    return open_page()


@pytest.fixture
def snap(request) -> Callable:
    """snap(page, step): a picture of a step along the way, <test>--<step>.png."""

    def take(page, step: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = f"{_artifact_name(request.node, '')}--{step}"
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take


def sign_in(page, user) -> None:
    """Sign in through the login page, as a person would."""
    from playwright.sync_api import expect

    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", factories.PASSWORD)
    page.locator("main form[action$='/accounts/login/'] button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
