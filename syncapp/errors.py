"""One error envelope for the API, HTML pages for browsers: the HTTP side of failures.py.

API errors look like `{"status": "error", "error": "<code>", "message": "<sentence>",
"detail": "<sentence>"}` (docs/architecture.md, "HTTP conventions"); seed-defined routes may
add their own fields through `DomainError.extra`. `detail` repeats `message`: seed 004's
clients (FastAPI) read the human text from `detail`, the other seeds' from `message`, and both
must keep working unchanged. Blueprints listed in TEXT_ERROR_BLUEPRINTS (seed 003's backup
API) carry the sentence in `error` and the code in `code` instead: their unmodified clients
print `jq -r '.error // .message'`, so `error` must be readable text.
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
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from .extensions import db
from .failures import ANSWERED, Failure, failure_for
from .storage import RemoteError

log = logging.getLogger(__name__)


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


def _logged_detail(exc: BaseException) -> object:
    """What the log says about an outage: a database error's text may hold its URL, so only
    its class; the value the database refused; the storage's own sentence."""
    if isinstance(exc, RemoteError):
        return exc
    if isinstance(exc, DataError):
        return exc.orig
    return exc.__class__.__name__


def handle_failure(exc: Exception):
    """Every exception failures.failure_for answers: the domain's errors (4xx, or their own
    status), a storage that is full (507) or cannot be reached (503), a database that is down
    or whose pool is exhausted (503), a value the database refuses (400)."""
    failure = failure_for(exc)
    if failure is None:  # registered for failures.ANSWERED only
        return handle_unexpected(exc)
    if failure.outage is not None:
        try:
            db.session.rollback()
        except Exception:  # the connection is gone; the pool discards it
            log.debug("rollback after %s failed", failure.outage, exc_info=True)
        log.warning(
            "%s on %s %s: %s", failure.outage, request.method, request.path, _logged_detail(exc)
        )
    return failure_response(failure)


def failure_response(failure: Failure) -> Response:
    response = make_response(
        error_response(failure.status, failure.code, failure.message, **failure.extra)
    )
    if failure.retry_after is not None:
        response.headers["Retry-After"] = str(failure.retry_after)
    return response


def register_error_handlers(app: Flask) -> None:
    for exception in ANSWERED:
        app.register_error_handler(exception, handle_failure)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
