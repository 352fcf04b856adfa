"""/api/v1/syncs: seed 000's job endpoints. Users see their own jobs, administrators all."""

from __future__ import annotations

import os

from flask import request
from flask_login import current_user
from sqlalchemy import func, select

from ..extensions import Blueprint, db, limiter
from ..security import owner_scope
from ..tenancy import caller
from . import live
from .folders import roots_of, subfolders
from .history import LISTED, run_number
from .jobs import (
    create_job,
    delete_job,
    get_job,
    job_status,
    list_jobs,
    remote_name,
    requeue_failed,
    set_enabled,
    update_job,
)
from .models import SyncFile, SyncJob, SyncRun
from .runner import request_run
from .schemas import (
    FileFilters,
    FileList,
    FolderListing,
    FolderQuery,
    JobStatus,
    Page,
    RunAccepted,
    RunHistory,
    SyncJobCreate,
    SyncJobInfo,
    SyncJobList,
    SyncJobUpdate,
    SyncRoots,
)
from .wiring import rate_limit

bp = Blueprint("syncs", __name__, url_prefix="/api/v1/syncs", description="Sync jobs (seed 000)")


def _caller() -> str:
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return request.remote_addr or "unknown"


limiter.limit(rate_limit, key_func=_caller)(bp)


def _scope() -> int | None:
    return owner_scope("sync jobs")


def _job(job_id: int) -> SyncJob:
    return get_job(job_id, _scope())


def _info(job: SyncJob) -> SyncJob:
    job.destination_remote = remote_name(job)  # not a column: rides along for the reply
    return job


@bp.route("", methods=["GET"])
@bp.response(200, SyncJobList)
def list_syncs():
    jobs = [_info(job) for job in list_jobs(_scope())]
    return {"syncs": jobs, "total": len(jobs)}


@bp.route("/roots", methods=["GET"])
@bp.response(200, SyncRoots)
def list_roots():
    """The folders the caller's jobs may use (source_path and destination_path lie inside)."""
    _scope()
    roots = roots_of(caller())
    return {
        "roots": [
            {"path": root.path, "kind": root.kind, "exists": os.path.isdir(root.path)}
            for root in roots
        ]
    }


@bp.route("/folders", methods=["GET"])
@bp.arguments(FolderQuery, location="query")
@bp.response(200, FolderListing)
def list_folders(query):
    """The folders inside a folder of your sync roots (the Sync jobs page's folder picker)."""
    _scope()
    return subfolders(caller(), query["path"])


@bp.route("", methods=["POST"])
@bp.arguments(SyncJobCreate)
@bp.response(201, SyncJobInfo)
def create_sync(values):
    _scope()
    job = create_job(current_user.id, values)
    if job.enabled:
        request_run(job, "start")
    live.job_changed(job, "created")
    return _info(job)


@bp.route("/<int:job_id>", methods=["GET"])
@bp.response(200, SyncJobInfo)
def get_sync(job_id: int):
    return _info(_job(job_id))


@bp.route("/<int:job_id>", methods=["PUT"])
@bp.arguments(SyncJobUpdate, required=False)  # no body: nothing changes
@bp.response(200, SyncJobInfo)
def update_sync(values, job_id: int):
    job = update_job(_job(job_id), values)
    live.job_changed(job, "updated")
    return _info(job)


@bp.route("/<int:job_id>", methods=["DELETE"])
@bp.response(204)
def delete_sync(job_id: int):
    job = _job(job_id)
    delete_job(job)
    live.job_changed(job, "deleted")  # a deleted instance keeps its loaded attributes


@bp.route("/<int:job_id>/start", methods=["POST"])
@bp.response(200, SyncJobInfo)
def start_sync(job_id: int):
    job = set_enabled(_job(job_id), True)
    request_run(job, "start")
    live.job_changed(job, "started")
    return _info(job)


@bp.route("/<int:job_id>/stop", methods=["POST"])
@bp.response(200, SyncJobInfo)
def stop_sync(job_id: int):
    job = set_enabled(_job(job_id), False)
    live.job_changed(job, "stopped")
    return _info(job)


def _accepted(job: SyncJob, reason: str, message: str, **extra):
    run = request_run(job, reason)
    return {
        "status": "accepted",
        "message": message,
        "job_id": job.id,
        "run_id": run.id,
        "run_number": run_number(db.session, run),
        **extra,
    }


@bp.route("/<int:job_id>/force", methods=["POST"])
@bp.response(202, RunAccepted)
def force_sync(job_id: int):
    return _accepted(_job(job_id), "force", "A run was queued; follow it at /status.")


@bp.route("/<int:job_id>/retry", methods=["POST"])
@bp.response(202, RunAccepted)
def retry_sync(job_id: int):
    job = _job(job_id)
    count = requeue_failed(job)
    return _accepted(job, "retry", f"{count} file(s) queued again.", requeued=count)


@bp.route("/<int:job_id>/status", methods=["GET"])
@bp.response(200, JobStatus)
def sync_status(job_id: int):
    return job_status(_job(job_id))


@bp.route("/<int:job_id>/files", methods=["GET"])
@bp.arguments(FileFilters, location="query")
@bp.response(200, FileList)
def sync_files(filters, job_id: int):
    job = _job(job_id)
    query = select(SyncFile).where(SyncFile.job_id == job.id)
    if "state" in filters:
        query = query.where(SyncFile.state == filters["state"])
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    files = db.session.scalars(
        query.order_by(SyncFile.path).limit(filters["limit"]).offset(filters["offset"])
    ).all()
    return {"files": files, "total": total, "limit": filters["limit"], "offset": filters["offset"]}


@bp.route("/<int:job_id>/history", methods=["GET"])
@bp.arguments(Page, location="query")
@bp.response(200, RunHistory)
def sync_history(page, job_id: int):
    job = _job(job_id)
    query = select(SyncRun).where(SyncRun.job_id == job.id, LISTED)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    runs = db.session.scalars(
        query.order_by(SyncRun.id.desc()).limit(page["limit"]).offset(page["offset"])
    ).all()
    return {"runs": runs, "total": total, "limit": page["limit"], "offset": page["offset"]}
