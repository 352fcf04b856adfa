"""A Cordiax push from a python-socketio client shows on the open Cordiax page, no reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot, stay_marker, stayed
from tests.cordiax.client import CordiaxLikeClient
from tests.cordiax.payloads import encrypted_database, sha256, sqlite_database

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


# Issue 22, finding 6: a device's online / last seen state, connection instructions once it
# exists, the live log filled on load, and the "plaintext" badge explained.
PRESENT = "browser-presence"


def test_a_device_shows_online_then_last_seen_and_the_log_is_filled_on_load(page, browser_server):
    url = f"{browser_server.url}?token={browser_server.token}&device={PRESENT}"
    client = CordiaxLikeClient(sqlite_database(16 * 1024, seed=31)).connect(url)
    try:
        client.next_ack()
        page.goto("/cordiax")
        device = page.locator(f'section.cordiax-device[data-device="{PRESENT}"]')
        presence = device.locator('[data-field="presence"]')
        expect(presence).to_have_attribute("data-online", "true")
        expect(presence).to_contain_text("online")
        # Instructions for this device: its URL with its name, the namespace, where a token is made.
        connect = device.locator("details.cordiax-connect")
        connect.locator("summary").click()
        expect(connect).to_contain_text(f"device={PRESENT}")
        expect(connect).to_contain_text("/cordiax-sync/")
        expect(connect.get_by_role("link", name="Settings · Tokens")).to_be_visible()
        # The log holds what happened before the page opened: this device's snapshot.
        logged = page.locator('#cordiax-log tr[data-event="cordiax_snapshot"]', has_text=PRESENT)
        expect(logged.first).to_be_visible()
        # A plain SQLite database is "plaintext": the badge says what that means.
        badge = device.locator("tbody .badge", has_text="plaintext").first
        expect(badge).to_have_attribute("title", re.compile("unencrypted"))
        expect(page.locator("#cordiax-encryption-note")).to_contain_text("plaintext")
        expect(page.locator("#cordiax-live-status")).to_have_text("live")
        stay_marker(page)
    finally:
        client.close()
    expect(presence).to_have_attribute("data-online", "false")
    expect(presence).to_contain_text("last seen")
    assert stayed(page), "the page was reloaded"
    page.reload()
    expect(presence).to_contain_text("offline")
    expect(presence).to_contain_text("last seen")
    screenshot(page, "cordiax-presence")
