"""Uploading a backup from the Backups page: a real progress bar, then the new row, no reload."""

from __future__ import annotations

import gzip
import hashlib
import random

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import screenshot, stay_marker, stayed

pytestmark = pytest.mark.browser

MiB = 1024 * 1024
# Every value the progress bar takes, in order (upload.js sets its `value`, which is reflected
# in the attribute).
RECORD_PROGRESS = """() => {
  const bar = document.getElementById("backup-progress");
  window.__progress = [];
  new MutationObserver(() => window.__progress.push(Number(bar.value)))
    .observe(bar, {attributes: true, attributeFilter: ["value"]});
}"""


def test_an_upload_shows_its_progress_then_its_row_without_a_reload(page, browser_server, tmp_path):
    """finding 4: a backup upload from the page shows its progress, then its row without a
    reload."""
    archive = tmp_path / "full_2025-03-01_10-00-00.tar.gz"
    archive.write_bytes(gzip.compress(random.Random(9).randbytes(4 * MiB), compresslevel=1))
    page.goto("/backups")
    stay_marker(page)
    page.evaluate(RECORD_PROGRESS)

    page.get_by_label("Archive (.tar.gz)").set_input_files(archive)
    page.get_by_label("Type").select_option("FULL")
    page.get_by_label("Profile").fill("browser-laptop")
    page.get_by_role("button", name="Upload").click()

    progress = page.locator("#backup-progress")
    expect(progress).to_be_visible()
    expect(progress).to_have_attribute("value", "100")
    expect(page.locator("#backup-status")).to_have_text("Backup uploaded successfully")
    section = page.locator('section[data-profile="browser-laptop"]')
    row = section.locator(f'tr[data-archive="{archive.name}"]')
    expect(row).to_be_visible()
    expect(row.locator('[data-field="type"]')).to_have_text("FULL")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    expect(row.locator('[data-field="md5"]')).to_have_attribute("title", md5)
    expect(page.get_by_role("heading", name="No backups yet")).to_be_hidden()
    assert stayed(page), "the page was reloaded"
    seen = page.evaluate("window.__progress")
    assert seen[0] == 0 and seen[-1] == 100 and seen == sorted(seen), seen
    stored = requests.get(
        f"{browser_server.url}/list?profile=browser-laptop",
        headers=browser_server.headers,
        timeout=10,
    ).json()["backups"]["FULL"]
    assert [(item["name"], item["md5"]) for item in stored] == [(archive.name, md5)]
    screenshot(page, "backups-after-upload")


def test_an_archive_a_script_sends_appears_on_the_open_page(page, browser_server):
    name = "full_2025-04-01_08-00-00.tar.gz"
    data = gzip.compress(b"a script's archive\n" * 1000)
    page.goto("/backups")
    # Events published before the page's socket joined would not reach it.
    expect(page.locator("#backups-live-status")).to_have_text("live")
    stay_marker(page)

    sent = requests.post(
        f"{browser_server.url}/upload",
        headers=browser_server.headers,
        files={"file": (name, data)},
        data={"type": "FULL", "profile": "browser-script"},
        timeout=30,
    )

    assert sent.status_code == 201, sent.text
    row = page.locator(f'section[data-profile="browser-script"] tr[data-archive="{name}"]')
    expect(row.locator('[data-field="md5"]')).to_have_attribute(
        "title", hashlib.md5(data).hexdigest()
    )
    expect(row.locator('[data-field="chain"]')).to_have_text("base")
    assert stayed(page), "the page was reloaded"


def test_an_administrators_page_shows_another_users_upload_under_its_owner(page, browser_server):
    """Every user's backups are their own: the administrator's page puts another user's archive
    in a section naming that user, with a download link that names the owner."""
    import uuid

    email = f"browser-{uuid.uuid4().hex[:8]}@example.com"
    token = browser_server.add_user(email, "browser-pass-123")
    owner_id = requests.post(
        f"{browser_server.url}/auth/login",
        json={"email": email, "password": "browser-pass-123"},
        timeout=10,
    ).json()["user_id"]
    name = "full_2025-05-01_08-00-00.tar.gz"
    page.goto("/backups")
    expect(page.locator("#backups-live-status")).to_have_text("live")
    stay_marker(page)

    sent = requests.post(
        f"{browser_server.url}/upload",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": (name, gzip.compress(b"another user's archive\n" * 500))},
        data={"type": "FULL", "profile": "browser-other"},
        timeout=30,
    )

    assert sent.status_code == 201, sent.text
    section = page.locator(f'section[data-profile="browser-other"][data-owner="{owner_id}"]')
    expect(section.locator("h2")).to_contain_text(email)
    link = section.locator(f'tr[data-archive="{name}"] [data-field="name"]')
    # the profile too: names are unique per profile, and two profiles may hold this one
    href = f"/download/FULL/{name}?profile=browser-other&owner={owner_id}"
    expect(link).to_have_attribute("href", href)
    assert stayed(page), "the page was reloaded"
    page.reload()
    expect(section.locator(f'tr[data-archive="{name}"]')).to_be_visible()
    expect(link).to_have_attribute("href", href)  # the server's page says the same
