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

from ..alerts.wiring import recheck
from ..extensions import Blueprint
from ..failures import Forbidden
from ..security import admin_required
from . import poller_records as records
from .models import CordiaxPoller
from .poller_schemas import ConnectionReply, PollerCreate, PollerInfo, PollerUpdate
from .wiring import connection_check, poll_now

bp = Blueprint(
    "cordiax_pollers",
    __name__,
    url_prefix="/api/v1/cordiax/pollers",
    description="Cordiax share pollers: WebDAV/SMB folders a Cordiax client writes to (seed 002)",
)


def _scope() -> int | None:
    """Whose pollers the caller sees: their own, or (None) everyone's for an administrator."""
    return None if current_user.is_admin else current_user.id


def _find(poller_id: int) -> CordiaxPoller:
    return records.get_poller(poller_id, _scope())


def _require_admin_for_source(data: dict) -> None:
    chosen = [name for name in records.SOURCE_FIELDS if name in data]
    if chosen and not current_user.is_admin:
        raise Forbidden(f"Only an administrator sets a poller's {', '.join(chosen)}.")


@bp.route("", methods=["GET"])
@bp.response(200, PollerInfo(many=True))
def list_pollers():
    return records.list_pollers(_scope())


@bp.route("", methods=["POST"])
@bp.arguments(PollerCreate)
@bp.response(201, PollerInfo)
@admin_required
def create_poller(data):
    """Create a poller (administrators: they choose the stored remote it reads)."""
    return records.create_poller(data, data.get("user_id", current_user.id))


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
    return records.update_poller(poller, data)


@bp.route("/<int:poller_id>", methods=["DELETE"])
@bp.response(204)
def delete_poller(poller_id: int):
    """Delete a poller; the snapshots it imported stay."""
    records.delete_poller(_find(poller_id))


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
    poller = poll_now(_find(poller_id))
    recheck("cordiax_silence", poller.user_id)  # a snapshot it imported ends a silence now
    return poller
