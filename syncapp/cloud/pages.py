"""The Cloud files page (`web.cloud_page`) and what it shows: files with each cloud's copy, open
conflicts, jobs still replicating, which clouds the user can send to, and the Google Drive
connection."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_login import current_user
from sqlalchemy import select

from ..auth.models import User
from ..extensions import db
from ..scrub import results as scrub_results
from ..settings import settings
from ..web.blueprint import bp
from ..web.listing import Listing
from .models import TARGETS, CloudConflict, CloudFile, CloudJob, GoogleAccount
from .targets import configured_targets
from .wiring import cloud_store

LABELS = {"google": "Google Drive", "azure": "Azure", "s3": "S3"}
#: files rendered per page of the table (?page=), newest first unless ?sort= says
PAGE_SIZE = 50
#: the columns the files table sorts by (?sort=)
SORTS = {
    "file": CloudFile.filename,
    "version": CloudFile.current_version,
    "updated": CloudFile.updated_at,
}


def _target_hints(user: User, google_configured: bool) -> dict[str, str]:
    """Why a target cannot be chosen, for those that cannot."""
    usable = configured_targets(user.id)
    why = {
        "google": "connect Google Drive below first"
        if google_configured
        else "Google Drive is not configured on this server",
        "azure": "not set up: an administrator chooses its stored remote (cloud.azure_remote)",
        "s3": "not set up: an administrator chooses its stored remote (cloud.s3_remote)",
    }
    return {target: why[target] for target in TARGETS if not usable[target]}


def _file_item(file: CloudFile, owners: dict[int, str]) -> dict[str, Any]:
    current = next((v for v in file.versions if v.number == file.current_version), None)
    return {
        "file": file,
        "size": current.size if current else 0,
        "copies": {copy.target: copy for copy in file.copies},
        "version_id": current.id if current else None,
        "owner": owners.get(file.owner_id),
    }


def _conflicts(user: User) -> list[dict[str, Any]]:
    """The user's open conflicts (the conflicts API is per user, administrators included)."""
    rows = db.session.execute(
        select(CloudConflict, CloudFile.filename)
        .join(CloudFile, CloudFile.id == CloudConflict.file_id)
        .where(CloudConflict.owner_id == user.id, CloudConflict.resolved.is_(False))
        .order_by(CloudConflict.detected_at.desc(), CloudConflict.id.desc())
    ).all()
    return [{"conflict": conflict, "filename": filename} for conflict, filename in rows]


def page_context(user: User) -> dict[str, Any]:
    listing = Listing.read(SORTS, "updated", descending=True, per_page=PAGE_SIZE)
    files, total = cloud_store().search(
        owner_id=None if user.is_admin else user.id,
        limit=listing.per_page,
        offset=listing.offset,
        order=listing.order_by(SORTS, CloudFile.id.desc()),
    )
    owners: dict[int, str] = {}
    if user.is_admin and files:
        ids = {file.owner_id for file in files}
        owners = dict(db.session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())
    google = settings().google
    google_configured = bool(google.client_id and google.client_secret)
    # Replication events reach the job's owner only: the page follows the user's own jobs.
    active_jobs = db.session.execute(
        select(CloudJob.id, CloudFile.filename)
        .join(CloudFile, CloudFile.id == CloudJob.file_id)
        .where(CloudJob.owner_id == user.id, CloudJob.status.in_(("pending", "running")))
        .order_by(CloudJob.created_at)
    ).all()
    return {
        "files": listing.of([_file_item(file, owners) for file in files], total),
        "total": total,
        "targets": TARGETS,
        "labels": LABELS,
        "unavailable": _target_hints(user, google_configured),
        "google_configured": google_configured,
        "google_account": db.session.get(GoogleAccount, user.id),
        "folder": settings().cloud.folder,
        "conflicts": _conflicts(user),
        "active_jobs": [{"job_id": job_id, "filename": name} for job_id, name in active_jobs],
    }


@bp.route("/cloud")
def cloud_page():
    """The user's cloud files (every user's for admins): upload, replication, versions,
    conflicts and the Google Drive connection (whose callback comes back with ?google=)."""
    return render_template(
        "cloud/index.html",
        google_connected=request.args.get("google") == "connected",
        damaged=scrub_results.damaged(
            db.session, "cloud_version", None if current_user.is_admin else current_user.id
        ),
        **page_context(current_user),
    )
