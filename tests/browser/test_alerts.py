"""The health banner: red on every page while an alert the viewer may see fires, its link leads
to the alert and its history, and it goes away once the alert resolves (CSP and console checked
by conftest.py)."""

from __future__ import annotations

import gzip
from datetime import timedelta

import pytest
import requests
from playwright.sync_api import expect

from syncapp.timeutil import isoformat, utcnow
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser
PHONE = {"width": 375, "height": 812}
FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"


def test_the_banner_names_a_firing_alert_on_every_page_until_it_resolves(page, browser_server):
    """finding 1: health is visible: a banner on every page names the firing alert (the cause)
    and goes when it resolves."""
    sent = requests.post(
        f"{browser_server.url}/upload",
        headers=browser_server.headers,
        files={"file": ("full_2025-05-01_08-00-00.tar.gz", gzip.compress(b"alerts\n" * 100))},
        data={"type": "FULL", "profile": "browser-alerts"},
        timeout=30,
    )
    assert sent.status_code == 201, sent.text
    # the browser server is shared with other test files: alerts of theirs may fire already
    before = firing_count(page)
    # the clock the test drives: a day and 3 hours later, the profile is late
    later = isoformat(utcnow() + timedelta(hours=27))
    try:
        fired = browser_server.flask("alerts", "evaluate", "--at", later)
        assert "firing backup_rhythm:" in fired and ":browser-alerts:ANY" in fired, fired
        for path in ("/", "/backups", "/cordiax", "/settings"):
            page.goto(path)
            expect(page.locator("#health-banner")).to_contain_text("firing")
        page.goto("/alerts")
        row = page.locator(
            '#alerts-firing tr[data-kind="backup_rhythm"]', has_text="browser-alerts"
        )
        expect(row).to_have_count(1)
        screenshot(page, "alerts-firing")
        row.locator("a").first.click()
        expect(page.locator("h1")).to_contain_text("browser-alerts")
        expect(page.locator('#alert-history tr[data-state="firing"]')).to_have_count(1)
        page.set_viewport_size(PHONE)
        page.wait_for_function(FITS, timeout=5_000)
        screenshot(page, "alert-phone")
    finally:
        browser_server.flask("alerts", "evaluate")  # now: every archive is on time again
    page.goto("/alerts")
    expect(row).to_have_count(0)
    # Other alerts the late clock fired may stand now (the shared server's scheduler can be
    # idle long enough for "no leader"): the banner no longer counts or names this one.
    assert firing_count(page) <= before or "browser-alerts" not in banner_text(page)


def firing_count(page) -> int:
    """How many alerts the banner says fire on /backups (0 without a banner)."""
    page.goto("/backups")
    banner = page.locator("#health-banner")
    return int(banner.get_attribute("data-firing")) if banner.count() else 0


def banner_text(page) -> str:
    page.goto("/backups")
    banner = page.locator("#health-banner")
    return banner.inner_text() if banner.count() else ""
