"""Issue 22, findings 5 and 8 in Chromium: times in the browser's zone (Europe/Rome here),
relative with the absolute time on hover, live-inserted ones too; tables sorted and paged by
their header links and pager; rows stacked as cards and one "Menu" button on a phone; /docs
short and signed in; no stray `?` after signing in; one title per settings page; the settings
overview's state. Every page's width at 1366 and 390 px and its screenshots: test_pages.py."""

from __future__ import annotations

import io
import re
import tarfile
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import new_page, screenshot
from tests.browser.test_pages import MAIN_PAGES, PHONE

pytestmark = pytest.mark.browser
ROME = ZoneInfo("Europe/Rome")
# three documents of this module, told apart from the other tests' by their names
SEEDED = {"layout-a.pdf": 3000, "layout-b.pdf": 1000, "layout-c.pdf": 2000}


def tar_gz(files: dict[str, bytes]) -> bytes:
    """A real .tar.gz (the server checks the tar stream inside the gzip one)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def seeded(browser_server) -> None:
    listed = requests.get(
        f"{browser_server.url}/api/v1/documents?per_page=500",
        headers=browser_server.headers,
        timeout=30,
    ).json()["documents"]
    present = {d["filename"] for d in listed}
    for name, length in SEEDED.items():
        if name in present:
            continue
        sent = requests.post(
            f"{browser_server.url}/api/v1/documents",
            headers=browser_server.headers,
            files={"file": (name, b"%PDF-1.4 layout\n" + b"x" * (length - 16))},
            data={"type": "invoice", "date": "2024-02-29"},
            timeout=30,
        )
        assert sent.status_code == 201, sent.text
    # and an archive with a long name, for the backups table's phone layout
    name = "full_2025-06-01_08-00-00.tar.gz"
    sent = requests.post(
        f"{browser_server.url}/upload",
        headers=browser_server.headers,
        files={"file": (name, tar_gz({"notes.txt": b"layout\n" * 5000}))},
        data={"type": "FULL", "profile": "layout-laptop"},
        timeout=30,
    )
    assert sent.status_code in (201, 409), sent.text


@pytest.fixture
def rome_page(browser, browser_server, browser_log, signed_in):
    """A signed-in page whose browser lives in Rome."""
    with new_page(
        browser,
        browser_server,
        browser_log,
        storage_state=signed_in,
        timezone_id="Europe/Rome",
        locale="en-GB",
        viewport={"width": 1366, "height": 900},
    ) as page:
        yield page


def seeded_order(page) -> list[str]:
    names = page.locator('#documents-list tbody [data-field="file"]').all_inner_texts()
    return [name for name in names if name in SEEDED]


# --- times -----------------------------------------------------------------------------------


def test_times_render_in_the_browsers_zone_relative_with_the_absolute_time_on_hover(
    rome_page, browser_server
):
    """finding 5: times are relative in the browser's zone (Europe/Rome), the absolute local
    time on hover, live-inserted ones too."""
    page = rome_page
    created = requests.post(
        f"{browser_server.url}/api/v1/tokens",
        json={"name": "layout-zone"},
        headers=browser_server.headers,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    page.goto("/settings/tokens")
    row = page.locator("tr", has_text="layout-zone")
    shown = row.locator("time").first
    expect(shown).to_have_text(re.compile(r"^(just now|\d+ min ago)$"))
    moment = datetime.fromisoformat(shown.get_attribute("datetime").replace("Z", "+00:00"))
    in_rome = moment.astimezone(ROME).strftime("%Y-%m-%d %H:%M:%S %Z")  # e.g. "... 13:18:21 CET"
    expect(shown).to_have_attribute("title", in_rome)

    # known moments, summer and winter: Rome's offset, not UTC's clock
    absolute = page.evaluate(
        """() => [window.syncappTime.absolute(new Date("2026-07-01T10:00:00Z")),
                  window.syncappTime.absolute(new Date("2026-01-15T10:00:00Z"))]"""
    )
    assert absolute == ["2026-07-01 12:00:00 CEST", "2026-01-15 11:00:00 CET"]
    relative = page.evaluate(
        """() => { const now = Date.now();
                   return [window.syncappTime.relative(new Date(now - 2 * 3600 * 1000), now),
                           window.syncappTime.relative(new Date(now - 5 * 60 * 1000), now),
                           window.syncappTime.relative(new Date(now + 3 * 86400 * 1000), now)]; }"""
    )
    assert relative == ["2 h ago", "5 min ago", "in 3 d"]

    # a time a live event inserts later is formatted as it arrives
    page.evaluate(
        """() => { const node = document.createElement("time");
                   node.id = "layout-live-time";
                   node.dateTime = new Date(Date.now() - 2 * 3600 * 1000).toISOString();
                   node.textContent = "as the server wrote it UTC";
                   document.querySelector("main").appendChild(node); }"""
    )
    expect(page.locator("#layout-live-time")).to_have_text("2 h ago")
    expect(page.locator("#layout-live-time")).to_have_attribute("title", re.compile(r" CES?T$"))


@pytest.mark.parametrize("name", [name for name in MAIN_PAGES if name != "api-docs"])
def test_no_page_shows_a_utc_or_raw_iso_time(rome_page, seeded, name):
    """finding 5: no page prints a UTC or raw ISO time, nor "259 Bytes" beside "KiB"."""
    page = rome_page
    page.goto(MAIN_PAGES[name])
    page.wait_for_load_state("networkidle")
    unformatted = page.evaluate(
        """() => Array.from(document.querySelectorAll("time[datetime]"))
                 .filter(t => / UTC$/.test(t.textContent.trim())).map(t => t.outerHTML)"""
    )
    assert unformatted == []
    text = page.locator("main").inner_text()
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text), "a raw ISO time stamp"
    assert not re.search(r"\d Bytes?\b", text), "sizes are printed B, KiB, MiB..."


# --- sorting and paging ------------------------------------------------------------------------


def test_a_sortable_header_changes_the_order(page, seeded):
    """finding 5: a table's header sorts it on the server, both ways."""
    page.goto("/documents?per_page=500")
    header = page.locator('th[data-sort="file"]')
    expect(header).to_have_attribute("aria-sort", "none")

    header.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"sort=file&order=asc"))
    expect(page.locator('th[data-sort="file"]')).to_have_attribute("aria-sort", "ascending")
    assert seeded_order(page) == ["layout-a.pdf", "layout-b.pdf", "layout-c.pdf"]

    page.locator('th[data-sort="file"]').get_by_role("link").click()
    expect(page.locator('th[data-sort="file"]')).to_have_attribute("aria-sort", "descending")
    assert seeded_order(page) == ["layout-c.pdf", "layout-b.pdf", "layout-a.pdf"]

    page.locator('th[data-sort="size"]').get_by_role("link").click()
    expect(page.locator('th[data-sort="size"]')).to_have_attribute("aria-sort", "ascending")
    assert seeded_order(page) == ["layout-b.pdf", "layout-c.pdf", "layout-a.pdf"]


def test_the_pager_pages_through_a_long_table(page, seeded):
    """finding 5: a long table is paged on the server: page 2 shows other rows."""
    page.goto("/documents?sort=file&per_page=2")
    rows = page.locator("#documents-list tbody tr")
    expect(rows).to_have_count(2)
    first = rows.locator('[data-field="file"]').all_inner_texts()
    pager = page.get_by_role("navigation", name="Pages of documents")
    expect(pager).to_contain_text("1\u20132 of")
    expect(pager.locator('[aria-current="page"]')).to_have_text("1")

    pager.get_by_role("link", name="Next").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(page.get_by_role("navigation", name="Pages of documents")).to_contain_text(
        re.compile("3\u2013[34] of")
    )
    second = page.locator('#documents-list tbody [data-field="file"]').all_inner_texts()
    assert second and not set(first) & set(second)
    screenshot(page, "documents-page-2")


# --- phones --------------------------------------------------------------------------------------


def test_on_a_phone_the_menu_is_one_button_and_rows_are_cards(page, seeded):
    """finding 8: on a phone the navigation is one "Menu" button, not three lines, and rows
    stack as cards."""
    page.set_viewport_size(PHONE)
    page.goto("/documents?sort=file&per_page=5")
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#main-nav").get_by_role("link", name="Backups")).to_be_hidden()
    assert page.locator("header.topbar").bounding_box()["height"] < 80

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#main-nav").get_by_role("link", name="Backups")).to_be_visible()
    screenshot(page, "menu-open-phone")
    menu.click()
    expect(page.locator("#main-nav").get_by_role("link", name="Backups")).to_be_hidden()

    cell = page.locator('#documents-list tbody td:has([data-field="file"])').first
    expect(cell).to_have_attribute("data-label", "File")
    label = cell.evaluate("td => getComputedStyle(td, '::before').content")
    assert label == '"File"'
    # one cell per line: the row is as wide as its table
    widths = cell.evaluate(
        "td => [td, td.closest('table')].map(node => node.getBoundingClientRect().width)"
    )
    assert abs(widths[0] - widths[1]) < 2, widths


def test_on_a_desktop_the_menu_is_the_links(page):
    """finding 8: on a desktop the navigation stays the links (no Menu button)."""
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/")
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(page.locator("#main-nav").get_by_role("link", name="Backups")).to_be_visible()


# --- the smaller findings (8) ---------------------------------------------------------------------


def test_the_api_page_is_short_and_uses_the_session(page):
    """finding 8: /docs is short (was 14,596 px) and calls the API with the session, asking for
    no token."""
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/docs")
    expect(page.locator(".swagger-ui .opblock-tag").first).to_be_visible()
    height = page.evaluate("() => document.documentElement.scrollHeight")
    assert height < 5000, height
    expect(page.locator(".lede")).to_contain_text("with your session")
    # a call from the page goes as the signed-in user, without a token
    answer = page.evaluate(
        """async () => {
             const csrf = document.querySelector('meta[name="csrf-token"]').content;
             const reply = await fetch("/api/v1/tokens", {credentials: "same-origin",
               headers: {Accept: "application/json", "X-CSRFToken": csrf}});
             return reply.status; }"""
    )
    assert answer == 200


def test_signing_in_leads_back_without_a_stray_question_mark(anonymous_page):
    """finding 8: the login redirect carries no stray "?"."""
    page = anonymous_page
    page.goto("/settings")
    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)settings$"))


def test_settings_titles_and_the_overviews_state(page):
    """finding 8: one "Settings" in the tab's title; the settings overview shows each part's
    state."""
    page.goto("/settings")
    expect(page).to_have_title("Settings · syncapp")
    expect(page.locator('[data-state="tokens"]')).to_contain_text(re.compile(r"\d+ active token"))
    expect(page.locator('[data-state="nas"]')).to_contain_text(re.compile(r"ready|not"))
    expect(page.locator('[data-state="targets"]')).to_be_visible()
    expect(page.locator('[data-state="remotes"]')).to_contain_text(re.compile(r"\d+ remote"))
    page.goto("/settings/tokens")
    expect(page).to_have_title("API tokens · Settings · syncapp")
