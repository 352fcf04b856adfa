"""The Cordiax devices a caller may see, for the API's device list and the /cordiax page.

A device is a name inside one user's namespace: two users may both have an `office-pc`, and
nothing of one ever answers for the other. Users see their own devices; administrators see
everyone's, each named with its owner's email; a token bound to devices ("cordiax:<device>")
sees only those.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import request
from sqlalchemy import select

from ..auth.models import User
from ..extensions import db
from ..failures import BadRequest
from ..tenancy import caller, requested_owner, require_scope, scoped_names
from .models import CordiaxSnapshot
from .snapshots import SnapshotRefused, check_device
from .wiring import snapshot_store

OWNER_WHAT = "Cordiax device"


@dataclass(frozen=True)
class Device:
    name: str
    user_id: int
    owner: str | None  # the owner's email, for administrators
    versions: list[CordiaxSnapshot]  # newest first


def device_owner(device: str) -> int:
    """Whose `device` a request means: the caller's, or for an administrator the user named by
    `?owner=`. A malformed name is 400, a token not bound to it 403."""
    try:
        check_device(device)
    except SnapshotRefused as exc:
        raise BadRequest(exc.message, code=exc.code) from None
    require_scope("cordiax", device)
    return requested_owner(OWNER_WHAT)


def visible_scope() -> tuple[int | None, set[str] | None]:
    """Whose devices the caller sees (None: everyone's, for an administrator without
    `?owner=`) and the device names a bound token narrows them to (None: every name)."""
    require_scope("cordiax")
    everyone = caller().is_admin and not request.args.get("owner")
    return (None if everyone else requested_owner(OWNER_WHAT)), scoped_names("cordiax")


def owner_emails(user_ids: set[int]) -> dict[int, str]:
    """user id -> email, for an administrator's lists (empty for anyone else: their own)."""
    if not caller().is_admin or not user_ids:
        return {}
    return dict(db.session.execute(select(User.id, User.email).where(User.id.in_(user_ids))).all())


def visible_devices() -> list[Device]:
    """The caller's devices (everyone's for an administrator, or one user's with `?owner=`)."""
    owner, names = visible_scope()
    found = snapshot_store().devices(owner)
    if names is not None:
        found = {key: items for key, items in found.items() if key[1] in names}
    owners = owner_emails({user_id for user_id, _ in found})
    return [
        Device(name, user_id, owners.get(user_id), items)
        for (user_id, name), items in sorted(found.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]
