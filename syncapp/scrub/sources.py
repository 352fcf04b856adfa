"""Where each kind of stored object is recorded: the feature table the scrub reads its objects
from, by id, and the checksums each records (backups: MD5 and SHA-256 and the gzip and tar
streams; Cordiax snapshots: SHA-256; documents and cloud versions: MD5; restic `data` objects:
the SHA-256 that is their name, on the store their repository lives on)."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ..backups.models import BackupArchive
from ..cloud.models import CloudFile, CloudVersion
from ..cordiax.models import CordiaxSnapshot
from ..documents.models import Document
from ..restic.models import ResticObject, ResticRepository
from ..restic.store import RepoRef, object_path
from .reading import Target

#: each kind's table, by its id column
MODELS = {
    "backup": BackupArchive,
    "cordiax": CordiaxSnapshot,
    "document": Document,
    "cloud_version": CloudVersion,
    "restic": ResticObject,
}
#: the rows of a kind's table that are objects the scrub reads (restic: data objects only;
#: keys, snapshots and index files have no checksum but what restic's own `check` reads)
ONLY = {"restic": ResticObject.type == "data"}


def _query(kind: str) -> Select:
    if kind == "backup":
        a = BackupArchive
        return select(a.id, a.owner_id, a.path, a.size, a.md5, a.sha256)
    if kind == "cordiax":
        s = CordiaxSnapshot
        return select(s.id, s.user_id, s.path, s.size, None, s.sha256)
    if kind == "document":
        d = Document
        return select(d.id, d.owner_id, d.stored_path, d.size, d.md5, None)
    v = CloudVersion
    return select(v.id, CloudFile.owner_id, v.stored_path, v.size, v.md5, None).join(
        CloudFile, CloudFile.id == v.file_id
    )


def _restic_batch(session: Session, after: int, limit: int) -> list[Target]:
    rows = session.execute(
        select(ResticObject.id, ResticObject.name, ResticObject.size, ResticRepository)
        .join(ResticRepository, ResticRepository.id == ResticObject.repository_id)
        .where(ONLY["restic"], ResticObject.id > after)
        .order_by(ResticObject.id)
        .limit(limit)
    ).all()
    targets = []
    for object_id, name, size, repo in rows:
        ref = RepoRef.of(repo)
        path = object_path(ref, "data", name)
        # restic names a data object by the SHA-256 of its content
        targets.append(
            Target("restic", object_id, ref.owner_id, path, size, None, name, False, ref.remote_id)
        )
    return targets


def batch(session: Session, kind: str, after: int, limit: int) -> list[Target]:
    """The next `limit` objects of `kind` whose id is above `after`, by id."""
    if kind == "restic":
        return _restic_batch(session, after, limit)
    model = MODELS[kind]
    query = _query(kind).where(model.id > after).order_by(model.id).limit(limit)
    return [
        Target(
            kind, row[0], row[1], row[2], row[3], row[4] or None, row[5] or None, kind == "backup"
        )
        for row in session.execute(query)
    ]


def totals(session: Session) -> tuple[int, int]:
    """(objects, bytes) stored across every kind: what a pass starting now plans to read."""
    objects = size = 0
    for kind, model in MODELS.items():
        query = select(func.count(model.id), func.coalesce(func.sum(model.size), 0))
        if kind in ONLY:
            query = query.where(ONLY[kind])
        count, total = session.execute(query).one()
        objects, size = objects + int(count), size + int(total)
    return objects, size


def existing(session: Session, kind: str, ids: list[int]) -> set[int]:
    """Which of `ids` are still recorded (an object deleted while it was read is not judged)."""
    model = MODELS[kind]
    return set(session.scalars(select(model.id).where(model.id.in_(ids))))
