"""Administering accounts: change a user's role, state or password, delete a user.

Two rules keep a server manageable: an administrator cannot lock themselves out (demote,
deactivate or delete their own account), and at least one active administrator always remains.
A user who owns data is not deleted: the database would drop their rows while the files those
rows index (documents, snapshots, cloud files) stayed behind in the stores, unreachable;
deactivating the account keeps both and refuses the sign-in and every token.

A deactivation or a password change ends every session of the user (User.session_generation);
those and a role change close the user's live connections (a socket keeps the role it was opened
with: a demoted administrator's stream would go on receiving every user's events).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from ..extensions import db
from ..failures import Conflict, NotFound
from . import live_connections
from .models import ApiToken, User

#: tables whose rows go with their user without leaving anything behind (a remote's grant is
#: a permission, not data)
DISPOSABLE = frozenset({ApiToken.__tablename__, "remote_grants"})


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user with id {user_id}.", code="user_not_found")
    return user


def _active_admins() -> int:
    query = select(func.count()).select_from(User).where(User.role == "admin", User.active)
    return db.session.scalar(query) or 0


def _check_keeps_an_admin(user: User, *, role: str, active: bool) -> None:
    stays_admin = role == "admin" and active
    if user.is_admin and user.active and not stays_admin and _active_admins() <= 1:
        raise Conflict(
            f"{user.email} is the last active administrator; make another user an "
            "administrator first.",
            code="last_admin",
        )


def _check_not_self(user: User, actor_id: int | None, doing: str) -> None:
    if actor_id is not None and user.id == actor_id:
        raise Conflict(
            f"You cannot {doing} your own account; ask another administrator.", code="own_account"
        )


def update_user(user: User, changes: dict[str, Any], *, actor_id: int | None) -> User:
    """Apply `changes` (full_name, role, active, password) made by the user `actor_id`."""
    role = changes.get("role", user.role)
    active = changes.get("active", user.active)
    if role != user.role:
        _check_not_self(user, actor_id, "change the role of")
    if active != user.active:
        _check_not_self(user, actor_id, "deactivate")
    _check_keeps_an_admin(user, role=role, active=active)
    ends_sessions = (user.active and not active) or bool(changes.get("password"))
    closes_connections = ends_sessions or role != user.role
    user.role, user.active = role, active
    if "quota_bytes" in changes:
        user.quota_bytes = changes["quota_bytes"]
    if "full_name" in changes:
        user.full_name = changes["full_name"]
    if "sync_roots" in changes:
        user.sync_roots = changes["sync_roots"]
    if changes.get("password"):
        user.set_password(changes["password"])
    if ends_sessions:
        user.end_sessions()
    db.session.commit()
    if closes_connections:
        live_connections.credentials_changed(user.id)
    return user


def owned_rows(user: User) -> dict[str, int]:
    """Rows in other tables that belong to `user` and would go with them: table -> count.

    Read from the schema, so a feature added later is counted without being named here."""
    counts: dict[str, int] = {}
    for table in db.metadata.sorted_tables:
        if table.name in DISPOSABLE:
            continue
        for key in table.foreign_keys:
            if key.column.table is not User.__table__ or key.ondelete != "CASCADE":
                continue
            query = select(func.count()).select_from(table).where(key.parent == user.id)
            found = db.session.scalar(query) or 0
            if found:
                counts[table.name] = counts.get(table.name, 0) + found
    return counts


def delete_user(user: User, *, actor_id: int | None) -> None:
    _check_not_self(user, actor_id, "delete")
    _check_keeps_an_admin(user, role="user", active=False)
    owned = owned_rows(user)
    if owned:
        what = ", ".join(f"{count} in {table}" for table, count in sorted(owned.items()))
        raise Conflict(
            f"{user.email} still owns data ({what}); deactivate the account instead.",
            code="user_has_data",
            owned=owned,
        )
    user_id = user.id
    db.session.delete(user)
    db.session.commit()
    live_connections.credentials_changed(user_id)
