"""Replication to Google Drive, Azure Blob and S3 on their real servers: verified copies, honest
progress, retries while a cloud is down, and work resumed after a crash."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from syncapp.cloud.jobs import job_view
from syncapp.cloud.models import CloudCopy, CloudJob
from syncapp.cloud.replicator import (
    ReplicationRunner,
    replicate_due,
    start_replication,
    stop_replication,
)
from syncapp.extensions import db
from syncapp.scheduler import build_scheduler
from syncapp.timeutil import utcnow
from tests.cloud.clouds import Clouds, MiB, clouds_fixture, make_clouds_fixture, md5_of  # noqa: F401
from tests.peers.process import wait_until
from tests.streams import PatternStream

pytestmark = pytest.mark.peer

STATES = ["pending", "running", "completed"]
LIVE_CLAIM = timedelta(hours=1)


def pattern(size: int, seed: int = 0) -> bytes:
    return PatternStream(size, seed).read()


class JobWatcher(threading.Thread):
    """Reads the job's status as a client would, from another thread, while it runs."""

    def __init__(self, app, job_id: str) -> None:
        super().__init__(daemon=True)
        self.app, self.job_id = app, job_id
        self.seen: list[tuple[str, float]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            with self.app.app_context():
                view = job_view(db.session.get(CloudJob, self.job_id))
                self.seen.append((view["status"], view["progress_percentage"]))
                db.session.remove()
            self.done.wait(0.005)  # pacing between reads, not a synchronisation


def assert_honest(observed: list[tuple[str, float]]) -> None:
    """Progress never goes back, stays below 100 until the job is completed, and the status
    only moves forward through pending, running, completed."""
    progress = [p for _, p in observed]
    assert progress == sorted(progress), progress
    assert all(p < 100 for s, p in observed if s != "completed"), observed
    order = [STATES.index(s) for s, _ in observed]
    assert order == sorted(order), observed


def test_an_upload_is_replicated_to_all_three_clouds_with_honest_progress(clouds: Clouds):
    data = pattern(6 * MiB + 12345, seed=7)
    reply = clouds.upload(data, "report.pdf", "google", "azure", "s3")
    job_id, file_id = reply["job_id"], reply["file_id"]
    assert clouds.job(job_id)["status"] == "pending"
    assert clouds.job(job_id)["progress_percentage"] == 0

    events: list[tuple[str, dict]] = []
    watcher = JobWatcher(clouds.app, job_id)
    watcher.start()
    try:
        results = clouds.replicate(
            on_event=lambda name, body: events.append((name, body)),
            progress_bytes=1,
            progress_seconds=0,
        )
    finally:
        watcher.done.set()
        watcher.join()

    assert sorted((r.target, r.status) for r in results) == [
        ("azure", "completed"), ("google", "completed"), ("s3", "completed"),
    ]  # fmt: skip
    for target in ("google", "azure", "s3"):
        assert clouds.cloud_md5(file_id, target) == md5_of(data)
        copy = clouds.copy(file_id, target)
        assert (copy.status, copy.synced_version, copy.synced_md5) == ("completed", 1, md5_of(data))
        assert copy.synced_size == len(data)

    final = clouds.job(job_id)
    assert (final["status"], final["progress_percentage"]) == ("completed", 100)
    assert [t["status"] for t in final["targets"]] == ["completed"] * 3

    observed = [(body["status"], body["progress_percentage"]) for _, body in events]
    assert_honest(observed)
    assert [name for name, _ in events].count("cloud_job_finished") == 1
    assert events[-1][0] == "cloud_job_finished" and observed[-1] == ("completed", 100)
    running = {p for s, p in observed if s == "running"}
    assert len(running) >= 4, observed  # bytes reported as they went, not one jump at the end
    assert_honest([("pending", 0.0), *watcher.seen, ("completed", 100.0)])


def test_a_cloud_down_during_replication_is_retried_until_it_is_back(make_clouds, s3_server):
    clouds = make_clouds(retry_delay=1, max_retry_delay=2, max_attempts=5)
    data = pattern(300_000, seed=3)
    reply = clouds.upload(data, "ledger.xlsx", "s3")
    s3_server.process.stop()
    try:
        before = utcnow()
        [result] = clouds.replicate()
        assert result.status == "pending"
        copy = clouds.copy(reply["file_id"], "s3")
        assert (copy.status, copy.attempts) == ("pending", 1)
        assert "cannot reach" in copy.last_error  # the row names the target, not the text
        assert copy.next_attempt_at >= before + timedelta(seconds=1)  # the backoff
        status = clouds.job(reply["job_id"])
        assert status["status"] == "running" and status["targets"][0]["attempts"] == 1
    finally:
        s3_server.process.start()

    wait_until(
        lambda: any(r.status == "completed" for r in clouds.replicate()),
        timeout=30,
        what="the s3 copy once the server is back",
    )
    assert clouds.cloud_md5(reply["file_id"], "s3") == md5_of(data)
    copy = clouds.copy(reply["file_id"], "s3")
    assert (copy.status, copy.attempts, copy.last_error) == ("completed", 1, None)
    assert clouds.job(reply["job_id"])["status"] == "completed"


def test_a_cloud_that_stays_down_fails_after_max_attempts(make_clouds, s3_server):
    clouds = make_clouds(retry_delay=0, max_attempts=3)
    reply = clouds.upload(b"never arrives", "notes.txt", "s3")
    s3_server.process.stop()
    try:
        results = clouds.replicate()  # no delay between attempts: all of them in this drain
    finally:
        s3_server.process.start()
    assert [r.status for r in results] == ["pending", "pending", "failed"]
    copy = clouds.copy(reply["file_id"], "s3")
    assert (copy.status, copy.attempts) == ("failed", 3)
    job = clouds.job(reply["job_id"])
    assert job["status"] == "failed"
    assert job["error_message"].startswith("s3: ") and job["progress_percentage"] < 100
    assert not job["error_message"].startswith("s3: s3: ")  # the target is named once
    assert clouds.replicate() == []  # failed is final


def _set_copy(app, file_id: int, **values) -> None:
    with app.app_context():
        db.session.execute(
            db.update(CloudCopy).where(CloudCopy.file_id == file_id).values(**values)
        )
        db.session.commit()


def test_a_copy_left_running_by_a_dead_process_is_resumed(clouds: Clouds):
    data = pattern(200_000, seed=5)
    abandoned = clouds.upload(data, "abandoned.bin", "s3")
    busy = clouds.upload(b"claimed elsewhere", "busy.bin", "s3")
    # A process claimed both and died during the first; the second's claimer is still alive.
    _set_copy(
        clouds.app, abandoned["file_id"], status="running", bytes_done=70_000,
        next_attempt_at=utcnow() - timedelta(seconds=1),
    )  # fmt: skip
    _set_copy(clouds.app, busy["file_id"], status="running", next_attempt_at=utcnow() + LIVE_CLAIM)

    results = clouds.replicate()

    assert [(r.copy_id, r.status) for r in results] == [
        (clouds.copy(abandoned["file_id"], "s3").id, "completed")
    ]
    assert clouds.cloud_md5(abandoned["file_id"], "s3") == md5_of(data)
    assert clouds.copy(abandoned["file_id"], "s3").bytes_done == len(data)
    assert clouds.job(abandoned["job_id"])["status"] == "completed"
    assert clouds.copy(busy["file_id"], "s3").status == "running"  # not taken from its owner


def test_a_row_is_claimed_by_one_copier_only(clouds: Clouds):
    reply = clouds.upload(b"once", "once.txt", "s3")
    copy_id = clouds.copy(reply["file_id"], "s3").id
    first, second = ReplicationRunner(clouds.app), ReplicationRunner(clouds.app)
    with clouds.app.app_context():
        assert first.replicator().claim(copy_id) is True
    with clouds.app.app_context():
        assert second.replicator().claim(copy_id) is False
        assert second.replicator().claim_due(10) == []
    assert clouds.copy(reply["file_id"], "s3").status == "running"


def test_an_upload_wakes_the_background_replication(clouds: Clouds):
    start_replication(clouds.app)
    try:
        data = pattern(100_000, seed=11)
        reply = clouds.upload(data, "woken.bin", "s3", "azure")
        wait_until(
            lambda: clouds.job(reply["job_id"])["status"] == "completed",
            timeout=30,
            what="the job to complete in the background",
        )
    finally:
        stop_replication(clouds.app)
    assert "syncapp.cloud_wake" not in clouds.app.extensions
    for target in ("s3", "azure"):
        assert clouds.cloud_md5(reply["file_id"], target) == md5_of(data)


def test_a_new_version_overwrites_the_cloud_copy_syncapp_wrote(clouds: Clouds):
    first = clouds.upload(b"version one", "plan.txt", "s3", "azure")
    clouds.replicate()
    second = clouds.upload(b"version two, longer", "plan.txt", "s3", "azure")
    assert second["file_id"] == first["file_id"]
    results = clouds.replicate()
    assert {r.status for r in results} == {"completed"}
    for target in ("s3", "azure"):
        assert clouds.cloud_md5(first["file_id"], target) == md5_of(b"version two, longer")
        assert clouds.copy(first["file_id"], target).synced_version == 2
    assert clouds.job(second["job_id"])["status"] == "completed"


def test_the_scheduler_runs_replication_at_the_configured_interval(make_app):
    app = make_app(cloud={"replication_interval": 7})
    [job] = [j for j in build_scheduler(app).get_jobs() if j.id == "cloud.replication"]
    assert job.trigger.interval.total_seconds() == 7
    with app.app_context():
        assert replicate_due() == []  # nothing to do is not an error


def test_a_new_version_follows_every_cloud_that_has_the_file(clouds: Clouds):
    first = clouds.upload(b"budget v1", "budget.ods", "s3", "google")
    clouds.replicate()
    second = clouds.upload(b"budget v2, revised", "budget.ods")  # no cloud named this time
    assert sorted(clouds.job(second["job_id"])["targets"][i]["target"] for i in range(2)) == [
        "google", "s3"
    ]  # fmt: skip
    clouds.replicate()
    for target in ("s3", "google"):
        assert clouds.cloud_md5(first["file_id"], target) == md5_of(b"budget v2, revised")
    assert clouds.job(second["job_id"])["status"] == "completed"
