"""The settings pages: stored remotes, API tokens, users, Cordiax pollers, the NAS target and
the caller's notification targets.

Each page lists what the API holds and changes it only through the API (static/js/settings.js),
so the API's validation and rules (last administrator, secrets never returned) are the only
ones. Rows carry their API representation (the same schemas dump them) for the edit forms.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import select

from ..auth.models import ApiToken, User
from ..auth.schemas import UserInfo
from ..config import ENV_ALIASES
from ..cordiax import pollers as poller_defaults
from ..cordiax.models import CordiaxPoller
from ..cordiax.poller_schemas import PollerInfo
from ..documents.wiring import nas_options, nas_sync
from ..extensions import db
from ..notifications import deliveries as notification_deliveries
from ..notifications.models import NotificationTarget
from ..notifications.schemas import TargetInfo
from ..remotes.models import StoredRemote
from ..remotes.schemas import RemoteInfo
from ..security import admin_required
from ..settings import settings
from .remote_forms import remote_kinds

bp = Blueprint("settings", __name__, url_prefix="/settings")

#: the NAS settings shown on /settings/nas, with what they do
NAS_SETTINGS = {
    "nas_mount_path": "a folder where the NAS share is mounted",
    "nas_remote": "or the name of a stored remote (e.g. an SMB share), used instead of a mount",
    "nas_folder_names": "en: receipts/invoices/salaries/others · fr: tickets/factures/...",
    "auto_sync_interval": "seconds between automatic syncs of pending documents (empty: off)",
}


def _rows(items: list, schema) -> list[dict[str, Any]]:
    """Each item beside its API representation, which the page hands to settings.js."""
    return [{"item": item, "api": schema.dump(item)} for item in items]


def _all(model, *order) -> list:
    return list(db.session.scalars(select(model).order_by(*order)))


@bp.route("")
def index():
    return render_template("settings/index.html")


@bp.route("/remotes")
@admin_required
def remotes():
    stored = _all(StoredRemote, StoredRemote.name)
    return render_template(
        "settings/remotes.html", remotes=_rows(stored, RemoteInfo()), kinds=remote_kinds()
    )


@bp.route("/tokens")
def tokens():
    query = select(ApiToken).where(ApiToken.user_id == current_user.id)
    tokens = db.session.scalars(query.order_by(ApiToken.id.desc())).all()
    return render_template("settings/tokens.html", tokens=tokens)


@bp.route("/users")
@admin_required
def users():
    return render_template("settings/users.html", users=_rows(_all(User, User.id), UserInfo()))


@bp.route("/pollers")
@admin_required
def pollers():
    remotes = _all(StoredRemote, StoredRemote.name)
    return render_template(
        "settings/pollers.html",
        pollers=_rows(_all(CordiaxPoller, CordiaxPoller.id), PollerInfo()),
        remote_names={remote.id: remote.name for remote in remotes},
        sources=[(r.id, r.name) for r in remotes if r.kind in poller_defaults.SOURCE_KINDS],
        owners={user.id: user.email for user in _all(User, User.email)},
        defaults=poller_defaults,
    )


@bp.route("/notifications")
def notifications():
    """The caller's own targets (administrators' also get the store-wide alerts)."""
    query = select(NotificationTarget).where(NotificationTarget.owner_id == current_user.id)
    targets = list(db.session.scalars(query.order_by(NotificationTarget.name)))
    return render_template(
        "settings/notifications.html",
        targets=_rows(targets, TargetInfo()),
        deliveries=notification_deliveries.recent(db.session, current_user.id, limit=20),
    )


@bp.route("/nas")
def nas():
    with nas_sync() as service:
        config = service.config()
    options = settings().documents
    environment = {
        key: name for name, (section, key) in ENV_ALIASES.items() if section == "documents"
    }
    configured = [
        {
            "key": key,
            "value": getattr(options, key),
            "help": help,
            "env": environment.get(key, f"SYNCAPP_DOCUMENTS_{key.upper()}"),
        }
        for key, help in NAS_SETTINGS.items()
    ]
    # what an administrator may set here, applied without a restart (documents/nas_settings.py)
    remotes = _all(StoredRemote, StoredRemote.name) if current_user.is_admin else []
    return render_template(
        "settings/nas.html",
        config=config,
        settings=configured,
        choice=nas_options(),
        remote_names=[remote.name for remote in remotes],
    )
