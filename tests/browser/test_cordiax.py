"""A Cordiax push from a python-socketio client shows on the open Cordiax page, no reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot, stay_marker, stayed
from tests.cordiax.client import CordiaxLikeClient
from tests.cordiax.payloads import encrypted_database, sha256

pytestmark = pytest.mark.browser

DEVICE = "browser-pc"


def push(server, payload: bytes) -> dict:
    """The acknowledgement that stored `payload`. The client pushes twice (on connecting and when
    the server asks), the two may be stored concurrently: either ack may be the "unchanged" one."""
    url = f"{server.url}?token={server.token}&device={DEVICE}"
    client = CordiaxLikeClient(payload).connect(url)
    try:
        acks = [client.next_ack(), client.next_ack()]
    finally:
        client.close()
    assert sorted(ack["created"] for ack in acks) == [False, True], acks
    return next(ack for ack in acks if ack["created"])


def test_a_push_appears_on_the_open_page(page, browser_server):
    first = push(browser_server, encrypted_database(32 * 1024, seed=21))
    page.goto("/cordiax")
    device = page.locator(f'section.cordiax-device[data-device="{DEVICE}"]')
    expect(device.locator('[data-field="count"]')).to_have_attribute("data-count", "1")
    # Events published before the page's socket joined would not reach it.
    expect(page.locator("#cordiax-live-status")).to_have_text("live")
    stay_marker(page)

    payload = encrypted_database(48 * 1024, seed=22)
    ack = push(browser_server, payload)

    assert ack["version"] != first["version"] and ack["sha256"] == sha256(payload)
    # The client pushes on connecting and again when asked: the second is "unchanged".
    logged = page.locator('#cordiax-log tr[data-event="cordiax_snapshot"]', has_text=DEVICE)
    expect(logged.filter(has_text="New version " + ack["version"])).to_have_count(1)
    expect(device.locator('[data-field="count"]')).to_have_attribute("data-count", "2")
    newest = device.locator("tbody tr").first
    expect(newest.get_by_role("link", name=ack["version"])).to_be_visible()
    expect(newest.locator("code")).to_have_attribute("title", ack["sha256"])
    assert stayed(page), "the page was reloaded"
    screenshot(page, "cordiax-after-push")
