"""The users' expectations of their subjects (models.AlertExpectation): what the API sets and
shows, over the `alerts` settings' defaults."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..failures import BadRequest, NotFound
from ..restic.models import ResticRepository
from ..syncs.models import SyncJob
from .models import EXPECTATION_KINDS, AlertExpectation

#: the columns each kind of subject takes, and each column's default in the `alerts` settings
#: section (restic reuses `any_every`: a new snapshot at least this often)
DEFAULTS = {
    "backups": {"any_every": "backup_any_every", "full_every": "backup_full_every"},
    "cordiax": {"max_silence": "cordiax_max_silence"},
    "syncs": {"max_failed_runs": "sync_max_failed_runs"},
    "restic": {"any_every": "restic_snapshot_every"},
}
FIELDS = {kind: tuple(columns) for kind, columns in DEFAULTS.items()}


def defaults(options: Any) -> dict[str, dict[str, Any]]:
    return {
        kind: {name: getattr(options, setting) for name, setting in columns.items()}
        for kind, columns in DEFAULTS.items()
    }


def check_subject(session: Session, owner_id: int, kind: str, subject: str) -> None:
    if kind not in EXPECTATION_KINDS:
        raise NotFound(
            f"No expectations for {kind!r}: kinds are {', '.join(EXPECTATION_KINDS)}.",
            code="expectation_kind",
        )
    if not subject or len(subject) > 255:
        raise BadRequest("A subject is 1 to 255 characters.", code="invalid_expectation")
    if kind == "syncs":  # a job id: it must be the owner's job (another's answers as missing)
        job = (
            session.get(SyncJob, int(subject)) if subject.isascii() and subject.isdigit() else None
        )
        if job is None or job.owner_id != owner_id:
            raise NotFound(f"Sync job {subject} not found.", code="job_not_found")
    if kind == "restic":  # a repository name in the owner's namespace
        found = session.scalar(
            select(ResticRepository.id).filter_by(owner_id=owner_id, name=subject)
        )
        if found is None:
            raise NotFound(f"No restic repository {subject!r}.", code="repository_not_found")


def view(expectation: AlertExpectation, options: Any) -> dict[str, Any]:
    names = FIELDS[expectation.kind]
    return {
        "kind": expectation.kind,
        "subject": expectation.subject,
        "owner_id": expectation.owner_id,
        "watch": expectation.watch,
        "set": {name: getattr(expectation, name) for name in names},
        "effective": {
            name: (
                getattr(expectation, name)
                if getattr(expectation, name) is not None
                else getattr(options, DEFAULTS[expectation.kind][name])
            )
            for name in names
        },
        "updated_at": expectation.updated_at,
    }


def list_expectations(session: Session, owner_id: int) -> list[AlertExpectation]:
    return list(
        session.scalars(
            select(AlertExpectation)
            .where(AlertExpectation.owner_id == owner_id)
            .order_by(AlertExpectation.kind, AlertExpectation.subject)
        )
    )


def put_expectation(
    session: Session,
    owner_id: int,
    kind: str,
    subject: str,
    values: dict[str, Any],
    now: datetime,
) -> AlertExpectation:
    """Create or replace the expectation (fields not given go back to the defaults)."""
    check_subject(session, owner_id, kind, subject)
    unknown = set(values) - {"watch", *FIELDS[kind]}
    if unknown:
        raise BadRequest(
            f"{', '.join(sorted(unknown))} do(es) not apply to {kind}: "
            f"use {', '.join(('watch', *FIELDS[kind]))}.",
            code="invalid_expectation",
        )
    row = session.scalar(
        select(AlertExpectation).filter_by(owner_id=owner_id, kind=kind, subject=subject)
    )
    if row is None:
        row = AlertExpectation(owner_id=owner_id, kind=kind, subject=subject, created_at=now)
        session.add(row)
    row.watch = values.get("watch", True)
    for name in FIELDS[kind]:
        setattr(row, name, values.get(name))
    row.updated_at = now
    session.commit()
    return row


def delete_expectation(session: Session, owner_id: int, kind: str, subject: str) -> None:
    check_subject(session, owner_id, kind, subject)
    row = session.scalar(
        select(AlertExpectation).filter_by(owner_id=owner_id, kind=kind, subject=subject)
    )
    if row is None:
        raise NotFound(f"No expectation set for {kind} {subject!r}.", code="expectation_not_found")
    session.delete(row)
    session.commit()
