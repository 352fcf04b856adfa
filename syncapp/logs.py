"""Structured logging: one JSON object per line, with the request id, to stderr and a file."""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, g, has_request_context, request

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


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
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
    for key in ("job", "event", "path"):
        if hasattr(record, key):
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


def configure_logging(app: Flask) -> None:
    from .monitoring.logbuffer import LogBuffer

    options = app.config["SYNCAPP"]["logging"]
    formatter: logging.Formatter = (
        JsonFormatter()
        if options["json"]
        else TextFormatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    log_file = options["file"]
    if log_file is None:
        log_file = str(Path(app.instance_path) / "syncapp.log")
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                log_file,
                maxBytes=options["max_size"],
                backupCount=options["backup_count"],
                encoding="utf-8",
            )
        )
    # Recent records for GET /api/v1/logs; the newest app in a process owns the "syncapp" logger.
    buffer = LogBuffer(app.config["SYNCAPP"]["monitoring"]["log_buffer_size"])
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
    root.setLevel(options["level"].upper())
    root.propagate = False  # app.logger is this same "syncapp" logger: Flask adds no handler

    @app.before_request
    def assign_request_id() -> None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _SAFE_REQUEST_ID.match(given) else uuid.uuid4().hex[:16]

    @app.after_request
    def echo_request_id(response):
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "-")
        return response
