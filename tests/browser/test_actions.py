"""Issue 22, finding 2: the actions the API offers for a user's own data are on their pages.

Every destructive one asks first in a <dialog> of the page: Cancel leaves the data (checked
through the API), confirming removes it. A backup archive can be verified from its row, and the
documents list filters by type and NAS sync state on the server."""

from __future__ import annotations

import gzip
import io
import re
import uuid

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.test_cordiax import push as push_snapshot
from tests.cordiax.payloads import encrypted_database

pytestmark = pytest.mark.browser


def _api(server, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(
        method, f"{server.url}{path}", headers=server.headers, timeout=30, **kwargs
    )


def _confirm(page, button, action: str, *, cancel_first: bool, check_kept) -> None:
    """Click `button`, Cancel the dialog (and check nothing changed), click again and confirm."""
    dialog = page.get_by_role("dialog")
    if cancel_first:
        button.click()
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_be_hidden()
        check_kept()
    button.click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=action, exact=True).click()
    expect(dialog).to_be_hidden()


def _upload_archive(server, profile: str) -> str:
    name = f"full_2025-06-0{uuid.uuid4().int % 9 + 1}_10-00-00.tar.gz"
    sent = _api(
        server,
        "POST",
        "/upload",
        files={"file": (name, gzip.compress(b"an archive\n" * 500))},
        data={"type": "FULL", "profile": profile},
    )
    assert sent.status_code == 201, sent.text
    return name


def _archives(server, profile: str) -> list[str]:
    listed = _api(server, "GET", f"/list?profile={profile}").json()["backups"]
    return [item["name"] for item in listed["FULL"]]


def test_deleting_a_backup_asks_then_deletes_it(page, browser_server):
    """finding 2: a backup is deleted from its page (only the API could): a dialog asks first,
    then the row and the archive are gone."""
    profile = f"act-{uuid.uuid4().hex[:8]}"
    name = _upload_archive(browser_server, profile)
    page.goto("/backups")
    row = page.locator(f'section[data-profile="{profile}"] tr[data-archive="{name}"]')

    def kept():
        expect(row).to_be_visible()
        assert _archives(browser_server, profile) == [name]

    _confirm(
        page,
        row.get_by_role("button", name=f"Delete {name}"),
        "Delete",
        cancel_first=True,
        check_kept=kept,
    )

    expect(row).to_have_count(0)
    expect(page.locator("#action-result")).to_have_text("Archive deleted.")
    expect(page.locator(f'section[data-profile="{profile}"]')).to_have_count(0)  # its only one
    assert _archives(browser_server, profile) == []


def test_verifying_a_backup_reads_it_again_and_says_what_it_found(page, browser_server):
    """finding 2: a backup is verified from its page (only the API could), which says what the
    check found."""
    profile = f"verify-{uuid.uuid4().hex[:8]}"
    name = _upload_archive(browser_server, profile)
    page.goto("/backups")
    row = page.locator(f'section[data-profile="{profile}"] tr[data-archive="{name}"]')

    row.get_by_role("button", name=f"Verify {name}").click()

    expect(row.locator('[data-field="verified"]')).to_have_text(
        "verified: MD5 matches, complete gzip"
    )
    listed = _api(browser_server, "GET", f"/list?profile={profile}").json()["backups"]["FULL"]
    assert listed[0]["integrity"] == "verified"


def _upload_document(server, kind: str) -> dict:
    name = f"{kind}-{uuid.uuid4().hex[:8]}.pdf"
    sent = _api(
        server,
        "POST",
        "/api/v1/documents",
        files={"file": (name, io.BytesIO(b"%PDF-1.4 " + name.encode()))},
        data={"type": kind, "date": "2025-02-03"},
    )
    assert sent.status_code == 201, sent.text
    return sent.json()


def test_deleting_a_document_asks_then_deletes_it(page, browser_server):
    """finding 2: a document is deleted from its page, after a dialog asks."""
    doc = _upload_document(browser_server, "receipt")
    page.goto("/documents")
    row = page.locator(f'tr[data-document="{doc["id"]}"]')

    def kept():
        expect(row).to_be_visible()
        assert _api(browser_server, "GET", f"/api/v1/documents/{doc['id']}").status_code == 200

    _confirm(
        page,
        row.get_by_role("button", name=f"Delete {doc['filename']}"),
        "Delete",
        cancel_first=True,
        check_kept=kept,
    )

    expect(row).to_have_count(0)
    assert _api(browser_server, "GET", f"/api/v1/documents/{doc['id']}").status_code == 404


def test_the_documents_list_filters_by_type_and_sync_state_on_the_server(page, browser_server):
    """finding 2: the documents are filtered by type and NAS sync state on the page (on the
    server)."""
    invoice = _upload_document(browser_server, "invoice")
    payslip = _upload_document(browser_server, "payslip")
    page.goto("/documents")

    page.get_by_label("Kind of document").select_option("invoice")
    page.get_by_label("NAS sync state").select_option("pending")
    page.locator("#document-filter").get_by_role("button", name="Apply").click()

    expect(page).to_have_url(re.compile(r"/documents\?type=invoice&sync=pending$"))
    expect(page.locator(f'tr[data-document="{invoice["id"]}"]')).to_be_visible()
    expect(page.locator(f'tr[data-document="{payslip["id"]}"]')).to_have_count(0)
    types = page.locator('#documents-list tbody [data-field="type"]').all_inner_texts()
    assert types and set(types) == {"invoice"}, types
    expect(page.locator("#filter-type")).to_have_value("invoice")

    page.goto("/documents?sync=synced")  # none was copied to the NAS
    expect(page.locator(f'tr[data-document="{invoice["id"]}"]')).to_have_count(0)


def test_deleting_a_cordiax_snapshot_asks_then_deletes_it(page, browser_server):
    """finding 2: a Cordiax snapshot is deleted from its page, after a dialog asks."""

    def pushed() -> str:
        payload = encrypted_database(16 * 1024, seed=uuid.uuid4().int % 100_000)
        return push_snapshot(browser_server, payload)["version"]

    path = "/api/v1/cordiax/devices/browser-pc/snapshots"

    def versions() -> list[str]:
        listed = _api(browser_server, "GET", path)
        if listed.status_code == 404:  # the device's last snapshot is gone
            return []
        return [s["version"] for s in listed.json()]

    rendered = pushed()  # in the page's HTML
    page.goto("/cordiax")
    expect(page.locator("#cordiax-live-status")).to_have_text("live")
    live = pushed()  # a row cordiax.js adds
    for version in (live, rendered):
        button = page.get_by_role("button", name=f"Delete snapshot {version}")

        def kept(button=button, version=version):
            expect(button).to_be_visible()
            assert version in versions()

        _confirm(page, button, "Delete", cancel_first=True, check_kept=kept)

        expect(button).to_have_count(0)
        assert version not in versions()


def test_making_an_old_cloud_version_current_asks_first(page, browser_server):
    """finding 2: an old cloud version is restored (made current) from the page, after a dialog
    asks."""
    name = f"actions-{uuid.uuid4().hex[:8]}.txt"
    for content in (b"first\n", b"second\n"):
        reply = _api(browser_server, "POST", "/api/v1/upload", files={"file": (name, content)})
        assert reply.status_code == 202, reply.text
        file_id = reply.json()["file_id"]
    page.goto("/cloud")
    row = page.locator(f'tr[data-file="{file_id}"]')
    row.locator('[data-action="versions"]').click()
    versions = page.locator(f"#cloud-versions-{file_id}")

    def kept():
        expect(row.locator('[data-field="version"]')).to_have_text("2")
        listed = _api(browser_server, "GET", f"/api/v1/files/{file_id}/versions").json()
        assert len(listed["versions"]) == 2

    _confirm(
        page,
        versions.get_by_role("button", name="Make current"),
        "Make current",
        cancel_first=True,
        check_kept=kept,
    )

    expect(row.locator('[data-field="version"]')).to_have_text("3")


def test_deleting_a_cloud_file_asks_then_deletes_it(page, browser_server):
    """finding 2: a cloud file is deleted from its page, after a dialog asks."""
    name = f"delete-{uuid.uuid4().hex[:8]}.txt"
    reply = _api(browser_server, "POST", "/api/v1/upload", files={"file": (name, b"bytes\n")})
    assert reply.status_code == 202, reply.text
    file_id = reply.json()["file_id"]
    page.goto("/cloud")
    row = page.locator(f'tr[data-file="{file_id}"]')

    def kept():
        expect(row).to_be_visible()
        assert _api(browser_server, "GET", f"/api/v1/files/{file_id}").status_code == 200

    _confirm(
        page,
        row.locator('[data-action="delete"]'),
        "Delete",
        cancel_first=True,
        check_kept=kept,
    )

    expect(row).to_have_count(0)
    assert _api(browser_server, "GET", f"/api/v1/files/{file_id}").status_code == 404


def test_an_integrity_pass_is_started_from_its_page(page, browser_server):
    """finding 2: an integrity pass (scrub) is started from the Integrity page, not only with
    POST /api/v1/scrub or the CLI; the pass the server then runs is shown on reload."""
    before = _api(browser_server, "GET", "/api/v1/scrub").json()
    page.goto("/scrub")
    page.get_by_role("button", name="Start a pass now").click()
    expect(page.locator("#action-result")).to_contain_text("A pass was asked for")
    asked = _api(browser_server, "GET", "/api/v1/scrub").json()
    # a pass under way (asked for or running), or one that has already ended since
    assert asked["current"] is not None or asked["last_pass"] != before["last_pass"], asked
