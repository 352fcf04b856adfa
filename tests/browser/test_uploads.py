"""Issue 22, finding 4: an upload shows its percentage, bytes, rate and time left, its button is
disabled while it runs, and a refusal shows an error state and the server's message as an alert.

The upload is slowed with Chromium's own network emulation (CDP), not with sleeps: the progress
is then observable on any machine."""

from __future__ import annotations

import gzip
import random
import re

import pytest
import requests
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

KiB = 1024


def throttle_uploads(page, bytes_per_second: int) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_second,
        },
    )


def test_an_upload_shows_percentage_bytes_rate_and_time_left_with_its_button_disabled(
    page, browser_server, tmp_path
):
    """finding 4: an upload shows its percentage, bytes, rate and time left; its button is
    disabled until it ends."""
    archive = tmp_path / "full_2025-05-01_10-00-00.tar.gz"
    archive.write_bytes(gzip.compress(random.Random(5).randbytes(1024 * KiB), compresslevel=1))
    page.goto("/backups")
    expect(page.get_by_label("Profile")).to_have_value("")  # no "unknown" default
    throttle_uploads(page, 256 * KiB)  # about 4 s for the archive

    page.get_by_label("Archive (.tar.gz)").set_input_files(archive)
    page.get_by_label("Profile").fill("browser-progress")
    button = page.locator("#backup-upload").get_by_role("button", name="Upload")
    button.click()

    expect(button).to_be_disabled()
    detail = page.locator("#backup-detail")
    expect(detail).to_have_text(
        re.compile(r"^[1-9]\d? % · [\d.]+ (KiB|MiB|B) of 1\.0 MiB · [\d.]+ \w+/s · .+ left$")
    )
    expect(page.locator("#backup-status")).to_have_text("Backup uploaded successfully")
    expect(button).to_be_enabled()
    expect(page.locator("#backup-progress")).to_have_attribute("value", "100")
    expect(page.locator("#backup-error")).to_be_hidden()
    stored = requests.get(
        f"{browser_server.url}/list?profile=browser-progress",
        headers=browser_server.headers,
        timeout=10,
    ).json()["backups"]["FULL"]
    assert [item["name"] for item in stored] == [archive.name]


def test_a_refused_upload_shows_the_error_state_and_the_servers_message(
    page, browser_log, tmp_path
):
    """finding 4: a refused upload's bar turns to an error state with the server's message, not
    plain text under a full blue bar."""
    archive = tmp_path / "full_2025-05-02_10-00-00.tar.gz"
    archive.write_bytes(gzip.compress(b"refused\n" * 100))
    browser_log.expect_failure("/upload", 400)
    page.goto("/backups")

    page.get_by_label("Archive (.tar.gz)").set_input_files(archive)
    page.get_by_label("Profile").fill("bad profile!")  # no pattern in the page: the server says
    page.locator("#backup-upload").get_by_role("button", name="Upload").click()

    alert = page.locator("#backup-upload").get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("Invalid profile 'bad profile!'")
    progress = page.locator("#backup-progress")
    expect(progress).to_have_class(re.compile(r"\bupload-failed\b"))
    expect(progress).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#backup-status")).to_have_text("")
    expect(page.locator("#backup-upload").get_by_role("button", name="Upload")).to_be_enabled()
