"""Storage quotas per user, across every feature that keeps a user's bytes.

Each feature registers how to count what a user keeps with it (`register_usage`); a store asks
`check_quota(user_id, adding)` before it keeps new bytes, and gets InsufficientStorage (507)
naming the quota when they would not fit. The limit is the user's own `quota_bytes`, else the
server's `quota.per_user`; unset, nothing is counted.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app
from sqlalchemy.orm import Session

from .auth.models import User
from .errors import InsufficientStorage

#: feature -> function(session, user_id) -> bytes that user keeps there
_USAGE: dict[str, Callable[[Session, int], int]] = {}


def register_usage(feature: str, count: Callable[[Session, int], int]) -> None:
    _USAGE[feature] = count


def usage(session: Session, user_id: int) -> dict[str, int]:
    """Bytes per feature; int(): PostgreSQL's SUM of a bigint arrives as a Decimal."""
    return {feature: int(count(session, user_id) or 0) for feature, count in _USAGE.items()}


def quota_of(session: Session, user_id: int) -> int | None:
    user = session.get(User, user_id)
    if user is not None and user.quota_bytes is not None:
        return user.quota_bytes
    return current_app.config["SYNCAPP"]["quota"]["per_user"]


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def check_quota(session: Session, user_id: int | None, adding: int) -> None:
    """Refuse (507) `adding` more bytes for `user_id` when they would pass the user's quota."""
    if user_id is None:
        return
    limit = quota_of(session, user_id)
    if limit is None:
        return
    used = sum(usage(session, user_id).values())
    if used + adding > limit:
        raise InsufficientStorage(
            f"This would use {_human(used + adding)}, over your quota of {_human(limit)}; "
            "delete something first or ask an administrator for more.",
            code="quota_exceeded",
            used=used,
            quota=limit,
        )
