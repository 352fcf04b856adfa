"""What a sync run does with the files: copies, skips, waits, deletes, and survives a crash."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from syncapp.extensions import db
from syncapp.storage.local import ConfinedLocalRemote
from syncapp.syncs.models import SyncFile, SyncJob, SyncRun
from syncapp.syncs.runner import recover_stale, run_now, start_dispatcher, stop_dispatcher
from tests.conftest import make_settings
from tests.peers.process import wait_until
from tests.syncs.helpers import tree_digests, write_tree
from tests.syncs.test_api import new_job


def run(app, job_id, **hooks):
    with app.app_context():
        return run_now(job_id, **hooks)


def test_copies_new_and_changed_files_and_skips_unchanged(sync_app, sync_client, sync_root):
    src, dst = sync_root / "src", sync_root / "dst"
    write_tree(src, {"a.txt": b"alpha", "deep/er/b.bin": os.urandom(300_000), "empty": b""})
    job_id = new_job(sync_client, sync_root)["id"]
    first = run(sync_app, job_id)
    assert (first.status, first.files_copied, first.files_skipped) == ("completed", 3, 0)
    assert tree_digests(dst) == tree_digests(src)

    second = run(sync_app, job_id)
    assert (second.files_copied, second.files_skipped) == (0, 3)

    (src / "a.txt").write_bytes(b"alpha, longer now")
    write_tree(src, {"new/c.txt": b"gamma"})
    third = run(sync_app, job_id)
    assert (third.files_copied, third.files_skipped) == (2, 2)
    assert tree_digests(dst) == tree_digests(src)


def test_a_file_missing_at_the_destination_is_copied_again(sync_app, sync_client, sync_root):
    write_tree(sync_root / "src", {"a": b"1", "b": b"2"})
    job_id = new_job(sync_client, sync_root)["id"]
    run(sync_app, job_id)
    (sync_root / "dst" / "b").unlink()
    again = run(sync_app, job_id)
    assert again.files_copied == 1 and (sync_root / "dst" / "b").read_bytes() == b"2"


def test_include_and_exclude_globs(sync_app, sync_client, sync_root):
    write_tree(sync_root / "src", {"a.pdf": b"1", "b.tmp": b"2", "d/c.pdf": b"3", "d/x.txt": b"4"})
    job_id = new_job(sync_client, sync_root, include=["*.pdf", "*.tmp"], exclude=["*.tmp"])["id"]
    run(sync_app, job_id)
    assert sorted(tree_digests(sync_root / "dst")) == ["a.pdf", "d/c.pdf"]


def test_symlinks_in_the_source_are_not_followed(sync_app, sync_client, sync_root, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    write_tree(sync_root / "src", {"real.txt": b"ok"})
    (sync_root / "src" / "link.txt").symlink_to(secret)
    job_id = new_job(sync_client, sync_root)["id"]
    run(sync_app, job_id)
    assert list(tree_digests(sync_root / "dst")) == ["real.txt"]


def test_a_file_being_written_is_not_copied_half_written(
    sync_app, sync_client, sync_root, monkeypatch
):
    src, dst = sync_root / "src", sync_root / "dst"
    write_tree(src, {"growing.log": b"first half\n", "done.txt": b"complete"})
    job_id = new_job(sync_client, sync_root)["id"]
    real_open = ConfinedLocalRemote.open_fd  # sources are read confined, opened here

    def writer_appends_while_read(self, path):
        opened = real_open(self, path)
        if path == "growing.log":  # the writer goes on once syncapp has started reading
            with open(src / "growing.log", "ab") as log:
                log.write(b"second half\n")
        return opened

    monkeypatch.setattr(ConfinedLocalRemote, "open_fd", writer_appends_while_read)
    busy = run(sync_app, job_id)
    assert (busy.status, busy.files_copied, busy.files_waiting) == ("partial", 1, 1)
    assert not (dst / "growing.log").exists()
    assert list(tree_digests(dst)) == ["done.txt"]  # no temp file left either
    with sync_app.app_context():
        waiting = db.session.query(SyncFile).filter_by(job_id=job_id).one()
        assert (waiting.path, waiting.state) == ("growing.log", "waiting")

    monkeypatch.setattr(ConfinedLocalRemote, "open_fd", real_open)  # the writer has finished
    settled = run(sync_app, job_id)
    assert settled.status == "completed" and settled.files_copied == 1
    assert (dst / "growing.log").read_bytes() == b"first half\nsecond half\n"


def test_delete_after_sync_removes_only_verified_copies(sync_app, sync_client, sync_root):
    src, dst = sync_root / "src", sync_root / "dst"
    write_tree(src, {"a": b"1", "sub/b": b"22", "blocked": b"333"})
    (dst / "blocked").mkdir()  # the copy of "blocked" cannot be written
    job_id = new_job(sync_client, sync_root, delete_after_sync=True, max_retries=2)["id"]
    first = run(sync_app, job_id)
    assert (first.files_copied, first.files_deleted, first.files_failed) == (2, 2, 1)
    assert tree_digests(src) == {"blocked": tree_digests(src)["blocked"]}
    assert (dst / "a").read_bytes() == b"1" and (dst / "sub" / "b").read_bytes() == b"22"

    run(sync_app, job_id)  # fails a second time: max_retries reached
    given_up = run(sync_app, job_id)
    assert given_up.files_failed == 0 and (src / "blocked").read_bytes() == b"333"
    files = sync_client.get(f"/api/v1/syncs/{job_id}/files").json["files"]
    assert [(f["path"], f["state"], f["attempts"]) for f in files] == [("blocked", "failed", 2)]
    assert files[0]["last_error"]

    (dst / "blocked").rmdir()
    assert sync_client.post(f"/api/v1/syncs/{job_id}/retry").json["requeued"] == 1
    retried = run(sync_app, job_id)
    assert retried.files_deleted == 1 and not (src / "blocked").exists()
    assert (dst / "blocked").read_bytes() == b"333"


def test_files_that_cannot_be_written_fail_alone_and_count_their_attempts(
    sync_app, sync_client, sync_root
):
    """A file where the source has a folder, a folder where the source has a file: the other
    files are copied and deleted and counted, the two fail and count their attempts, and after
    max_retries they wait for /retry (issue 17 item 15)."""
    src, dst = sync_root / "src", sync_root / "dst"
    write_tree(src, {"a.txt": b"a", "b.txt": b"bb", "d/x.txt": b"x", "e.txt": b"e"})
    (dst / "d").write_bytes(b"a file where the source has a folder")
    (dst / "e.txt").mkdir()
    (dst / "e.txt" / "kept").write_bytes(b"a folder where the source has a file")
    job_id = new_job(sync_client, sync_root, delete_after_sync=True, max_retries=2)["id"]
    first = run(sync_app, job_id)
    assert (first.status, first.error) == ("partial", None)
    assert (first.files_copied, first.files_deleted, first.files_failed) == (2, 2, 2)
    assert sorted(tree_digests(src)) == ["d/x.txt", "e.txt"]
    assert (dst / "a.txt").read_bytes() == b"a" and (dst / "b.txt").read_bytes() == b"bb"

    def queued() -> list[tuple[str, str, int]]:
        files = sync_client.get(f"/api/v1/syncs/{job_id}/files").json["files"]
        assert all(f["last_error"] for f in files)
        return sorted((f["path"], f["state"], f["attempts"]) for f in files)

    assert queued() == [("d/x.txt", "pending", 1), ("e.txt", "pending", 1)]
    second = run(sync_app, job_id)
    assert (second.status, second.files_failed) == ("partial", 2)
    assert queued() == [("d/x.txt", "failed", 2), ("e.txt", "failed", 2)]
    third = run(sync_app, job_id)  # both given up: nothing is tried until /retry
    assert (third.status, third.files_failed, third.files_copied) == ("completed", 0, 0)
    assert sync_client.get(f"/api/v1/syncs/{job_id}/status").json["failed_files"] == 2

    (dst / "d").unlink()
    assert sync_client.post(f"/api/v1/syncs/{job_id}/retry").json["requeued"] == 2
    retried = run(sync_app, job_id)
    assert (retried.files_copied, retried.files_deleted, retried.files_failed) == (1, 1, 1)
    assert (dst / "d" / "x.txt").read_bytes() == b"x" and not (src / "d" / "x.txt").exists()
    assert queued() == [("e.txt", "pending", 1)]
    assert (dst / "e.txt" / "kept").read_bytes() == b"a folder where the source has a file"


def test_a_job_never_runs_twice_at_once(sync_app, sync_client, sync_root):
    write_tree(sync_root / "src", {"a": b"1"})
    job_id = new_job(sync_client, sync_root)["id"]
    started, release = threading.Event(), threading.Event()

    def hold(name, payload, job):
        if name == "run_started":
            started.set()
            release.wait(60)

    worker = threading.Thread(target=run, args=(sync_app, job_id), kwargs={"on_event": hold})
    worker.start()
    try:
        assert started.wait(60)
        assert run(sync_app, job_id) is None  # claimed by the first run
        assert sync_client.get(f"/api/v1/syncs/{job_id}/status").json["state"] == "running"
    finally:
        release.set()
        worker.join(60)
    with sync_app.app_context():
        statuses = [r.status for r in db.session.query(SyncRun).filter_by(job_id=job_id)]
    assert statuses == ["completed"]


def test_a_run_killed_midway_loses_nothing_and_the_next_completes(
    sync_app, sync_client, sync_root, tmp_path
):
    src, dst = sync_root / "src", sync_root / "dst"
    write_tree(src, {f"f{i:03}/data.bin": os.urandom(20_000 + i) for i in range(60)})
    job_id = new_job(sync_client, sync_root, workers=2)["id"]
    settings = make_settings(tmp_path, sync={"allowed_roots": [str(sync_root)], "batch_size": 3})
    settings_file = tmp_path / "settings.json"
    settings_file.write_text(json.dumps(settings))
    marker = tmp_path / "frozen"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.syncs.crash_run", str(settings_file), str(job_id),
         str(marker), "6"],
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    try:
        wait_until(lambda: marker.exists() or child.poll() is not None, timeout=120)
        assert marker.exists(), "the child ended before freezing"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    with sync_app.app_context():
        assert db.session.get(SyncJob, job_id).lease_owner is not None  # the dead run's claim
        assert recover_stale() == [job_id]
    after = run(sync_app, job_id)
    assert after.status == "completed"
    assert tree_digests(dst) == tree_digests(src)  # every file, whole, and no temp debris
    runs = sync_client.get(f"/api/v1/syncs/{job_id}/history").json["runs"]
    assert [r["status"] for r in runs] == ["completed", "interrupted"]
    assert runs[1]["files_copied"] >= 6 and after.files_copied < 60


def test_a_realtime_job_syncs_a_new_file_before_its_interval(sync_app, sync_client, sync_root):
    src, dst = sync_root / "src", sync_root / "dst"
    job_id = new_job(sync_client, sync_root, realtime=True, sync_interval=86400)["id"]
    start_dispatcher(sync_app)
    try:
        wait_until(
            lambda: (
                sync_client.get(f"/api/v1/syncs/{job_id}/history").json["runs"][0]["status"]
                == "completed"
            ),
            timeout=60,
        )
        write_tree(src, {"new/arrival.txt": b"hello"})
        wait_until(lambda: (dst / "new" / "arrival.txt").exists(), timeout=60)
    finally:
        stop_dispatcher(sync_app)
    assert (dst / "new" / "arrival.txt").read_bytes() == b"hello"
    reasons = [r["reason"] for r in sync_client.get(f"/api/v1/syncs/{job_id}/history").json["runs"]]
    assert "realtime" in reasons


def test_debris_of_failed_writes_is_removed_at_the_next_run(sync_app, sync_client, sync_root):
    from syncapp.storage.base import TEMP_PREFIX, owner_tag

    dst = sync_root / "dst"
    dead = dst / "d" / f"{TEMP_PREFIX}{owner_tag().split('.')[0]}.999999999.abc-x"  # no such pid
    own_old = dst / f"{TEMP_PREFIX}{owner_tag()}.def-y"
    own_new = dst / f"{TEMP_PREFIX}{owner_tag()}.ghi-z"  # could be a write in progress
    for temp in (dead, own_old, own_new):
        temp.parent.mkdir(parents=True, exist_ok=True)
        temp.write_bytes(b"partial")
    os.utime(own_old, (0, 0))
    job_id = new_job(sync_client, sync_root)["id"]
    run(sync_app, job_id)
    assert not dead.exists() and not own_old.exists() and own_new.exists()
