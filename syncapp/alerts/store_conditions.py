"""The store-wide conditions that belong to no feature: free space of the local store folders and
a scheduler without a leader. Both are administrators' alerts (owner None)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

from sqlalchemy import func, select

from ..scheduled_runs import ScheduledRun
from ..settings import settings
from .conditions import Condition, Context, Finding, duration


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count} B"


def find_low_space(ctx: Context) -> Iterator[Finding]:
    """A folder with less free space than `alerts.min_free_space` or `min_free_percent` % of its
    file system. Folders on one file system are reported once, under their first name."""
    options = ctx.options
    seen: set[int] = set()
    for name, folder in ctx.store_folders().items():
        try:
            device = os.stat(folder).st_dev
            usage = os.statvfs(folder)
        except OSError:
            continue  # not created yet: the feature makes it at its first write
        if device in seen:
            continue
        seen.add(device)
        free = usage.f_bavail * usage.f_frsize
        total = usage.f_blocks * usage.f_frsize
        percent = 100 * free / total if total else 100.0
        low_bytes = options.min_free_space is not None and free < options.min_free_space
        low_share = options.min_free_percent is not None and percent < options.min_free_percent
        if not (low_bytes or low_share):
            continue
        yield Finding(
            key=f"free_space:{name}",
            owner_id=None,
            title=f"Low free space for {name}: {_size(free)} left ({percent:.1f} %)",
            detail=(
                f"{folder}: {_size(free)} free of {_size(total)}; alerts.min_free_space is "
                f"{_size(options.min_free_space or 0)}, alerts.min_free_percent "
                f"{options.min_free_percent} %."
            ),
            link="/alerts",
        )


def find_missing_leader(ctx: Context) -> Iterator[Finding]:
    """No scheduled job started, in any process, for `alerts.leader_silence`: no process leads
    (or the leader is stuck), so retention, pollers, the scrub and this evaluator all stand still.
    The leader's own evaluation is a recorded run, so it resolves the alert when a leader is back;
    firing it needs a follower's look (wiring.check_leader) or Prometheus."""
    limit = ctx.options.leader_silence
    if not limit or not settings().scheduler.enabled:
        return
    newest = ctx.session.scalar(select(func.max(ScheduledRun.started_at)))
    if newest is None or ctx.now - newest <= timedelta(seconds=limit):
        return  # nothing ever scheduled (a fresh install) is not a lost leader
    yield Finding(
        key="scheduler_leader:store",
        owner_id=None,
        title=f"No scheduler leader: no background job has started for over {duration(limit)}",
        detail=(
            f"The last scheduled job started {newest:%Y-%m-%d %H:%M} UTC. Retention, pollers, "
            "syncs and alerts depend on one process leading (see /api/v1/status)."
        ),
        link="/api/v1/status",
    )


CONDITIONS = [
    Condition("free_space", find_low_space),
    Condition("scheduler_leader", find_missing_leader),
]
