"""Structured logging: one JSON object per line, with the request id, to stderr and a file.

Every record also names its owner when it is about one user's things (`owner`, a user id):
GET /api/v1/logs shows a user only their own records, and records without an owner only to
administrators. See `owner_of` for where the owner comes from. The latest records are kept in
memory (`LogBuffer`) for that endpoint.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, g, has_request_context, request
from sqlalchemy import inspect as sa_inspect

from .settings import settings
from .timeutil import isoformat

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Token-shaped strings and credentials in URLs are masked wherever they appear in a message.
_SECRET_PATTERNS = [
    (re.compile(r"sa_[A-Za-z0-9_-]{16,}"), "sa_***"),
    (re.compile(r"(?i)(bearer\s+)[^\s,;]+"), r"\1***"),
    (
        re.compile(r"(?i)(password|secret|token|api[_-]?key)(\"?\s*[=:]\s*\"?)[^\s,;&\"]+"),
        r"\1\2***",
    ),
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), r"\1***@"),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


# --- whose record it is ----------------------------------------------------------------------

#: the user a piece of background work acts for (set with `working_for`)
_WORKING_FOR: ContextVar[int | None] = ContextVar("syncapp_log_owner", default=None)
#: record attribute -> the owner of the thing it names, e.g. "job" -> the sync job's owner
_OWNER_LOOKUPS: dict[str, Callable[[Any], int | None]] = {}
#: loggers of the features that keep users' things: only their records take an owner from the
#: context (the request's user, `working_for`). A storage, transfer or error-handler record can
#: name hosts, remotes or internals that are not the user's to see: it needs an explicit owner.
FEATURE_LOGGERS = ("syncapp.syncs", "syncapp.documents", "syncapp.cloud", "syncapp.backups",
                   "syncapp.cordiax")  # fmt: skip


@contextmanager
def working_for(user_id: int | None) -> Iterator[None]:
    """Feature records logged inside belong to `user_id` (for work outside a user's request)."""
    token = _WORKING_FOR.set(user_id)
    try:
        yield
    finally:
        _WORKING_FOR.reset(token)


def register_owner_lookup(attribute: str, lookup: Callable[[Any], int | None]) -> None:
    """Records carrying `attribute` (logging's `extra`) belong to `lookup(value)`'s user. The
    lookup runs while logging: it must answer from memory, never from the database."""
    _OWNER_LOOKUPS[attribute] = lookup


def _signed_in_user_id() -> int | None:
    """The user this request was authenticated as, if authentication already ran: a log line
    never loads a user (that would query the database, maybe while it is down)."""
    if not has_request_context():
        return None
    user = g.get("_login_user")  # where Flask-Login keeps current_user once it is loaded
    # The row's key, read without touching an attribute (an expired row would be refreshed);
    # an anonymous user is no row at all.
    state = sa_inspect(user, raiseerr=False) if user is not None else None
    return state.identity[0] if state is not None and state.identity else None


def owner_of(record: logging.LogRecord) -> int | None:
    """In order: an explicit `extra={"owner": user_id}`; the owner of the thing the record names
    (`extra={"job": id}`: the sync job's); then, for feature loggers only, the user background
    work is `working_for`, else the signed-in user of the request. None: administrators only."""
    owner = getattr(record, "owner", None)
    if owner is not None:
        return owner
    for attribute, lookup in _OWNER_LOOKUPS.items():
        value = getattr(record, attribute, None)
        if value is not None and (owner := lookup(value)) is not None:
            return owner
    if not record.name.startswith(FEATURE_LOGGERS):
        return None
    owner = _WORKING_FOR.get()
    return owner if owner is not None else _signed_in_user_id()


class RequestContextFilter(logging.Filter):
    """Adds the request id and the owner to each record (every handler has one: the first sets
    them, on the record the handlers share)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        if getattr(record, "owner", None) is None:
            record.owner = owner_of(record)
        return True


def structured(record: logging.LogRecord) -> dict[str, Any]:
    """A record as the JSON log line and GET /api/v1/logs show it, secrets masked."""
    entry: dict[str, Any] = {
        "time": isoformat(datetime.fromtimestamp(record.created, UTC)),
        "level": record.levelname,
        "logger": record.name,
        "message": redact(record.getMessage()),
        "request_id": getattr(record, "request_id", "-"),
    }
    for key in ("owner", "job", "event", "path"):
        if getattr(record, key, None) is not None:
            entry[key] = getattr(record, key)
    if record.exc_info:
        entry["exception"] = redact(_EXCEPTIONS.formatException(record.exc_info))
    return entry


_EXCEPTIONS = logging.Formatter()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(structured(record), ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


# --- the buffer GET /api/v1/logs reads ------------------------------------------------------


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


def configure_logging(app: Flask) -> None:
    options = settings(app).logging
    formatter: logging.Formatter = (
        JsonFormatter()
        if options.json
        else TextFormatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    log_file = options.file
    if log_file is None:
        log_file = str(Path(app.instance_path) / "syncapp.log")
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                log_file,
                maxBytes=options.max_size,
                backupCount=options.backup_count,
                encoding="utf-8",
            )
        )
    # Recent records for GET /api/v1/logs; the newest app in a process owns the "syncapp" logger.
    buffer = LogBuffer(settings(app).monitoring.log_buffer_size)
    app.extensions["syncapp.log_buffer"] = buffer
    handlers.append(buffer)
    root = logging.getLogger("syncapp")
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(RequestContextFilter())
        root.addHandler(handler)
    root.setLevel(options.level.upper())
    root.propagate = False  # app.logger is this same "syncapp" logger: Flask adds no handler

    @app.before_request
    def assign_request_id() -> None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _SAFE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]

    @app.after_request
    def echo_request_id(response):
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "-")
        return response
