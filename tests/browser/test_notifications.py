"""Notification targets made with the settings page's form, tested with its "Send a test"
button against the real HTTP receiver (tests/peers/notify.py), and deleted."""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.notifications.helpers import WEBHOOK_SECRET

pytestmark = pytest.mark.browser


def add_webhook(page, name: str, url: str) -> None:
    form = page.locator("#target-form")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Kind").select_option("webhook")
    form.locator("#target-webhook-url").fill(url)
    form.locator("#target-webhook-secret").fill(WEBHOOK_SECRET)
    form.get_by_role("button", name="Create").click()
    expect(page.locator("#settings-message")).to_have_text("Notification target saved.")


def target_row(page, name: str):
    """The targets table's row of `name` (the deliveries table below names targets too: an
    alert another test fires on the shared server is delivered to every target)."""
    return page.locator('tr[id^="target-"]', has_text=name)


def test_add_a_webhook_send_a_test_and_delete_it(page, webhook_receiver):
    name, down = f"hook-{uuid.uuid4().hex[:8]}", f"down-{uuid.uuid4().hex[:8]}"
    path = webhook_receiver.path()
    page.goto("/settings/notifications")
    add_webhook(page, name, webhook_receiver.url(path))
    row = target_row(page, name)
    expect(row).to_contain_text(webhook_receiver.url("/hook/"))  # the path's token is masked
    expect(row).to_contain_text("secret set")

    row.get_by_role("button", name="Send a test").click()
    expect(row.locator(".probe-result")).to_contain_text("OK:")
    [received] = webhook_receiver.requests(path)
    assert json.loads(received.body)["event"] == "test"

    add_webhook(page, down, "http://127.0.0.1:9/nobody")  # nothing listens on port 9
    broken = target_row(page, down)
    broken.get_by_role("button", name="Send a test").click()
    expect(broken.locator(".probe-result")).to_contain_text("Failed: http://127.0.0.1:9/nobody")
    screenshot(page, "settings-notifications-tested")

    page.once("dialog", lambda dialog: dialog.accept())
    broken.get_by_role("button", name="Delete").click()
    expect(page.locator("#settings-message")).to_contain_text(f"“{down}” deleted")
    expect(target_row(page, down)).to_have_count(0)
    expect(target_row(page, name)).to_have_count(1)
