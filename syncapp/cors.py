"""CORS for a browser app served from another origin (seed 004's frontend, `CORS_ORIGINS`).

Only the origins listed in `cors.origins` are answered (default: none, so no other site's
script may read a response). Credentials are never allowed cross-origin: such an app sends its
API token in `Authorization` (seed 004 keeps it in localStorage), so the browser's session
cookie never has to ride along, and a listed origin cannot act with a signed-in user's cookie.
Preflights are answered here, before authentication, since browsers send them without
credentials.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

from .errors import error_response
from .settings import settings

ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
#: what a token-carrying client sends; cookies and CSRF headers are not needed cross-origin
ALLOWED_HEADERS = "Authorization, Content-Type, X-API-Key, X-Requested-With"
#: readable by the app: file names of downloads, when to retry, rate-limit state
EXPOSED_HEADERS = (
    "Content-Disposition, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
)
PREFLIGHT_MAX_AGE = "600"


def _allowed_origin() -> str | None:
    origin = request.headers.get("Origin")
    if origin and origin.lower() in current_app.config["SYNCAPP_CORS_ORIGINS"]:
        return origin
    return None


def _is_preflight() -> bool:
    return (
        request.method == "OPTIONS"
        and "Origin" in request.headers
        and "Access-Control-Request-Method" in request.headers
    )


def answer_preflight() -> Response | tuple | None:
    """before_request: a preflight of a listed origin gets 204 with what it may send; one of
    another origin a 403 without CORS headers (the browser then blocks the real request)."""
    if not _is_preflight():
        return None
    origin = _allowed_origin()
    if origin is None:
        return error_response(
            403, "origin_not_allowed", "This origin may not call the API (see cors.origins)."
        )
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
    response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
    response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
    return response


def add_cors_headers(response: Response) -> Response:
    response.vary.add("Origin")  # a cache must not serve one origin's answer to another
    origin = _allowed_origin()
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        response.headers.pop("Access-Control-Allow-Credentials", None)
    return response


def init_cors(app: Flask) -> None:
    """Registered before authentication's before_request, so that preflights are answered."""
    origins = settings(app).cors.origins  # checked by config.load_settings
    app.config["SYNCAPP_CORS_ORIGINS"] = frozenset(origins)
    if origins:
        app.before_request(answer_preflight)
        app.after_request(add_cors_headers)
