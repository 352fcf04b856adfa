"""SyncEngine: one run of one sync job, from scanning the source to recording every outcome.

Plain Python over a SQLAlchemy session (no Flask): the runner gives it a session, a way to open
the job's destination and a callback for live events. Copies run in `job.workers` threads that
never touch the database; the run's own thread records their outcomes in batches, so a restart
at any moment finds every file either recorded as copied or still queued.
"""

from __future__ import annotations

import logging
import posixpath
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, case, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from ..background.claims import Claims, backoff
from ..storage import Entry, Remote, RemoteError, RemoteFull, RemoteNotFound, RemoteUnavailable
from ..storage.base import TEMP_PREFIX, is_dead_temp, is_temp, owner_tag
from ..storage.local import ConfinedLocalRemote, PathRefused, file_entry
from ..timeutil import utcnow
from ..transfer import RetryPolicy, SourceChanged, copy_verified, move_verified
from .history import record_end, run_number
from .models import SyncFile, SyncIndexEntry, SyncJob, SyncRun
from .scan import Landed, SourceFile, plan_run, scan_source

log = logging.getLogger(__name__)

INDEX = SyncIndexEntry.__table__
QUEUE = SyncFile.__table__
RUNS = SyncRun.__table__

#: the run's counters, written to its row with each batch
COUNTERS = ("files_copied", "files_deleted", "bytes_copied", "files_failed", "files_waiting")


def _forget_statement(table):
    return delete(table).where(
        table.c.job_id == bindparam("job_id"), table.c.path.in_(bindparam("paths", expanding=True))
    )


# Statements run with every batch, built once: one built per batch costs its cache key and its
# parameters' coercion each time (more CPU than the batch's SQL itself).
FORGET = {INDEX.name: _forget_statement(INDEX), QUEUE.name: _forget_statement(QUEUE)}
ADD_TO_INDEX = insert(INDEX)
COUNT_RUN = (
    update(RUNS)
    .where(RUNS.c.id == bindparam("run_id"))
    .values({name: bindparam(f"new_{name}") for name in COUNTERS})
)

#: how long a run's claim on its job lasts without being renewed
LEASE = timedelta(seconds=60)
#: a job is claimed by the process running it: `lease_owner` is its owner_tag, `lease_until`
#: the claim's end; an expired claim may be taken over at once
JOB_CLAIMS = Claims(
    SyncJob,
    lease=LEASE,
    lease_until=SyncJob.lease_until,
    holder=SyncJob.lease_owner,
    held=SyncJob.lease_owner.is_not(None),
    free=lambda now: or_(SyncJob.lease_owner.is_(None), SyncJob.lease_until < now),
    released={"lease_owner": None, "lease_until": None},
)
#: outcomes are recorded at least this often, even when fewer than a batch have come back
FLUSH_SECONDS = 1.0
#: how often the run renews its claim on the job and looks whether the job was stopped
CHECK_SECONDS = 5.0


class DestinationUnavailable(Exception):
    """The destination did not answer (or is full): the run stops and is retried with backoff."""


class SourceMissing(Exception):
    """The source folder is gone or unreadable."""


class JobRefused(Exception):
    """The job may no longer use a folder or a remote: outside its owner's roots now, a link
    where a folder should be, a remote no longer granted. Nothing is read or written."""


@dataclass
class Destination:
    """The job's destination: a remote, and the folder inside it that mirrors the source."""

    remote: Remote
    base: str = ""

    def path(self, rel: str) -> str:
        return posixpath.join(self.base, rel) if self.base else rel

    def listing(self) -> dict[str, Landed]:
        """(size, mtime) of the files below the base by path relative to it; dead writers' temp
        files are removed."""
        prefix = f"{self.base}/" if self.base else ""
        found: dict[str, Landed] = {}
        for path, size, mtime in self._files():
            if TEMP_PREFIX in path and is_temp(path):
                modified = None if mtime is None else datetime.fromtimestamp(mtime, UTC)
                if _is_debris(Entry(path, size, modified)):
                    try:
                        self.remote.delete(path)
                    except RemoteError as exc:
                        log.warning("could not remove debris %s: %s", path, exc)
                continue
            if path.startswith(prefix):
                found[path[len(prefix) :]] = (size, mtime)
        return found

    def _files(self) -> Iterator[tuple[str, int, float | None]]:
        """(path, size, mtime) of every file below the base, temp names included: a local
        folder's from its walk's own stat (no Entry per file: a re-run lists every file)."""
        if isinstance(self.remote, ConfinedLocalRemote):
            for path, st in self.remote.walk(self.base):
                yield path, st.st_size, st.st_mtime
            return
        for entry in self.remote.iter_entries(self.base, include_temp=True):
            modified = entry.modified
            yield entry.path, entry.size, None if modified is None else modified.timestamp()

    def close(self) -> None:
        self.remote.close()


#: a temp file this old is no upload in progress (an upload refreshes its mtime as it writes)
STALE_OWN_TEMP = timedelta(hours=1)
STALE_FOREIGN_TEMP = timedelta(hours=24)


def _is_debris(entry: Entry) -> bool:
    """A temp file left by a failed or killed write. The writer's process is checked when it ran
    on this host; a temp of this very process is debris once old (its delete may have failed
    while the server was down); another host's only once very old."""
    if not is_temp(entry.path):
        return False
    if is_dead_temp(entry.path):
        return True
    if entry.modified is None:
        return False
    age = utcnow() - entry.modified
    own = posixpath.basename(entry.path)[len(TEMP_PREFIX) :].startswith(f"{owner_tag()}.")
    return age > (STALE_OWN_TEMP if own else STALE_FOREIGN_TEMP)


@dataclass
class Outcome:
    file: SourceFile
    #: copied · waiting (still being written) · vanished · failed · unavailable · cancelled
    status: str
    md5: str | None = None
    error: str | None = None
    deleted: bool = False


class JobRef(NamedTuple):
    """What the per-file hooks read of the job, read once: the job's row object is expired by
    every batch's commit, and reading it again costs a SELECT per batch."""

    id: int
    name: str
    owner_id: int


@dataclass
class RunContext:
    job: SyncJob
    run: SyncRun
    source: ConfinedLocalRemote
    destination: Destination
    cancel: threading.Event
    unavailable: list[str] = field(default_factory=list)
    #: read from the job in the run's thread: copy threads must not touch ORM objects (an
    #: attribute expired by a batch's commit would load through the session from their thread)
    delete_after_sync: bool = field(init=False)
    job_id: int = field(init=False)
    run_id: int = field(init=False)
    workers: int = field(init=False)
    max_retries: int = field(init=False)
    #: what the scan needs: read before the listing, which must run with no connection held
    include: list[str] = field(init=False)
    exclude: list[str] = field(init=False)
    source_path: str = field(init=False)
    #: the run's counters, written to its row with each batch
    counts: dict[str, int] = field(init=False)
    #: handed to on_outcome and to the per-file events instead of the job's row
    job_ref: JobRef = field(init=False)

    def __post_init__(self) -> None:
        self.delete_after_sync = self.job.delete_after_sync
        self.job_id, self.run_id, self.workers = self.job.id, self.run.id, self.job.workers
        self.max_retries = self.job.max_retries
        self.include, self.exclude = self.job.include or [], self.job.exclude or []
        self.source_path = self.job.source_path
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.job_ref = JobRef(self.job.id, self.job.name, self.job.owner_id)


#: on_event(name, payload, job) for live events; on_outcome(outcome, job) after each file. Per
#: file, `job` is a JobRef (id, name, owner_id), not the job's row
EventCallback = Callable[[str, dict, SyncJob], None]


class SyncEngine:
    def __init__(
        self,
        session: Session,
        open_source: Callable[[SyncJob], ConfinedLocalRemote],
        open_destination: Callable[[SyncJob], Destination],
        *,
        retry: RetryPolicy,
        owner: str,
        batch_size: int = 100,
        max_backoff: float = 300.0,
        keep_runs: int = 0,
        on_event: EventCallback | None = None,
        on_outcome: Callable[[Outcome, SyncJob], None] | None = None,
    ) -> None:
        self.session = session
        self.open_source = open_source
        self.open_destination = open_destination
        self.retry = retry
        self.owner = owner
        self.batch_size = max(1, batch_size)
        self.max_backoff = max_backoff
        self.keep_runs = keep_runs
        self.on_event = on_event or (lambda name, payload, job: None)
        self.on_outcome = on_outcome or (lambda outcome, job: None)
        #: run id -> its number within its job, from its start to its end
        self._numbers: dict[int, int] = {}

    # --- one run -----------------------------------------------------------------------------

    def run(self, run_id: int, cancel: threading.Event | None = None) -> SyncRun:
        """Execute a queued run of a job whose lease this process holds; returns the run."""
        session = self.session
        run = session.get(SyncRun, run_id)
        job = session.get(SyncJob, run.job_id)
        run.status, run.started_at = "running", utcnow()
        job.state, job.last_run_at = "running", run.started_at
        session.commit()
        number = self._numbers[run.id] = run_number(session, run)
        self.on_event(
            "run_started", {"run_id": run.id, "run_number": number, "reason": run.reason}, job
        )
        log.info("sync run %d of job %d started (%s)", run.id, job.id, run.reason, extra=_tag(job))
        source: ConfinedLocalRemote | None = None
        destination: Destination | None = None
        try:
            source = self.open_source(job)  # opened again at every run: see folders.py
            destination = self.open_destination(job)
            ctx = RunContext(job, run, source, destination, cancel or threading.Event())
            # ctx holds what the run reads from its rows: end the transaction, so the first
            # remote I/O (listing the destination) holds no database connection (issue 18)
            session.commit()
            self._execute(ctx)
        except DestinationUnavailable as exc:
            self._finish_later(job, run, "waiting_destination", str(exc))
        except JobRefused as exc:
            self._finish_later(job, run, "failed", str(exc), state="error")
        except (SourceMissing, RemoteError, OSError) as exc:
            # e.g. a removable disk or a share not mounted yet: tried again, less and less often
            self._finish_later(job, run, "failed", f"{type(exc).__name__}: {exc}", state="error")
        except BaseException as exc:  # a bug: record it, never leave the job claimed
            session.rollback()
            self._finish(job, run, "failed", f"internal error: {exc!r}", state="error")
            if not isinstance(exc, Exception):
                raise
            log.exception("sync run %d crashed", run.id)
        else:
            if ctx.cancel.is_set():
                status = "cancelled"
            elif run.files_failed or run.files_waiting:
                status = "partial"
            else:
                status = "completed"
            self._finish(job, run, status, None)
        finally:
            if destination is not None:
                destination.close()
            if source is not None:
                source.close()
        return run

    def _execute(self, ctx: RunContext) -> None:
        job, run = ctx.job, ctx.run
        landed, scanned = self._look_at_both(ctx)
        run.files_scanned = len(scanned)
        # the table's columns, not the entity's: rows without the ORM's per-row loading
        columns = select(INDEX.c.path, INDEX.c.size, INDEX.c.mtime_ns)
        index = {
            path: (size, mtime)
            for path, size, mtime in self.session.execute(columns.where(INDEX.c.job_id == job.id))
        }
        rows = self.session.scalars(select(SyncFile).where(SyncFile.job_id == job.id))
        queued = {row.path: row for row in rows}
        given_up = [
            path
            for path, row in queued.items()
            if row.state == "failed" and row.attempts >= job.max_retries
        ]
        plan = plan_run(
            scanned, index, landed, delete_after_sync=job.delete_after_sync, held_back=given_up
        )
        run.files_skipped = plan.unchanged
        self._record_queue(job, plan.to_copy, queued, scanned, index)
        self._record_index(job.id, plan.adopted, {})
        self.session.commit()
        self._copy_all(ctx, plan.to_copy)
        if ctx.unavailable:
            raise DestinationUnavailable(ctx.unavailable[0])

    def _look_at_both(self, ctx: RunContext) -> tuple[dict[str, Landed], dict[str, SourceFile]]:
        """The destination's listing and the source's scan, side by side: on a cold cache each
        mostly waits for the disk (or the destination's server), so the waits overlap. A
        destination that does not answer is reported first, as when they ran one after the
        other."""
        with ThreadPoolExecutor(1, thread_name_prefix=f"sync-{ctx.job_id}-list") as pool:
            listing = pool.submit(ctx.destination.listing)
            try:
                scanned = scan_source(ctx.source, ctx.include, ctx.exclude)
                unreadable = None
            except RemoteError as exc:
                unreadable = exc
            try:
                landed = listing.result()
            except (RemoteUnavailable, RemoteFull) as exc:
                raise DestinationUnavailable(str(exc)) from exc
        if unreadable is not None:
            raise SourceMissing(f"cannot read {ctx.source_path}: {unreadable}") from unreadable
        return landed, scanned

    def _record_queue(self, job, to_copy, queued, scanned, index) -> None:
        """Queue what this run copies; forget queue and index rows of files no longer there."""
        new = [
            {"job_id": job.id, "path": f.path, "size": f.size, "state": "pending", "attempts": 0}
            for f in to_copy
            if f.path not in queued
        ]
        if new:
            self.session.execute(insert(QUEUE), new)
        gone = [p for p in queued if p not in scanned]
        stale = [p for p in index if p not in scanned]
        for paths in _chunks(gone, 500):
            self._forget(QUEUE, job.id, paths)
        for paths in _chunks(stale, 500):
            self._forget(INDEX, job.id, paths)

    def _record_index(self, job_id: int, files: list[SourceFile], md5s: dict[str, str]) -> None:
        if not files:
            return
        self._forget(INDEX, job_id, [f.path for f in files])
        now = utcnow()
        self.session.execute(
            ADD_TO_INDEX,
            [
                {
                    "job_id": job_id,
                    "path": f.path,
                    "size": f.size,
                    "mtime_ns": f.mtime_ns,
                    "md5": md5s.get(f.path),
                    "synced_at": now,
                }
                for f in files
            ],
        )

    # --- copying -----------------------------------------------------------------------------

    def _copy_all(self, ctx: RunContext, files: list[SourceFile]) -> None:
        """Copy with `workers` threads that take the next file themselves and hand back each
        outcome; this thread records them in batches (a Future per file cost more CPU than
        copying a small file's bytes)."""
        if not files:
            return
        if not ctx.delete_after_sync:
            # renames reach the disk once per batch, before the batch is recorded (`_flush`);
            # a source is deleted only after its copy's rename is on the disk, so a job that
            # deletes keeps the folder fsync of every write
            ctx.destination.remote.batch_durability()
        todo: queue.SimpleQueue[SourceFile] = queue.SimpleQueue()
        for item in files:
            todo.put(item)
        done: queue.SimpleQueue[Outcome | BaseException | None] = queue.SimpleQueue()
        stop = threading.Event()

        def copier() -> None:
            try:
                while not stop.is_set():
                    try:
                        item = todo.get_nowait()
                    except queue.Empty:
                        return
                    done.put(self._copy_one(ctx, item))
            except BaseException as exc:  # a bug: the run's thread raises it
                done.put(exc)
            finally:
                done.put(None)

        threads = [
            threading.Thread(target=copier, name=f"sync-{ctx.job_id}-{n}", daemon=True)
            for n in range(max(1, min(ctx.workers, len(files))))
        ]
        for thread in threads:
            thread.start()
        running, batch = len(threads), []
        crash: BaseException | None = None
        flushed = checked = time.monotonic()
        try:
            while running:
                try:
                    outcome = done.get(timeout=FLUSH_SECONDS)
                except queue.Empty:
                    outcome = False
                if isinstance(outcome, BaseException):
                    # the other threads stop after their file; what came back is still recorded,
                    # so that the run's totals hold what it did before it failed
                    crash = crash or outcome
                    stop.set()
                elif outcome is None:
                    running -= 1
                elif outcome:
                    batch.append(outcome)
                    if outcome.status == "unavailable":
                        ctx.unavailable.append(outcome.error or "destination unavailable")
                        stop.set()
                now = time.monotonic()
                if len(batch) >= self.batch_size or now - flushed >= FLUSH_SECONDS or not running:
                    self._flush(ctx, batch)
                    batch, flushed = [], now
                if now - checked >= CHECK_SECONDS and running:
                    checked = now
                    if self._should_stop(ctx):
                        ctx.cancel.set()
                        stop.set()
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        self._flush(ctx, batch)
        if crash is not None:
            raise crash

    def _copy_one(self, ctx: RunContext, item: SourceFile) -> Outcome:
        """Copy one scanned file. It is not stated first: once read, its size and mtime must
        still be the scan's (`stable_source`), else it is still being written and waits."""
        if ctx.cancel.is_set() or ctx.unavailable:
            return Outcome(item, "cancelled")
        transfer = move_verified if ctx.delete_after_sync else copy_verified
        try:
            result = transfer(
                ctx.source,
                item.path,
                ctx.destination.remote,
                ctx.destination.path(item.path),
                retry=self.retry,
                stable_source=True,
                known=file_entry(item.path, item.size, item.mtime_ns),
            )
        except SourceChanged:
            return Outcome(item, "waiting", error="changed while it was copied")
        except PathRefused as exc:  # a link swapped in for the file since the scan is no file
            try:
                gone = ctx.source.file_stat(item.path) is None
            except RemoteError:
                gone = False
            return Outcome(item, "vanished") if gone else Outcome(item, "failed", error=str(exc))
        except (RemoteUnavailable, RemoteFull) as exc:
            return Outcome(item, "unavailable", error=str(exc))
        except RemoteNotFound:
            return Outcome(item, "vanished")
        except RemoteError as exc:
            return Outcome(item, "failed", error=str(exc))
        return Outcome(item, "copied", md5=result.md5, deleted=ctx.delete_after_sync)

    def _should_stop(self, ctx: RunContext) -> bool:
        """Renew the claim on the job; stop when the job was disabled or the claim was lost."""
        renewed = JOB_CLAIMS.renew(self.session, [ctx.job.id], self.owner)
        enabled = self.session.scalar(select(SyncJob.enabled).where(SyncJob.id == ctx.job.id))
        self.session.commit()
        return ctx.cancel.is_set() or not renewed or (not enabled and ctx.run.reason != "force")

    def _flush(self, ctx: RunContext, outcomes: list[Outcome]) -> None:
        """Record a batch of outcomes in one transaction, then announce them. Core statements
        only: the ORM's per-row bookkeeping cost more than the copies of small files."""
        if not outcomes:
            return
        # the batch's renames on the disk before the index says the files are there
        ctx.destination.remote.make_durable()
        counts = ctx.counts
        copied = [o for o in outcomes if o.status == "copied"]
        kept = [o.file for o in copied if not o.deleted]
        self._record_index(ctx.job_id, kept, {o.file.path: o.md5 for o in copied if o.md5})
        finished = [o.file.path for o in outcomes if o.status in ("copied", "vanished")]
        deleted = [o.file.path for o in copied if o.deleted]
        if deleted:
            self._forget(INDEX, ctx.job_id, deleted)
        if finished:
            self._forget(QUEUE, ctx.job_id, finished)
        self._mark_queued(ctx, [o for o in outcomes if o.status in ("waiting", "failed")])
        counts["files_copied"] += len(copied)
        counts["files_deleted"] += len(deleted)
        counts["bytes_copied"] += sum(o.file.size for o in copied)
        counts["files_failed"] += sum(o.status == "failed" for o in outcomes)
        counts["files_waiting"] += sum(o.status == "waiting" for o in outcomes)
        self.session.execute(
            COUNT_RUN, {"run_id": ctx.run_id, **{f"new_{k}": v for k, v in counts.items()}}
        )
        self.session.commit()
        job = ctx.job_ref  # not the row: no SELECT to read it again after the commit
        for outcome in outcomes:
            self._announce(job, ctx.run_id, outcome)
        # a hook that read the database gives its connection back now, not after the copies
        # still under way (nothing to do when none did)
        self.session.rollback()

    def _forget(self, table, job_id: int, paths: list[str]) -> None:
        self.session.execute(FORGET[table.name], {"job_id": job_id, "paths": paths})

    def _mark_queued(self, ctx: RunContext, outcomes: list[Outcome]) -> None:
        """Files that stay queued: one that failed counts an attempt and, after `max_retries`,
        waits for /retry; one still being written waits for the next run. One statement per
        kind of outcome and error, not per file (a full disk fails every file alike)."""
        groups: dict[tuple[str, str | None], list[str]] = {}
        for outcome in outcomes:
            groups.setdefault((outcome.status, outcome.error), []).append(outcome.file.path)
        attempts = QUEUE.c.attempts + 1
        for (status, error), paths in groups.items():
            values: dict = {"last_error": error, "state": "waiting"}
            if status == "failed":
                given_up = case((attempts >= ctx.max_retries, "failed"), else_="pending")
                values.update(attempts=attempts, state=given_up)
            for chunk in _chunks(paths, 500):
                self.session.execute(
                    update(QUEUE)
                    .where(QUEUE.c.job_id == ctx.job_id, QUEUE.c.path.in_(chunk))
                    .values(**values)
                )

    def _announce(self, job: JobRef, run_id: int, outcome: Outcome) -> None:
        self.on_outcome(outcome, job)
        payload = {"run_id": run_id, "path": outcome.file.path, "size": outcome.file.size}
        if outcome.status == "copied":
            self.on_event("file_synced", {**payload, "deleted_source": outcome.deleted}, job)
        elif outcome.status in ("failed", "unavailable"):
            log.warning(
                "job %d: %s not copied: %s",
                job.id,
                outcome.file.path,
                outcome.error,
                extra=_tag(job),
            )
            self.on_event("file_failed", {**payload, "error": outcome.error}, job)

    # --- ending a run ------------------------------------------------------------------------

    def _tidy_history(self, run: SyncRun) -> bool:
        """After the run's end is committed: a failure here must not leave it unrecorded. True
        when the run repeats the one before it (same end, nothing done)."""
        try:
            repeats = record_end(self.session, run, self.keep_runs)
            self.session.commit()
            return repeats
        except Exception:  # tried again at the job's next run
            self.session.rollback()
            log.exception("could not tidy the run history of job %d", run.job_id)
            return False

    def _finish_later(
        self, job: SyncJob, run: SyncRun, status: str, reason: str, *, state: str | None = None
    ) -> None:
        """End a run that could not do its work; the next one comes after an exponential backoff
        (retry_delay, doubled per consecutive failure, at most sync.max_destination_backoff)."""
        job.destination_failures += 1
        delay = backoff(job.destination_failures, max(job.retry_delay, 0.05), self.max_backoff)
        self._finish(job, run, status, reason, state=state or status, delay=delay)

    def _finish(
        self,
        job: SyncJob,
        run: SyncRun,
        status: str,
        error: str | None,
        *,
        state: str | None = None,
        delay: float | None = None,
    ) -> None:
        session = self.session
        session.expire(job, ["enabled", "sync_interval"])  # either may have changed meanwhile
        run.status, run.error, run.finished_at = status, error, utcnow()
        if delay is None:
            job.destination_failures = 0
        job.last_error = error
        job.state = state or ("idle" if job.enabled else "stopped")
        job.next_run_at = run.finished_at + timedelta(
            seconds=delay if delay is not None else job.sync_interval
        )
        if job.lease_owner == self.owner:
            job.lease_owner, job.lease_until = None, None
        session.commit()
        repeats = self._tidy_history(run)
        summary = {
            "run_id": run.id,
            # numbered at its start: tidying may since have folded a run before it away
            "run_number": self._numbers.pop(run.id, None) or run_number(session, run),
            "status": status,
            "files_copied": run.files_copied,
            "files_failed": run.files_failed,
            "files_waiting": run.files_waiting,
            "files_skipped": run.files_skipped,
            "bytes_copied": run.bytes_copied,
            "duration": run.duration,
            "error": error,
            # the same end as the run before, nothing done (a retry against a destination still
            # down, a check that found nothing): views show one event per change, not per run
            "repeats": repeats,
        }
        self.on_event("run_finished", summary, job)
        level = logging.INFO if status in ("completed", "cancelled") else logging.WARNING
        log.log(
            level, "sync run %d of job %d: %s (%d copied, %d failed, %d waiting)%s",
            run.id, job.id, status, run.files_copied, run.files_failed, run.files_waiting,
            f": {error}" if error else "", extra=_tag(job),
        )  # fmt: skip


def _tag(job: SyncJob | JobRef) -> dict:
    return {"job": job.id}


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
