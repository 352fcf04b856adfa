"""What a job's run history keeps: runs that did something, one row for a stretch of runs that
did nothing, the last `sync.keep_runs` runs, and the totals of every run no longer kept.

A job checking its source every few seconds would otherwise write a row per check, most saying
"nothing to do". A run that copied, deleted and failed nothing and ended like the run before it
(same status, same error), which did nothing either, takes that run's place: the history shows
one row for the stretch, the newest (its `finished_at` is when the job last looked; the stretch
began after the run below it). Beyond `keep_runs` runs, the oldest are deleted.

Nothing is lost from the totals: before rows are deleted their counters are added to the job's
summary row (status `summary`, no start or end time), so sums over a job's rows (/metrics,
`files_synced` in /status) still count every run the job ever made. Lists of runs leave the
summary out (`LISTED`); what reads runs by time never meets it (it has none).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, delete, func, select
from sqlalchemy.orm import Session

from .models import RUN_SUMMARY, SyncRun

#: the counters summed into the summary row
FOLDED = (
    "files_scanned", "files_copied", "files_skipped", "files_failed", "files_waiting",
    "files_deleted", "bytes_copied",
)  # fmt: skip
#: runs as lists show them: every row but the summary
LISTED = SyncRun.status != RUN_SUMMARY
#: runs that have ended, the summary aside
ENDED = SyncRun.status.not_in(("queued", "running", RUN_SUMMARY))


def _did_nothing(run: SyncRun) -> bool:
    return not (run.files_copied or run.files_deleted or run.files_failed)


def record_end(session: Session, run: SyncRun, keep_runs: int) -> bool:
    """Tidy the history of `run`'s job now that `run` has ended (its status is set, not yet
    committed): a run that repeats one that did nothing replaces it, and runs beyond the newest
    `keep_runs` (0: no limit) are folded into the summary. A few statements per run, none per
    file. True when `run` repeats the run before it (which it replaced): live views show one
    event per change, not one per retry."""
    session.flush()
    job_id = run.job_id
    repeats = False
    if _did_nothing(run):
        previous = session.scalar(
            select(SyncRun)
            .where(SyncRun.job_id == job_id, SyncRun.id < run.id, ENDED)
            .order_by(SyncRun.id.desc())
            .limit(1)
        )
        if (
            previous is not None
            and _did_nothing(previous)
            and (previous.status, previous.error) == (run.status, run.error)
        ):
            _fold(session, job_id, SyncRun.id == previous.id)
            repeats = True
    if keep_runs > 0:
        oldest_kept = session.scalar(
            select(SyncRun.id)
            .where(SyncRun.job_id == job_id, ENDED)
            .order_by(SyncRun.id.desc())
            .offset(keep_runs - 1)
            .limit(1)
        )
        if oldest_kept is not None:
            _fold(session, job_id, and_(SyncRun.id < oldest_kept, ENDED))
    return repeats


def _fold(session: Session, job_id: int, which: ColumnElement[bool]) -> None:
    """Add the counters of the job's runs matching `which` to its summary row; delete them."""
    rows = and_(SyncRun.job_id == job_id, which)
    sums = session.execute(
        select(
            func.count(),
            func.min(SyncRun.requested_at),
            *(func.coalesce(func.sum(getattr(SyncRun, name)), 0) for name in FOLDED),
        ).where(rows)
    ).one()
    if not sums[0]:
        return
    summary = session.scalar(
        select(SyncRun).where(SyncRun.job_id == job_id, SyncRun.status == RUN_SUMMARY)
    )
    if summary is None:
        summary = SyncRun(
            job_id=job_id,
            reason=RUN_SUMMARY,
            status=RUN_SUMMARY,
            requested_at=sums[1],
            **dict.fromkeys(FOLDED, 0),
        )
        session.add(summary)
    for name, value in zip(FOLDED, sums[2:], strict=True):
        setattr(summary, name, getattr(summary, name) + int(value))
    session.execute(delete(SyncRun).where(rows))


def run_number(session: Session, run: SyncRun) -> int:
    """The run's number within its job, as its history lists it: 1 for the job's first run, 2 for
    the next (a stretch of runs that did nothing counts once; runs folded away beyond
    `keep_runs` no longer count). Pages say "Run 2 of <job>", never the id shared by every job."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(SyncRun)
            .where(SyncRun.job_id == run.job_id, SyncRun.id <= run.id, LISTED)
        )
        or 0
    )


def files_synced(session: Session, job_id: int, in_index: int) -> int:
    """Files the job holds copied (`in_index`: still in the source, copy verified) plus those it
    moved (deleted from the source after their copy was verified), over every run it made."""
    moved = session.scalar(
        select(func.coalesce(func.sum(SyncRun.files_deleted), 0)).where(SyncRun.job_id == job_id)
    )
    return in_index + int(moved)
