"""Counters of sync work, per job: files and bytes transferred, failures, run durations.

They count what this process did since it started (Prometheus sums over processes and handles
restarts); the queue length is read from the database when scraped (see monitoring).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from ..metrics import REGISTRY

FILES = Counter(
    "syncapp_sync_files",
    "Files handled by sync runs, by outcome",
    ["job", "outcome"],
    registry=REGISTRY,
)
BYTES = Counter(
    "syncapp_sync_bytes",
    "Bytes copied by sync runs",
    ["job"],
    registry=REGISTRY,
)
RUNS = Counter(
    "syncapp_sync_runs",
    "Finished sync runs, by status",
    ["job", "status"],
    registry=REGISTRY,
)
RUN_SECONDS = Histogram(
    "syncapp_sync_run_duration_seconds",
    "How long sync runs took",
    ["job"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
    registry=REGISTRY,
)


#: (metric, labels) -> its child: `labels()` checks and locks on every call, and a run counts
#: every file; a job's few children are looked up once (and live as long as the metric's own)
_children: dict[tuple, object] = {}


def _child(metric, *labels: str):
    key = (metric, labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


def record_outcome(job_id: int, outcome: str, size: int) -> None:
    if outcome == "cancelled":
        return
    job = str(job_id)
    _child(FILES, job, outcome).inc()
    if outcome == "copied":
        _child(BYTES, job).inc(size)


def record_run(job_id: int, status: str, seconds: float | None) -> None:
    RUNS.labels(str(job_id), status).inc()
    if seconds is not None:
        RUN_SECONDS.labels(str(job_id)).observe(seconds)
