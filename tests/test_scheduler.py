"""The scheduler: one leader per lock file, and jobs registered from the settings."""

from __future__ import annotations

import os
from pathlib import Path

import syncapp
from syncapp.background.leader import FileLeaderLock
from syncapp.extensions import db
from syncapp.scheduled_runs import ScheduledRun
from syncapp.scheduler import FEATURES, JOBS, RUNNERS, build_scheduler


def test_only_one_process_holds_the_leader_lock(tmp_path):
    path = tmp_path / "scheduler.lock"
    first, second = FileLeaderLock(path), FileLeaderLock(path)
    assert first.try_acquire() is True
    assert second.try_acquire() is False
    os.close(first._fd)  # the leader dies: the kernel releases its lock
    assert second.try_acquire() is True
    assert path.read_text().strip() == str(os.getpid())


def backup_jobs(app) -> list:
    return [job for job in build_scheduler(app).get_jobs() if job.id == "backups.retention"]


def test_retention_is_scheduled_only_when_a_policy_is_set(make_app):
    assert backup_jobs(make_app()) == []
    app = make_app(backups={"retention_full_chains": 3, "retention_interval": 600})
    jobs = backup_jobs(app)
    assert [j.id for j in jobs] == ["backups.retention"]
    assert jobs[0].trigger.interval.total_seconds() == 600
    locked = make_app(backups={"retention_full_chains": 3, "append_only": True})
    assert backup_jobs(locked) == []


def test_every_store_sweeps_its_debris_on_the_debris_interval(make_app):
    jobs = {job.id: job for job in build_scheduler(make_app(debris={"interval": 900})).get_jobs()}
    sweeps = ["backups.debris", "cordiax.debris", "documents.debris", "cloud.debris"]
    assert all(jobs[name].trigger.interval.total_seconds() == 900 for name in sweeps)
    off = build_scheduler(make_app(debris={"interval": None})).get_jobs()
    assert not [job.id for job in off if job.id.endswith(".debris")]


def test_every_feature_declares_its_background_work_in_its_background_module():
    found = {
        f"syncapp.{path.parent.name}.background"
        for path in Path(syncapp.__file__).parent.glob("*/background.py")
    }
    assert {module.__name__ for module in FEATURES} == found
    for module in FEATURES:
        feature = module.__name__.split(".")[1]
        assert all(work.id.startswith(f"{feature}.") for work in [*module.JOBS, *module.RUNNERS])
    ids = [work.id for work in [*JOBS, *RUNNERS]]
    assert len(ids) == len(set(ids))


def test_a_runner_wake_up_is_not_a_recorded_run(make_app):
    app = make_app(cloud={"replication_interval": 3})
    woken: list[str] = []

    class Runner:
        def wake(self) -> None:
            woken.append("woken")

    app.extensions["syncapp.cloud_replication"] = Runner()
    [tick] = [job for job in build_scheduler(app).get_jobs() if job.id == "cloud.replication"]
    tick.func()
    assert woken == ["woken"]
    with app.app_context():
        assert db.session.query(ScheduledRun).count() == 0
