"""A Cordiax push from a python-socketio client shows on the open Cordiax page, no reload."""

from __future__ import annotations

import re
import time

import pytest
import socketio
from playwright.sync_api import expect

from tests.browser.conftest import screenshot, stay_marker, stayed
from tests.cordiax.client import NAMESPACE, CordiaxLikeClient
from tests.cordiax.payloads import encrypted_database, sha256, sqlite_database

pytestmark = pytest.mark.browser

DEVICE = "browser-pc"


def push(server, payload: bytes, device: str = DEVICE) -> dict:
    """The acknowledgement that stored `payload`. The client pushes twice (on connecting and when
    the server asks), the two may be stored concurrently: either ack may be the "unchanged" one."""
    url = f"{server.url}?token={server.token}&device={device}"
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
    """finding 6: a device shows online, then offline with "last seen"; its connection
    instructions once it exists; the log filled on load; the "plaintext" badge explained."""
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


# Issue 22, finding 6 (left over): a device that connected but never pushed is listed, and says so.
SILENT = "browser-silent"


def silent_client(server, device: str) -> socketio.Client:
    """A client that connects to /cordiax-sync/ as `device` and never sends its data (as
    Cordiax does with its synchronisation switched off)."""
    client = socketio.Client(reconnection=False)
    client.connect(
        f"{server.url}?token={server.token}&device={device}",
        namespaces=[NAMESPACE],
        wait_timeout=30,
    )
    return client


def goto_once_listed(page, url: str, device: str):
    """Open `url` and load it again until the devices table lists `device`, with a deadline:
    the server acknowledges a connection before its handler records the device's presence
    (always_connect), so a page loaded just after `silent_client` may not list it yet.
    Returns the device's row."""
    row = page.locator(f'#cordiax-devices tr[data-device="{device}"]')
    deadline = time.monotonic() + 20
    page.goto(url)
    while row.count() == 0:
        assert time.monotonic() < deadline, f"the connected device {device} never reached the page"
        page.reload()
    return row


def test_a_device_connected_but_never_pushed_says_no_snapshot_yet(page, browser_server):
    """finding 6: a connected device with no snapshot shows "online · no snapshot yet" in the
    devices table and its own section (before the fix it was not listed at all)."""
    client = silent_client(browser_server, SILENT)
    try:
        row = goto_once_listed(page, "/cordiax", SILENT)
        expect(row.locator('[data-field="state"]')).to_have_text("online · no snapshot yet")
        expect(row.locator('[data-field="versions"]')).to_have_text("0")
        section = page.locator(f'section.cordiax-device[data-device="{SILENT}"]')
        expect(section.locator('[data-field="presence"]')).to_contain_text("online")
        expect(section).to_contain_text("no snapshot yet")
        expect(section.locator('[data-field="latest"]')).to_contain_text("none yet")
        expect(section.locator("details.cordiax-connect")).to_have_attribute("open", "")
        expect(section.locator("table")).to_be_hidden()
        expect(page.locator("#cordiax-live-status")).to_have_text("live")
        screenshot(page, "cordiax-no-snapshot-yet")
    finally:
        client.disconnect()
    # its first push, on the open page: the mark goes, the snapshot shows
    ack = push(browser_server, encrypted_database(8 * 1024, seed=51), SILENT)
    expect(section.locator('[data-field="count"]')).to_have_text("1 version")
    expect(section).not_to_contain_text("no snapshot yet")
    expect(row.locator('[data-field="state"]')).not_to_contain_text("no snapshot yet")
    expect(section.get_by_role("link", name=ack["version"])).to_be_visible()


PAGED = ("paged-a", "paged-b", "paged-c")


def my_devices(page) -> list[str]:
    names = page.locator('#cordiax-devices tbody [data-field="name"]').all_inner_texts()
    return [name for name in names if name in PAGED]


def test_devices_snapshots_and_log_are_sorted_and_paged_on_the_server(page, browser_server):
    """finding 5 (tables sort and page on the server) on the Cordiax page: its devices, a
    device's snapshots and its log; page 2 shows other rows, a header click changes the order."""
    for seed, device in ((41, "paged-a"), (42, "paged-a"), (43, "paged-a"), (44, "paged-b")):
        push(browser_server, encrypted_database(8 * 1024, seed=seed), device)
    client = silent_client(browser_server, "paged-c")  # listed with no snapshot
    try:
        goto_once_listed(page, "/cordiax?devices-sort=versions&devices-per_page=500", "paged-c")
        expect(page.locator('th[data-sort="versions"]').first).to_have_attribute(
            "aria-sort", "ascending"
        )
        assert my_devices(page) == ["paged-c", "paged-b", "paged-a"]
        page.locator("#cordiax-devices th[data-sort=versions]").get_by_role("link").click()
        expect(page).to_have_url(re.compile("devices-order=desc"))
        expect(page.locator('th[data-sort="versions"]').first).to_have_attribute(
            "aria-sort", "descending"
        )
        assert my_devices(page) == ["paged-a", "paged-b", "paged-c"]
    finally:
        client.disconnect()

    # the devices table pages: page 2 lists other devices
    page.goto("/cordiax?devices-per_page=1")
    first = page.locator('#cordiax-devices tbody [data-field="name"]').all_inner_texts()
    pager = page.get_by_role("navigation", name="Pages of devices")
    pager.get_by_role("link", name="Next").click()
    expect(page).to_have_url(re.compile("devices-page=2"))
    expect(pager.locator('[aria-current="page"]')).to_have_text("2")
    second = page.locator('#cordiax-devices tbody [data-field="name"]').all_inner_texts()
    assert len(first) == len(second) == 1 and first != second
    assert page.locator("section.cordiax-device").count() == 1  # the page's devices only

    # a device's snapshots: two per page, three in all
    page.goto("/cordiax?devices-sort=versions&devices-order=desc")
    section = page.locator('section.cordiax-device[data-device="paged-a"]')
    key = section.get_attribute("data-user") + ".paged-a-"
    page.goto(f"/cordiax?devices-sort=versions&devices-order=desc&{key}per_page=2")
    versions = section.locator("tbody tr td:nth-child(2) > a:first-child")
    expect(versions).to_have_count(2)
    newest = versions.all_inner_texts()
    section.get_by_role("navigation", name="Pages of snapshots of paged-a").get_by_role(
        "link", name="Next"
    ).click()
    expect(versions).to_have_count(1)
    oldest = versions.all_inner_texts()
    assert not set(newest) & set(oldest)
    section.locator('th[data-sort="received"]').get_by_role("link").click()  # oldest first
    expect(versions).to_have_count(2)
    expect(versions.first).to_have_text(oldest[0])

    # the log as the page opens: page 2 holds older lines
    page.goto("/cordiax?log-per_page=2")
    lines = page.locator("#cordiax-log tr[data-history] td:first-child time")
    expect(lines).to_have_count(2)
    times = [t.get_attribute("datetime") for t in lines.all()]
    log_pages = page.get_by_role("navigation", name="Pages of log lines")
    log_pages.get_by_role("link", name="Next").click()
    expect(page).to_have_url(re.compile("log-page=2"))
    expect(log_pages.locator('[aria-current="page"]')).to_have_text("2")
    later = [t.get_attribute("datetime") for t in lines.all()]
    assert later and max(later) <= min(times)
    screenshot(page, "cordiax-paged")
