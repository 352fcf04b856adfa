"""Saving, validating and opening stored remotes (no Flask request code here)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..errors import ApiError, BadRequest, Conflict, NotFound
from ..extensions import db
from ..security import decrypt_secret, encrypt_secret
from ..storage import Remote, RemoteConfigError, open_remote, remote_class, setting_names
from .models import StoredRemote


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


def create_remote(name: str, kind: str, settings: dict[str, Any]) -> StoredRemote:
    if find_remote(name) is not None:
        raise Conflict(f"A remote named {name!r} exists already.", code="remote_exists")
    plain, secret = _split_settings(kind, settings)
    _check_required(kind, {**plain, **secret})
    remote = StoredRemote(name=name, kind=kind, settings=plain)
    _store_secrets(remote, secret)
    db.session.add(remote)
    db.session.commit()
    return remote


def update_remote(
    remote: StoredRemote, *, name: str | None = None, settings: dict[str, Any] | None = None
) -> StoredRemote:
    """Given settings replace the stored ones; a secret left out keeps its stored value."""
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


def feature_remote(section: str, default_root: str) -> Remote:
    """Where a feature keeps its files: the stored remote named by `<section>.remote`, else the
    local folder `<section>.root` (default `default_root`). Opened once per app and reused."""
    from flask import current_app

    cache = current_app.extensions.setdefault("syncapp.feature_remotes", {})
    if section not in cache:
        options = current_app.config["SYNCAPP"][section]
        if options["remote"]:
            stored = find_remote(options["remote"])
            if stored is None:
                raise ApiError(
                    f"{section}.remote names an unknown stored remote {options['remote']!r}.",
                    status=500,
                    code="misconfigured",
                )
            cache[section] = open_stored(stored)
        else:
            cache[section] = open_remote("local", root=options["root"] or default_root)
    return cache[section]
