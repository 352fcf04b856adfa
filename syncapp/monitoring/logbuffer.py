"""The most recent log records of this process, kept in memory for GET /api/v1/logs."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..logs import structured


@dataclass(frozen=True)
class BufferedRecord:
    created: float  # seconds since the epoch, as logging keeps it
    levelno: int
    entry: dict[str, Any]  # what the API returns: already redacted

    @property
    def job(self) -> Any:
        return self.entry.get("job")

    @property
    def owner(self) -> int | None:
        """The user whose things the record is about (logs.owner_of); None: the service's."""
        return self.entry.get("owner")


class LogBuffer(logging.Handler):
    """A bounded ring of structured records: the oldest go when it is full."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = max(0, capacity)
        self.records: deque[BufferedRecord] = deque(maxlen=self.capacity)

    def emit(self, record: logging.LogRecord) -> None:
        if not self.capacity:
            return
        try:
            kept = BufferedRecord(record.created, record.levelno, structured(record))
        except Exception:  # a record that cannot be formatted must not break the caller
            self.handleError(record)
            return
        self.records.append(kept)

    def snapshot(self) -> list[BufferedRecord]:
        # emit() runs under this lock (Handler.handle): copying under it never sees a mutation.
        with self.lock:
            return list(self.records)


def select_records(
    records: Iterable[BufferedRecord],
    *,
    min_level: int = logging.NOTSET,
    job: int | None = None,
    since: float | None = None,
    visible: Callable[[BufferedRecord], bool] = lambda record: True,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The newest `limit` records that pass every filter, oldest first (like `tail`)."""
    chosen = [
        record.entry
        for record in records
        if record.levelno >= min_level
        and (job is None or record.job == job)
        and (since is None or record.created >= since)
        and visible(record)
    ]
    return chosen[-limit:] if limit else []
