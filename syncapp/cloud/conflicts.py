"""Conflicts: a cloud copy changed outside syncapp while the local file got a new version too.

Before the replicator overwrites a cloud copy, `check_before_write` compares what the cloud
holds now with what it held when syncapp last wrote it (ETag, MD5, size). Someone else's change
meets a newer local version: a CloudConflict is recorded and nothing is overwritten, until
`ConflictResolver.resolve` applies one of seed 004's policies. Every byte it moves goes through
`copy_verified`; versions brought back from a cloud are made by the CloudStore, like uploads.
"""

from __future__ import annotations

import posixpath
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..failures import BadRequest, Conflict, PeerFailed, ServiceUnavailable
from ..storage import Entry, Remote, RemoteError, RemoteUnavailable
from ..storage.base import HashingReader
from ..timeutil import utcnow
from ..transfer import RetryPolicy, TransferResult, copy_verified
from .jobs import enqueue_replication
from .models import POLICIES, CloudConflict, CloudCopy, CloudFile, CloudVersion
from .store import STAGING, CloudStore, Staged
from .targets import TargetUnavailable

SIDES = ("local", "remote")
OpenTarget = Callable[[str, int], Remote]


@dataclass(frozen=True)
class _Where:
    """The file a conflict is about, read before the cloud is reached."""

    file_id: int
    owner_id: int
    target: str


class Verdict(Enum):
    WRITE = "write"  # nothing there, or what syncapp wrote last: overwrite
    IN_SYNC = "in-sync"  # the cloud holds the wanted version already
    CONFLICT = "conflict"  # changed outside syncapp, and the local file has a newer version
    LEAVE = "leave"  # changed outside syncapp, but there is nothing newer to write


def remote_unchanged(copy: CloudCopy, entry: Entry) -> bool:
    """Whether the cloud still holds what syncapp recorded at its last sync. A service that does
    not report a value (no MD5 for some blobs) is judged on the values it does report."""
    recorded = (
        (copy.synced_etag, entry.etag),
        (copy.synced_md5, entry.md5),
        (copy.synced_size, entry.size),
    )
    return all(then == now for then, now in recorded if then is not None and now is not None)


def check_before_write(
    session: Session, copy: CloudCopy, version: CloudVersion, remote: Remote
) -> tuple[Verdict, CloudConflict | None]:
    if copy.synced_version is None:
        return Verdict.WRITE, None  # syncapp never wrote there: nothing of the cloud's to keep
    entry = remote.stat(copy.remote_path)
    if entry is None:
        return Verdict.WRITE, None
    if remote_unchanged(copy, entry):
        same = version.number == copy.synced_version
        return (Verdict.IN_SYNC if same else Verdict.WRITE), None
    if version.number > copy.synced_version:
        return Verdict.CONFLICT, record_conflict(session, copy, version, remote, entry)
    return Verdict.LEAVE, None


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def remote_md5(remote: Remote, entry: Entry) -> str:
    """The MD5 the service reports, else computed by reading the file (a conflict's remote side
    is shown and compared by its MD5)."""
    if entry.md5:
        return entry.md5
    with remote.open_read(entry.path) as raw, HashingReader(raw) as reader:
        for _ in reader.chunks():
            pass  # read to the end: the reader hashes as it goes
        return reader.md5


def record_conflict(
    session: Session, copy: CloudCopy, version: CloudVersion, remote: Remote, entry: Entry
) -> CloudConflict:
    """One open conflict per file and cloud: a later version updates it rather than adding
    another. Flushed, not committed: the caller records the copy's state with it."""
    # read from the cloud before the session begins a transaction: none is held through it
    md5 = remote_md5(remote, entry)
    file = session.get(CloudFile, copy.file_id)
    assert file is not None
    conflict = session.scalar(
        select(CloudConflict).where(
            CloudConflict.file_id == copy.file_id,
            CloudConflict.target == copy.target,
            CloudConflict.resolved.is_(False),
        )
    )
    if conflict is None:
        conflict = CloudConflict(owner_id=file.owner_id, file_id=file.id, target=copy.target)
        session.add(conflict)
    conflict.remote_path = copy.remote_path
    conflict.local_version, conflict.local_size = version.number, version.size
    conflict.local_md5, conflict.local_modified = version.md5, version.modified_at
    conflict.remote_size, conflict.remote_md5 = entry.size, md5
    conflict.remote_etag, conflict.remote_modified = entry.etag, _aware(entry.modified)
    conflict.detected_at = utcnow()
    session.flush()
    return conflict


def mark_synced(copy: CloudCopy, number: int, landed: Entry | None, md5: str, size: int) -> None:
    """Record what the cloud holds now that syncapp wrote version `number` there (`md5` and
    `size` of the bytes written stand in for what the service does not report): the next write
    compares against this to tell whether someone else changed the copy meanwhile."""
    copy.synced_version = number
    copy.synced_md5 = (landed.md5 if landed else None) or md5
    copy.synced_etag = landed.etag if landed else None
    copy.synced_size = landed.size if landed else size
    copy.synced_at = utcnow()


def conflict_name(filename: str, moment: datetime) -> str:
    """`report.pdf` -> `report.conflict-20261123-130501.pdf` (Syncthing's pattern, UTC)."""
    stem, ext = posixpath.splitext(filename)
    return f"{stem}.conflict-{moment.astimezone(UTC):%Y%m%d-%H%M%S}{ext}"


class ConflictResolver:
    """Applies a policy to a conflict and records what it did; resolving again with the same
    policy answers the record, another policy is refused (409)."""

    def __init__(
        self, session: Session, store: CloudStore, open_target: OpenTarget, *, retry: RetryPolicy
    ) -> None:
        self.session = session
        self.store = store
        self.open_target = open_target
        self.retry = retry

    def resolve(
        self,
        conflict: CloudConflict,
        policy: str,
        keep: str | None = None,
        notes: str | None = None,
    ) -> CloudConflict:
        keep = _checked(policy, keep)
        if conflict.resolved:
            return self._already(conflict, policy, keep)
        taken = self.session.execute(
            update(CloudConflict)
            .where(CloudConflict.id == conflict.id, CloudConflict.resolved.is_(False))
            .values(resolved=True, policy=policy, keep=keep)
            .execution_options(synchronize_session=False)
        ).rowcount
        self.session.commit()
        if not taken:  # another request resolved it meanwhile
            self.session.refresh(conflict)
            return self._already(conflict, policy, keep)
        try:
            winner, outcome = self._apply(conflict, policy, keep)
        except BaseException:
            self.session.rollback()
            self.session.execute(
                update(CloudConflict)
                .where(CloudConflict.id == conflict.id)
                .values(resolved=False, policy=None, keep=None)
                .execution_options(synchronize_session=False)
            )
            self.session.commit()
            raise
        conflict.resolved, conflict.resolved_at = True, utcnow()
        conflict.policy, conflict.keep, conflict.notes = policy, winner, notes
        conflict.outcome = outcome
        self.session.commit()
        return conflict

    def _already(self, conflict: CloudConflict, policy: str, keep: str | None) -> CloudConflict:
        if conflict.outcome is None:
            raise Conflict("This conflict is being resolved right now.", code="conflict_busy")
        if conflict.policy != policy or (policy == "manual" and keep != conflict.keep):
            manual = conflict.policy == "manual"
            chosen = f"{conflict.policy}" + (f" (keep {conflict.keep})" if manual else "")
            raise Conflict(
                f"This conflict was resolved already with {chosen}.", code="already_resolved"
            )
        return conflict

    # -- applying a policy --------------------------------------------------------------------

    def _apply(
        self, conflict: CloudConflict, policy: str, keep: str | None
    ) -> tuple[str | None, dict]:
        file = self.session.get(CloudFile, conflict.file_id)
        assert file is not None
        local = self.store.current(file)
        # Plain values and a detached version for the remote calls, and no transaction open
        # while the cloud answers (issue 18): each commit below returns the connection
        target, path, filename = conflict.target, conflict.remote_path, file.filename
        where = _Where(file.id, file.owner_id, target)
        self.session.expunge(local)
        try:
            with self.open_target(target, where.owner_id) as remote:
                self.session.commit()
                entry = remote.stat(path)
                winner = _winner(policy, keep, local, entry)
                outcome: dict = {"winner": winner or "both"}
                if winner == "remote":
                    assert entry is not None
                    outcome["local"] = self._bring_back(where, remote, entry, filename)
                    number, md5 = outcome["local"]["version"], outcome["local"]["md5"]
                    self._synced(conflict, number, entry, md5)
                    outcome["replicating"] = self._replicate_elsewhere(file, target)
                else:
                    if winner is None and entry is not None:  # keep-both: the cloud's survives
                        name = self._free_name(where.owner_id, conflict_name(filename, utcnow()))
                        outcome["conflict_file"] = self._bring_back(where, remote, entry, name)
                    self.session.commit()
                    written = self._upload(local, remote, path)
                    number, md5 = local.number, written.md5
                    self._synced(conflict, number, remote.stat(path), md5)
                    outcome["local"] = _version_side(file, local)
                outcome["cloud"] = {"target": conflict.target, "version": number, "md5": md5}
        except (TargetUnavailable, RemoteUnavailable) as exc:
            raise ServiceUnavailable(
                f"{conflict.target} cannot be reached now ({exc}); nothing was resolved, try "
                "again later.",
                code="cloud_unavailable",
            ) from None
        except RemoteError as exc:
            raise PeerFailed(
                f"{conflict.target}: {exc}; nothing was resolved.", code="cloud_error"
            ) from None
        return winner, outcome

    def _upload(self, version: CloudVersion, remote: Remote, path: str) -> TransferResult:
        return copy_verified(
            self.store.remote,
            version.stored_path,
            remote,
            path,
            retry=self.retry,
            expected_md5=version.md5,
            modified=version.modified_at,
        )

    def _bring_back(self, where: _Where, remote: Remote, entry: Entry, name: str) -> dict:
        """The cloud's file as a version of the local file called `name` (a new file when no
        file has that name), through the store's staging area like an upload."""
        owner_id = where.owner_id
        staging = f"{STAGING}/{owner_id}/{uuid.uuid4().hex}"
        self.session.commit()  # no transaction while the cloud's file is read
        # No `modified`: the staged file's time is when it arrived, which the debris sweep reads
        # as its age (a cloud's old time would make it look abandoned before its commit); the
        # content's own time is the version's `modified_at`, below.
        result = copy_verified(remote, entry.path, self.store.remote, staging, retry=self.retry)
        file = self.session.get(CloudFile, where.file_id)
        assert file is not None
        made = self.store.commit(
            owner_id, Staged(staging, name, file.content_type, result.size, result.md5)
        )
        if made.created:  # the content's own time, not the time it was brought back
            made.version.modified_at = _aware(entry.modified) or made.version.modified_at
            made.version.origin = f"{where.target}-conflict"
            self.session.commit()
        return _version_side(made.file, made.version)

    def _free_name(self, owner_id: int, name: str) -> str:
        stem, ext = posixpath.splitext(name)
        candidate, n = name, 1
        while self.session.scalar(
            select(CloudFile.id).where(
                CloudFile.owner_id == owner_id, CloudFile.filename == candidate
            )
        ):
            n += 1
            candidate = f"{stem}-{n}{ext}"
        return candidate

    def _synced(self, conflict: CloudConflict, number: int, landed: Entry | None, md5: str) -> None:
        """The copy holds `number` now, as syncapp wrote or saw it: in sync again."""
        copy = self.session.scalar(
            select(CloudCopy).where(
                CloudCopy.file_id == conflict.file_id, CloudCopy.target == conflict.target
            )
        )
        if copy is None:  # the file's copy was removed meanwhile: nothing to keep in step
            return
        mark_synced(copy, number, landed, md5, landed.size if landed else 0)
        copy.wanted_version, copy.status = number, "completed"
        copy.attempts, copy.last_error, copy.next_attempt_at = 0, None, None
        copy.bytes_done = copy.synced_size or 0
        self.session.commit()

    def _replicate_elsewhere(self, file: CloudFile, target: str) -> str | None:
        """The version the cloud won with is now the file's: the other clouds get it too."""
        others = sorted(c.target for c in file.copies if c.target != target)
        if not others:
            return None
        return enqueue_replication(file, self.store.current(file), others).id


def _checked(policy: str, keep: str | None) -> str | None:
    if policy not in POLICIES:
        raise BadRequest(
            f"Unknown policy {policy!r}: use {', '.join(POLICIES)}.", code="invalid_policy"
        )
    if policy != "manual":
        return None
    if keep not in SIDES:
        raise BadRequest(
            'The manual policy needs keep: "local" or "remote".', code="invalid_policy"
        )
    return keep


def _winner(policy: str, keep: str | None, local: CloudVersion, entry: Entry | None) -> str | None:
    """local, remote, or None for keep-both. A cloud copy that has gone leaves only local."""
    if entry is None:
        if policy == "manual" and keep == "remote":
            raise Conflict(
                "The cloud copy no longer exists: only the local version can be kept.",
                code="remote_missing",
            )
        return "local"
    if policy == "manual":
        return keep
    if policy == "keep-both":
        return None
    remote_time = _aware(entry.modified)
    return "remote" if remote_time is not None and remote_time > local.modified_at else "local"


def _version_side(file: CloudFile, version: CloudVersion) -> dict:
    return {
        "file_id": file.id,
        "filename": file.filename,
        "version": version.number,
        "md5": version.md5,
        "size": version.size,
    }
