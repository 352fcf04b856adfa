"""The Documents page is live: a document uploaded from it, or sent by a script, gets its row
without a reload, and a deleted one loses it."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import screenshot, stay_marker, stayed

pytestmark = pytest.mark.browser


def row_of(page, filename: str):
    return page.locator("#documents-list tbody tr").filter(
        has=page.locator('[data-field="file"]', has_text=filename)
    )


def api(server, method: str, path: str, **options) -> requests.Response:
    """A call of the server's API as its administrator, as a script would make it."""
    return requests.request(
        method, f"{server.url}{path}", headers=server.headers, timeout=30, **options
    )


def test_an_upload_from_the_page_adds_its_row_without_a_reload(page, browser_server, tmp_path):
    receipt = tmp_path / "browser-receipt.pdf"
    receipt.write_bytes(b"%PDF-1.4 a receipt from the browser\n" * 100)
    page.goto("/documents")
    stay_marker(page)

    page.get_by_label("File").set_input_files(receipt)
    page.get_by_label("Type").select_option("receipt")
    page.get_by_label("Document date").fill("2024-06-30")
    page.get_by_role("button", name="Upload").click()

    expect(page.locator("#document-progress")).to_have_attribute("value", "100")
    row = row_of(page, receipt.name)
    expect(row).to_have_count(1)
    expect(row.locator('[data-field="date"]')).to_have_text("2024-06-30")
    expect(row.locator('[data-field="type"]')).to_have_text("receipt")
    expect(row.locator('[data-field="nas"]')).to_have_text("pending")
    expect(page.locator("#document-status")).to_have_text(f"Uploaded {receipt.name}.")
    expect(page.get_by_role("heading", name="No documents yet")).to_be_hidden()
    assert stayed(page), "the page was reloaded"
    listed = api(browser_server, "GET", "/api/v1/documents?per_page=500").json()["documents"]
    ids = [d["id"] for d in listed if d["filename"] == receipt.name]
    assert len(ids) == 1
    expect(row).to_have_attribute("data-document", str(ids[0]))
    status = api(browser_server, "GET", "/api/v1/sync/status").json()
    counts = f"{status['synced']} of {status['total_documents']} documents"
    expect(page.locator("#nas-counts")).to_contain_text(counts)  # the summary followed
    screenshot(page, "documents-after-upload")


def test_a_scripts_upload_and_deletion_show_on_the_open_page(page, browser_server):
    page.goto("/documents")
    # Events published before the page's socket joined would not reach it.
    expect(page.locator("#documents-live-status")).to_have_text("live")
    stay_marker(page)

    sent = api(
        browser_server,
        "POST",
        "/api/v1/documents",
        files={"file": ("script-invoice.pdf", b"%PDF-1.4 from a script\n")},
        data={"type": "invoice", "date": "2024-07-01"},
    )
    assert sent.status_code == 201, sent.text
    row = row_of(page, "script-invoice.pdf")
    expect(row).to_have_attribute("data-document", str(sent.json()["id"]))
    expect(row.locator('[data-field="type"]')).to_have_text("invoice")

    gone = api(browser_server, "DELETE", f"/api/v1/documents/{sent.json()['id']}")
    assert gone.status_code == 204
    expect(row).to_have_count(0)
    assert stayed(page), "the page was reloaded"
