"""A cloud conflict (the S3 copy changed outside syncapp while a new version was uploaded from
the page), resolved with the page's "Keep both", checked by MD5 on both sides."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import expect

from syncapp.storage import open_remote
from tests.browser.conftest import S3_REMOTE, screenshot, stay_marker, stayed
from tests.live import LiveServer
from tests.peers.process import wait_until
from tests.peers.s3 import empty_prefix

pytestmark = pytest.mark.browser

ORIGINAL = b"budget, as first uploaded\n" * 40
LOCAL = b"budget, edited here and uploaded again from the page\n" * 50
REMOTE = b"budget, edited in S3 by someone else\n" * 30


def md5_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class Api:
    def __init__(self, server: LiveServer) -> None:
        self.url, self.headers = server.url, server.headers

    def call(self, method: str, path: str, status: int, **kwargs) -> dict:
        response = requests.request(
            method, self.url + path, headers=self.headers, timeout=30, **kwargs
        )
        assert response.status_code == status, response.text
        return response.json()


@pytest.fixture
def s3_cloud(browser_server, s3_server) -> Iterator:
    """The S3 bucket as the server's `s3` cloud (a stored remote made through the admin API),
    and the same place opened directly, to play the someone who edits files there."""
    prefix = f"browser-{uuid.uuid4().hex[:8]}"
    settings = {**s3_server.settings, "prefix": prefix}
    Api(browser_server).call(
        "POST", "/api/v1/remotes", 201, json={"name": S3_REMOTE, "kind": "s3", "settings": settings}
    )
    remote = open_remote("s3", **settings)
    try:
        yield remote
    finally:
        remote.close()
        empty_prefix(s3_server.settings, prefix + "/")


def test_keep_both_resolves_a_conflict_from_the_page(page, browser_server, s3_cloud, tmp_path):
    api = Api(browser_server)
    first = api.call(
        "POST", "/api/v1/upload", 202,
        files={"file": ("budget.txt", ORIGINAL)}, data={"sync_s3": "true"},
    )  # fmt: skip
    wait_until(
        lambda: api.call("GET", f"/api/v1/status/{first['job_id']}", 200)["status"] == "completed",
        30,
        "the first version to reach S3",
    )
    owner = api.call("GET", f"/api/v1/files/{first['file_id']}", 200)["owner_id"]
    in_s3 = f"browser/{owner}/budget.txt"
    s3_cloud.write(in_s3, io.BytesIO(REMOTE), size=len(REMOTE))
    edited = tmp_path / "budget.txt"
    edited.write_bytes(LOCAL)

    page.goto("/cloud")
    upload = page.locator("#cloud-upload")
    upload.get_by_label("File").set_input_files(edited)
    upload.get_by_label("S3", exact=True).check()
    upload.get_by_role("button", name="Upload").click()
    expect(page.locator("#cloud-upload-progress")).to_have_attribute("value", "100")
    notice = page.locator("#cloud-reload")
    expect(notice).to_be_visible()  # the replication found the conflict
    notice.get_by_role("link", name="reload").click()

    card = page.locator("article.conflict", has_text="budget.txt")
    expect(card).to_contain_text(md5_of(REMOTE))
    expect(card).to_contain_text(md5_of(LOCAL))
    stay_marker(page)
    card.get_by_role("button", name="Keep both").click()

    expect(card.locator('[data-field="outcome"]')).to_contain_text("Resolved (keep both)")
    assert stayed(page), "the page was reloaded"
    view = api.call("GET", f"/api/v1/conflicts/{card.get_attribute('data-conflict')}", 200)
    assert (view["resolved"], view["policy"]) == (True, "keep-both")
    assert view["file_id"] == first["file_id"]
    kept = view["outcome"]["conflict_file"]
    expect(page.locator(f"#cloud-file-{kept['file_id']}")).to_contain_text(kept["filename"])
    assert api.call("GET", f"/api/v1/files/{first['file_id']}", 200)["md5"] == md5_of(LOCAL)
    assert api.call("GET", f"/api/v1/files/{kept['file_id']}", 200)["md5"] == md5_of(REMOTE)
    with s3_cloud.open_read(in_s3) as reader:
        assert md5_of(reader.read()) == md5_of(LOCAL)
    screenshot(page, "cloud-after-conflict")
