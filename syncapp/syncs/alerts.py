"""The sync jobs' watched condition (syncapp/alerts/registry.py gathers it): a job whose last
`alerts.sync_max_failed_runs` runs or more all failed (or its owner's expectation,
PUT /api/v1/alerts/expectations/syncs/<job id>).

Runs that failed the same way are folded into one history row (history.py), so the count is the
job's own: `destination_failures`, which the engine raises at each run that could not do its work
(destination away, source missing, refused) and sets back to 0 when a run ends normally."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select

from ..alerts.conditions import Condition, Context, Finding, pick
from .models import SyncJob

KIND = "sync_failures"


def find_failing_jobs(ctx: Context) -> Iterator[Finding]:
    jobs = ctx.session.execute(
        select(SyncJob.id, SyncJob.owner_id, SyncJob.name, SyncJob.destination_failures,
               SyncJob.last_error)
        .where(SyncJob.enabled.is_(True), SyncJob.destination_failures > 0)
    )  # fmt: skip
    for job_id, owner_id, name, failures, last_error in jobs:
        expectation = ctx.expectation(owner_id, "syncs", str(job_id))
        if expectation is not None and not expectation.watch:
            continue
        limit = pick(expectation and expectation.max_failed_runs, ctx.options.sync_max_failed_runs)
        if not limit or failures < limit:
            continue
        yield Finding(
            key=f"{KIND}:{job_id}",
            owner_id=owner_id,
            title=f"Sync job {name}: {failures} failed runs in a row",
            detail=f"Last error: {last_error}" if last_error else "",
            link="/syncs",
        )


CONDITIONS = [Condition(KIND, find_failing_jobs)]
