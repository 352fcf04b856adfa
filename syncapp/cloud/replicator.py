"""Cloud replication: each wanted file version copied to the clouds it was asked for.

A copy to make is a CloudCopy row `pending` whose `next_attempt_at` has come. It is claimed
(background/claims.py: pending -> running), so two threads or processes never copy the same row.
While a row is `running`, `next_attempt_at` is its claim's lease: renewed as bytes move and by the
thread that waits for the copies, so a row whose lease has run out was left by a process that
died, and goes back to `pending` (a restart resumes the work). A copy that fails for a reason
that may pass is tried again after a growing delay, up to `cloud.max_attempts`.

CloudReplicator copies one claimed row over a session; ReplicationRunner is the Flask edge:
threads, each with its own app context and session, handed row ids and never ORM objects.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from flask import Flask, current_app
from sqlalchemy import case, or_, select
from sqlalchemy.orm import Session

from ..background.claims import Claims, backoff
from ..extensions import db
from ..logs import working_for
from ..settings import settings
from ..storage import ChecksumMismatch, Remote, RemoteError, RemoteUnavailable
from ..timeutil import utcnow
from ..transfer import RetryPolicy, copy_verified
from . import live
from .conflicts import OpenTarget, Verdict, check_before_write, mark_synced
from .jobs import job_view, refresh_job_status
from .models import CloudCopy, CloudFile, CloudJob, CloudVersion
from .targets import TargetUnavailable, open_target
from .wiring import store_remote

log = logging.getLogger(__name__)

WORKERS = 4  # copies at once: clouds are slow per request, not per byte
#: a claim is renewed this often within cloud.replication_lease, so a live one never looks
#: abandoned, while a dead process's claim is taken back once the lease runs out
RENEWALS_PER_LEASE = 4
PROGRESS_BYTES = 256 * 1024
PROGRESS_SECONDS = 0.2
#: failures that may pass: tried again later, up to cloud.max_attempts
TRANSIENT = (RemoteUnavailable, ChecksumMismatch, TargetUnavailable)

EventHook = Callable[[str, dict], None]

#: progress and job-state events of all copies are computed and sent under one lock, so that
#: the job progress a client sees never goes backwards even though copies run side by side
_report_lock = threading.Lock()


def copy_claims(lease: timedelta) -> Claims:
    """A copy is claimed by moving it from `pending` to `running`; `next_attempt_at`, a pending
    row's earliest next attempt, is a running row's lease."""
    return Claims(
        CloudCopy,
        lease=lease,
        lease_until=CloudCopy.next_attempt_at,
        held=CloudCopy.status == "running",
        free=lambda now: (
            (CloudCopy.status == "pending")
            & or_(CloudCopy.next_attempt_at.is_(None), CloudCopy.next_attempt_at <= now)
        ),
        taken={"status": "running"},
    )


@dataclass(frozen=True)
class CopyResult:
    copy_id: int
    target: str
    status: str  # completed, pending (tried again later), failed, conflict, skipped
    error: str | None = None


@dataclass(frozen=True)
class _Claim:
    """A row this process copies, by value: threads share ids, never ORM objects."""

    copy_id: int
    target: str
    number: int  # the version being copied
    job_id: str | None


class _Progress:
    """copy_verified's progress callback for one copy: records the bytes sent (never fewer than
    before), at most every `progress_bytes` and `progress_seconds`."""

    def __init__(self, replicator: CloudReplicator, claim: _Claim) -> None:
        self.replicator = replicator
        self.claim = claim
        self.written = 0
        self.at = 0.0
        self.thread = threading.get_ident()

    def __call__(self, done: int, total: int | None) -> None:
        # The session belongs to the copying thread: a report from an SDK's helper thread is
        # skipped, the copying thread's next one carries a count at least as high.
        if threading.get_ident() != self.thread:
            return
        now = time.monotonic()
        replicator = self.replicator
        if done - self.written < replicator.progress_bytes:
            return
        if now - self.at < replicator.progress_seconds:
            return
        self.written, self.at = done, now
        replicator.record_progress(self.claim, done)


class CloudReplicator:
    """Claims and copies CloudCopy rows; every change to a row is a conditional UPDATE on its
    state, so a row re-pointed at a newer version meanwhile (a new upload) is left to that."""

    def __init__(
        self,
        session: Session,
        store: Remote,
        open_target: OpenTarget,
        *,
        retry: RetryPolicy,
        options: Any,  # the `cloud` settings section
        on_event: EventHook | None = None,
        progress_bytes: int = PROGRESS_BYTES,
        progress_seconds: float = PROGRESS_SECONDS,
    ) -> None:
        self.session = session
        self.store = store
        self.open_target = open_target
        self.retry = retry
        self.max_attempts = max(1, options.max_attempts)
        self.retry_delay = float(options.retry_delay)
        self.max_retry_delay = float(options.max_retry_delay)
        self.claims = copy_claims(timedelta(seconds=float(options.replication_lease)))
        self.on_event = on_event
        self.progress_bytes = progress_bytes
        self.progress_seconds = progress_seconds

    # -- claims -------------------------------------------------------------------------------

    def recover_abandoned(self) -> list[int]:
        """Rows left `running` by a process that stopped (its lease ran out) are due again."""
        now = utcnow()
        ids = self.claims.recover(
            self.session,
            now=now,
            status="pending",
            next_attempt_at=now,
            last_error="interrupted: the process copying it stopped",
        )
        if ids:
            log.warning("cloud copies %s: their copier stopped; copying them again", ids)
        self.session.commit()
        return ids

    def due(self, limit: int) -> list[int]:
        return list(
            self.session.scalars(
                select(CloudCopy.id)
                .where(self.claims.free(utcnow()))
                .order_by(CloudCopy.next_attempt_at, CloudCopy.id)
                .limit(limit)
            )
        )

    def claim(self, copy_id: int) -> bool:
        return self.claims.claim(self.session, copy_id)

    def claim_due(self, limit: int) -> list[int]:
        """Up to `limit` due rows, claimed (abandoned ones first made due again)."""
        self.recover_abandoned()
        if limit <= 0:
            return []
        return [copy_id for copy_id in self.due(limit) if self.claim(copy_id)]

    def renew(self, copy_ids: list[int]) -> None:
        if copy_ids:
            self.claims.renew(self.session, copy_ids)
            self.session.commit()

    # -- copying ------------------------------------------------------------------------------

    def replicate(self, copy_id: int) -> CopyResult:
        """Copy a row this process claimed; never raises (the row records what happened)."""
        copy = self.session.get(CloudCopy, copy_id)
        if copy is None or copy.status != "running":
            return CopyResult(copy_id, copy.target if copy else "?", "skipped")
        claim = _Claim(copy_id, copy.target, copy.wanted_version, copy.job_id)
        owner_id = self.session.scalar(
            select(CloudFile.owner_id).where(CloudFile.id == copy.file_id)
        )
        self._report(claim.job_id)
        with working_for(owner_id):  # what is logged about the copy is its owner's to read
            try:
                return self._replicate(claim, copy)
            except TRANSIENT as exc:
                return self._failed(claim, exc, permanent=False)
            except RemoteError as exc:
                return self._failed(claim, exc, permanent=True)
            except Exception as exc:  # a bug must not leave the row claimed until its lease ends
                log.exception("cloud copy %d to %s failed unexpectedly", copy_id, claim.target)
                return self._failed(claim, exc, permanent=False)

    def _replicate(self, claim: _Claim, copy: CloudCopy) -> CopyResult:
        file = self.session.get(CloudFile, copy.file_id)
        version = self.session.scalar(
            select(CloudVersion).where(
                CloudVersion.file_id == copy.file_id, CloudVersion.number == claim.number
            )
        )
        if file is None or version is None:
            raise RemoteError(f"version {claim.number} of this file no longer exists")
        size, path = version.size, copy.remote_path
        with self.open_target(claim.target, file.owner_id) as remote:
            # The check compares the rows with the cloud: detach them (loaded, they stay
            # readable) and end the transaction, so a cloud that stalls on the stat holds no
            # database connection (issue 18)
            self.session.expunge(copy)
            self.session.expunge(version)
            self.session.commit()
            verdict, conflict = check_before_write(self.session, copy, version, remote)
            if verdict is Verdict.CONFLICT:
                assert conflict is not None
                note = f"the copy changed outside syncapp: see conflict {conflict.id}"
                return self._finish(claim, "conflict", note)
            if verdict is Verdict.LEAVE:
                note = "the copy changed outside syncapp and was left as it is"
                return self._finish(claim, "completed", note, bytes_done=size)
            if verdict is Verdict.IN_SYNC:
                return self._finish(claim, "completed", None, bytes_done=size)
            source, md5, modified = version.stored_path, version.md5, version.modified_at
            self.session.commit()  # no transaction stays open through a long copy
            written = copy_verified(
                self.store, source, remote, path,
                retry=self.retry, progress=_Progress(self, claim),
                expected_md5=md5, modified=modified,
            )  # fmt: skip
            landed = remote.stat(path)
        # What the cloud holds now, whatever became of the row meanwhile (re-pointed at a newer
        # version): the next write compares against it.
        copy = self.session.get(CloudCopy, claim.copy_id)
        if copy is not None:
            mark_synced(copy, claim.number, landed, written.md5, written.size)
        return self._finish(claim, "completed", None, bytes_done=size)

    def _finish(
        self, claim: _Claim, status: str, note: str | None, *, bytes_done: int | None = None
    ) -> CopyResult:
        done = {} if bytes_done is None else {"bytes_done": bytes_done}
        self._settle(claim, status=status, last_error=note, next_attempt_at=None, **done)
        return CopyResult(claim.copy_id, claim.target, status, note)

    def _failed(self, claim: _Claim, exc: Exception, *, permanent: bool) -> CopyResult:
        self.session.rollback()
        copy = self.session.get(CloudCopy, claim.copy_id)
        attempts = (copy.attempts if copy else 0) + 1
        # The copy's row names its target; the job's error_message prefixes it (jobs.py), so
        # the text stays without one ("s3: s3: ..." otherwise).
        error = str(exc)[:2000]
        if permanent or attempts >= self.max_attempts:
            status, when = "failed", None
        else:
            delay = backoff(attempts, self.retry_delay, self.max_retry_delay)
            status, when = "pending", utcnow() + timedelta(seconds=delay)
        log.warning(
            "cloud copy %d to %s, attempt %d: %s (%s)",
            claim.copy_id, claim.target, attempts, error, status,
        )  # fmt: skip
        self._settle(
            claim, status=status, attempts=attempts, last_error=error, next_attempt_at=when
        )
        return CopyResult(claim.copy_id, claim.target, status, error)

    def _settle(self, claim: _Claim, **values: Any) -> None:
        """The row's new state, if it is still this claim's (same version, still running)."""
        with _report_lock:
            self.claims.update_held(
                self.session,
                CloudCopy.id == claim.copy_id,
                CloudCopy.wanted_version == claim.number,
                **values,
            )
            self.session.commit()
            self._report_locked(claim.job_id)

    # -- progress and events ------------------------------------------------------------------

    def record_progress(self, claim: _Claim, done: int) -> None:
        with _report_lock:
            self.claims.renew(  # the heartbeat: bytes move, the claim lives on
                self.session,
                [claim.copy_id],
                bytes_done=case((CloudCopy.bytes_done < done, done), else_=CloudCopy.bytes_done),
            )
            self.session.commit()
            self._report_locked(claim.job_id)

    def _report(self, job_id: str | None) -> None:
        with _report_lock:
            self._report_locked(job_id)

    def _report_locked(self, job_id: str | None) -> None:
        """Bring the job's state up to date and tell its owner: `cloud_progress` while it
        runs, `cloud_job_finished` once."""
        if job_id is None:
            return
        job = self.session.get(CloudJob, job_id)
        if job is None:
            return
        was_finished = job.finished_at is not None
        refresh_job_status(job)
        view = job_view(job)
        payload = {
            key: view[key]
            for key in (
                "job_id", "file_id", "version", "status", "progress_percentage",
                "bytes_done", "bytes_total", "error_message", "targets",
            )
        }  # fmt: skip
        if job.finished_at is not None and not was_finished:
            self._emit("cloud_job_finished", payload, job.owner_id)
        elif job.finished_at is None:
            self._emit("cloud_progress", payload, job.owner_id)
        # the job's state as refreshed, and the end of the transaction its reads began: this
        # runs between the parts of an upload, which must not hold a connection (issue 18)
        self.session.commit()

    def _emit(self, event: str, payload: dict, owner_id: int) -> None:
        live.job_event(event, payload, owner_id)
        if self.on_event is not None:
            self.on_event(event, payload)


# --- the Flask edge: threads, app contexts, the leader's background drain ----------------------


class ReplicationRunner:
    """Copies due rows in a small pool of threads until nothing is due or running.

    One drain at a time per runner; `wake()` makes a drain in progress look for new rows now,
    or starts one in the background (the scheduler job and new uploads call it)."""

    def __init__(self, app: Flask, *, workers: int = WORKERS, **options: Any) -> None:
        self.app = app
        self.workers = workers
        self.options = options
        self._lock = threading.Lock()
        self._wake = threading.Event()  # new rows may be due (an upload, the scheduler)
        self._changed = threading.Event()  # that, or a copy ended: the drain looks again
        self._stop = threading.Event()

    def replicator(self) -> CloudReplicator:
        """For the current app context's thread and session."""
        configured = settings(self.app)
        return CloudReplicator(
            db.session,
            store_remote(),
            open_target,
            retry=RetryPolicy.from_settings(configured.transfer),
            options=configured.cloud,
            **self.options,
        )

    def drain(self) -> list[CopyResult]:
        results: list[CopyResult] = []
        while True:
            results += self._drain_once()
            # a row enqueued while the last drain was ending is picked up now, not next tick
            if self._stop.is_set() or not self._wake.is_set():
                return results

    def _drain_once(self) -> list[CopyResult]:
        results: list[CopyResult] = []
        with self._lock, ThreadPoolExecutor(self.workers, "cloud-copy") as pool:
            running: dict[Future, int] = {}
            renewed = time.monotonic()
            renew_every = float(settings(self.app).cloud.replication_lease)
            renew_every /= RENEWALS_PER_LEASE
            while not self._stop.is_set():
                self._wake.clear()
                self._changed.clear()
                free = self.workers - len(running)
                claimed = self._in_context(partial(CloudReplicator.claim_due, limit=free))
                for copy_id in claimed:
                    work = partial(CloudReplicator.replicate, copy_id=copy_id)
                    future = pool.submit(self._in_context, work)
                    future.add_done_callback(lambda _: self._changed.set())
                    running[future] = copy_id
                if not running:
                    break
                self._changed.wait(renew_every)
                for future in [f for f in running if f.done()]:
                    results.append(_result(future, running.pop(future)))
                if time.monotonic() - renewed >= renew_every:
                    self._in_context(partial(CloudReplicator.renew, copy_ids=[*running.values()]))
                    renewed = time.monotonic()
        return results

    def _in_context(self, work: Callable[[CloudReplicator], Any]) -> Any:
        with self.app.app_context():
            try:
                return work(self.replicator())
            finally:
                db.session.remove()

    def wake(self) -> None:
        self._wake.set()
        self._changed.set()
        if not self._lock.locked() and not self._stop.is_set():
            threading.Thread(
                target=self._drain_quietly, name="cloud-replication", daemon=True
            ).start()

    def _drain_quietly(self) -> None:
        try:
            self.drain()
        except Exception:
            log.exception("cloud replication failed")

    def stop(self) -> None:
        """No new copies; returns once the copies under way have ended."""
        self._stop.set()
        self._changed.set()
        with self._lock:
            pass


def _result(future: Future, copy_id: int) -> CopyResult:
    try:
        return future.result()
    except Exception as exc:  # replicate() records its own failures: this is the machinery's
        log.exception("cloud copy %d: the copying thread failed", copy_id)
        return CopyResult(copy_id, "?", "error", str(exc))


def replicate_due(app: Flask | None = None, **options: Any) -> list[CopyResult]:
    """Copy every due row now, in this call (tests; the leader runs the same in the background).
    `options` go to CloudReplicator (on_event, progress_bytes, progress_seconds)."""
    return ReplicationRunner(app or current_app._get_current_object(), **options).drain()


def start_replication(app: Flask, **options: Any) -> ReplicationRunner:
    """This process replicates in the background, woken by new uploads (the leader; a test)."""
    runner = app.extensions.get("syncapp.cloud_replication")
    if runner is None:
        runner = ReplicationRunner(app, **options)
        app.extensions["syncapp.cloud_replication"] = runner
        app.extensions["syncapp.cloud_wake"] = runner.wake
    return runner


def wake_replication(app: Flask) -> None:
    """Look for due copies now, if this process replicates (the leader's periodic nudge)."""
    runner = app.extensions.get("syncapp.cloud_replication")
    if runner is not None:
        runner.wake()


def stop_replication(app: Flask) -> None:
    app.extensions.pop("syncapp.cloud_wake", None)
    runner = app.extensions.pop("syncapp.cloud_replication", None)
    if runner is not None:
        runner.stop()
