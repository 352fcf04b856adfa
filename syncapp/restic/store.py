"""restic repositories over a session and a Remote: what the REST protocol and the API do.

Layout in the store, as rest-server keeps it: `<repo path>/config`,
`<repo path>/data/<first 2 hex>/<name>`, `<repo path>/{keys,locks,snapshots,index}/<name>`.
The `restic_objects` table indexes every stored file (type, name, size): listings, statistics
and quotas read it, never the store, so a repository on S3 lists as fast as a local one.

Writes: a file is streamed into the store's atomic `write` (uploads.receive_into: nothing is
visible until the last byte landed), a `data` file is refused unless its SHA-256 is its name
(restic names data files by the hash of their content), and the index row is added only then.
A store write whose row could not be added (a crash between the two) leaves a file restic does
not see; it uploads it again, which replaces it with the same bytes and adds the row.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import quotas
from ..failures import BadRequest, Conflict, Forbidden, InsufficientStorage, NotFound
from ..storage import Remote, RemoteError, RemoteNotFound
from ..storage.base import CHUNK_SIZE
from ..timeutil import utcnow
from ..uploads import receive_into
from .models import CONFIG, OBJECT_TYPES, ResticObject, ResticRepository

#: a repository's name: one path segment, as safe in a URL as in a store's key
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: restic names every object by a SHA-256 in hex
OBJECT_NAME = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class RepoRef:
    """A repository's values, read once: views end their transaction before bytes move, and an
    expired ORM row read then would take a database connection back for the whole transfer."""

    id: int
    owner_id: int
    name: str
    path: str
    append_only: bool
    quota_bytes: int | None
    remote_id: int | None
    token_id: int | None

    @classmethod
    def of(cls, repo: ResticRepository) -> RepoRef:
        return cls(
            repo.id,
            repo.owner_id,
            repo.name,
            repo.path,
            repo.append_only,
            repo.quota_bytes,
            repo.remote_id,
            repo.token_id,
        )


@dataclass(frozen=True)
class Stats:
    size: int
    objects: dict[str, int]  # per type, config included
    last_snapshot_at: datetime | None


def check_name(name: str) -> str:
    if not NAME.fullmatch(name or ""):
        raise BadRequest(
            "A repository name is 1 to 64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit.",
            code="invalid_name",
        )
    return name


def check_object(kind: str, name: str) -> None:
    if kind not in OBJECT_TYPES:
        raise NotFound(f"No object type {kind!r}.", code="not_found")
    if not OBJECT_NAME.fullmatch(name):
        raise NotFound("restic names objects by a SHA-256 in hex.", code="not_found")


def object_path(repo: RepoRef, kind: str, name: str) -> str:
    if kind == CONFIG:
        return f"{repo.path}/config"
    if kind == "data":
        return f"{repo.path}/data/{name[:2]}/{name}"
    return f"{repo.path}/{kind}/{name}"


def repository_usage(session: Session, user_id: int) -> int:
    """Bytes a user keeps in restic repositories (quotas.register_usage)."""
    query = (
        select(func.coalesce(func.sum(ResticObject.size), 0))
        .join(ResticRepository, ResticRepository.id == ResticObject.repository_id)
        .where(ResticRepository.owner_id == user_id)
    )
    return int(session.scalar(query) or 0)


quotas.register_usage("restic", repository_usage)


def verify_object(remote: Remote, repo: RepoRef, kind: str, name: str) -> tuple[str, str]:
    """Read one stored object back: ("ok", ""), ("corrupt", why) or ("missing", why).

    The seam for the scrub (issue 20): a `data` object is checked against its name (the
    SHA-256 of its content); other objects only for presence, since restic's own `check` reads
    them whole anyway. Reaches the remote only: end the transaction before calling it."""
    path = object_path(repo, kind, name)
    try:
        reader = remote.open_read(path)
    except RemoteNotFound:
        return "missing", "absent from the store"
    digest = hashlib.sha256()
    with reader:
        for chunk in iter(lambda: reader.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    if kind == "data" and digest.hexdigest() != name:
        return "corrupt", "sha256 of the content differs from its name"
    return "ok", ""


class ResticStore:
    """Repositories of users, and their objects in the store each repository lives on."""

    def __init__(
        self,
        session: Session,
        remote_for: Callable[[RepoRef], Remote],
        *,
        append_only_default: bool = False,
        repository_quota: int | None = None,
    ) -> None:
        self.session = session
        self.remote_for = remote_for
        self.append_only_default = append_only_default
        self.repository_quota = repository_quota

    # --- repositories ---------------------------------------------------------------------

    def find(self, owner_id: int, name: str) -> ResticRepository | None:
        return self.session.scalar(
            select(ResticRepository).where(
                ResticRepository.owner_id == owner_id, ResticRepository.name == name
            )
        )

    def get(self, repo_id: int, owner_id: int | None) -> ResticRepository:
        """A repository by id, in `owner_id`'s namespace (None: anyone's, for administrators);
        another user's answers like a missing one."""
        repo = self.session.get(ResticRepository, repo_id)
        if repo is None or (owner_id is not None and repo.owner_id != owner_id):
            raise NotFound(f"No restic repository {repo_id}.", code="repository_not_found")
        return repo

    def repositories(self, owner_id: int | None) -> list[ResticRepository]:
        query = select(ResticRepository).order_by(ResticRepository.owner_id, ResticRepository.name)
        if owner_id is not None:
            query = query.where(ResticRepository.owner_id == owner_id)
        return list(self.session.scalars(query))

    def create(
        self,
        owner_id: int,
        name: str,
        *,
        append_only: bool | None = None,
        quota_bytes: int | None = None,
        remote_id: int | None = None,
    ) -> ResticRepository:
        check_name(name)
        if self.find(owner_id, name) is not None:
            raise Conflict(
                f"A restic repository {name!r} exists already.", code="repository_exists"
            )
        repo = ResticRepository(
            owner_id=owner_id,
            name=name,
            path=f"u{owner_id}/{name}",
            append_only=self.append_only_default if append_only is None else append_only,
            quota_bytes=self.repository_quota if quota_bytes is None else quota_bytes,
            remote_id=remote_id,
        )
        self.session.add(repo)
        try:
            self.session.commit()
        except IntegrityError:  # created meanwhile by another request of the same user
            self.session.rollback()
            raise Conflict(
                f"A restic repository {name!r} exists already.", code="repository_exists"
            ) from None
        return repo

    def stats(self, repo_ids: Iterable[int]) -> dict[int, Stats]:
        ids = list(repo_ids)
        if not ids:
            return {}
        rows = self.session.execute(
            select(
                ResticObject.repository_id,
                ResticObject.type,
                func.count(ResticObject.id),
                func.coalesce(func.sum(ResticObject.size), 0),
            )
            .where(ResticObject.repository_id.in_(ids))
            .group_by(ResticObject.repository_id, ResticObject.type)
        )
        sizes: dict[int, int] = dict.fromkeys(ids, 0)
        counts: dict[int, dict[str, int]] = {i: dict.fromkeys(OBJECT_TYPES, 0) for i in ids}
        for repo_id, kind, count, size in rows:
            counts[repo_id][kind] = int(count)
            sizes[repo_id] += int(size)
        snapshots = dict(
            self.session.execute(
                select(ResticRepository.id, ResticRepository.last_snapshot_at).where(
                    ResticRepository.id.in_(ids)
                )
            ).all()
        )
        return {i: Stats(sizes[i], counts[i], snapshots.get(i)) for i in ids}

    # --- objects --------------------------------------------------------------------------

    def entry(self, repo: RepoRef, kind: str, name: str) -> ResticObject | None:
        return self.session.scalar(
            select(ResticObject).where(
                ResticObject.repository_id == repo.id,
                ResticObject.type == kind,
                ResticObject.name == name,
            )
        )

    def listing(self, repo: RepoRef, kind: str) -> list[tuple[str, int]]:
        rows = self.session.execute(
            select(ResticObject.name, ResticObject.size)
            .where(ResticObject.repository_id == repo.id, ResticObject.type == kind)
            .order_by(ResticObject.name)
        )
        return [(name, int(size)) for name, size in rows]

    def _used(self, repo_id: int) -> int:
        return int(
            self.session.scalar(
                select(func.coalesce(func.sum(ResticObject.size), 0)).where(
                    ResticObject.repository_id == repo_id
                )
            )
            or 0
        )

    def _room(self, repo: RepoRef) -> tuple[int | None, int | None]:
        """(bytes left in the repository, bytes left to the owner); None where unlimited."""
        repo_left = None if repo.quota_bytes is None else repo.quota_bytes - self._used(repo.id)
        limit = quotas.quota_of(self.session, repo.owner_id)
        user_left = None
        if limit is not None:
            user_left = limit - sum(quotas.usage(self.session, repo.owner_id).values())
        return repo_left, user_left

    @staticmethod
    def _full(where: str, adding: int, left: int) -> InsufficientStorage:
        return InsufficientStorage(
            f"{adding} more bytes do not fit in {where} ({max(left, 0)} bytes left).",
            code="quota_exceeded",
        )

    def _refuse(self, repo: RepoRef, adding: int, room: tuple[int | None, int | None]) -> None:
        repo_left, user_left = room
        if repo_left is not None and adding > repo_left:
            raise self._full(f"the repository {repo.name!r}'s quota", adding, repo_left)
        if user_left is not None and adding > user_left:
            raise self._full("your quota", adding, user_left)

    def _counted(
        self,
        repo: RepoRef,
        chunks: Iterable[bytes | memoryview],
        room: tuple[int | None, int | None],
    ) -> Iterator[bytes | memoryview]:
        """`chunks`, stopped with 507 as soon as they pass the room left (a body without a
        length, or longer than it said)."""
        received = 0
        for chunk in chunks:
            received += len(chunk)
            self._refuse(repo, received, room)
            yield chunk

    def save(
        self,
        repo: RepoRef,
        kind: str,
        name: str,
        chunks: Iterable[bytes | memoryview],
        declared: int | None,
    ) -> int:
        """Store one object from a stream; its size. 403 if it exists (rest-server never
        overwrites: in append-only mode that is the point), 507 before a byte is kept when
        `declared` (Content-Length) or the bytes as they arrive pass a quota, 400 if a data
        object's content is not its name."""
        if self.entry(repo, kind, name) is not None:
            raise Forbidden(f"{kind}/{name} exists already.", code="object_exists")
        room = self._room(repo)
        self._refuse(repo, declared or 0, room)
        remote = self.remote_for(repo)
        # the body may take minutes and the store may stall: no connection held meanwhile
        self.session.commit()
        path = object_path(repo, kind, name)
        received = receive_into(
            remote,
            path,
            self._counted(repo, chunks, room),
            expect_sha256=name if kind == "data" else None,
            md5=False,  # restic verifies its objects by their SHA-256 (data: checked here)
        )
        try:
            self._record(repo, kind, name, received.size)
        except BaseException:
            self.session.rollback()
            with contextlib.suppress(RemoteError):  # the first failure is the one to report
                remote.delete(path)  # over a quota now, or the database failed: not kept
            raise
        return received.size

    def _record(self, repo: RepoRef, kind: str, name: str, size: int) -> None:
        # With a quota of the repository, its row locked (and with hold_quota the owner's): two
        # uploads to the same repository count one after the other. Without, nothing to count:
        # no lock, one statement less per object.
        if repo.quota_bytes is not None:
            self.session.execute(
                update(ResticRepository)
                .where(ResticRepository.id == repo.id)
                .values(append_only=ResticRepository.append_only)
                .execution_options(synchronize_session=False)
            )
        quotas.hold_quota(self.session, repo.owner_id, size)
        if repo.quota_bytes is not None:
            self._refuse(repo, size, (repo.quota_bytes - self._used(repo.id), None))
        self.session.add(ResticObject(repository_id=repo.id, type=kind, name=name, size=size))
        if kind == "snapshots":
            self.session.execute(
                update(ResticRepository)
                .where(ResticRepository.id == repo.id)
                .values(last_snapshot_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        try:
            self.session.commit()
        except IntegrityError:
            # the same name saved meanwhile by a retry of the same upload: restic names its
            # objects by their content, so the file in the store is that one either way
            self.session.rollback()

    def objects_after(
        self, after_id: int, limit: int, kind: str = "data"
    ) -> list[tuple[int, RepoRef, str]]:
        """For the scrub (issue 20): (object id, its repository, name) of up to `limit` objects
        of `kind` with ids above `after_id`, oldest first; verify each with `verify_object`
        (after ending the transaction) and record the outcome against the object id."""
        rows = self.session.execute(
            select(ResticObject.id, ResticObject.name, ResticRepository)
            .join(ResticRepository, ResticRepository.id == ResticObject.repository_id)
            .where(ResticObject.type == kind, ResticObject.id > after_id)
            .order_by(ResticObject.id)
            .limit(limit)
        ).all()
        return [(object_id, RepoRef.of(repo), name) for object_id, name, repo in rows]

    def remote_and_path(self, repo: RepoRef, kind: str, name: str) -> tuple[Remote, str]:
        """Where an object is read from; the transaction ends here (the read may be long)."""
        remote = self.remote_for(repo)
        self.session.commit()
        return remote, object_path(repo, kind, name)

    def delete(self, repo: RepoRef, kind: str, name: str) -> None:
        """Remove one object; 403 in an append-only repository unless it is a lock. Deleting
        what is not there succeeds: restic retries deletes (as rest-server, idempotent)."""
        if repo.append_only and kind != "locks":
            raise Forbidden(
                f"The repository {repo.name!r} is append-only: only locks may be deleted.",
                code="append_only",
            )
        remote = self.remote_for(repo)
        self.session.commit()  # no connection held while the store works
        with contextlib.suppress(RemoteNotFound):
            remote.delete(object_path(repo, kind, name))
        entry = self.entry(repo, kind, name)
        if entry is not None:
            self.session.delete(entry)
            self.session.commit()

    def remove_repository(self, repo: ResticRepository, *, admin: bool) -> int:
        """Delete a repository: its objects through the storage layer (every indexed one, then
        whatever else is left below its folder: a write whose row was never added), then its
        rows. 403 while it is append-only unless `admin` (what append-only protects is exactly
        this). The number of files removed from the store."""
        ref = RepoRef.of(repo)
        if ref.append_only and not admin:
            raise Forbidden(
                f"The repository {ref.name!r} is append-only: only an administrator deletes it.",
                code="append_only",
            )
        remote = self.remote_for(ref)
        names = self.session.execute(
            select(ResticObject.type, ResticObject.name).where(ResticObject.repository_id == ref.id)
        ).all()
        self.session.commit()  # no connection held while the store works
        removed = 0
        for kind, name in names:
            with contextlib.suppress(RemoteNotFound):  # gone already: a retried delete
                remote.delete(object_path(ref, kind, name))
                removed += 1
        for entry in list(remote.iter_entries(f"{ref.path}/", include_temp=True)):
            with contextlib.suppress(RemoteNotFound):
                remote.delete(entry.path)
                removed += 1
        # the rows last: a delete that failed half-way is retried with the index still there
        self.session.execute(delete(ResticObject).where(ResticObject.repository_id == ref.id))
        self.session.execute(delete(ResticRepository).where(ResticRepository.id == ref.id))
        self.session.commit()
        return removed
