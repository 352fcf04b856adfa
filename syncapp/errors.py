"""One error envelope for the API, HTML pages for browsers.

API errors look like `{"status": "error", "error": "<code>", "message": "<sentence>"}` (DESIGN.md
section 6); seed-defined routes may add their own fields through `ApiError.extra`.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
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


def wants_json() -> bool:
    """API clients (curl's */*, scripts, fetch) get JSON; browsers asking for HTML get pages."""
    if request.path.startswith(("/api/", "/auth/")) and request.path != "/auth/google/callback":
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best != "text/html" or request.accept_mimetypes["text/html"] < 1


def error_body(status: int, code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"status": "error", "error": code, "message": message, **extra}


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
    return error_response(status, _http_code(exc), exc.description or exc.name)


def handle_unexpected(exc: Exception):
    db.session.rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "An internal error occurred; it has been logged.")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
