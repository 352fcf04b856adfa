"""Scrubber: passes over every stored object of every store, reading each back against what
was recorded (reading.py), at `scrub.max_rate`, resumable from the database.

A pass is a ScrubPass row; its cursor (kind, last object id) moves forward in the same
transaction that records the objects' results, so a pass stopped anywhere (a restart, a new
leader, the end of a slice) continues at the next object. Each run is a slice: at most
`max_objects` objects or `max_seconds` of the injected clock, then it records its place and
hands back; the scheduler's next tick (or `flask scrub run`) continues. The pass row is claimed
(background/claims.py) for the slice, so two processes never read the same pass at once.

No database connection is held while a store answers (issue 18): each batch's targets are read
into plain values and the transaction ends before the store is read.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from ..background.claims import Claims
from ..backups.verdicts import COMMIT_LOCK, record_scrub
from ..storage import Remote, RemoteUnavailable
from ..storage.base import owner_tag
from ..timeutil import isoformat, utcnow
from . import results, sources
from .models import INTEGRITY, OBJECT_KINDS, ScrubPass, ScrubResult
from .ratelimit import RateLimiter
from .reading import Target, Verdict, read_back

log = logging.getLogger(__name__)

#: a slice renews its claim with every batch; one that died gives the pass back after this
LEASE = timedelta(minutes=10)
PASS_CLAIMS = Claims(
    ScrubPass,
    lease=LEASE,
    lease_until=ScrubPass.lease_until,
    holder=ScrubPass.lease_owner,
    held=ScrubPass.lease_owner.is_not(None),
    free=lambda now: or_(ScrubPass.lease_owner.is_(None), ScrubPass.lease_until < now),
    released={"lease_owner": None, "lease_until": None},
)
#: passes kept (their counts feed the Prometheus counters' totals)
KEEP_PASSES = 200


@dataclass
class Slice:
    """What one run did."""

    pass_id: int
    objects: int = 0
    bytes: int = 0
    found: dict[str, int] = field(default_factory=lambda: dict.fromkeys(INTEGRITY, 0))
    finished: bool = False
    error: str | None = None


class Scrubber:
    def __init__(
        self,
        session: Session,
        remotes: Mapping[str, Callable[[], Remote]],
        *,
        stored_remote: Callable[[int], Remote] | None = None,
        interval: float | None,
        max_rate: float | None,
        workers: int = 1,
        slice_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
        now: Callable[[], datetime] = utcnow,
        holder: str | None = None,
    ) -> None:
        self.session = session
        self.remotes = remotes
        #: opens a stored remote by id, for objects not on their kind's store (Target.remote_id)
        self.stored_remote = stored_remote
        self.interval = interval
        self.limiter = RateLimiter(max_rate, clock=clock, sleep=sleep)
        self.workers = max(1, workers)
        self.slice_seconds = slice_seconds
        self.clock = clock
        self.now = now
        self.holder = holder or owner_tag()
        self._pool: ThreadPoolExecutor | None = None  # the workers, while a run lasts

    # --- passes ----------------------------------------------------------------------------------

    def current(self) -> ScrubPass | None:
        """The pass not finished yet (running, or waiting for its next slice), if any."""
        return self.session.scalar(
            select(ScrubPass).where(ScrubPass.finished_at.is_(None)).order_by(ScrubPass.id)
        )

    def last_finished(self) -> ScrubPass | None:
        return self.session.scalar(
            select(ScrubPass)
            .where(ScrubPass.finished_at.is_not(None))
            .order_by(ScrubPass.finished_at.desc(), ScrubPass.id.desc())
        )

    def request(self, trigger: str = "request", user_id: int | None = None) -> ScrubPass:
        """A pass on demand: the one not finished yet, else a new one (started by the next
        run); commits."""
        found = self.current()
        if found is None:
            found = ScrubPass(trigger=trigger, requested_by=user_id, requested_at=self.now())
            self.session.add(found)
        self.session.commit()
        return found

    def due(self) -> ScrubPass | None:
        """The pass to run now: the one not finished, else a new one when `interval` has passed
        since the last finished (or none ever ran); None when nothing is due."""
        found = self.current()
        if found is not None or self.interval is None:
            return found
        last = self.last_finished()
        if last is not None and last.finished_at + timedelta(seconds=self.interval) > self.now():
            return None
        return self.request("schedule")

    # --- running ---------------------------------------------------------------------------------

    def run(
        self,
        *,
        max_objects: int | None = None,
        max_seconds: float | None = None,
        start_due: bool = True,
    ) -> Slice | None:
        """Read the objects of the due pass until it ends or the budget (objects, seconds of the
        clock; default `slice_seconds`) is spent. None when no pass is due, or another process
        holds it."""
        scrub_pass = self.due() if start_due else self.current()
        if scrub_pass is None:
            return None
        pass_id = scrub_pass.id
        # a slice whose process ended on this host (a restart) gives the pass back at once,
        # not when its lease runs out
        PASS_CLAIMS.recover(self.session, now=self.now())
        self.session.commit()
        if not PASS_CLAIMS.claim(self.session, pass_id, self.holder, now=self.now()):
            return None
        done = Slice(pass_id)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="scrub")
        try:
            self._start(pass_id)
            self._read(pass_id, done, max_objects, max_seconds or self.slice_seconds)
        except RemoteUnavailable as exc:  # nothing concluded: this object is read again later
            self.session.rollback()
            done.error = str(exc)
            log.warning("scrub pass %s paused: a store is unavailable: %s", pass_id, exc)
        finally:
            self._pool.shutdown()
            self.session.rollback()
            PASS_CLAIMS.release(self.session, pass_id, self.holder, **({"last_error": done.error}))
            self.session.commit()
        return done

    def _start(self, pass_id: int) -> None:
        scrub_pass = self.session.get(ScrubPass, pass_id)
        if scrub_pass.started_at is None:
            objects, size = sources.totals(self.session)
            scrub_pass.started_at = self.now()
            scrub_pass.objects_planned, scrub_pass.bytes_planned = objects, size
            scrub_pass.kind, scrub_pass.last_object_id = OBJECT_KINDS[0], 0
        self.session.commit()

    def _read(
        self, pass_id: int, done: Slice, max_objects: int | None, max_seconds: float | None
    ) -> None:
        started = self.clock()
        scrub_pass = self.session.get(ScrubPass, pass_id)
        kind, after = scrub_pass.kind or OBJECT_KINDS[0], scrub_pass.last_object_id
        while True:
            if max_objects is not None and done.objects >= max_objects:
                return
            if max_seconds is not None and self.clock() - started >= max_seconds:
                return
            room = (
                self.workers
                if max_objects is None
                else min(self.workers, max_objects - done.objects)
            )
            targets = sources.batch(self.session, kind, after, room)
            if not targets:
                following = OBJECT_KINDS.index(kind) + 1
                if following == len(OBJECT_KINDS):
                    self._finish(pass_id, done)
                    return
                kind, after = OBJECT_KINDS[following], 0
                if not self._advance(pass_id, kind, 0, [], done):
                    return
                continue
            remotes = [self._remote(target) for target in targets]  # may read a remote's row
            self.session.commit()  # plain values read: no transaction while the stores answer
            verdicts = self._verify(targets, remotes)
            after = targets[-1].object_id
            if not self._advance(
                pass_id, kind, after, list(zip(targets, verdicts, strict=True)), done
            ):
                return

    def _remote(self, target: Target) -> Remote:
        """Where `target` lives: its kind's store, or the stored remote it names."""
        if target.remote_id is None:
            return self.remotes[target.kind]()
        if self.stored_remote is None:
            raise RemoteUnavailable(f"no way to open stored remote {target.remote_id}")
        return self.stored_remote(target.remote_id)

    def _verify(self, targets: list[Target], remotes: list[Remote]) -> list[Verdict]:
        if len(targets) == 1:
            return [read_back(remotes[0], targets[0], self.limiter)]
        pool = self._pool
        assert pool is not None  # made by run()
        pairs = zip(targets, remotes, strict=True)
        return list(pool.map(lambda pair: read_back(pair[1], pair[0], self.limiter), pairs))

    def _advance(
        self,
        pass_id: int,
        kind: str,
        after: int,
        judged: list[tuple[Target, Verdict]],
        done: Slice,
    ) -> bool:
        """Record a batch's verdicts and move the cursor past it, in one transaction; False
        (nothing recorded) when the pass's claim was taken back meanwhile. A backup batch goes
        through the archives' commit lock, beside their gzip check and their deletes (the rule
        of backups/verdicts.py); the lock is taken before the transaction begins, so no
        connection waits on it (a delete holds it while a stalled store answers)."""
        self.session.commit()
        with COMMIT_LOCK if kind == "backup" else contextlib.nullcontext():
            return self._advance_locked(pass_id, kind, after, judged, done)

    def _advance_locked(
        self,
        pass_id: int,
        kind: str,
        after: int,
        judged: list[tuple[Target, Verdict]],
        done: Slice,
    ) -> bool:
        now = self.now()
        alive = (
            sources.existing(self.session, kind, [t.object_id for t, _ in judged])
            if judged
            else set()
        )
        judged = [(t, v) for t, v in judged if t.object_id in alive]
        counted = {name: sum(v.integrity == name for _, v in judged) for name in INTEGRITY}
        size = sum(v.bytes_read for _, v in judged)
        kept = PASS_CLAIMS.renew(
            self.session,
            [pass_id],
            self.holder,
            now=now,
            kind=kind,
            last_object_id=after,
            objects_verified=ScrubPass.objects_verified + len(judged),
            bytes_verified=ScrubPass.bytes_verified + size,
            ok=ScrubPass.ok + counted["ok"],
            corrupt=ScrubPass.corrupt + counted["corrupt"],
            missing=ScrubPass.missing + counted["missing"],
        )
        if not kept:
            self.session.rollback()
            return False
        for target, verdict in judged:
            self._record(target, verdict, now)
        self.session.commit()
        done.objects += len(judged)
        done.bytes += size
        for name, count in counted.items():
            done.found[name] += count
        for target, verdict in judged:
            if verdict.integrity != "ok":
                log.warning(
                    "scrub: %s %s (%s) is %s: %s",
                    target.kind,
                    target.object_id,
                    target.path,
                    verdict.integrity,
                    verdict.detail,
                )
        return True

    def _record(self, target: Target, verdict: Verdict, now: datetime) -> None:
        result = results.finding(self.session, target.kind, target.object_id)
        if result is None:
            result = ScrubResult(kind=target.kind, object_id=target.object_id)
            self.session.add(result)
        result.owner_id = target.owner_id
        result.integrity, result.detail, result.last_verified_at = (
            verdict.integrity,
            verdict.detail,
            now,
        )
        if target.kind == "backup":  # the archive's own column agrees: /verify and /list use it
            record_scrub(self.session, target.object_id, verdict.integrity, target.recorded)

    def _finish(self, pass_id: int, done: Slice) -> None:
        """The pass is complete: results of objects deleted since are dropped (they are no
        finding any more), old passes beyond KEEP_PASSES go."""
        for kind, model in sources.MODELS.items():
            kept = select(model.id)
            if kind in sources.ONLY:
                kept = kept.where(sources.ONLY[kind])
            self.session.execute(
                delete(ScrubResult)
                .where(ScrubResult.kind == kind, ScrubResult.object_id.not_in(kept))
                .execution_options(synchronize_session=False)
            )
        finished = PASS_CLAIMS.update_held(
            self.session, ScrubPass.id == pass_id, holder=self.holder, finished_at=self.now()
        )
        old = select(ScrubPass.id).order_by(ScrubPass.id.desc()).offset(KEEP_PASSES)
        self.session.execute(
            delete(ScrubPass)
            .where(ScrubPass.id.in_(list(self.session.scalars(old))))
            .execution_options(synchronize_session=False)
        )
        self.session.commit()
        done.finished = bool(finished)
        if finished:
            log.info("scrub pass %s finished", pass_id)

    # --- reporting -------------------------------------------------------------------------------

    def status(self) -> dict:
        """The current pass (progress), the last finished one, and the findings per kind."""
        running, last = self.current(), self.last_finished()
        found = results.counts(self.session)
        totals = dict.fromkeys(INTEGRITY, 0)
        for per_kind in found.values():
            for name, count in per_kind.items():
                totals[name] += count
        return {
            "current": pass_view(running) if running is not None else None,
            "last_pass": pass_view(last) if last is not None else None,
            "findings": {"total": totals, "by_kind": found},
            "interval": self.interval,
            "max_rate": self.limiter.rate,
        }


def progress(scrub_pass: ScrubPass) -> float:
    """How far a pass is, 0 to 1, by bytes (objects when it planned no bytes)."""
    if scrub_pass.finished_at is not None:
        return 1.0
    if scrub_pass.bytes_planned:
        return min(1.0, scrub_pass.bytes_verified / scrub_pass.bytes_planned)
    if scrub_pass.objects_planned:
        return min(1.0, scrub_pass.objects_verified / scrub_pass.objects_planned)
    return 0.0


def pass_view(scrub_pass: ScrubPass) -> dict:
    state = (
        "finished"
        if scrub_pass.finished_at
        else "running"
        if scrub_pass.lease_owner
        else ("paused" if scrub_pass.started_at else "queued")
    )
    return {
        "id": scrub_pass.id,
        "state": state,
        "trigger": scrub_pass.trigger,
        "requested_at": isoformat(scrub_pass.requested_at),
        "started_at": isoformat(scrub_pass.started_at) if scrub_pass.started_at else None,
        "finished_at": isoformat(scrub_pass.finished_at) if scrub_pass.finished_at else None,
        "cursor": {"kind": scrub_pass.kind, "last_object_id": scrub_pass.last_object_id},
        "objects_planned": scrub_pass.objects_planned,
        "bytes_planned": scrub_pass.bytes_planned,
        "objects_verified": scrub_pass.objects_verified,
        "bytes_verified": scrub_pass.bytes_verified,
        "ok": scrub_pass.ok,
        "corrupt": scrub_pass.corrupt,
        "missing": scrub_pass.missing,
        "progress": round(progress(scrub_pass), 4),
        "last_error": scrub_pass.last_error,
    }
