"""The pollers' rows: find, list, create, change and delete them, with where they read checked.

Who may do what is the routes' part (an administrator chooses a poller's source and owner);
this module checks that what was chosen exists and is the owner's to use: the stored remote must
be granted to the poller's owner for "cordiax" and be of a kind a poller reads.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..auth.models import User
from ..extensions import db
from ..failures import BadRequest, NotFound
from ..remotes.catalog import may_use
from ..remotes.models import StoredRemote
from .models import CordiaxPoller
from .pollers import SOURCE_KINDS, default_device, normalise_folder

#: fields that say where a poller reads from, and whose snapshots it makes
SOURCE_FIELDS = ("remote_id", "path", "filename", "user_id")


def get_poller(poller_id: int, owner_id: int | None) -> CordiaxPoller:
    """The poller, if `owner_id` (None: an administrator, who sees all) may see it; else 404."""
    poller = db.session.get(CordiaxPoller, poller_id)
    if poller is None or (owner_id is not None and poller.user_id != owner_id):
        raise NotFound(f"No poller with id {poller_id}.", code="poller_not_found")
    return poller


def list_pollers(owner_id: int | None) -> list[CordiaxPoller]:
    query = select(CordiaxPoller).order_by(CordiaxPoller.id)
    if owner_id is not None:
        query = query.where(CordiaxPoller.user_id == owner_id)
    return list(db.session.scalars(query))


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


def create_poller(data: dict[str, Any], owner_id: int) -> CordiaxPoller:
    _check_owner(owner_id)
    _check_remote(data["remote_id"], owner_id)
    poller = CordiaxPoller(
        user_id=owner_id,
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


def update_poller(poller: CordiaxPoller, data: dict[str, Any]) -> CordiaxPoller:
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


def delete_poller(poller: CordiaxPoller) -> None:
    """The snapshots it imported stay."""
    db.session.delete(poller)
    db.session.commit()
