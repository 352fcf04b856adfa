"""A job's run history: one row per stretch of runs that did nothing, at most `sync.keep_runs`
runs, and totals (/metrics, `files_synced`) that still count every run (issue 17 item 16)."""

from __future__ import annotations

import pytest

from syncapp.storage.mounts import MARKER
from syncapp.syncs.models import RUN_STATUSES
from tests.syncs.helpers import grant_folders, write_tree
from tests.syncs.test_api import new_job
from tests.syncs.test_engine import run

KEEP = 3


@pytest.fixture
def keeping_app(make_app, sync_root):
    return make_app(sync={"allowed_roots": [str(sync_root)], "keep_runs": KEEP})


@pytest.fixture
def keeping_client(keeping_app, sync_root):
    from tests.conftest import bearer, make_token, make_user

    make_user(keeping_app, "ana@example.com")
    grant_folders(keeping_app, "ana@example.com", sync_root)
    client = keeping_app.test_client()
    token = make_token(keeping_app, "ana@example.com")
    client.environ_base["HTTP_AUTHORIZATION"] = bearer(token)["Authorization"]
    return client


def history(client, job_id: int) -> list[dict]:
    reply = client.get(f"/api/v1/syncs/{job_id}/history").json
    assert reply["total"] == len(reply["runs"])
    return reply["runs"]


def job_metrics(client, job_id: int) -> dict:
    [metrics] = [j for j in client.get("/api/v1/metrics").json["jobs"] if j["job_id"] == job_id]
    assert set(metrics["runs"]) == set(RUN_STATUSES)  # the summary row is no run
    return metrics


def test_runs_that_do_nothing_keep_one_row_per_stretch(sync_app, sync_client, sync_root):
    src = sync_root / "src"
    write_tree(src, {"a.txt": b"a", "b.txt": b"bb"})
    job_id = new_job(sync_client, sync_root)["id"]
    copied = run(sync_app, job_id)
    idle = [run(sync_app, job_id) for _ in range(4)]
    assert [(r["id"], r["files_copied"]) for r in history(sync_client, job_id)] == [
        (idle[-1].id, 0),
        (copied.id, 2),
    ]  # the newest of the stretch: when the job last looked
    write_tree(src, {"c.txt": b"ccc"})
    again = run(sync_app, job_id)
    forced = sync_client.post(f"/api/v1/syncs/{job_id}/force").json["run_id"]
    assert run(sync_app, job_id).id == forced
    assert [r["id"] for r in history(sync_client, job_id)] == [
        forced, again.id, idle[-1].id, copied.id
    ]  # fmt: skip
    status = sync_client.get(f"/api/v1/syncs/{job_id}/status").json
    assert status["last_run"]["id"] == forced and status["files_synced"] == 3

    metrics = job_metrics(sync_client, job_id)
    assert (metrics["files_copied"], metrics["bytes_copied"]) == (3, 6)
    assert metrics["files_skipped"] == 4 * 2 + 2 + 3  # every look counted, folded or not
    assert metrics["runs"]["completed"] == 4 and metrics["last_run_status"] == "completed"


def test_a_destination_that_stays_away_keeps_one_row(sync_app, sync_client, sync_root):
    write_tree(sync_root / "src", {"a.txt": b"a"})
    job_id = new_job(sync_client, sync_root)["id"]
    (sync_root / "dst" / MARKER).unlink()  # the share is no longer mounted
    waits = [run(sync_app, job_id) for _ in range(3)]
    assert {w.status for w in waits} == {"waiting_destination"}
    [row] = history(sync_client, job_id)
    assert (row["id"], row["status"]) == (waits[-1].id, "waiting_destination")
    assert "not a mount point" in row["error"]


def test_delete_after_sync_counts_the_files_it_moved(sync_app, sync_client, sync_root):
    write_tree(sync_root / "src", {"a.txt": b"a", "d/b.txt": b"b"})
    job_id = new_job(sync_client, sync_root, delete_after_sync=True)["id"]
    assert run(sync_app, job_id).files_deleted == 2
    write_tree(sync_root / "src", {"c.txt": b"c"})
    run(sync_app, job_id)
    assert sync_client.get(f"/api/v1/syncs/{job_id}/status").json["files_synced"] == 3


def test_runs_beyond_keep_runs_are_deleted_and_still_counted(
    keeping_app, keeping_client, sync_root
):
    src = sync_root / "src"
    job_id = new_job(keeping_client, sync_root, delete_after_sync=True)["id"]
    made = []
    for n in range(1, 7):
        write_tree(src, {f"file-{n}.txt": b"x" * n})
        made.append(run(keeping_app, job_id))
    assert all(r.files_deleted == 1 for r in made)
    assert [r["id"] for r in history(keeping_client, job_id)] == [r.id for r in made[::-1][:KEEP]]
    status = keeping_client.get(f"/api/v1/syncs/{job_id}/status").json
    assert status["files_synced"] == 6 and status["last_run"]["id"] == made[-1].id
    metrics = job_metrics(keeping_client, job_id)
    assert (metrics["files_copied"], metrics["files_deleted"]) == (6, 6)
    assert metrics["bytes_copied"] == sum(range(1, 7))
    assert metrics["runs"]["completed"] == KEEP  # the runs the history holds
    assert sorted(p.name for p in (sync_root / "dst").iterdir() if p.name != MARKER) == [
        f"file-{n}.txt" for n in range(1, 7)
    ]
