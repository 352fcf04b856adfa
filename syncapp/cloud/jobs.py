"""Replication jobs: created when a version is uploaded (replicate_upload decides which clouds),
finished when every cloud has it.

A job's progress is the bytes its copies have sent over the bytes they have to send (the file's
size once per cloud). It stays below 100 until the last copy is verified, so a client that sees
100 can rely on it.
"""

from __future__ import annotations

import uuid

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..timeutil import utcnow
from .models import CloudCopy, CloudFile, CloudJob, CloudVersion
from .store import BUSY_COPIES, Outcome
from .targets import remote_path


def enqueue_replication(file: CloudFile, version: CloudVersion, targets: list[str]) -> CloudJob:
    """A job copying `version` to each target; a copy still busy with an older version is
    re-pointed at this one, and that older job ends as superseded."""
    job = CloudJob(
        id=str(uuid.uuid4()),
        owner_id=file.owner_id,
        file_id=file.id,
        version=version.number,
        targets=list(targets),
        status="pending" if targets else "completed",
        bytes_total=version.size * len(targets),
        finished_at=None if targets else utcnow(),
    )
    db.session.add(job)
    db.session.flush()
    copies = {
        c.target: c
        for c in db.session.scalars(select(CloudCopy).where(CloudCopy.file_id == file.id))
    }
    for target in targets:
        copy = copies.get(target)
        if copy is None:
            copy = CloudCopy(
                file_id=file.id,
                target=target,
                remote_path=remote_path(target, file.owner_id, file.filename),
            )
            db.session.add(copy)
        elif copy.job_id and copy.job_id != job.id:
            _supersede(copy.job_id, job)
        copy.wanted_version = version.number
        copy.status, copy.attempts, copy.last_error = "pending", 0, None
        copy.next_attempt_at, copy.job_id, copy.bytes_done = utcnow(), job.id, 0
    db.session.commit()
    wake = current_app.extensions.get("syncapp.cloud_wake")
    if wake is not None:
        wake()
    return job


def _holds_or_gets(copy: CloudCopy | None, number: int) -> bool:
    """The cloud has this version, or a copy of it is under way."""
    if copy is None or copy.wanted_version != number:
        return False
    return copy.status in BUSY_COPIES or (
        copy.status == "completed" and copy.synced_version == number
    )


def replicate_upload(outcome: Outcome, targets: list[str]) -> CloudJob:
    """The job that answers the upload. A new version goes to the clouds asked for and to every
    cloud that already has a copy of the file. Content the file already had is copied only to the
    clouds that lack it; when every cloud asked for has it (or is getting it), the answer is the
    job already under way, or a job completed at once with nothing to send."""
    if outcome.created:
        # a cloud that has the file keeps following it: its copy would go stale otherwise
        following = [copy.target for copy in outcome.file.copies if copy.target not in targets]
        return enqueue_replication(outcome.file, outcome.version, [*targets, *sorted(following)])
    number = outcome.version.number
    copies = {copy.target: copy for copy in outcome.file.copies}
    missing = [t for t in targets if not _holds_or_gets(copies.get(t), number)]
    if missing:
        return enqueue_replication(outcome.file, outcome.version, missing)
    for target in targets:
        copy = copies[target]
        if copy.status in BUSY_COPIES and copy.job_id:
            job = db.session.get(CloudJob, copy.job_id)
            if job is not None:
                return job
    return enqueue_replication(outcome.file, outcome.version, [])


def _supersede(old_job_id: str, new_job: CloudJob) -> None:
    old = db.session.get(CloudJob, old_job_id)
    if old is not None and old.status in ("pending", "running"):
        old.status, old.finished_at = "failed", utcnow()
        old.error_message = f"superseded by version {new_job.version} (job {new_job.id})"


def job_copies(job: CloudJob) -> list[CloudCopy]:
    return list(db.session.scalars(select(CloudCopy).where(CloudCopy.job_id == job.id)))


def refresh_job_status(job: CloudJob) -> CloudJob:
    """Derive the job's status from its copies (call after a copy changed; commits)."""
    if job.status in ("completed", "failed") and job.finished_at is not None:
        return job
    copies = job_copies(job)
    states = {c.status for c in copies}
    if copies and states <= {"completed"}:
        job.status, job.finished_at = "completed", utcnow()
    elif states & {"failed", "conflict"} and not states & {"pending", "running"}:
        job.status, job.finished_at = "failed", utcnow()
        job.error_message = "; ".join(
            f"{c.target}: {c.last_error or c.status}" for c in copies if c.status != "completed"
        )
    elif states & {"running", "completed", "failed", "conflict"}:
        job.status = "running"
        job.started_at = job.started_at or utcnow()
    db.session.commit()
    return job


def job_view(job: CloudJob) -> dict:
    """Seed 004's status fields, plus each target's own state."""
    copies = job_copies(job)
    done = sum(min(c.bytes_done, job.bytes_total) for c in copies)
    if job.status == "completed":
        progress = 100.0
    elif job.bytes_total:
        progress = min(99.0, round(100.0 * done / job.bytes_total, 1))
    else:
        progress = 0.0
    return {
        "job_id": job.id,
        "file_id": job.file_id,
        "version": job.version,
        "status": job.status,
        "progress_percentage": progress,
        "error_message": job.error_message,
        "bytes_total": job.bytes_total,
        "bytes_done": done if job.status != "completed" else job.bytes_total,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "targets": [
            {
                "target": c.target,
                "status": c.status,
                "bytes_done": c.bytes_done,
                "attempts": c.attempts,
                "error": c.last_error,
            }
            for c in sorted(copies, key=lambda c: c.target)
        ],
    }
