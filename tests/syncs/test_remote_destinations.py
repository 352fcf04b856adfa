"""Sync jobs whose destination is a stored remote on a real Samba or WebDAV server.

The servers keep their files in a folder on disk, so every check of what landed reads the bytes
behind the server rather than trusting the backend that wrote them.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from syncapp.auth.accounts import find_user
from syncapp.remotes.catalog import create_remote
from syncapp.storage import open_remote
from syncapp.storage.base import TEMP_PREFIX
from syncapp.syncs.runner import run_now, start_dispatcher, stop_dispatcher
from tests.peers.process import Peer, wait_until
from tests.syncs.helpers import tree_digests, write_tree

pytestmark = pytest.mark.peer

KiB = 1024
MiB = 1024 * KiB
REMOTE = "nas"
#: where each peer fixture exposes the folder on disk that its server serves
SHARE_ON_DISK = {"smb": "share_root", "webdav": "root"}


@dataclass
class Target:
    """A stored remote on a running peer, and the job's folder inside it."""

    kind: str
    peer: Peer
    folder: str  # destination_path: the folder inside the remote
    on_disk: Path  # that folder as the server stores it

    def restart(self) -> None:
        if not self.peer.process.running:
            self.peer.process.start()

    def listed(self) -> set[str]:
        """The destination's files as a listing through the server shows them."""
        remote = open_remote(self.kind, **self.peer.settings)
        try:
            prefix = f"{self.folder}/"
            return {entry.path.removeprefix(prefix) for entry in remote.iter_entries(self.folder)}
        finally:
            remote.close()


@pytest.fixture(params=["smb", "webdav"])
def target(request, sync_app, sync_client):
    kind = request.param
    peer = request.getfixturevalue(f"{kind}_server")
    share = Path(getattr(peer, SHARE_ON_DISK[kind]))
    top = f"sync-{uuid.uuid4().hex[:12]}"
    with sync_app.app_context():
        ana = find_user("ana@example.com").id  # the user of sync_client, granted the remote
        create_remote(REMOTE, kind, dict(peer.settings), [{"user_id": ana, "feature": "syncs"}])
    found = Target(kind, peer, f"{top}/mirror", share / top / "mirror")
    try:
        yield found
    finally:
        found.restart()  # other tests of the session share this server
        shutil.rmtree(share / top, ignore_errors=True)


def create_job(client, source: Path, target: Target, **fields) -> int:
    body = {
        "name": "to the nas",
        "source_path": str(source),
        "destination_remote": REMOTE,
        "destination_path": target.folder,
        **fields,
    }
    response = client.post("/api/v1/syncs", json=body)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["destination_remote"] == REMOTE
    return response.get_json()["id"]


def md5s(files: dict[str, bytes]) -> dict[str, str]:
    return {rel: hashlib.md5(data).hexdigest() for rel, data in files.items()}


def inodes(root: Path) -> dict[str, int]:
    """An atomic write replaces a file with a new one: a changed inode means it was rewritten."""
    return {rel: (root / rel).stat().st_ino for rel in tree_digests(root)}


def payload(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def test_a_run_copies_new_and_changed_files_and_skips_the_rest(
    sync_app,
    sync_client,
    sync_root,
    target,
):
    source = sync_root / "src"
    write_tree(
        source,
        {
            "top.txt": b"at the top",
            "a/b/c/deep.bin": payload(10 * KiB, 1),
            "a/b/empty.dat": b"",
            "a/big.bin": payload(3 * MiB, 2),
            "other/notes.md": b"# notes\n",
        },
    )
    job_id = create_job(sync_client, source, target, workers=2)

    with sync_app.app_context():
        first = run_now(job_id)
        assert (first.status, first.files_copied, first.files_skipped) == ("completed", 5, 0)
    assert tree_digests(target.on_disk) == tree_digests(source)

    before = inodes(target.on_disk)
    with sync_app.app_context():
        second = run_now(job_id)
        assert (second.status, second.files_copied, second.files_skipped) == ("completed", 0, 5)
    assert inodes(target.on_disk) == before

    # Same size, new bytes: only the mtime tells the index that this file changed.
    changed = source / "a/b/c/deep.bin"
    changed.write_bytes(payload(10 * KiB, 3))
    stamp = changed.stat().st_mtime + 5
    os.utime(changed, (stamp, stamp))
    write_tree(source, {"a/b/new.txt": b"added later"})
    with sync_app.app_context():
        third = run_now(job_id)
        assert (third.status, third.files_copied, third.files_skipped) == ("completed", 2, 4)
    assert tree_digests(target.on_disk) == tree_digests(source)
    after = inodes(target.on_disk)
    rewritten = {rel for rel in after if before.get(rel) != after[rel]}
    assert rewritten == {"a/b/c/deep.bin", "a/b/new.txt"}


def job_status(client, job_id: int) -> dict:
    response = client.get(f"/api/v1/syncs/{job_id}/status")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def destinations_health(client) -> str | None:
    """The status of /health's sync destinations check after one round of the background
    checks, None while the app has no such check."""
    from syncapp.monitoring.checks import DestinationWatch

    DestinationWatch.of(client.application).refresh()
    check = client.get("/api/v1/health").get_json()["checks"].get("sync_destinations")
    return None if check is None else check["status"]


def final_files(root: Path) -> dict[str, str]:
    """MD5 of the files below root under their final names. A write the server cut off can
    leave its temp file behind: runs remove only temp files whose writing process has ended."""
    return {rel: md5 for rel, md5 in tree_digests(root).items() if TEMP_PREFIX not in rel}


def assert_nothing_unverified_was_deleted(source: Path, target: Target, files: dict) -> None:
    """Each source file is either still there, unchanged, or has a byte-identical copy."""
    expected = md5s(files)
    held = tree_digests(source)
    landed = tree_digests(target.on_disk)
    for rel, digest in expected.items():
        if rel in held:
            assert held[rel] == digest, f"{rel} changed in the source"
        else:
            assert landed.get(rel) == digest, f"{rel} was deleted without a verified copy"
    assert final_files(target.on_disk).items() <= expected.items(), "a partial file landed"


def test_delete_after_sync_survives_the_destination_going_down_and_resumes_by_itself(
    sync_app,
    sync_client,
    sync_root,
    target,
):
    source = sync_root / "src"
    files = {f"batch/{n // 10}/file-{n:02d}.bin": payload(64 * KiB, n) for n in range(30)}
    write_tree(source, files)
    job_id = create_job(
        sync_client, source, target, delete_after_sync=True, workers=1, retry_delay=0.2
    )
    synced: list[str] = []

    def stop_the_server_after_three(name: str, body: dict, job) -> None:
        if name == "file_synced":
            synced.append(body["path"])
            if len(synced) == 3:
                target.peer.process.stop()

    with sync_app.app_context():
        broken = run_now(job_id, on_event=stop_the_server_after_three)
        assert broken.status == "waiting_destination"
        assert 3 <= broken.files_deleted < len(files)
    assert_nothing_unverified_was_deleted(source, target, files)
    left = tree_digests(source)
    assert 0 < len(left) < len(files)

    # A run that starts while the server is still down touches nothing.
    with sync_app.app_context():
        assert run_now(job_id).status == "waiting_destination"
    assert tree_digests(source) == left
    status = job_status(sync_client, job_id)
    assert status["state"] == "waiting_destination"
    assert status["last_error"]
    assert status["last_run"]["status"] == "waiting_destination"
    assert destinations_health(sync_client) in (None, "error")

    target.restart()
    start_dispatcher(sync_app)
    try:
        wait_until(
            lambda: job_status(sync_client, job_id)["last_run"]["status"] == "completed",
            timeout=60,
            what="the job to complete by itself",
        )
    finally:
        stop_dispatcher(sync_app)
    assert tree_digests(source) == {}
    assert final_files(target.on_disk) == md5s(files)
    assert target.listed() == set(files)
    status = job_status(sync_client, job_id)
    assert status["state"] in ("idle", "queued")
    assert status["last_error"] is None
    assert destinations_health(sync_client) in (None, "ok")
