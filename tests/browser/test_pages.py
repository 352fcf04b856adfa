"""Every main page, as a signed-in administrator sees it: it loads, nothing comes from outside
127.0.0.1 and nothing is logged as an error (the checks of conftest.py), its live badge connects,
it fits a phone's width, and a screenshot of it lands in tests/artifacts/ for people to look at.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

# name of the screenshot -> path. A new page goes here (a test below fails until it does).
MAIN_PAGES = {
    "dashboard": "/",
    "backups": "/backups",
    "cordiax": "/cordiax",
    "documents": "/documents",
    "syncs": "/syncs",
    "cloud": "/cloud",
    "restic": "/restic",
    "scrub": "/scrub",
    "alerts": "/alerts",
    "api-docs": "/docs",
    "settings": "/settings",
    "settings-remotes": "/settings/remotes",
    "settings-tokens": "/settings/tokens",
    "settings-users": "/settings/users",
    "settings-pollers": "/settings/pollers",
    "settings-nas": "/settings/nas",
    "settings-notifications": "/settings/notifications",
}
PHONE = {"width": 375, "height": 812}
# A function, not an expression: Playwright re-evaluates an expression with eval() while it
# polls, which the pages' CSP (script-src 'self') refuses whenever the first check is false.
FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"


@pytest.mark.parametrize("name", MAIN_PAGES)
def test_the_page_loads_cleanly_and_is_photographed(page, name):
    response = page.goto(MAIN_PAGES[name])
    assert response is not None and response.ok, response and response.status
    page.wait_for_load_state("networkidle")
    # The Swagger UI page has its own layout; the others share base.html's.
    expect(page.locator("h1, .swagger-ui .title").first).to_be_visible()
    live = page.locator('[id$="-live-status"]')
    if live.count():
        expect(live.first).to_have_text("live")
    screenshot(page, name)

    page.set_viewport_size(PHONE)
    # Charts and the like re-lay themselves out a moment after the resize: wait for that.
    try:
        page.wait_for_function(FITS, timeout=5_000)
    except PlaywrightTimeout:
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        pytest.fail(f"{name} is {overflow}px wider than a phone's screen")
    finally:
        screenshot(page, f"{name}-phone")


def test_every_page_of_the_navigation_is_checked(page):
    page.goto("/")
    links = page.locator("header nav a").evaluate_all("links => links.map(a => a.href)")
    paths = {urlsplit(link).path for link in links}
    assert paths and paths <= {*MAIN_PAGES.values(), "/dashboard"}, paths - {*MAIN_PAGES.values()}


def test_redoc_renders_the_api_reference_from_local_files(page):
    # seed 000's /redoc: ReDoc draws the OpenAPI document; the conftest checks fail the test on
    # a CSP violation (a console error) or on any request leaving 127.0.0.1 (a CDN).
    response = page.goto("/redoc")
    assert response is not None and response.ok, response and response.status
    expect(page.locator("h1").first).to_contain_text("syncapp", timeout=30_000)
    expect(page.get_by_text("Service health").first).to_be_attached()  # a tag of the API
    screenshot(page, "api-redoc")
