"""Issue 22, finding 2: an administrator sets the documents' NAS target on /settings/nas: the
form is validated by the server, "Test this target" checks it is reachable and writable, and a
saved target applies without a restart (the next sync copies documents there)."""

from __future__ import annotations

import io
import re
import uuid

import pytest
import requests
from playwright.sync_api import expect

from syncapp.storage.mounts import MARKER

pytestmark = pytest.mark.browser


def _api(server, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(
        method, f"{server.url}{path}", headers=server.headers, timeout=30, **kwargs
    )


@pytest.fixture
def nas_reset(browser_server):
    """The browser server is shared: its NAS target goes back to config.yaml's after the test."""
    yield
    assert _api(browser_server, "DELETE", "/api/v1/sync/target").status_code == 200


def test_a_nas_target_set_on_the_page_is_used_without_a_restart(
    page, browser_server, browser_log, tmp_path, nas_reset
):
    """finding 2: the NAS target is set on /settings/nas (validated, tested with a button) and
    used without a restart; finding 8: a local folder is not called "SMB Mount"."""
    nas = tmp_path / "nas"
    nas.mkdir()
    browser_log.expect_failure("/api/v1/sync/target", 400)
    page.goto("/settings/nas")
    form = page.locator("#nas-target-form")
    result = page.locator("#nas-target-result")

    # a relative path: the server's message, beside the field and as an alert
    page.get_by_label("Mounted folder").fill("relative/nas")
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_role("alert")).to_contain_text("must be an absolute path")
    expect(page.locator("#nas-mount-path-error")).to_contain_text("absolute path")
    expect(page.get_by_label("Mounted folder")).to_have_attribute("aria-invalid", "true")

    # an empty folder is not a share: the test says so, and nothing is saved
    page.get_by_label("Mounted folder").fill(str(nas))
    form.get_by_role("button", name="Test this target").click()
    expect(result).to_contain_text("Not usable")
    assert _api(browser_server, "GET", "/api/v1/sync/target").json()["source"] == "config"

    (nas / MARKER).write_text("a share\n")  # what a mounted share holds
    form.get_by_role("button", name="Test this target").click()
    expect(result).to_have_text(re.compile(r"^Reachable and writable: "))

    form.get_by_role("button", name="Save").click()
    expect(page.locator("#nas-source")).to_have_attribute("data-source", "settings")
    expect(page.get_by_label("Mounted folder")).to_have_value(str(nas))
    target = _api(browser_server, "GET", "/api/v1/sync/target").json()
    assert target["source"] == "settings" and target["mount_path"] == str(nas)
    assert target["state"]["configured"] is True
    # finding 8: a local folder is called one, never "Target: SMB Mount"
    for path in ("/documents", "/settings/nas"):
        page.goto(path)
        expect(page.locator("main")).to_contain_text("Local folder")
        expect(page.locator("main")).not_to_contain_text("SMB Mount")

    # no restart: the running server copies the next document to the new target
    name = f"nas-{uuid.uuid4().hex[:8]}.pdf"
    sent = _api(
        browser_server,
        "POST",
        "/api/v1/documents",
        files={"file": (name, io.BytesIO(b"%PDF-1.4 to the new NAS"))},
        data={"type": "invoice", "date": "2025-03-04", "sync_now": "true"},
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["sync"]["success"] is True, sent.json()
    copied = [p for p in nas.rglob("*.pdf") if name.removesuffix(".pdf") in p.name]
    assert len(copied) == 1 and copied[0].read_bytes() == b"%PDF-1.4 to the new NAS"
    assert copied[0].relative_to(nas).parts[:2] == ("2025", "03")

    # and back to config.yaml's target, from the page
    page.get_by_role("button", name="Use config.yaml's target").click()
    expect(page.locator("#nas-source")).to_have_attribute("data-source", "config")
