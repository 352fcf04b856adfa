"""The restic page: a repository the administrator's restic writes to shows its new snapshot
without a reload (event restic_snapshot), and the command line to paste."""

from __future__ import annotations

import hashlib
import uuid

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def test_a_new_snapshot_shows_without_a_reload(page, browser_server):
    repo = f"laptop-{uuid.uuid4().hex[:6]}"
    base = f"{browser_server.url}/restic/{repo}"
    headers = browser_server.headers
    assert requests.post(f"{base}/?create=true", headers=headers, timeout=30).ok
    page.goto("/restic")
    row = page.locator(f'tr[data-repository="{repo}"]')
    expect(row.locator('[data-field="last-snapshot"]')).to_have_text("never")
    expect(page.locator("#restic-live-status")).to_have_text("live")
    expect(page.get_by_text(f"/restic/{repo}/").first).to_be_visible()

    snapshot = b'{"time": "2026-12-07T12:00:00Z", "tree": "..."}'
    name = hashlib.sha256(snapshot).hexdigest()
    saved = requests.post(f"{base}/snapshots/{name}", data=snapshot, headers=headers, timeout=30)
    assert saved.ok, saved.text
    expect(row.locator('[data-field="last-snapshot"] time')).to_contain_text("UTC")
    screenshot(page, "restic-snapshot")
