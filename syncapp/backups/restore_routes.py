"""GET /api/v1/backups/<profile>/restore-plan: the archives that rebuild a profile's folder as it
was at a point in time, in the order to extract them (restore.py; scripts/restore.sh)."""

from __future__ import annotations

from flask import request

from ..extensions import Blueprint
from ..failures import NotFound
from ..security import anonymous_from_networks
from ..tenancy import require_scope
from ..timeutil import isoformat
from .owners import caller_namespace
from .restore import build_plan, describe, parse_at
from .schemas import RestorePlanQuery, RestorePlanReply
from .store import check_profile
from .wiring import archive_store

bp = Blueprint(
    "backup_restore",
    __name__,
    url_prefix="/api/v1/backups",
    description="Restore plans of backup profiles",
)


@bp.route("/<string:profile>/restore-plan")
@bp.arguments(RestorePlanQuery, location="query")
@bp.response(200, RestorePlanReply)
@anonymous_from_networks("backups")
def restore_plan(query: dict, profile: str):
    """The latest FULL stored at or before `at`, then the DIFF and INCs to extract after it
    (backup.sh's --listed-incremental chain). `restorable` is false, with the reasons in
    `problems`, when an archive of the chain is corrupt."""
    profile = check_profile(profile)
    at = parse_at(query.get("at"))
    namespace = caller_namespace()
    require_scope("backups", profile)
    plan = build_plan(archive_store().archives(namespace, profile=profile), profile, at)
    if plan is None:
        raise NotFound(
            f"No FULL backup of profile {profile!r} was stored at or before {isoformat(at)}: "
            "there is nothing to restore from.",
            code="no_full_backup",
        )
    return describe(plan, request.host_url, request.args.get("owner"))
