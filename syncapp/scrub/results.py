"""Reading what the scrub found, for the features that show it: /list and /verify, the pages,
the downloads' `X-Syncapp-Integrity` header. ScrubResult is the one record of findings (the
alerts read it too); a backup archive's own `integrity` column is kept in step by the scrub."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .models import INTEGRITY, ScrubResult

#: the header a download of an object the scrub found corrupt carries
HEADER = "X-Syncapp-Integrity"


def finding(session: Session, kind: str, object_id: int) -> ScrubResult | None:
    return session.scalar(
        select(ScrubResult).where(ScrubResult.kind == kind, ScrubResult.object_id == object_id)
    )


def integrity_of(session: Session, kind: str, object_id: int) -> str | None:
    """ok, corrupt or missing as the last scrub found the object; None if never scrubbed."""
    result = finding(session, kind, object_id)
    return result.integrity if result is not None else None


def findings(
    session: Session,
    kind: str,
    *,
    owner_id: int | None = None,
    ids: Iterable[int] | None = None,
    integrity: str | None = None,
) -> dict[int, ScrubResult]:
    """The results of `kind`'s objects, by object id: one owner's (all for None), or `ids`';
    only those of one `integrity` when given (after a pass, an owner has one per object)."""
    query = select(ScrubResult).where(ScrubResult.kind == kind)
    if owner_id is not None:
        query = query.where(ScrubResult.owner_id == owner_id)
    if integrity is not None:
        query = query.where(ScrubResult.integrity == integrity)
    if ids is not None:
        query = query.where(ScrubResult.object_id.in_(list(ids)))
    return {r.object_id: r for r in session.scalars(query)}


def counts(session: Session) -> dict[str, dict[str, int]]:
    """Objects per kind and integrity, as the last scrub of each found them."""
    query = select(ScrubResult.kind, ScrubResult.integrity, func.count()).group_by(
        ScrubResult.kind, ScrubResult.integrity
    )
    found: dict[str, dict[str, int]] = {}
    for kind, integrity, count in session.execute(query):
        found.setdefault(kind, dict.fromkeys(INTEGRITY, 0))[integrity] = int(count)
    return found


def stored_copy_differs(session: Session, kind: str, object_id: int) -> bool:
    """The scrub found the stored bytes missing or other than those recorded (not bytes that
    were bad when they arrived): a new upload of the recorded bytes repairs it."""
    result = finding(session, kind, object_id)
    if result is None:
        return False
    return result.integrity == "missing" or (
        result.integrity == "corrupt"
        and ("MD5" in result.detail or "bytes stored" in result.detail)
    )


def listing(
    session: Session,
    *,
    kind: str | None = None,
    integrity: str | None = None,
    limit: int = 100,
    offset: int = 0,
    order: Sequence[Any] | None = None,
) -> tuple[list[ScrubResult], int]:
    """The findings, newest verdict first (or by `order`, ORDER BY clauses): corrupt and
    missing unless `integrity` says."""
    query = select(ScrubResult)
    if integrity is None:
        query = query.where(ScrubResult.integrity.in_(("corrupt", "missing")))
    else:
        query = query.where(ScrubResult.integrity == integrity)
    if kind is not None:
        query = query.where(ScrubResult.kind == kind)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    newest = (ScrubResult.last_verified_at.desc(), ScrubResult.id.desc())
    ordered = query.order_by(*(order or newest))
    return list(session.scalars(ordered.limit(limit).offset(offset))), int(total)


def damaged(session: Session, kind: str, owner_id: int | None) -> dict[int, ScrubResult]:
    """`kind`'s objects the last scrub found corrupt or missing, by id (one owner's, or all for
    None): what a feature's page marks with a badge."""
    query = select(ScrubResult).where(
        ScrubResult.kind == kind, ScrubResult.integrity.in_(("corrupt", "missing"))
    )
    if owner_id is not None:
        query = query.where(ScrubResult.owner_id == owner_id)
    return {r.object_id: r for r in session.scalars(query)}


def forget(session: Session, kind: str, object_id: int) -> None:
    """Drop an object's result when the object is deleted (its findings end with it; a pass's
    end drops those of objects deleted without this call). The caller commits."""
    session.execute(
        delete(ScrubResult)
        .where(ScrubResult.kind == kind, ScrubResult.object_id == object_id)
        .execution_options(synchronize_session=False)
    )
