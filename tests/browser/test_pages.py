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
    "connect": "/connect",
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
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
# Functions, not expressions: Playwright re-evaluates an expression with eval() while it polls,
# which the pages' CSP (script-src 'self') refuses whenever the first check is false.
# What scrolls sideways: the page, a table's container (.table-wrap or whatever holds it), or a
# table that sticks out of the screen. Hidden tables (row templates, folded sections) measure 0.
OVERFLOWS = """() => {
  const problems = [];
  const doc = document.documentElement;
  const by = (wide, room) => " by " + Math.round(wide - room) + "px";
  const room = doc.clientWidth;
  if (doc.scrollWidth > room) problems.push("the page" + by(doc.scrollWidth, room));
  document.querySelectorAll("main table").forEach((table, index) => {
    if (!table.getClientRects().length) return;
    const name = table.id || (table.closest("[id]") || {}).id || "table " + index;
    const box = table.parentElement;
    if (box.scrollWidth > box.clientWidth + 1) {
      problems.push(name + "'s container" + by(box.scrollWidth, box.clientWidth));
    }
    const right = table.getBoundingClientRect().right;
    if (right > room + 1) problems.push(name + " sticks out" + by(right, room));
    // a control cut off by its cell or container (an Actions column clipped, issue 22 finding 3)
    const edge = Math.min(room, box.getBoundingClientRect().right);
    table.querySelectorAll("button, a, input, select").forEach((control) => {
      const rect = control.getBoundingClientRect();
      if (rect.width && rect.right > edge + 1) {
        problems.push(name + ": " + (control.textContent.trim() || control.tagName) + " clipped"
                      + by(rect.right, edge));
      }
    });
  });
  return problems;
}"""
FITS = "() => (" + OVERFLOWS + ")().length === 0"


def fits(page, name: str, width: str) -> None:
    """The page and each of its tables fit the screen's width (charts and the like re-lay
    themselves out a moment after a resize: the check waits for that)."""
    try:
        page.wait_for_function(FITS, timeout=5_000)
    except PlaywrightTimeout:
        pytest.fail(f"{name} at {width} scrolls sideways: {page.evaluate(OVERFLOWS)}")


@pytest.mark.parametrize("name", MAIN_PAGES)
def test_the_page_loads_cleanly_fits_both_widths_and_is_photographed(page, name):
    """finding 8 (and 3): every page at 1366 and 390 px: no horizontal scroll of the page or of
    a table, no control cut off (the sync jobs' Actions column at 1366 px); screenshots in
    tests/artifacts/."""
    page.set_viewport_size(DESKTOP)
    response = page.goto(MAIN_PAGES[name])
    assert response is not None and response.ok, response and response.status
    page.wait_for_load_state("networkidle")
    # The Swagger UI page has its own layout; the others share base.html's.
    expect(page.locator("h1, .swagger-ui .title").first).to_be_visible()
    live = page.locator('[id$="-live-status"]')
    if live.count():
        expect(live.first).to_have_text("live")
    try:
        fits(page, name, "1366 px")
    finally:
        screenshot(page, name)

    page.set_viewport_size(PHONE)
    try:
        fits(page, name, "390 px")
        # the main menu is one line (a button) until opened
        header = page.locator("header.topbar")
        assert header.bounding_box()["height"] < 80, header.bounding_box()
    finally:
        screenshot(page, f"{name}-phone")


def test_every_page_of_the_navigation_is_checked(page):
    """finding 8: every page the navigation links to is in the width check above."""
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
