"""Reading one stored object back: one pass over its bytes computes every digest it needs (MD5,
SHA-256), and a backup archive is followed as a gzip stream and the tar stream inside it, so
the object is read from its store exactly once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..backups.gzipcheck import GzipFollower, IncompleteGzip, IncompleteTar, TarFollower
from ..storage import Remote, RemoteError, RemoteNotFound, RemoteUnavailable
from .ratelimit import RateLimiter

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Target:
    """A stored object as its feature's table records it."""

    kind: str
    object_id: int
    owner_id: int | None
    path: str
    size: int
    md5: str | None = None
    sha256: str | None = None
    #: a backup archive: also one complete gzip stream holding one complete tar stream
    archive: bool = False
    #: the stored remote it lives on when that is not its kind's store (a restic repository
    #: on a remote of its own); None: the kind's store
    remote_id: int | None = None


@dataclass(frozen=True)
class Verdict:
    integrity: str  # ok, corrupt or missing (models.INTEGRITY)
    detail: str
    bytes_read: int


def read_back(remote: Remote, target: Target, limiter: RateLimiter) -> Verdict:
    """What the store holds at `target.path` against what was recorded. A store that is
    unavailable raises RemoteUnavailable (nothing is concluded: the pass retries later)."""
    md5 = hashlib.md5() if target.md5 else None
    sha256 = hashlib.sha256() if target.sha256 else None
    tar = TarFollower() if target.archive else None
    gzip = GzipFollower(tar.feed) if tar is not None else None
    damage, size = "", 0
    try:
        with remote.open_read(target.path) as reader:
            while chunk := reader.read(CHUNK):
                limiter.take(len(chunk))
                size += len(chunk)
                if md5 is not None:
                    md5.update(chunk)
                if sha256 is not None:
                    sha256.update(chunk)
                if gzip is not None and not damage:
                    damage = _follow(gzip.feed, chunk)
        if gzip is not None and tar is not None and not damage:
            damage = _follow(lambda _: gzip.finish(), b"") or _follow(lambda _: tar.finish(), b"")
    except RemoteNotFound:
        return Verdict("missing", "absent from the store", 0)
    except RemoteUnavailable:
        raise
    except RemoteError as exc:  # refused for good (permissions, a folder in its place)
        return Verdict("corrupt", f"unreadable: {exc}", size)
    problems = []
    if size != target.size:
        problems.append(f"{size} bytes stored, {target.size} recorded")
    if md5 is not None and md5.hexdigest() != target.md5:
        problems.append(f"MD5 {md5.hexdigest()} differs from the recorded {target.md5}")
    if sha256 is not None and sha256.hexdigest() != target.sha256:
        problems.append(f"SHA-256 {sha256.hexdigest()} differs from the recorded {target.sha256}")
    if damage:
        problems.append(damage)
    return Verdict("corrupt" if problems else "ok", "; ".join(problems), size)


def _follow(step, chunk: bytes) -> str:
    """Run one step of the gzip/tar check; the damage it found, or ""."""
    try:
        step(chunk)
    except IncompleteGzip as exc:
        return f"gzip: {exc}"
    except IncompleteTar as exc:
        return f"tar: {exc}"
    return ""
