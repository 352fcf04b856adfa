"""/api/v1/cordiax/pollers: pollers that import what a Cordiax client writes to a share.

Users see, run and tune their own pollers (another user's is a 404); administrators see all.
Where a poller reads from (remote, folder, file) is chosen by an administrator only: stored
remotes are shared, admin-managed locations, and a poller imports whatever file it names into
snapshots its owner can download, so a free choice would let any user read any file there. And
the remote must be granted to the poller's owner for "cordiax" (remotes' `grants`): a remote not
theirs to use is answered like one that does not exist.
"""

from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import select

from ..auth.models import User
from ..errors import BadRequest, Forbidden, NotFound
from ..extensions import db
from ..remotes.catalog import may_use
from ..remotes.models import StoredRemote
from ..security import admin_required
from .models import CordiaxPoller
from .poller_schemas import ConnectionReply, PollerCreate, PollerInfo, PollerUpdate
from .pollers import SOURCE_KINDS, default_device, normalise_folder
from .wiring import connection_check, poll_now

bp = Blueprint(
    "cordiax_pollers",
    __name__,
    url_prefix="/api/v1/cordiax/pollers",
    description="Cordiax share pollers: WebDAV/SMB folders a Cordiax client writes to (seed 002)",
)

#: fields that say where a poller reads from, and whose snapshots it makes
SOURCE_FIELDS = ("remote_id", "path", "filename", "user_id")


def _find(poller_id: int) -> CordiaxPoller:
    poller = db.session.get(CordiaxPoller, poller_id)
    if poller is None or (not current_user.is_admin and poller.user_id != current_user.id):
        raise NotFound(f"No poller with id {poller_id}.", code="poller_not_found")
    return poller


def _check_remote(remote_id: int, owner_id: int) -> None:
    remote = db.session.get(StoredRemote, remote_id)
    if remote is None or not may_use(remote, db.session.get(User, owner_id), "cordiax"):
        raise BadRequest(
            f"No stored remote with id {remote_id} that the poller's owner may use "
            "(grant it to them for cordiax).",
            code="invalid_remote",
        )
    if remote.kind not in SOURCE_KINDS:
        raise BadRequest(
            f"A poller reads from a {', '.join(SOURCE_KINDS)} remote; "
            f"{remote.name!r} is {remote.kind}.",
            code="invalid_remote",
        )


def _check_owner(user_id: int) -> None:
    if db.session.get(User, user_id) is None:
        raise BadRequest(f"No user with id {user_id}.", code="invalid_user")


def _require_admin_for_source(data: dict) -> None:
    chosen = [name for name in SOURCE_FIELDS if name in data]
    if chosen and not current_user.is_admin:
        raise Forbidden(f"Only an administrator sets a poller's {', '.join(chosen)}.")


@bp.route("", methods=["GET"])
@bp.response(200, PollerInfo(many=True))
def list_pollers():
    query = select(CordiaxPoller).order_by(CordiaxPoller.id)
    if not current_user.is_admin:
        query = query.where(CordiaxPoller.user_id == current_user.id)
    return db.session.scalars(query).all()


@bp.route("", methods=["POST"])
@bp.arguments(PollerCreate)
@bp.response(201, PollerInfo)
@admin_required
def create_poller(data):
    """Create a poller (administrators: they choose the stored remote it reads)."""
    owner = data.get("user_id", current_user.id)
    _check_owner(owner)
    _check_remote(data["remote_id"], owner)
    poller = CordiaxPoller(
        user_id=owner,
        name=data["name"],
        remote_id=data["remote_id"],
        path=normalise_folder(data["path"]),
        filename=data["filename"],
        device=data.get("device") or default_device(data["name"]),
        interval=data["interval"],
        enabled=data["enabled"],
    )
    db.session.add(poller)
    db.session.commit()
    return poller


@bp.route("/<int:poller_id>", methods=["GET"])
@bp.response(200, PollerInfo)
def get_poller(poller_id: int):
    return _find(poller_id)


@bp.route("/<int:poller_id>", methods=["PUT", "PATCH"])
@bp.arguments(PollerUpdate, required=False)  # no body: nothing changes
@bp.response(200, PollerInfo)
def update_poller(data, poller_id: int):
    """Change a poller; only administrators change where it reads from or who owns it."""
    poller = _find(poller_id)
    _require_admin_for_source(data)
    if "user_id" in data:
        _check_owner(data["user_id"])
    if "remote_id" in data or "user_id" in data:  # the owner must be allowed the remote
        _check_remote(data.get("remote_id", poller.remote_id), data.get("user_id", poller.user_id))
    if "path" in data:
        data["path"] = normalise_folder(data["path"])
    moved = any(
        name in data and data[name] != getattr(poller, name) for name in (*SOURCE_FIELDS, "device")
    )
    for name, value in data.items():
        setattr(poller, name, value)
    if moved:  # another file or device: what was seen of the old one says nothing about it
        poller.seen_marker = poller.seen_sha256 = None
    db.session.commit()
    return poller


@bp.route("/<int:poller_id>", methods=["DELETE"])
@bp.response(204)
def delete_poller(poller_id: int):
    """Delete a poller; the snapshots it imported stay."""
    db.session.delete(_find(poller_id))
    db.session.commit()


@bp.route("/<int:poller_id>/test", methods=["POST"])
@bp.response(200, ConnectionReply)
def test_poller(poller_id: int):
    """Connect and look for the file, reading nothing and writing nothing."""
    check = connection_check(_find(poller_id))
    return {"success": check.success, "message": check.message}


@bp.route("/<int:poller_id>/run", methods=["POST"])
@bp.response(200, PollerInfo)
def run_poller(poller_id: int):
    """Poll now (also when disabled); the result is in last_result and last_error."""
    return poll_now(_find(poller_id))
