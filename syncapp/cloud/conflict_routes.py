"""/api/v1/conflicts (seed 004): list, look at and resolve one's own conflicts."""

from __future__ import annotations

from flask_login import current_user
from sqlalchemy import select

from ..extensions import Blueprint, db
from ..failures import NotFound, Unauthorized
from .conflict_schemas import ConflictFilter, ConflictInfo, ConflictList, ResolveRequest
from .models import CloudConflict, CloudFile
from .wiring import build_resolver

bp = Blueprint(
    "cloud_conflicts",
    __name__,
    url_prefix="/api/v1/conflicts",
    description="Cloud copies changed outside syncapp (seed 004)",
)


def _owner() -> int:
    if not current_user.is_authenticated:
        raise Unauthorized("Authentication required: conflicts belong to a user.")
    return current_user.id


def _own(conflict_id: int) -> CloudConflict:
    """Another user's conflict answers like a missing one: 404."""
    conflict = db.session.get(CloudConflict, conflict_id)
    if conflict is None or conflict.owner_id != _owner():
        raise NotFound(f"Conflict {conflict_id} not found.", code="conflict_not_found")
    return conflict


def _view(conflict: CloudConflict) -> dict:
    file = db.session.get(CloudFile, conflict.file_id)
    return {
        "id": conflict.id,
        "file_id": conflict.file_id,
        "filename": file.filename if file else None,
        "target": conflict.target,
        "remote_path": conflict.remote_path,
        "detected_at": conflict.detected_at,
        "local": {
            "version": conflict.local_version,
            "size": conflict.local_size,
            "md5": conflict.local_md5,
            "modified": conflict.local_modified,
        },
        "remote": {
            "size": conflict.remote_size,
            "md5": conflict.remote_md5,
            "etag": conflict.remote_etag,
            "modified": conflict.remote_modified,
        },
        "resolved": conflict.resolved,
        "resolved_at": conflict.resolved_at,
        "policy": conflict.policy,
        "keep": conflict.keep,
        "notes": conflict.notes,
        "outcome": conflict.outcome,
    }


@bp.route("", methods=["GET"])
@bp.arguments(ConflictFilter, location="query")
@bp.response(200, ConflictList)
def list_conflicts(filters: dict):
    query = select(CloudConflict).where(CloudConflict.owner_id == _owner())
    if "resolved" in filters:
        query = query.where(CloudConflict.resolved.is_(filters["resolved"]))
    found = db.session.scalars(
        query.order_by(CloudConflict.detected_at.desc(), CloudConflict.id.desc())
    )
    conflicts = [_view(conflict) for conflict in found]
    return {"conflicts": conflicts, "total": len(conflicts)}


@bp.route("/<int:conflict_id>", methods=["GET"])
@bp.response(200, ConflictInfo)
def get_conflict(conflict_id: int):
    return _view(_own(conflict_id))


@bp.route("/<int:conflict_id>/resolve", methods=["POST"])
@bp.arguments(ResolveRequest)
@bp.response(200, ConflictInfo)
def resolve_conflict(values: dict, conflict_id: int):
    conflict = _own(conflict_id)
    resolved = build_resolver().resolve(
        conflict, values["policy"], values.get("keep"), values.get("notes")
    )
    return _view(resolved)
