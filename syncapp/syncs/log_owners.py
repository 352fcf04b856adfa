"""The owner of a sync job, for log records that name the job (`extra={"job": id}`).

The sync engine tags its records with the job's id only. A job's owner never changes and its id
is never handed out again (AUTOINCREMENT on SQLite, sequences on PostgreSQL), so the pair is
learnt once, whenever this process loads or inserts a job row, and logging never has to ask the
database (it may be the database that is failing).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect

from ..syncs.models import SyncJob

_job_owners: dict[int, int] = {}


def _remember(job: SyncJob) -> None:
    loaded = inspect(job).dict  # only what the row has loaded: nothing is fetched here
    job_id, owner_id = loaded.get("id"), loaded.get("owner_id")
    if job_id is not None and owner_id is not None:
        _job_owners[job_id] = owner_id


@event.listens_for(SyncJob, "load")
def _loaded(job: SyncJob, _context: Any) -> None:
    _remember(job)


@event.listens_for(SyncJob, "refresh")
def _refreshed(job: SyncJob, _context: Any, _attributes: Any) -> None:
    _remember(job)


@event.listens_for(SyncJob, "after_insert")
def _inserted(_mapper: Any, _connection: Any, job: SyncJob) -> None:
    _remember(job)


def job_owner(job_id: Any) -> int | None:
    return _job_owners.get(job_id) if isinstance(job_id, int) else None
