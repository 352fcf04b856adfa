"""Paths the seeds' own clients and READMEs use outside /api/v1: seed 004's `/health` and
seed 000's `/redoc`."""

from __future__ import annotations

from flask import Blueprint, jsonify, make_response, render_template

from ..headers import CONTENT_SECURITY_POLICY
from ..monitoring.access import require_enabled
from ..project import __version__
from ..security import public
from ..timeutil import isoformat, utcnow

bp = Blueprint("seed_paths", __name__)

#: ReDoc styles itself with <style> elements it writes (styled-components) and runs its search
#: in a Worker made from a blob: URL; only this page gets those two exceptions.
REDOC_POLICY = (
    CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
    + "; worker-src 'self' blob:"
)


@bp.route("/health")
@public
def liveness():
    """Seed 004's health check: the process answers. Nothing is checked here (no database, no
    remote), so a load balancer's probe costs nothing; GET /api/v1/health runs the checks."""
    require_enabled("enable_health", "health")
    return jsonify(status="ok", version=__version__, time=isoformat(utcnow()))


@bp.route("/redoc")
def redoc():
    """Seed 000's alternative API documentation: ReDoc over the same OpenAPI document as /docs,
    served from static/vendor/redoc (no CDN at run time)."""
    response = make_response(render_template("redoc.html"))
    response.headers["Content-Security-Policy"] = REDOC_POLICY
    return response
