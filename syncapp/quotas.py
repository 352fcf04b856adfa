"""Storage quotas per user, across every feature that keeps a user's bytes.

Each feature registers how to count what a user keeps with it (`register_usage`); a store asks
`check_quota(user_id, adding)` before it keeps new bytes, and gets InsufficientStorage (507,
`quota_exceeded`) naming the quota when they would not fit. The limit is the user's own
`quota_bytes`, else the server's `quota.per_user`; unset, nothing is counted.

A streamed upload is checked three times: its declared Content-Length before a byte is read
(`refuse_declared`), its bytes while they arrive (`within_quota`: a body without a length stops
as soon as it cannot fit), and its size before it is recorded (`hold_quota`, which also keeps two
uploads of one user from both taking the same room).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from sqlalchemy import update
from sqlalchemy.orm import Session

from .auth.models import User
from .failures import InsufficientStorage
from .settings import settings
from .uploads import FORM_OVERHEAD

#: feature -> function(session, user_id) -> bytes that user keeps there
_USAGE: dict[str, Callable[[Session, int], int]] = {}


def register_usage(feature: str, count: Callable[[Session, int], int]) -> None:
    _USAGE[feature] = count


def usage(session: Session, user_id: int) -> dict[str, int]:
    """Bytes per feature; int(): PostgreSQL's SUM of a bigint arrives as a Decimal."""
    return {feature: int(count(session, user_id) or 0) for feature, count in _USAGE.items()}


def quota_and_source(session: Session, user_id: int) -> tuple[int | None, str]:
    """The user's limit and where it comes from: "user" (their own `quota_bytes`), "server"
    (`quota.per_user`) or "none" (no limit)."""
    user = session.get(User, user_id)
    if user is not None and user.quota_bytes is not None:
        return user.quota_bytes, "user"
    limit = settings().quota.per_user
    return limit, "none" if limit is None else "server"


def quota_of(session: Session, user_id: int) -> int | None:
    return quota_and_source(session, user_id)[0]


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _exceeded(used: int, adding: int, limit: int) -> InsufficientStorage:
    return InsufficientStorage(
        f"This would use {_human(used + adding)}, over your quota of {_human(limit)}; "
        "delete something first or ask an administrator for more.",
        code="quota_exceeded",
        used=used,
        quota=limit,
    )


def _limit_and_use(session: Session, user_id: int | None) -> tuple[int, int] | None:
    """(quota, bytes in use) of a user with a quota; None when nothing limits them."""
    if user_id is None:
        return None
    limit = quota_of(session, user_id)
    if limit is None:
        return None
    return limit, sum(usage(session, user_id).values())


def check_quota(session: Session, user_id: int | None, adding: int) -> None:
    """Refuse (507) `adding` more bytes for `user_id` when they would pass the user's quota."""
    found = _limit_and_use(session, user_id)
    if found is not None and found[1] + adding > found[0]:
        raise _exceeded(found[1], adding, found[0])


def hold_quota(session: Session, user_id: int | None, adding: int) -> None:
    """check_quota, in the transaction that then records the new bytes: the user's row stays
    locked until it ends (a write: on SQLite the database's write lock, on PostgreSQL the row's
    lock), so a second upload of the same user counts after the first is recorded or undone.
    Commit soon: nothing slow belongs between this call and the commit."""
    if user_id is None or quota_of(session, user_id) is None:
        return
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(quota_bytes=User.quota_bytes)
        .execution_options(synchronize_session=False)
    )
    check_quota(session, user_id, adding)


def refuse_declared(session: Session, user_id: int | None, content_length: int | None) -> None:
    """507 before a byte of a multipart upload is read, when even its declared length less the
    form's framing cannot fit in what the user has left."""
    found = _limit_and_use(session, user_id)
    # the body read next may take minutes, and the store may be a remote that stalls: the read
    # transaction ends here, so that no connection is held meanwhile (issue 18)
    session.commit()
    if found is None or not content_length:
        return
    limit, used = found
    least = content_length - FORM_OVERHEAD
    if used + least > limit:
        raise _exceeded(used, least, limit)


def within_quota(session: Session, user_id: int | None, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """`chunks`, stopped with 507 as soon as they pass what the user has left (the receiving
    store then removes what it wrote)."""
    found = _limit_and_use(session, user_id)
    session.commit()  # as in refuse_declared: no connection while the chunks arrive and land
    if found is None:
        yield from chunks
        return
    limit, used = found
    received = 0
    for chunk in chunks:
        received += len(chunk)
        if used + received > limit:
            raise _exceeded(used, received, limit)
        yield chunk
