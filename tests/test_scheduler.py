"""The scheduler: one leader per lock file, and jobs registered from the settings."""

from __future__ import annotations

import os

from syncapp.background.leader import FileLeaderLock
from syncapp.scheduler import build_scheduler


def test_only_one_process_holds_the_leader_lock(tmp_path):
    path = tmp_path / "scheduler.lock"
    first, second = FileLeaderLock(path), FileLeaderLock(path)
    assert first.try_acquire() is True
    assert second.try_acquire() is False
    os.close(first._fd)  # the leader dies: the kernel releases its lock
    assert second.try_acquire() is True
    assert path.read_text().strip() == str(os.getpid())


def backup_jobs(app) -> list:
    return [job for job in build_scheduler(app).get_jobs() if job.id.startswith("backups.")]


def test_retention_is_scheduled_only_when_a_policy_is_set(make_app):
    assert backup_jobs(make_app()) == []
    app = make_app(backups={"retention_full_chains": 3, "retention_interval": 600})
    jobs = backup_jobs(app)
    assert [j.id for j in jobs] == ["backups.retention"]
    assert jobs[0].trigger.interval.total_seconds() == 600
    locked = make_app(backups={"retention_full_chains": 3, "append_only": True})
    assert backup_jobs(locked) == []
