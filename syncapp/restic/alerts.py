"""The restic feature's watched condition (syncapp/alerts/registry.py gathers it): each
repository's rhythm. A repository is late when its newest snapshot file
(`ResticRepository.last_snapshot_at`) is older than `alerts.restic_snapshot_every`, or than its
owner's expectation (PUT /api/v1/alerts/expectations/restic/<repository> with `any_every`,
or `watch: false`). A repository that never received a snapshot is late one rhythm after it
was created: the dead man's switch for a machine whose backups never started."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import select

from ..alerts.conditions import Condition, Context, Finding, duration, pick
from .models import ResticRepository

KIND = "restic_rhythm"


def find_late_repositories(ctx: Context) -> Iterator[Finding]:
    rows = ctx.session.execute(
        select(
            ResticRepository.owner_id,
            ResticRepository.name,
            ResticRepository.created_at,
            ResticRepository.last_snapshot_at,
        )
    ).all()
    for owner_id, name, created_at, last in rows:
        expectation = ctx.expectation(owner_id, "restic", name)
        if expectation is not None and not expectation.watch:
            continue
        limit = pick(expectation and expectation.any_every, ctx.options.restic_snapshot_every)
        if not limit or ctx.now - (last or created_at) <= timedelta(seconds=limit):
            continue
        if last is None:
            detail = f"No snapshot has arrived yet; one is expected every {duration(limit)}."
        else:
            detail = (
                f"The newest snapshot arrived {last:%Y-%m-%d %H:%M} UTC; one is expected at "
                f"least every {duration(limit)}."
            )
        yield Finding(
            key=f"{KIND}:{owner_id}:{name}",
            owner_id=owner_id,
            title=f"restic repository {name}: no snapshot for over {duration(limit)}",
            detail=detail,
            link=f"/restic#repository-{quote(name)}",
        )


CONDITIONS = [Condition(KIND, find_late_repositories)]
