"""The scrub's watched condition (syncapp/alerts/registry.py gathers it): stored objects the
scrub found corrupt or missing (`ScrubResult`), one alert per owner (store-wide for objects of
no user). Fixing or re-verifying the objects resolves it."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, select

from ..alerts.conditions import Condition, Context, Finding
from .models import ScrubResult

KIND = "scrub_findings"


def find_scrub_findings(ctx: Context) -> Iterator[Finding]:
    if not ctx.options.scrub_findings:
        return
    counts = ctx.session.execute(
        select(ScrubResult.owner_id, ScrubResult.integrity, func.count())
        .where(ScrubResult.integrity.in_(("corrupt", "missing")))
        .group_by(ScrubResult.owner_id, ScrubResult.integrity)
    )
    by_owner: dict[int | None, dict[str, int]] = {}
    for owner_id, integrity, count in counts:
        by_owner.setdefault(owner_id, {})[integrity] = count
    for owner_id, found in by_owner.items():
        parts = [f"{found[i]} {i}" for i in ("corrupt", "missing") if found.get(i)]
        yield Finding(
            key=f"{KIND}:{owner_id if owner_id is not None else 'store'}",
            owner_id=owner_id,
            title=f"Integrity scrub: {' and '.join(parts)} stored object(s)",
            detail="Stored objects no longer match their recorded checksums; /verify lists them.",
            link="/backups",
        )


CONDITIONS = [Condition(KIND, find_scrub_findings)]
