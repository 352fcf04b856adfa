"""The Sync jobs page (`web.syncs_page`) and what it shows: jobs with their last and next run,
remotes, form defaults; and one job's page (`web.sync_job_page`): its runs and its queue of
files, each sorted and paged on the server (web/listing.py), however long the history."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_login import current_user
from sqlalchemy import func, select

from ..auth.models import User
from ..extensions import db
from ..remotes.catalog import usable_remotes
from ..remotes.models import StoredRemote
from ..security import owner_scope
from ..settings import settings
from ..web.blueprint import bp
from ..web.listing import Listing, Page
from .folders import roots_of
from .history import LISTED
from .jobs import get_job, job_status, list_jobs, remote_name
from .models import SyncFile, SyncRun


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


#: a run's number within its job (1 for its first run), as the API's run_number counts it
RUN_NUMBER = func.row_number().over(partition_by=SyncRun.job_id, order_by=SyncRun.id)
#: the columns the runs table sorts by (?runs-sort=); "run" is the run's order, hence its id
RUN_SORTS = {
    "run": SyncRun.id,
    "started": func.coalesce(SyncRun.started_at, SyncRun.requested_at),
    "status": SyncRun.status,
    "copied": SyncRun.files_copied,
    "failed": SyncRun.files_failed,
    "bytes": SyncRun.bytes_copied,
}
#: ... and the files table (?files-sort=)
FILE_SORTS = {
    "path": SyncFile.path,
    "size": SyncFile.size,
    "state": SyncFile.state,
    "attempts": SyncFile.attempts,
    "updated": SyncFile.updated_at,
}
RUNS_PER_PAGE = 25


def _runs(job_id: int, listing: Listing) -> Page[tuple[SyncRun, int]]:
    """One page of the job's runs, each with its number within the job."""
    numbered = (
        select(SyncRun.id.label("run_id"), RUN_NUMBER.label("number"))
        .where(SyncRun.job_id == job_id, LISTED)
        .subquery()
    )
    total = db.session.scalar(select(func.count()).select_from(numbered)) or 0
    listing = listing.clamped(total)
    rows = db.session.execute(
        select(SyncRun, numbered.c.number)
        .join(numbered, numbered.c.run_id == SyncRun.id)
        .order_by(*listing.order_by(RUN_SORTS, SyncRun.id.desc()))
        .offset(listing.offset)
        .limit(listing.per_page)
    ).all()
    return listing.of([(run, number) for run, number in rows], total)


def _files(job_id: int, listing: Listing) -> Page[SyncFile]:
    """One page of the job's queue: files still to copy, waiting, or failed."""
    where = SyncFile.job_id == job_id
    total = db.session.scalar(select(func.count()).select_from(SyncFile).where(where)) or 0
    listing = listing.clamped(total)
    files = db.session.scalars(
        select(SyncFile)
        .where(where)
        .order_by(*listing.order_by(FILE_SORTS, SyncFile.id))
        .offset(listing.offset)
        .limit(listing.per_page)
    ).all()
    return listing.of(files, total)


@bp.route("/syncs/<int:job_id>")
def sync_job_page(job_id: int):
    """One sync job's whole history: every run kept and every file in its queue, sorted and
    paged on the server (the Sync jobs page's Details shows the newest only). Another user's
    job is a 404, as in the API."""
    job = get_job(job_id, owner_scope("sync jobs"))
    runs = Listing.read(RUN_SORTS, "run", descending=True, per_page=RUNS_PER_PAGE, prefix="runs-")
    files = Listing.read(FILE_SORTS, "path", per_page=RUNS_PER_PAGE, prefix="files-")
    return render_template(
        "syncs/job.html",
        job=job,
        status=job_status(job),
        remote=remote_name(job),
        runs=_runs(job.id, runs),
        files=_files(job.id, files),
    )
