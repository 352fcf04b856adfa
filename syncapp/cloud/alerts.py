"""The cloud files' watched condition (syncapp/alerts/registry.py gathers it): a user with open
conflicts (a cloud copy changed outside syncapp, waiting for a decision on /api/v1/conflicts)."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, select

from ..alerts.conditions import Condition, Context, Finding
from .models import CloudConflict

KIND = "cloud_conflicts"


def find_open_conflicts(ctx: Context) -> Iterator[Finding]:
    if not ctx.options.cloud_conflicts:
        return
    counts = ctx.session.execute(
        select(CloudConflict.owner_id, func.count())
        .where(CloudConflict.resolved.is_(False))
        .group_by(CloudConflict.owner_id)
    )
    for owner_id, count in counts:
        yield Finding(
            key=f"{KIND}:{owner_id}",
            owner_id=owner_id,
            title=f"{count} open cloud conflict{'s' if count != 1 else ''}",
            detail="A cloud copy changed outside syncapp: choose which side to keep.",
            link="/cloud",
        )


CONDITIONS = [Condition(KIND, find_open_conflicts)]
