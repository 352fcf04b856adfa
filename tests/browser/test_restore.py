"""Restoring from the pages: the Backups page's restore plan and command, and a cloud file's old
version made current again with the versions' "Make current" button."""

from __future__ import annotations

import io
import uuid

import pytest
import requests
from playwright.sync_api import expect

from tests.backups.helpers import make_archive, md5
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def test_the_backups_page_shows_a_restore_plan_and_its_command(page, browser_server):
    profile = f"restore-{uuid.uuid4().hex[:8]}"
    names = []
    for kind, seed in (("FULL", 1), ("INC", 2)):
        data = make_archive(seed)
        name = f"{kind.lower()}_2026-01-0{seed}_00-00-00.tar.gz"
        reply = requests.post(
            f"{browser_server.url}/upload",
            headers=browser_server.headers,
            files={"file": (name, data)},
            data={"type": kind, "profile": profile, "md5": md5(data)},
            timeout=30,
        )
        assert reply.status_code == 201, reply.text
        names.append(name)
    page.goto("/backups")
    page.locator("#restore-profile").select_option(profile)
    page.get_by_role("button", name="Show the restore plan").click()
    plan = page.locator("#restore-plan")
    expect(plan.locator("tbody tr")).to_have_count(2)
    expect(plan.locator("tbody tr").nth(0)).to_contain_text(names[0])
    expect(plan.locator("tbody tr").nth(1)).to_contain_text(names[1])
    expect(page.locator("#restore-command")).to_contain_text(f"scripts/restore.sh {profile} --at ")
    screenshot(page, "backups-restore-plan")


def test_make_current_restores_an_old_cloud_version(page, browser_server):
    name = f"restore-{uuid.uuid4().hex[:8]}.txt"
    file_id = None
    for content in (b"first words\n", b"second, other words\n"):
        reply = requests.post(
            f"{browser_server.url}/api/v1/upload",
            headers=browser_server.headers,
            files={"file": (name, io.BytesIO(content))},
            timeout=30,
        )
        assert reply.status_code == 202, reply.text
        file_id = reply.json()["file_id"]
    page.goto("/cloud")
    row = page.locator(f'tr[data-file="{file_id}"]')
    row.locator('[data-action="versions"]').click()
    versions = page.locator(f"#cloud-versions-{file_id}")
    versions.get_by_role("button", name="Make current").click()
    page.get_by_role("dialog").get_by_role("button", name="Make current").click()  # it asks first
    expect(page.get_by_text("version 1 was restored as version 3")).to_be_visible()
    expect(row.locator('[data-field="version"]')).to_have_text("3")
    expect(versions.locator("tbody tr")).to_have_count(3)
    current = requests.get(
        f"{browser_server.url}/api/v1/files/{file_id}",
        params={"download": "true"},
        headers=browser_server.headers,
        timeout=30,
    )
    assert current.content == b"first words\n"
