"""The Jinja pages that belong to no feature: sign-in, sign-out, the dashboard, /docs and the
landing page. Each feature's page is in its own `pages.py`, on the same `web` blueprint."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from ..auth.accounts import authenticate
from ..errors import wants_json
from ..extensions import limiter
from ..project import __version__
from ..security import public, sign_in, sign_out
from ..settings import settings
from . import connect  # noqa: F401  (adds /connect to `web`)
from .blueprint import bp
from .dashboard import summary
from .forms import LoginForm


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect would make the login page a phishing tool."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("web.dashboard")


def _login_limit() -> str:
    return settings().security.login_rate_limit


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@public
def login_page():
    form = LoginForm()
    if request.method == "GET":
        return render_template("auth/login.html", form=form)
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400
    user = authenticate(form.email.data, form.password.data)
    if user is None:
        form.password.errors.append("Wrong email or password.")
        return render_template("auth/login.html", form=form), 401
    sign_in(user, remember=form.remember.data)
    return redirect(_safe_next(request.args.get("next")))


@bp.route("/logout", methods=["POST"])
@public
def logout():
    if current_user.is_authenticated:
        sign_out()  # every session of the user ends, not only this browser's
        flash("You have been signed out.", "info")
    return redirect(url_for("web.login_page"))


@bp.route("/dashboard")
def dashboard():
    """The dashboard (also served at / to signed-in browsers)."""
    return render_template("dashboard.html", summary=summary(current_user))


@bp.route("/docs")
def api_docs():
    return render_template("docs.html")


@bp.route("/")
@public
def index():
    """Browsers get the dashboard; API clients (curl's */*) get a description of the service."""
    if wants_json():
        return jsonify(service_description())
    if not current_user.is_authenticated:
        return redirect(url_for("web.login_page"))
    return dashboard()


def service_description() -> dict:
    return {
        "name": "syncapp",
        "version": __version__,
        "description": "Self-hosted backup and sync hub",
        "endpoints": {
            "POST /upload": "Upload a backup archive (multipart: file, type, profile, md5)",
            "GET /list": "List backups by type",
            "GET /list/<type>": "List backups of one type (FULL, INC, DIFF)",
            "POST /verify": "Compare a local list of archives with the server's",
            "GET /stats": "Storage statistics",
            "GET /download/<type>/<filename>": "Download an archive",
            "GET /api/v1/health": "Service health (no authentication)",
            "POST /auth/login": "Exchange email and password for an access token",
            "GET /api/v1/openapi.json": "The API description",
            "GET /docs": "Interactive API documentation",
            "GET /redoc": "The same API documentation, as ReDoc",
            "GET /health": "Liveness: the process answers (no checks, no authentication)",
        },
    }
