"""The Sync jobs page (`web.syncs_page`) and what it shows: jobs with their last and next run,
remotes, form defaults."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_login import current_user
from sqlalchemy import select

from ..auth.models import User
from ..extensions import db
from ..remotes.catalog import usable_remotes
from ..remotes.models import StoredRemote
from ..settings import settings
from ..web.blueprint import bp
from .folders import roots_of
from .jobs import job_status, list_jobs


def page_context(user: User) -> dict[str, Any]:
    jobs = list_jobs(None if user.is_admin else user.id)
    remotes = dict(db.session.execute(select(StoredRemote.id, StoredRemote.name)).all())
    owners: dict[int, str] = {}
    if user.is_admin and jobs:
        ids = {job.owner_id for job in jobs}
        owners = dict(db.session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())
    options = settings().sync
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
        # the remotes the user may send a job to: the others' names stay unknown to them
        "remotes": sorted(
            remote.name for remote, features in usable_remotes(user) if "syncs" in features
        ),
        "options": options,
        "roots": [root.path for root in roots_of(user)],
    }


@bp.route("/syncs")
def syncs_page():
    """The user's sync jobs (every user's for admins): list, form, details and a live log."""
    return render_template("syncs/index.html", **page_context(current_user))
