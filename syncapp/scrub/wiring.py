"""Builds the scrub's service from the app: the one module of `scrub` that reads `current_app`
(its settings section, and each feature's store through that feature's own wiring, so the scrub
reads every object where its feature keeps it, local folder or stored remote)."""

from __future__ import annotations

from ..backups.wiring import archive_remote
from ..cloud.wiring import store_remote
from ..cordiax.wiring import snapshot_store
from ..documents.wiring import document_store
from ..extensions import db
from ..restic.wiring import default_remote as restic_remote
from ..restic.wiring import remote_by_id
from ..settings import settings
from . import live
from . import metrics as _metrics  # noqa: F401  (registers the scrub's gauges once per process)
from .service import Scrubber, Slice

#: each kind's store, opened when a batch of that kind is first read
REMOTES = {
    "backup": archive_remote,
    "cordiax": lambda: snapshot_store().remote,
    "document": lambda: document_store().remote,
    "cloud_version": store_remote,
    "restic": restic_remote,
}


def scrubber(**overrides) -> Scrubber:
    """The Scrubber over the app's stores; `overrides` (tests, the CLI, the benchmark) replace
    its settings or its clock."""
    options = settings().scrub
    arguments = {
        "interval": options.interval,
        "max_rate": options.max_rate,
        "workers": options.workers,
        "slice_seconds": options.slice,
        **overrides,
    }
    # a restic repository may live on a stored remote of its own (Target.remote_id)
    return Scrubber(db.session, REMOTES, stored_remote=remote_by_id, **arguments)


def run_due() -> Slice | None:
    """The scheduler's tick: continue the unfinished pass, or start one that is due or
    requested, for at most `scrub.slice` seconds."""
    done = scrubber().run()
    if done is not None and done.finished:
        live.pass_finished(done.pass_id)
    return done


def run_on_demand(max_objects: int | None = None) -> Slice | None:
    """`flask scrub run`: the pass not finished (or a new one), read to its end here, without
    the slice limit (or `max_objects` objects)."""
    service = scrubber(slice_seconds=None)
    if service.current() is None:
        service.request("cli")
    done = service.run(max_objects=max_objects)
    if done is not None and done.finished:
        live.pass_finished(done.pass_id)
    return done
