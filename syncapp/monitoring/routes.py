"""Service health: /api/v1/health answers without authentication for load balancers."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import text

from .. import __version__
from ..extensions import db
from ..security import public
from ..timeutil import isoformat, utcnow

bp = Blueprint("monitoring", __name__, url_prefix="/api/v1", description="Service health")

#: name -> check; a check returns a detail string or raises with the reason it failed.
HEALTH_CHECKS: dict[str, Callable[[], str]] = {}


def health_check(name: str):
    def register(func: Callable[[], str]) -> Callable[[], str]:
        HEALTH_CHECKS[name] = func
        return func

    return register


@health_check("database")
def check_database() -> str:
    started = time.perf_counter()
    db.session.execute(text("SELECT 1"))
    return f"{db.engine.dialect.name} answered in {(time.perf_counter() - started) * 1000:.1f} ms"


class CheckResult(Schema):
    status = fields.String()
    detail = fields.String()


class Health(Schema):
    status = fields.String()
    version = fields.String()
    time = fields.String()
    checks = fields.Dict(keys=fields.String(), values=fields.Nested(CheckResult))
    error = fields.String()
    message = fields.String()


@bp.route("/health")
@bp.response(200, Health)
@bp.alt_response(503, schema=Health, description="A check failed")
@public
def health():
    checks: dict[str, dict[str, str]] = {}
    failed: list[str] = []
    for name, check in HEALTH_CHECKS.items():
        try:
            checks[name] = {"status": "ok", "detail": check()}
        except Exception as exc:  # any failure of a dependency is reported, never raised
            db.session.rollback()
            current_app.logger.warning("health check %s failed: %s", name, exc)
            checks[name] = {"status": "error", "detail": str(exc).splitlines()[0][:300]}
            failed.append(name)
    body = {"status": "ok", "version": __version__, "time": isoformat(utcnow()), "checks": checks}
    if failed:
        body.update(
            status="error", error="unhealthy", message=f"Failing check(s): {', '.join(failed)}"
        )
        return body, 503
    return body
