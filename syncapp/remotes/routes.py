"""/api/v1/remotes: stored storage locations, managed by administrators, who also say which
users may use each one (`grants`); users list the remotes granted to them (`/granted`)."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import Blueprint, db
from ..security import admin_required
from ..storage import RemoteError
from ..tenancy import caller
from . import catalog
from .models import StoredRemote
from .schemas import ProbeReply, RemoteCreate, RemoteInfo, RemoteUpdate, UsableRemote

bp = Blueprint(
    "remotes",
    __name__,
    url_prefix="/api/v1/remotes",
    description="Stored remotes (administrators), and the ones granted to the caller",
)


@bp.route("", methods=["GET"])
@bp.response(200, RemoteInfo(many=True))
@admin_required
def list_remotes():
    return db.session.scalars(select(StoredRemote).order_by(StoredRemote.name)).all()


@bp.route("", methods=["POST"])
@bp.arguments(RemoteCreate)
@bp.response(201, RemoteInfo)
@admin_required
def create_remote(data):
    return catalog.create_remote(data["name"], data["kind"], data["settings"], data["grants"])


@bp.route("/granted", methods=["GET"])
@bp.response(200, UsableRemote(many=True))
def list_granted_remotes():
    """The remotes the caller may use (name, kind, for what); administrators: every remote."""
    return [
        {"name": remote.name, "kind": remote.kind, "features": features}
        for remote, features in catalog.usable_remotes(caller())
    ]


@bp.route("/<int:remote_id>", methods=["GET"])
@bp.response(200, RemoteInfo)
@admin_required
def get_remote(remote_id: int):
    return catalog.get_remote(remote_id)


@bp.route("/<int:remote_id>", methods=["PUT", "PATCH"])
@bp.arguments(RemoteUpdate, required=False)  # no body: nothing changes
@bp.response(200, RemoteInfo)
@admin_required
def update_remote(data, remote_id: int):
    return catalog.update_remote(
        catalog.get_remote(remote_id),
        name=data.get("name"),
        settings=data.get("settings"),
        grants=data.get("grants"),
    )


@bp.route("/<int:remote_id>", methods=["DELETE"])
@bp.response(204)
@admin_required
def delete_remote(remote_id: int):
    catalog.delete_remote(catalog.get_remote(remote_id))


@bp.route("/<int:remote_id>/test", methods=["POST"])
@bp.response(200, ProbeReply)
@admin_required
def test_remote(remote_id: int):
    """Write, read back and delete a small probe file, as seed 001's test endpoint does."""
    stored = catalog.get_remote(remote_id)
    try:
        with catalog.open_stored(stored) as remote:
            result = remote.probe()
    except RemoteError as exc:
        return {"success": False, "message": f"{stored.name}: {exc}"}
    return {"success": result.success, "message": result.message}
