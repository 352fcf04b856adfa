"""GET /api/v1/backups/<profile>/restore-plan: the archives that rebuild a profile's folder as it
was at a point in time, in the order to extract them (restore.py; scripts/restore.sh)."""

from __future__ import annotations

import shlex
from datetime import datetime
from urllib.parse import quote, urlencode

from flask import request

from ..extensions import Blueprint
from ..failures import BadRequest, NotFound
from ..security import anonymous_from_networks
from ..tenancy import require_scope
from ..timeutil import isoformat, parse_iso, utcnow
from .owners import caller_namespace
from .restore import RestorePlan, build_plan
from .schemas import RestorePlanQuery, RestorePlanReply
from .store import check_profile, human_size
from .wiring import archive_store

bp = Blueprint(
    "backup_restore",
    __name__,
    url_prefix="/api/v1/backups",
    description="Restore plans of backup profiles",
)


def parse_at(value: str | None) -> datetime:
    if value is None or not value.strip():
        return utcnow()
    moment = parse_iso(value.strip())
    if moment is None:
        raise BadRequest(
            f"Invalid time {value!r}: use ISO 8601, e.g. 2026-12-07T10:00:00Z.", code="invalid_time"
        )
    return moment


def _download_path(archive, owner: str | None) -> str:
    query = {"profile": archive.profile, **({"owner": owner} if owner else {})}
    return f"/download/{archive.type}/{quote(archive.name)}?{urlencode(query)}"


def plan_reply(plan: RestorePlan, owner: str | None) -> dict:
    root = request.host_url.rstrip("/")
    steps = []
    for number, archive in enumerate(plan.archives, 1):
        path = _download_path(archive, owner)
        steps.append(
            {
                "step": number,
                "name": archive.name,
                "type": archive.type,
                "size": archive.size,
                "size_human": human_size(archive.size),
                "md5": archive.md5,
                "sha256": archive.sha256,
                "uploaded_at": archive.uploaded_at,
                "base_archive": archive.base_archive,
                "integrity": archive.integrity,
                "download_path": path,
                "download_url": root + path,
            }
        )
    return {
        "status": "success",
        "profile": plan.profile,
        "at": plan.at,
        "restorable": plan.restorable,
        "problems": plan.problems,
        "archives": steps,
        "total_size": sum(a.size for a in plan.archives),
        "command": restore_command(plan.profile, plan.at),
    }


def restore_command(profile: str, at: datetime) -> str:
    """What to paste: the server's address in SERVER_URL, the token left to the environment."""
    server = shlex.quote(request.host_url.rstrip("/"))
    return (
        f"SERVER_URL={server} scripts/restore.sh {shlex.quote(profile)} "
        f"--at {isoformat(at)} --to ./restored-{profile}"
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
    archives = archive_store().archives(namespace, profile=profile)
    plan = build_plan(archives, profile, at)
    if plan is None:
        raise NotFound(
            f"No FULL backup of profile {profile!r} was stored at or before {isoformat(at)}: "
            "there is nothing to restore from.",
            code="no_full_backup",
        )
    return plan_reply(plan, request.args.get("owner"))
