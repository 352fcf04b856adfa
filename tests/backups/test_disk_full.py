"""A full disk during an upload: 507, and no partial archive or temp file left behind."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.backups.helpers import md5, store_tree, upload
from tests.conftest import make_token, make_user
from tests.peers.process import peer_missing

pytestmark = pytest.mark.peer


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs: a real file system that really fills up."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        peer_missing(f"cannot mount a tmpfs (needs root): {result.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=False)


def test_a_full_disk_answers_507_and_leaves_nothing(make_app, small_disk):
    import gzip

    app = make_app(backups={"root": str(small_disk / "store")})
    make_user(app, "a@example.com")
    token = make_token(app, "a@example.com")
    client = app.test_client()
    small = gzip.compress(b"fits easily")
    assert upload(client, token, small, "full_small.tar.gz").status_code == 201
    before = store_tree(small_disk / "store")
    too_big = gzip.compress(os.urandom(2 * 1024 * 1024))  # random bytes do not compress
    response = upload(client, token, too_big, "full_big.tar.gz", md5=md5(too_big))
    assert response.status_code == 507
    assert response.get_json()["code"] == "insufficient_storage"
    assert store_tree(small_disk / "store") == before
