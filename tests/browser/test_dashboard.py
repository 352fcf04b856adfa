"""Issue 22, finding 1: the dashboard shows the server's health and names what fails, colours its
tiles by state, and reads failures with their reason, one line per change rather than per retry."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import new_page, screenshot, sign_in
from tests.live import LiveServer
from tests.peers.databases import SUITE_POSTGRES_URL
from tests.peers.process import wait_until
from tests.syncs.helpers import write_tree

pytestmark = pytest.mark.browser


class UnhealthyServer(LiveServer):
    """A server whose scheduler lock file cannot be created (its folder does not exist): no
    process leads the background work and /api/v1/health answers 503, the pages still answer."""

    def healthy(self) -> bool:  # ready when it answers at all, 503 included
        try:
            return requests.get(f"{self.url}/api/v1/health", timeout=2).status_code in (200, 503)
        except requests.RequestException:
            return False


@pytest.fixture(scope="module")
def unhealthy_server(tmp_path_factory) -> Iterator[LiveServer]:
    if SUITE_POSTGRES_URL:
        # On PostgreSQL the leader lock is an advisory lock, not the file: the same headline code
        # (monitoring.checks.liveness) is run there by the healthy test below.
        pytest.skip("the unreachable lock file makes a server unhealthy on SQLite only")
    workdir = tmp_path_factory.mktemp("unhealthy")
    server = UnhealthyServer(
        workdir,
        env={
            "SYNCAPP_SCHEDULER_LOCK_FILE": str(workdir / "no-such-folder" / "scheduler.lock"),
            "SYNCAPP_SECURITY_LOGIN_RATE_LIMIT": "1000 per minute",
            "SYNCAPP_ALERTS_INTERVAL": "86400",
        },
    )
    server.prepare()
    server.start()
    yield server
    server.stop()


def test_the_headline_names_the_failing_health_check(browser, unhealthy_server, browser_log):
    """finding 1: the dashboard does not say all is well while /api/v1/health fails: its
    headline names the failing check."""
    answer = requests.get(f"{unhealthy_server.url}/api/v1/health", timeout=10)
    assert answer.status_code == 503, answer.text
    with new_page(browser, unhealthy_server, browser_log) as page:
        sign_in(page)
        page.goto("/")
        health = page.locator("#dash-health")
        expect(health).to_have_attribute("data-state", "error")
        expect(health).to_contain_text("unhealthy")
        expect(health).to_contain_text("scheduler")
        expect(health).to_contain_text("no process holds the scheduler lock")
        expect(health).not_to_contain_text("healthy every check")
        screenshot(page, "dashboard-unhealthy")


def test_the_healthy_headline_and_documents_without_a_nas(page):
    """finding 1: the documents tile says "NAS not configured" (coloured), not "0 % ... 1
    pending"."""
    page.goto("/")
    expect(page.locator("#dash-health")).to_have_attribute("data-state", "ok")
    expect(page.locator("#dash-health")).to_contain_text("healthy")
    # The browser server has no NAS target: its tile says so, not "0 %".
    tile = page.locator('[data-tile="documents"]')
    expect(tile).to_contain_text("NAS not configured")
    expect(tile).to_have_attribute("data-state", re.compile("warning|error"))


def test_a_file_sent_to_no_cloud_reads_not_set_up(page, browser_server):
    """finding 1: cloud replication of a file sent to no cloud ("Clouds —") reads "not set up",
    not "completed · 100 %"."""
    name = "dashboard-no-cloud.txt"
    sent = requests.post(
        f"{browser_server.url}/api/v1/upload",
        headers=browser_server.headers,
        files={"file": (name, b"to no cloud\n")},
        timeout=30,
    )
    assert sent.status_code in (200, 201, 202), sent.text
    page.goto("/")
    row = page.locator(f'#dash-cloud-jobs tr[data-filename="{name}"]').first
    expect(row).to_contain_text("not set up")
    expect(row).to_contain_text("no cloud chosen")
    expect(row).not_to_contain_text("completed")
    expect(row).not_to_contain_text("100")


def _api(page, method: str, path: str, **data):
    page.goto("/syncs")  # the page's CSRF token
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    answer = page.request.fetch(
        path, method=method, data=data or None, headers={"X-CSRFToken": csrf}
    )
    assert answer.ok, answer.text()
    return answer.json() if answer.status != 204 else None


def test_a_failing_job_reads_with_its_reason_once_per_change(page, sync_root):
    """finding 1: a failure reads with its reason, one line per change ("x N" for retries), and
    the sync jobs tile is coloured "error"."""
    source, destination = sync_root / "failing-source", sync_root / "failing-destination"
    write_tree(source, {"a.txt": b"a"})
    destination.mkdir(exist_ok=True)
    job = _api(
        page,
        "POST",
        "/api/v1/syncs",
        name="Failing job",
        enabled=False,
        source_path=str(source),
        destination_path=str(destination),
        retry_delay=0.1,
    )
    try:
        shutil.rmtree(source)  # every run now fails the same way, retried sooner than its interval
        page.goto("/")
        expect(page.locator("#dash-live-status")).to_have_text("live")
        _api(page, "POST", f"/api/v1/syncs/{job['id']}/start")
        page.goto("/")
        expect(page.locator("#dash-live-status")).to_have_text("live")
        events = page.locator("#dash-events li", has_text="Sync job Failing job")
        failed = events.filter(has_text="failed: SourceMissing")
        # Several retries have failed (the count says how many) in one line with its reason.
        expect(failed.locator(".dash-times")).to_have_text(re.compile(r"\u00d7 [3-9]"))
        expect(failed).to_have_count(1)
        assert events.filter(has_text="started").count() <= 2  # the first, and one under way
        expect(page.locator('[data-tile="syncs"]')).to_have_attribute("data-state", "error")
        # Read back from the history after a reload: one line, with the reason.
        page.reload()
        expect(failed).to_have_count(1)
        screenshot(page, "dashboard-failing-job")
    finally:
        _api(page, "POST", f"/api/v1/syncs/{job['id']}/stop")
        # a retry may be under way as it stops: the delete is refused (409) until it ends
        wait_until(lambda: _deleted(page, job["id"]), 30, "the stopped job to be deleted")


def _deleted(page, job_id: int) -> bool:
    page.goto("/syncs")
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    answer = page.request.fetch(
        f"/api/v1/syncs/{job_id}", method="DELETE", headers={"X-CSRFToken": csrf}
    )
    assert answer.status in (204, 409), answer.text()
    return answer.status == 204
