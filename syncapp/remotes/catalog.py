"""Saving, validating and opening stored remotes (no Flask request code here)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..auth.models import User
from ..extensions import db
from ..failures import BadRequest, Conflict, NotFound
from ..security import decrypt_secret, encrypt_secret
from ..storage import Remote, RemoteConfigError, open_remote, remote_class, setting_names
from ..storage.local import ConfinedLocalRemote
from .models import GRANT_FEATURES, RemoteGrant, StoredRemote
from .named import NamedRemote, named_error


def _split_settings(kind: str, settings: dict[str, Any]) -> tuple[dict, dict]:
    """Check the names against the backend, and separate secrets from plain settings."""
    try:
        required, optional = setting_names(kind)
        secret_keys = remote_class(kind).secret_settings
    except RemoteConfigError as exc:
        raise BadRequest(str(exc), code="invalid_remote") from None
    unknown = sorted(set(settings) - set(required) - set(optional))
    if unknown:
        raise BadRequest(
            f"Unknown setting(s) for {kind}: {', '.join(unknown)}. "
            f"Allowed: {', '.join(required + optional)}.",
            code="invalid_remote",
        )
    plain = {k: v for k, v in settings.items() if k not in secret_keys}
    secret = {k: v for k, v in settings.items() if k in secret_keys and v not in (None, "")}
    return plain, secret


def _check_required(kind: str, merged: dict[str, Any]) -> None:
    required, _ = setting_names(kind)
    missing = [name for name in required if merged.get(name) in (None, "")]
    if missing:
        raise BadRequest(
            f"Missing setting(s) for {kind}: {', '.join(missing)}.",
            code="invalid_remote",
            errors={
                "settings": {name: ["Required."] for name in missing}
            },  # a form marks each field
        )


def secrets_of(remote: StoredRemote) -> dict[str, Any]:
    if not remote.secrets_encrypted:
        return {}
    return json.loads(decrypt_secret(remote.secrets_encrypted))


def _store_secrets(remote: StoredRemote, secrets: dict[str, Any]) -> None:
    remote.secrets_encrypted = encrypt_secret(json.dumps(secrets)) if secrets else None
    remote.secret_names = sorted(secrets)


def get_remote(remote_id: int) -> StoredRemote:
    remote = db.session.get(StoredRemote, remote_id)
    if remote is None:
        raise NotFound(f"No stored remote with id {remote_id}.")
    return remote


def find_remote(name: str) -> StoredRemote | None:
    return db.session.scalar(select(StoredRemote).where(StoredRemote.name == name))


def create_remote(
    name: str, kind: str, settings: dict[str, Any], grants: list[dict] | None = None
) -> StoredRemote:
    if find_remote(name) is not None:
        raise Conflict(f"A remote named {name!r} exists already.", code="remote_exists")
    plain, secret = _split_settings(kind, settings)
    _check_required(kind, {**plain, **secret})
    remote = StoredRemote(name=name, kind=kind, settings=plain)
    _store_secrets(remote, secret)
    if grants:
        set_grants(remote, grants)
    db.session.add(remote)
    db.session.commit()
    return remote


def update_remote(
    remote: StoredRemote,
    *,
    name: str | None = None,
    settings: dict[str, Any] | None = None,
    grants: list[dict] | None = None,
) -> StoredRemote:
    """Given settings replace the stored ones; a secret left out keeps its stored value. Given
    grants replace the stored ones."""
    if grants is not None:
        set_grants(remote, grants)
    if name is not None and name != remote.name:
        if find_remote(name) is not None:
            raise Conflict(f"A remote named {name!r} exists already.", code="remote_exists")
        remote.name = name
    if settings is not None:
        plain, secret = _split_settings(remote.kind, settings)
        cleared = {k for k, v in settings.items() if v is None}
        secrets = {**secrets_of(remote), **secret}
        secrets = {k: v for k, v in secrets.items() if k not in cleared}
        _check_required(remote.kind, {**plain, **secrets})
        remote.settings = plain
        _store_secrets(remote, secrets)
    db.session.commit()
    return remote


def delete_remote(remote: StoredRemote) -> None:
    name = remote.name
    db.session.delete(remote)
    try:
        db.session.commit()
    except IntegrityError:  # a row that must not lose its remote (a sync job's destination)
        db.session.rollback()
        raise Conflict(
            f"The remote {name!r} is still in use (e.g. as a sync job's destination); "
            "change or delete what uses it first.",
            code="remote_in_use",
        ) from None


def open_stored(remote: StoredRemote) -> Remote:
    """A live Remote for a stored one; the caller closes it."""
    return open_remote(remote.kind, **remote.settings, **secrets_of(remote))


def open_for_user(remote: StoredRemote) -> Remote:
    """A stored remote for what a user owns (a sync job's destination): its errors name it and
    never say where it is (named.py), and a local one is confined beneath its folder, which must
    exist (never created: an unmounted share would become a local folder)."""
    try:
        if remote.kind == "local":
            opened: Remote = ConfinedLocalRemote.open(str(remote.settings.get("root", "")))
        else:
            opened = open_stored(remote)
    except Exception as exc:
        raise named_error(exc, remote.name, "") from None
    return NamedRemote(opened, remote.name)


# --- who may use a remote ----------------------------------------------------------------------


def set_grants(remote: StoredRemote, grants: list[dict]) -> None:
    """Replace the remote's access list with `grants` ({"user_id", "feature"} each)."""
    wanted = {(grant["user_id"], grant["feature"]) for grant in grants}
    for user_id in sorted({user_id for user_id, _ in wanted}):
        if db.session.get(User, user_id) is None:
            raise BadRequest(f"No user with id {user_id}.", code="invalid_grant")
    kept = [g for g in remote.grants if (g.user_id, g.feature) in wanted]
    present = {(g.user_id, g.feature) for g in kept}
    added = [RemoteGrant(user_id=u, feature=f) for u, f in sorted(wanted - present)]
    remote.grants = kept + added  # the others are deleted with the list (delete-orphan)


def may_use(remote: StoredRemote, user: User | None, feature: str) -> bool:
    """Administrators use every remote; a user one granted to them for `feature`."""
    if user is None:
        return False
    if user.is_admin:
        return True
    query = select(RemoteGrant.id).where(
        RemoteGrant.remote_id == remote.id,
        RemoteGrant.user_id == user.id,
        RemoteGrant.feature == feature,
    )
    return db.session.scalar(query) is not None


def usable_remote(name: str, user: User, feature: str) -> StoredRemote | None:
    """The remote called `name` if `user` may use it for `feature`; None alike when there is
    no such remote and when it is not theirs to use, so that nobody learns other names."""
    remote = find_remote(name)
    return remote if remote is not None and may_use(remote, user, feature) else None


def open_granted(remote_id: int, owner_id: int, feature: str) -> Remote:
    """A stored remote opened for what `owner_id` owns (a poller's share), checked at every use:
    an administrator may have taken the grant back since the thing was made. A remote gone or
    no longer granted is one same NotFound; the opened remote's errors name it (open_for_user)."""
    remote = db.session.get(StoredRemote, remote_id)
    owner = db.session.get(User, owner_id)
    if remote is None or not may_use(remote, owner, feature):
        raise NotFound(
            "The stored remote is gone or no longer yours to use.", code="unknown_remote"
        )
    return open_for_user(remote)


def usable_remotes(user: User) -> list[tuple[StoredRemote, list[str]]]:
    """The remotes `user` may use, each with the features it is granted for."""
    remotes = db.session.scalars(select(StoredRemote).order_by(StoredRemote.name)).all()
    if user.is_admin:
        return [(remote, list(GRANT_FEATURES)) for remote in remotes]
    rows = db.session.execute(
        select(RemoteGrant.remote_id, RemoteGrant.feature).where(RemoteGrant.user_id == user.id)
    ).all()
    features: dict[int, list[str]] = {}
    for remote_id, feature in rows:
        features.setdefault(remote_id, []).append(feature)
    return [(remote, sorted(features[remote.id])) for remote in remotes if remote.id in features]
