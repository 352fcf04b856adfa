"""One error envelope for the API, HTML pages for browsers.

API errors look like `{"status": "error", "error": "<code>", "message": "<sentence>",
"detail": "<sentence>"}` (docs/architecture.md, "HTTP conventions"); seed-defined routes may add
their own fields through `ApiError.extra`. `detail` repeats `message`: seed 004's clients (FastAPI)
read the human text from `detail`, the other seeds' from `message`, and both must keep working
unchanged. Blueprints listed in TEXT_ERROR_BLUEPRINTS (seed 003's backup API) carry the sentence
in `error` and the code in `code` instead: their unmodified clients print
`jq -r '.error // .message'`, so `error` must be readable text.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import (
    Flask,
    Response,
    has_request_context,
    jsonify,
    make_response,
    render_template,
    request,
)
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from .extensions import db

log = logging.getLogger(__name__)


class ApiError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, code: str | None = None, status: int | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status_code = status
        self.extra = extra


class BadRequest(ApiError):
    status_code, code = 400, "bad_request"


class Unauthorized(ApiError):
    status_code, code = 401, "unauthorized"


class Forbidden(ApiError):
    status_code, code = 403, "forbidden"


class NotFound(ApiError):
    status_code, code = 404, "not_found"


class Conflict(ApiError):
    status_code, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status_code, code = 413, "payload_too_large"


class InsufficientStorage(ApiError):
    status_code, code = 507, "insufficient_storage"


class ServiceUnavailable(ApiError):
    status_code, code = 503, "service_unavailable"


#: under /auth/ but reached by a browser following a link (seed 004 sets window.location to
#: /auth/google/start): these negotiate, so a browser without a session gets the login page
BROWSER_AUTH_PATHS = frozenset({"/auth/google/start", "/auth/google/callback"})


def wants_json() -> bool:
    """API clients (curl's */*, scripts, fetch) get JSON; browsers asking for HTML get pages."""
    if request.path.startswith(("/api/", "/auth/")) and request.path not in BROWSER_AUTH_PATHS:
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best != "text/html" or request.accept_mimetypes["text/html"] < 1


#: Blueprints whose `error` field carries the sentence and `code` the machine code (see above).
TEXT_ERROR_BLUEPRINTS: set[str] = set()


def error_body(status: int, code: str, message: str, **extra: Any) -> dict[str, Any]:
    if has_request_context() and request.blueprint in TEXT_ERROR_BLUEPRINTS:
        return {
            "status": "error",
            "error": message,
            "code": code,
            "message": message,
            "detail": message,
            **extra,
        }
    return {"status": "error", "error": code, "message": message, "detail": message, **extra}


def error_response(status: int, code: str, message: str, **extra: Any) -> Response | tuple:
    if wants_json():
        response = jsonify(error_body(status, code, message, **extra))
        response.status_code = status
        return response
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    page = render_template("error.html", status=status, title=title, message=message)
    return page, status


def _http_code(exc: HTTPException) -> str:
    return (exc.name or "error").lower().replace(" ", "_").replace("'", "")


def handle_api_error(exc: ApiError):
    return error_response(exc.status_code, exc.code, exc.message, **exc.extra)


def handle_http_exception(exc: HTTPException):
    status = exc.code or 500
    if status == 422 or getattr(exc, "data", None):
        # webargs/flask-smorest validation errors: report them as 400 with the field messages.
        messages = (getattr(exc, "data", None) or {}).get("messages", {})
        fields: dict[str, Any] = {}
        for location, found in messages.items():  # {"json": {"field": [...]}} or {"json": [...]}
            if isinstance(found, dict):
                fields.update(found)
            else:
                fields[location] = found
        detail = "; ".join(
            f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in fields.items()
        )
        return error_response(
            400,
            "validation_error",
            f"Invalid request: {detail}" if detail else "Invalid request",
            errors=fields,
        )
    response = make_response(error_response(status, _http_code(exc), exc.description or exc.name))
    # The exception's own headers say what the status needs: Allow on a 405 (RFC 9110),
    # WWW-Authenticate on a 401, Retry-After where it was set.
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_unexpected(exc: Exception):
    db.session.rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "An internal error occurred; it has been logged.")


def handle_database_unavailable(exc: Exception):
    """The database is down or unreachable (or its pool is exhausted): a 503 the client can retry,
    not a 500 with a traceback; pool_pre_ping reconnects once it is back, without a restart."""
    try:
        db.session.rollback()
    except Exception:  # the connection is gone; the pool discards it
        log.debug("rollback after a database outage failed", exc_info=True)
    log.warning(
        "database unavailable on %s %s: %s", request.method, request.path, exc.__class__.__name__
    )
    response = make_response(
        error_response(
            503, "database_unavailable", "The database is unavailable; try again shortly."
        )
    )
    response.headers["Retry-After"] = "5"
    return response


def handle_bad_value(exc: Exception):
    """A value from the request that the database refuses (PostgreSQL: a NUL character in text,
    an integer out of range, a string over its column's length; SQLite stores them): a 400."""
    db.session.rollback()
    log.warning("database refused a value on %s %s: %s", request.method, request.path, exc.orig)
    return error_response(
        400, "invalid_value", "A value in the request cannot be stored or looked up."
    )


def handle_storage_error(exc: Exception):
    """A store's server that cannot be reached (or is full) mid-request: 503 / 507 the client
    can act on, not a 500. The stores remove what they had written before raising."""
    from .storage import RemoteFull

    db.session.rollback()
    log.warning("storage error on %s %s: %s", request.method, request.path, exc)
    if isinstance(exc, RemoteFull):
        return error_response(507, "insufficient_storage", "The storage is full; nothing was kept.")
    response = make_response(
        error_response(503, "storage_unavailable", "The storage cannot be reached; try again.")
    )
    response.headers["Retry-After"] = "30"
    return response


def register_error_handlers(app: Flask) -> None:
    from .storage import RemoteFull, RemoteUnavailable

    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(RemoteUnavailable, handle_storage_error)
    app.register_error_handler(RemoteFull, handle_storage_error)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(DataError, handle_bad_value)
    app.register_error_handler(PoolTimeoutError, handle_database_unavailable)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
