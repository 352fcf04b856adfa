"""Live events of cloud files on /events: replication jobs' progress, to the job's owner only
(the Cloud files page follows the user's own jobs)."""

from __future__ import annotations

from ..events import publish


def job_event(event: str, payload: dict, owner_id: int) -> None:
    """`cloud_progress` while a job copies, `cloud_job_finished` once when it ends."""
    publish(event, payload, user_id=owner_id)
