"""Opening a job's destination at every run: a local folder (folders.py) or a stored remote that
must still be granted to the job's owner."""

from __future__ import annotations

from ..auth.models import User
from ..extensions import db
from ..remotes.catalog import get_remote, may_use, open_for_user
from ..storage import RemoteNotFound, RemoteUnavailable
from .engine import Destination, DestinationUnavailable, JobRefused
from .folders import open_local_destination
from .models import SyncJob


def open_destination(job: SyncJob, *, release_database: bool = False) -> Destination:
    """The job's destination, checked again at every run: a local folder beneath its owner's
    root that must be the share it was (folders.py), or a stored remote still granted to them.
    With `release_database`, the rows it needs are detached and the database connection goes
    back to the pool before the remote is reached: a stalled remote must not hold it."""
    if job.destination_remote_id is None:
        return Destination(open_local_destination(job))
    stored = get_remote(job.destination_remote_id)
    if not may_use(stored, db.session.get(User, job.owner_id), "syncs"):
        raise JobRefused(f"the stored remote {stored.name!r} is no longer available to this job")
    path = job.destination_path
    if release_database:
        db.session.expunge(stored)
        db.session.rollback()  # reads only: ends the transaction, returns the connection
    try:
        return Destination(open_for_user(stored), path)
    except (RemoteNotFound, RemoteUnavailable) as exc:
        raise DestinationUnavailable(str(exc)) from None
