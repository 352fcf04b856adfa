"""The scrub's API, for administrators: its state (GET), a pass on demand (POST), the findings."""

from __future__ import annotations

from flask_login import current_user

from ..extensions import Blueprint, db
from ..security import admin_required
from ..timeutil import isoformat
from . import results
from .schemas import FindingPage, FindingQuery, ScrubStatus
from .wiring import scrubber

bp = Blueprint(
    "scrub", __name__, url_prefix="/api/v1/scrub", description="Integrity scrub (administrators)"
)


@bp.route("", methods=["GET"])
@bp.response(200, ScrubStatus)
@admin_required
def scrub_status():
    """The pass under way (its progress), the last finished pass, and the findings per kind."""
    return scrubber().status()


@bp.route("", methods=["POST"])
@bp.response(202, ScrubStatus, description="Queued: the leader starts it at its next tick")
@admin_required
def request_scrub():
    """Ask for a pass now; while one is under way, that one is the answer. The leader reads it
    within `scrub.tick` seconds (`flask scrub run` reads it in the foreground)."""
    service = scrubber()
    service.request("request", current_user.id)
    return service.status(), 202


@bp.route("/findings", methods=["GET"])
@bp.arguments(FindingQuery, location="query")
@bp.response(200, FindingPage)
@admin_required
def scrub_findings(query):
    """Objects the last scrub found corrupt or missing (or `integrity=ok`), newest first."""
    found, total = results.listing(db.session, **query)
    return {
        "findings": [
            {
                "kind": r.kind,
                "object_id": r.object_id,
                "owner_id": r.owner_id,
                "integrity": r.integrity,
                "last_verified_at": isoformat(r.last_verified_at),
                "detail": r.detail,
            }
            for r in found
        ],
        "total": total,
    }
