"""What the Sync jobs page shows: jobs with their last and next run, remotes, form defaults."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from ..auth.models import User
from ..extensions import db
from ..remotes.models import StoredRemote
from ..syncs.jobs import job_status, list_jobs
from ..syncs.paths import allowed_roots


def page_context(user: User) -> dict[str, Any]:
    jobs = list_jobs(None if user.is_admin else user.id)
    remotes = dict(db.session.execute(select(StoredRemote.id, StoredRemote.name)).all())
    owners: dict[int, str] = {}
    if user.is_admin and jobs:
        ids = {job.owner_id for job in jobs}
        owners = dict(db.session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())
    options = current_app.config["SYNCAPP"]["sync"]
    return {
        "jobs": [
            {
                "job": job,
                "status": job_status(job),
                "remote": remotes.get(job.destination_remote_id),
                "owner": owners.get(job.owner_id),
            }
            for job in jobs
        ],
        # Non-administrators cannot list remotes through the API, but may name one in a job.
        "remotes": sorted(remotes.values()),
        "options": options,
        "roots": [str(root) for root in allowed_roots(options, current_app.instance_path)],
    }
