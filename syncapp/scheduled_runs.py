"""A record of every scheduled-job run: which job, which process, when, and how it ended.

Operators see in /api/v1/status which process ran each job last; the leader plans a job's next
run from the last one recorded (by any process), so a new leader keeps the interval instead of
running everything again the moment it takes over. Only the newest `scheduler.keep_runs` rows per
job are kept.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import db
from .timeutil import UtcDateTime, isoformat, utcnow

HOST = socket.gethostname()


class ScheduledRun(db.Model):
    __tablename__ = "scheduled_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64), index=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: running · ok · failed (the error's text in `error`)
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    error: Mapped[str | None] = mapped_column(Text)


def start(job_id: str) -> int:
    run = ScheduledRun(job_id=job_id, host=HOST, pid=os.getpid(), started_at=utcnow())
    db.session.add(run)
    db.session.commit()
    return run.id


def finish(run_id: int, error: BaseException | None, keep: int) -> None:
    run = db.session.get(ScheduledRun, run_id)
    if run is None:  # pruned meanwhile by an operator: nothing to complete
        return
    run.finished_at = utcnow()
    run.outcome = "ok" if error is None else "failed"
    run.error = None if error is None else f"{type(error).__name__}: {error}"[:2000]
    db.session.commit()
    prune(run.job_id, keep)


def prune(job_id: str, keep: int) -> None:
    """Delete all but the newest `keep` runs of `job_id`."""
    oldest_kept = db.session.scalar(
        select(ScheduledRun.id)
        .where(ScheduledRun.job_id == job_id)
        .order_by(ScheduledRun.id.desc())
        .offset(max(keep, 1) - 1)
        .limit(1)
    )
    if oldest_kept is not None:
        db.session.execute(
            delete(ScheduledRun).where(ScheduledRun.job_id == job_id, ScheduledRun.id < oldest_kept)
        )
        db.session.commit()


def last_started(job_id: str) -> datetime | None:
    return db.session.scalar(
        select(func.max(ScheduledRun.started_at)).where(ScheduledRun.job_id == job_id)
    )


def latest_by_job() -> dict[str, dict[str, Any]]:
    """job id -> its newest run (for /api/v1/status)."""
    newest = select(func.max(ScheduledRun.id)).group_by(ScheduledRun.job_id)
    runs = db.session.scalars(select(ScheduledRun).where(ScheduledRun.id.in_(newest)))
    return {
        run.job_id: {
            "host": run.host,
            "pid": run.pid,
            "started_at": isoformat(run.started_at),
            "finished_at": isoformat(run.finished_at) if run.finished_at else None,
            "outcome": run.outcome,
            "error": run.error,
        }
        for run in runs
    }
