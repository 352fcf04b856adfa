"""What the dashboard shows, for the page and for GET /api/v1/dashboard alike.

Each feature's own rule decides who sees what: backups, Cordiax devices, documents, sync jobs
and cloud files are the user's own (everyone's for administrators, with the owner named where
names could meet); open conflicts are the user's own, administrators included, as the conflicts
API has them (nobody else can resolve them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from ..auth.models import User
from ..backups.models import ARCHIVE_TYPES, BackupArchive
from ..backups.verifications import last_verifications
from ..cloud.jobs import job_view
from ..cloud.models import JOB_STATUSES, CloudConflict, CloudFile, CloudJob
from ..cordiax.models import CordiaxSnapshot
from ..documents.models import Document
from ..documents.wiring import nas_options
from ..extensions import db
from ..monitoring.checks import liveness
from ..syncs.models import JOB_STATES, SyncJob, SyncRun
from ..timeutil import utcnow
from .dashboard_charts import scoped, storage, transfers
from .dashboard_events import recent_events

#: cloud replication jobs listed, newest first
RECENT_CLOUD_JOBS = 6
#: sync jobs listed as needing attention
ATTENTION_JOBS = 5
ATTENTION_STATES = ("error", "waiting_destination")


def _emails(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


def _counts(query) -> dict[str, int]:
    return {key: int(count) for key, count in db.session.execute(query).all()}


# --- backups -----------------------------------------------------------------------------------


def _last_fulls(owner_id: int | None) -> dict[tuple[int, str], BackupArchive]:
    newest = scoped(
        select(
            BackupArchive.owner_id,
            BackupArchive.profile,
            func.max(BackupArchive.uploaded_at).label("at"),
        )
        .where(BackupArchive.type == "FULL")
        .group_by(BackupArchive.owner_id, BackupArchive.profile),
        BackupArchive.owner_id,
        owner_id,
    ).subquery()
    query = (
        select(BackupArchive)
        .join(
            newest,
            and_(
                BackupArchive.owner_id == newest.c.owner_id,
                BackupArchive.profile == newest.c.profile,
                BackupArchive.uploaded_at == newest.c.at,
            ),
        )
        .where(BackupArchive.type == "FULL")
    )
    return {(a.owner_id, a.profile): a for a in db.session.scalars(query)}


def _broken_chains(owner_id: int | None) -> dict[tuple[int, str], int]:
    """INC and DIFF archives per (owner, profile) whose FULL is not stored (they cannot be
    restored): a chain builds on its owner's FULL."""
    full = aliased(BackupArchive)
    base = BackupArchive.base_archive
    has_base = (
        select(full.id)
        .where(full.owner_id == BackupArchive.owner_id, full.type == "FULL", full.name == base)
        .exists()
    )
    query = scoped(
        select(BackupArchive.owner_id, BackupArchive.profile, func.count())
        .where(BackupArchive.type != "FULL", or_(base.is_(None), ~has_base))
        .group_by(BackupArchive.owner_id, BackupArchive.profile),
        BackupArchive.owner_id,
        owner_id,
    )
    return {(owner, profile): int(count) for owner, profile, count in db.session.execute(query)}


def backups_section(owner_id: int | None) -> dict[str, Any]:
    """Backups per profile: the user's own; everyone's for administrators (owner_id None), each
    profile naming its owner."""
    rows = db.session.execute(
        scoped(
            select(
                BackupArchive.owner_id,
                BackupArchive.profile,
                BackupArchive.type,
                func.count(),
                func.sum(BackupArchive.size),
                func.max(BackupArchive.uploaded_at),
            ).group_by(BackupArchive.owner_id, BackupArchive.profile, BackupArchive.type),
            BackupArchive.owner_id,
            owner_id,
        )
    ).all()
    fulls, broken = _last_fulls(owner_id), _broken_chains(owner_id)
    checks = last_verifications(owner_id)
    owners = _emails({row[0] for row in rows}) if owner_id is None else {}
    profiles: dict[tuple[int, str], dict[str, Any]] = {}
    for owner, profile, kind, count, size, last in rows:
        key = (owner, profile)
        item = profiles.setdefault(
            key,
            {
                "profile": profile,
                "owner": owners.get(owner),
                "archives": 0,
                "size": 0,
                "counts": dict.fromkeys(ARCHIVE_TYPES, 0),
                "last_upload": last,
                "last_full": fulls.get(key),
                "broken_chains": broken.get(key, 0),
                "verification": checks.get(key),
            },
        )
        item["archives"] += count
        item["size"] += int(size or 0)
        item["counts"][kind] = count
        item["last_upload"] = max(item["last_upload"], last)
    listed = sorted(profiles.values(), key=lambda p: (p["profile"], p["owner"] or ""))
    return {
        "profiles": listed,
        "archives": sum(p["archives"] for p in listed),
        "size": sum(p["size"] for p in listed),
    }


# --- Cordiax, documents ------------------------------------------------------------------------


def cordiax_section(owner_id: int | None) -> dict[str, Any]:
    query = scoped(
        select(
            CordiaxSnapshot.user_id,
            CordiaxSnapshot.device,
            func.count().label("versions"),
            func.sum(CordiaxSnapshot.size).label("size"),
            func.max(CordiaxSnapshot.received_at).label("at"),
        ).group_by(CordiaxSnapshot.user_id, CordiaxSnapshot.device),
        CordiaxSnapshot.user_id,
        owner_id,
    )
    grouped = query.subquery()
    rows = db.session.execute(
        select(CordiaxSnapshot, grouped.c.versions, grouped.c.size)
        .join(
            grouped,
            and_(
                CordiaxSnapshot.user_id == grouped.c.user_id,
                CordiaxSnapshot.device == grouped.c.device,
                CordiaxSnapshot.received_at == grouped.c.at,
            ),
        )
        .order_by(CordiaxSnapshot.received_at.desc(), CordiaxSnapshot.device)
    ).all()
    owners = _emails({snapshot.user_id for snapshot, _, _ in rows}) if owner_id is None else {}
    devices = [
        {
            "device": snapshot.device,
            "owner": owners.get(snapshot.user_id),
            "versions": versions,
            "size": int(size or 0),
            "last_snapshot": snapshot,
        }
        for snapshot, versions, size in rows
    ]
    return {"devices": devices, "snapshots": sum(d["versions"] for d in devices)}


def documents_section(owner_id: int | None) -> dict[str, Any]:
    synced = Document.synced_to_nas.is_(True)
    failed = and_(Document.synced_to_nas.is_(False), Document.last_error.is_not(None))
    total, done, broken, size = db.session.execute(
        scoped(
            select(
                func.count(Document.id),
                func.sum(case((synced, 1), else_=0)),
                func.sum(case((failed, 1), else_=0)),
                func.sum(Document.size),
            ),
            Document.owner_id,
            owner_id,
        )
    ).one()
    done, broken = int(done or 0), int(broken or 0)
    options = nas_options()  # /settings/nas's target, else config.yaml's
    return {
        # without a NAS target nothing is ever copied: the page says so instead of "0 %"
        "nas_configured": bool(options.nas_remote or options.nas_mount_path),
        "total": total,
        "synced": done,
        "pending": total - done,
        "failed": broken,
        "sync_percentage": round(100.0 * done / total, 1) if total else 0.0,
        "size": int(size or 0),
    }


# --- sync jobs, cloud replication --------------------------------------------------------------


def syncs_section(owner_id: int | None) -> dict[str, Any]:
    found = _counts(
        scoped(select(SyncJob.state, func.count()), SyncJob.owner_id, owner_id).group_by(
            SyncJob.state
        )
    )
    attention = db.session.scalars(
        scoped(select(SyncJob), SyncJob.owner_id, owner_id)
        .where(SyncJob.state.in_(ATTENTION_STATES))
        .order_by(SyncJob.updated_at.desc())
        .limit(ATTENTION_JOBS)
    ).all()
    last = db.session.execute(
        scoped(
            select(SyncRun, SyncJob.name).join(SyncJob, SyncJob.id == SyncRun.job_id),
            SyncJob.owner_id,
            owner_id,
        )
        .where(SyncRun.finished_at.is_not(None))
        .order_by(SyncRun.finished_at.desc(), SyncRun.id.desc())
        .limit(1)
    ).first()
    return {
        "jobs": sum(found.values()),
        "by_state": {state: found.get(state, 0) for state in JOB_STATES},
        "attention": attention,
        "last_run": None if last is None else {"job": last[1], "run": last[0]},
    }


def cloud_section(user: User, owner_id: int | None) -> dict[str, Any]:
    files = db.session.scalar(
        scoped(select(func.count(CloudFile.id)), CloudFile.owner_id, owner_id)
    )
    by_status = _counts(
        scoped(select(CloudJob.status, func.count()), CloudJob.owner_id, owner_id).group_by(
            CloudJob.status
        )
    )
    recent = db.session.execute(
        scoped(
            select(CloudJob, CloudFile.filename).join(CloudFile, CloudFile.id == CloudJob.file_id),
            CloudJob.owner_id,
            owner_id,
        )
        .order_by(CloudJob.created_at.desc())
        .limit(RECENT_CLOUD_JOBS)
    ).all()
    owners = _emails({job.owner_id for job, _ in recent}) if owner_id is None else {}
    conflicts = db.session.scalar(
        select(func.count(CloudConflict.id)).where(
            CloudConflict.owner_id == user.id, CloudConflict.resolved.is_(False)
        )
    )
    return {
        "files": files or 0,
        "by_status": {status: by_status.get(status, 0) for status in JOB_STATUSES},
        "active": by_status.get("pending", 0) + by_status.get("running", 0),
        "jobs": [
            {**job_view(job), "filename": name, "owner": owners.get(job.owner_id)}
            for job, name in recent
        ],
        "open_conflicts": conflicts or 0,
    }


# --- health and the tiles' states --------------------------------------------------------------


def tile_states(sections: dict[str, Any]) -> dict[str, str]:
    """Each tile's colour: error (something failed or needs a hand), warning (not set up, or
    waiting), ok, or none (nothing there yet)."""
    backups, documents = sections["backups"], sections["documents"]
    syncs, cloud = sections["syncs"], sections["cloud"]
    broken = any(
        p["broken_chains"]
        or (p["verification"] is not None and p["verification"].sync_status != "SYNCHRONIZED")
        for p in backups["profiles"]
    )
    states = syncs["by_state"]
    return {
        "backups": "error" if broken else "ok" if backups["archives"] else "none",
        "cordiax": "ok" if sections["cordiax"]["devices"] else "none",
        "documents": (
            "error"
            if documents["failed"]
            else "warning"
            if not documents["nas_configured"]
            else "ok"
            if documents["total"]
            else "none"
        ),
        "syncs": (
            "error"
            if states.get("error")
            else "warning"
            if states.get("waiting_destination")
            else "ok"
            if syncs["jobs"]
            else "none"
        ),
        "cloud": (
            "error"
            if cloud["by_status"].get("failed") or cloud["open_conflicts"]
            else "ok"
            if cloud["files"]
            else "none"
        ),
    }


# --- the whole -----------------------------------------------------------------------------------


def summary(user: User, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    owner_id = None if user.is_admin else user.id
    totals, storage_chart = storage(owner_id, now)
    sections = {
        "backups": backups_section(owner_id),
        "cordiax": cordiax_section(owner_id),
        "documents": documents_section(owner_id),
        "syncs": syncs_section(owner_id),
        "cloud": cloud_section(user, owner_id),
    }
    return {
        "generated_at": now,
        "scope": "all" if owner_id is None else "own",
        # the server's liveness, as /api/v1/health answers it: the headline names a failure
        "health": liveness(),
        "tiles": tile_states(sections),
        **sections,
        "storage": {"by_type": totals, "total": sum(totals.values())},
        "events": recent_events(owner_id),
        "charts": {"storage": storage_chart, "transfers": transfers(owner_id, now)},
    }
