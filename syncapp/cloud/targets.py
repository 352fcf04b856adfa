"""The clouds a file can be replicated to, and how to open each for a user.

Azure and S3 are stored remotes that an administrator names in `cloud.azure_remote` and
`cloud.s3_remote`; Google Drive is each user's own Drive, authorised through OAuth (oauth.py),
opened with that user's refresh token.
"""

from __future__ import annotations

import posixpath
from typing import Any

from ..extensions import db
from ..remotes.catalog import find_remote, open_stored
from ..security import decrypt_secret
from ..settings import settings
from ..storage import Remote, RemoteConfigError, open_remote
from .models import TARGETS, GoogleAccount


class TargetUnavailable(Exception):
    """The target is not set up (no stored remote configured, Google not connected)."""


def _options() -> Any:
    return settings().cloud


def stored_remote_name(target: str, user_id: int) -> str | None:
    """The stored remote behind a shared cloud for this user. `{user_id}` in the setting gives
    each user a remote of their own (e.g. `s3-{user_id}`), set up by an administrator."""
    name = getattr(_options(), f"{target}_remote")
    return name.replace("{user_id}", str(user_id)) if name else None


def configured_targets(user_id: int) -> dict[str, bool]:
    """target -> whether it can be used by this user now."""
    found = {}
    for target in ("azure", "s3"):
        name = stored_remote_name(target, user_id)
        found[target] = bool(name) and find_remote(name) is not None
    return {"google": db.session.get(GoogleAccount, user_id) is not None, **found}


def remote_path(target: str, owner_id: int, filename: str) -> str:
    """Where a file goes in a cloud. A user's Drive is theirs alone; the shared Azure container
    and S3 bucket keep each user's files under the user's id."""
    folder = _options().folder
    if target == "google":
        return posixpath.join(folder, filename)
    return posixpath.join(folder, str(owner_id), filename)


def open_target(target: str, user_id: int) -> Remote:
    """A live Remote for the target as seen by this user; the caller closes it."""
    if target not in TARGETS:
        raise TargetUnavailable(f"unknown target {target!r}")
    if target == "google":
        return open_google_drive(user_id)
    name = stored_remote_name(target, user_id)
    stored = find_remote(name) if name else None
    if stored is None:
        # Whoever shows this names the target first ("s3: not set up: ..."), so it does not.
        raise TargetUnavailable(
            f"not set up: an administrator sets cloud.{target}_remote to the name of "
            f"a stored remote{f' (no remote named {name!r} exists)' if name else ''}"
        )
    return open_stored(stored)


def open_google_drive(user_id: int) -> Remote:
    account = db.session.get(GoogleAccount, user_id)
    if account is None:
        raise TargetUnavailable("Google Drive is not connected: open /auth/google/start first")
    google = settings().google
    if not google.client_id or not google.client_secret:
        raise TargetUnavailable("google.client_id and google.client_secret are not configured")
    configured = {
        "refresh_token": decrypt_secret(account.refresh_token_encrypted),
        "client_id": google.client_id,
        "client_secret": google.client_secret,
        "token_uri": google.token_uri,
        "api_endpoint": google.drive_api_endpoint,
        "ca_certs": google.ca_certs,
        "root_folder_id": account.folder_id,
    }
    try:
        return open_remote("gdrive", **{k: v for k, v in configured.items() if v is not None})
    except RemoteConfigError as exc:
        raise TargetUnavailable(str(exc)) from exc
