"""Browser tests: Debian's Chromium, driven by Playwright, against the app under gunicorn.

One server and one browser serve the whole session; each test gets a fresh browser context (its
own cookies), signed in through the real login form. Every request, WebSocket and console message
of the context is recorded: a test fails when anything left 127.0.0.1 or a page logged an error.
Playwright's own browser download cannot work here: it drives /usr/bin/chromium
(scripts/install_peers installs it).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.live import LiveServer
from tests.peers.process import peer_missing

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
EMAIL, PASSWORD = "live@example.com", "live-password-123"  # the admin LiveServer.prepare makes
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
IN_PAGE = {"data", "blob", "about"}
# Stored remote the cloud test creates (the server is told its name at start).
S3_REMOTE = "browser-s3"
# Expect-waits: long enough for a loaded machine; they return as soon as the condition holds.
WAIT_MS = 20_000


@dataclass
class BrowserLog:
    """What a context's pages asked for and said: checked after every test."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # (path, status) of answers a test expects to fail, which Chromium reports as console errors
    expected_failures: set[tuple[str, int]] = field(default_factory=set)

    def expect_failure(self, path: str, status: int) -> None:
        self.expected_failures.add((path, status))

    def _expected(self, message) -> bool:
        found = re.match(r"Failed to load resource: .* status of (\d+)", message.text)
        url = message.location.get("url", "")
        return bool(found) and (urlsplit(url).path, int(found.group(1))) in self.expected_failures

    def _console(self, page, message) -> None:
        if message.type == "error" and not self._expected(message):
            self.errors.append(f"{page.url}: {message.text} ({message.location})")

    def foreign(self) -> list[str]:
        """Requests that left this machine (data: and blob: URLs never leave the page)."""
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme not in IN_PAGE and urlsplit(url).hostname not in LOCAL_HOSTS
        ]

    def problems(self) -> list[str]:
        found = [f"request outside 127.0.0.1: {url}" for url in self.foreign()]
        return found + [f"console error: {text}" for text in self.errors]

    def watch(self, page) -> None:
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("websocket", lambda socket: self.requests.append(socket.url))
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        page.on("console", lambda message: self._console(page, message))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """After a passing browser test, what its pages did must also pass: a failure of the test."""
    result = yield
    log = getattr(item, "funcargs", {}).get("browser_log")
    if isinstance(log, BrowserLog) and log.problems():
        pytest.fail("\n".join(log.problems()), pytrace=False)
    return result


@pytest.fixture(scope="session")
def browser_server(tmp_path_factory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("browser")
    sync_root = workdir / "sync-root"
    sync_root.mkdir()
    server = LiveServer(
        workdir,
        env={
            "SYNCAPP_SYNC_ALLOWED_ROOTS": str(sync_root),
            "SYNCAPP_SYNC_DISPATCH_INTERVAL": "0.2",
            "SYNCAPP_CLOUD_S3_REMOTE": S3_REMOTE,
            "SYNCAPP_CLOUD_FOLDER": "browser",
            "SYNCAPP_CLOUD_REPLICATION_INTERVAL": "0.5",
            # Every test signs in through the form; the production limit is for people.
            "SYNCAPP_SECURITY_LOGIN_RATE_LIMIT": "1000 per minute",
            # The alerts change only when a test evaluates them (`flask alerts evaluate`), never
            # under a test's feet from the leader's job.
            "SYNCAPP_ALERTS_INTERVAL": "86400",
        },
    )
    server.prepare()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sync_root(browser_server) -> Path:
    """The folder sync jobs of the browser server may read and write (sync.allowed_roots)."""
    return browser_server.workdir / "sync-root"


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if shutil.which(CHROMIUM) is None:
        peer_missing(f"{CHROMIUM} not found (scripts/install_peers installs Debian's chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        expect.set_options(timeout=WAIT_MS)
        yield browser
        browser.close()


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


def sign_in(page, email: str = EMAIL, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@contextmanager
def new_page(browser, server: LiveServer, log: BrowserLog | None = None, **options) -> Iterator:
    """A page in a context of its own (cookies included), recorded by `log` when given."""
    options.setdefault("viewport", {"width": 1280, "height": 900})
    context = browser.new_context(base_url=server.url, **options)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    if log is not None:
        log.watch(page)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def signed_in(browser, browser_server) -> dict:
    """The cookies of the administrator, signed in once through the login form: each test's
    context starts with them instead of paying for the form (and a password hash) again."""
    with new_page(browser, browser_server) as page:
        sign_in(page)
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        return page.context.storage_state()


@pytest.fixture
def anonymous_page(browser, browser_server, browser_log) -> Iterator:
    """A page without cookies, whose requests and console are recorded."""
    with new_page(browser, browser_server, browser_log) as page:
        yield page


@pytest.fixture
def page(browser, browser_server, browser_log, signed_in) -> Iterator:
    """A page signed in as the server's administrator, recorded like anonymous_page."""
    with new_page(browser, browser_server, browser_log, storage_state=signed_in) as page:
        yield page


def screenshot(page, name: str) -> Path:
    """Save the whole page as tests/artifacts/<name>.png (git-ignored) for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def stay_marker(page) -> None:
    """Mark the document: the mark survives everything but a navigation (or a reload)."""
    page.evaluate("window.__syncappStayed = true")


def stayed(page) -> bool:
    return page.evaluate("window.__syncappStayed === true")
