"""Security headers on every response, and cookies that are Secure whenever the request is HTTPS.

The pages load every script and style sheet from /static (no inline <script>, no style=
attributes), so the Content-Security-Policy allows 'self' only. Swagger UI and Chart.js set
styles through the CSSOM (element.style), which CSP does not restrict; Swagger UI's and the
CSS's icons are data: images. Socket.IO and /api/v1/ws connect to this same origin.
"""

from __future__ import annotations

from flask import Flask, Request, Response, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # JSON answers too: a browser must never guess that an uploaded file's bytes are HTML
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers without CSP level 2
    # signed cloud download links carry their token in the URL: never send it to another site
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}

HSTS = "max-age=31536000"


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure when security.session_cookie_secure says so, and whenever
    the request itself came over HTTPS (directly, or through a trusted proxy's
    X-Forwarded-Proto, see server.trusted_proxies): a cookie set over HTTPS never travels back
    over plain HTTP."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        # Scripts send no cookie: answer Flask's empty session without first building the
        # signing serializer, which Flask makes on every request (3-4 % of a small API call's
        # CPU, bench/api_rate.py). Without a secret key Flask's own answer (no session) stands.
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def _secure_cookies(response: Response) -> Response:
    """Other cookies (Flask-Login's remember cookie) get the same rule as the session's."""
    if not request.is_secure:
        return response
    cookies = response.headers.getlist("Set-Cookie")
    if any("; secure" not in cookie.lower() for cookie in cookies):
        response.headers.remove("Set-Cookie")
        for cookie in cookies:
            secure = "; secure" in cookie.lower()
            response.headers.add("Set-Cookie", cookie if secure else cookie + "; Secure")
    return response


def _security_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_headers(app: Flask) -> None:
    app.session_interface = HttpsAwareSessionInterface()
    app.config["REMEMBER_COOKIE_SAMESITE"] = "Lax"  # Flask-Login leaves it unset otherwise
    app.after_request(_security_headers)
    # after_request functions run last-registered first: put this one at the front so that it
    # runs after Flask-Login's, which sets the remember cookie.
    app.after_request_funcs.setdefault(None, []).insert(0, _secure_cookies)
