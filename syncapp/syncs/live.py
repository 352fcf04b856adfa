"""Live events of sync jobs on /events: to the job owner's sessions and to administrators, whose
Sync jobs page lists everyone's."""

from __future__ import annotations

from ..events import publish
from .models import SyncJob


def announce(name: str, payload: dict, job: SyncJob) -> None:
    """A run's progress and end (the engine's `on_event` hook)."""
    body = {"job_id": job.id, "job": job.name, **payload}
    publish(name, body, user_id=job.owner_id, admins=True)


def job_changed(job: SyncJob, action: str) -> None:
    """Tell open Sync jobs pages (the owner's and administrators') to refresh the job's row."""
    body = {
        "job_id": job.id,
        "job": job.name,
        "action": action,
        "state": job.state,
        "enabled": job.enabled,
    }
    publish("job_changed", body, user_id=job.owner_id, admins=True)
