"""The Cordiax feature's watched condition (syncapp/alerts/registry.py gathers it): a device
silent for longer than `alerts.cordiax_max_silence` since its last snapshot (or than its owner's
expectation, PUT /api/v1/alerts/expectations/cordiax/<device>)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..alerts.conditions import Condition, Context, Finding, duration, pick
from .models import CordiaxSnapshot

KIND = "cordiax_silence"


def last_snapshots(session) -> dict[tuple[int, str], datetime]:
    """(owner, device) -> when its newest snapshot arrived."""
    rows = session.execute(
        select(
            CordiaxSnapshot.user_id, CordiaxSnapshot.device, func.max(CordiaxSnapshot.received_at)
        ).group_by(CordiaxSnapshot.user_id, CordiaxSnapshot.device)
    )
    return {(owner_id, device): newest for owner_id, device, newest in rows}


def find_silent_devices(ctx: Context) -> Iterator[Finding]:
    newest = last_snapshots(ctx.session)
    subjects: dict[tuple[int, str], datetime | None] = dict(newest)
    for expectation in ctx.expectations("cordiax"):
        subjects.setdefault((expectation.owner_id, expectation.subject), None)
    for (owner_id, device), last in subjects.items():
        expectation = ctx.expectation(owner_id, "cordiax", device)
        if expectation is not None and not expectation.watch:
            continue
        limit = pick(expectation and expectation.max_silence, ctx.options.cordiax_max_silence)
        since = last or (expectation.created_at if expectation else ctx.now)
        if not limit or ctx.now - since <= timedelta(seconds=limit):
            continue
        if last is None:
            detail = f"No snapshot has arrived yet; one is expected every {duration(limit)}."
        else:
            detail = f"The last snapshot arrived {last:%Y-%m-%d %H:%M} UTC."
        yield Finding(
            key=f"{KIND}:{owner_id}:{device}",
            owner_id=owner_id,
            title=f"Cordiax device {device}: silent for over {duration(limit)}",
            detail=detail,
            link="/cordiax",
        )


CONDITIONS = [Condition(KIND, find_silent_devices)]
