"""Service health: /api/v1/health answers without authentication for load balancers.

Anonymous callers get each liveness check's status only; signed-in callers also the details, and
the cached destination results of their own jobs (administrators: of every job).
"""

from __future__ import annotations

from flask_login import current_user
from marshmallow import Schema, fields
from sqlalchemy.exc import OperationalError

from ..extensions import Blueprint
from ..project import __version__
from ..security import public
from ..timeutil import isoformat, utcnow
from .access import require_enabled
from .checks import HEALTH_CHECKS, destinations_report, run_check

bp = Blueprint("monitoring", __name__, url_prefix="/api/v1", description="Service health")


class JobCheck(Schema):
    job_id = fields.Integer()
    name = fields.String()
    status = fields.String()
    detail = fields.String()


class CheckResult(Schema):
    status = fields.String()
    detail = fields.String(metadata={"description": "Only for authenticated callers"})
    jobs = fields.List(fields.Nested(JobCheck), metadata={"description": "Your jobs' results"})


class Health(Schema):
    status = fields.String()
    version = fields.String()
    time = fields.String()
    checks = fields.Dict(keys=fields.String(), values=fields.Nested(CheckResult))
    error = fields.String()
    message = fields.String()


def caller_signed_in() -> bool:
    try:
        return current_user.is_authenticated
    except OperationalError:  # the database is down: the caller cannot be looked up
        return False


@bp.route("/health")
@bp.response(200, Health)
@bp.alt_response(503, schema=Health, description="A check failed")
@public
def health():
    """Liveness (database, scheduler: this process and the database only) decides the status
    code, for everyone; signed-in callers also get details and the last background results of
    their own jobs' destinations, which never make the service unhealthy: a user's unreachable
    server must not fail a load balancer's or Docker's check for everyone (issue 18)."""
    require_enabled("enable_health", "health")
    results = {name: run_check(name, check) for name, check in HEALTH_CHECKS.items()}
    failed = [name for name, result in results.items() if result["status"] != "ok"]
    signed_in = caller_signed_in()  # health must answer (503) even when the database is down
    if signed_in:
        scope = None if current_user.is_admin else current_user.id
        results["sync_destinations"] = run_check(
            "sync_destinations", lambda: destinations_report(scope)
        )
    else:
        results = {name: {"status": result["status"]} for name, result in results.items()}
    body = {"status": "ok", "version": __version__, "time": isoformat(utcnow()), "checks": results}
    if failed:
        body.update(
            status="error", error="unhealthy", message=f"Failing check(s): {', '.join(failed)}"
        )
        return body, 503
    return body
