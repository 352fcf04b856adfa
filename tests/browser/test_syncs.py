"""A sync job made with the page's form, forced with its button, finishing live on the page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot, stay_marker, stayed
from tests.syncs.helpers import tree_digests, write_tree

pytestmark = pytest.mark.browser

FILES = {
    "invoices/2025-01.pdf": b"%PDF january" * 100,
    "notes.txt": b"hello",
    "a/b/c.bin": b"\0" * 5000,
}


def test_create_force_and_watch_a_run_finish(page, sync_root):
    source, destination = sync_root / "browser-source", sync_root / "browser-destination"
    write_tree(source, FILES)
    destination.mkdir()  # a destination must exist: syncapp never creates one
    page.goto("/syncs")
    form = page.locator("#sync-form")
    form.get_by_label("Name").fill("Browser job")
    form.get_by_label("Source folder").fill(str(source))
    form.get_by_label("Destination folder").fill(str(destination))
    # Stopped: only the forced run below copies anything.
    form.get_by_label("Enabled").uncheck()
    form.get_by_role("button", name="Create").click()

    row = page.locator("#sync-jobs tr", has_text="Browser job")
    expect(row.locator('[data-field="state"]')).to_have_text("stopped")
    expect(row.locator('[data-field="last-run"]')).to_have_text("never")
    expect(page.locator("#syncs-live-status")).to_have_text("live")
    stay_marker(page)
    row.get_by_role("button", name="Run now").click()

    finished = page.locator('#syncs-log tr[data-event="run_finished"]')
    expect(finished).to_contain_text("completed")
    expect(finished).to_contain_text("3 copied, 0 failed")
    expect(row.locator('[data-field="last-run"]')).to_contain_text("completed")
    expect(page.locator("#count-synced")).to_have_text("3")
    assert stayed(page), "the page was reloaded"
    assert tree_digests(destination) == tree_digests(source)
    screenshot(page, "syncs-after-run")
