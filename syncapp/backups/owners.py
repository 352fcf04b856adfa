"""Whose backups a request reaches (tenancy.py applied to seed 003's routes).

A signed-in caller reaches their own namespace, or as an administrator the one `?owner=` names;
a token bound to profiles narrows it to them. Anonymous LAN clients (`backups.allow_anonymous`)
and servers without authentication reach `backups.anonymous_owner`'s, by default the install
owner's: a one-user install's scripts keep working with or without a token.
"""

from __future__ import annotations

from flask import request
from flask_login import current_user

from ..failures import NotFound, ServiceUnavailable
from ..settings import settings
from ..tenancy import find_user_by_ref, install_owner_id, requested_owner, scoped_names
from .store import Namespace


def anonymous_owner_id() -> int:
    ref = settings().backups.anonymous_owner
    user = find_user_by_ref(ref) if ref else None
    owner = install_owner_id() if not ref else (user.id if user and user.is_active else None)
    if owner is None:
        # The setting's value stays out of the answer: anonymous callers learn no account.
        raise ServiceUnavailable(
            "Anonymous backups have no owner on this server: backups.anonymous_owner names no "
            "active user (or, unset, there is no administrator). Ask an administrator.",
            code="no_anonymous_owner",
        )
    return owner


def caller_namespace() -> Namespace:
    if not current_user.is_authenticated:
        if ref := request.args.get("owner"):  # as requested_owner answers a user naming another
            raise NotFound(f"No backups for owner {ref!r}.", code="owner_not_found")
        return Namespace(anonymous_owner_id())
    names = scoped_names("backups")
    return Namespace(requested_owner("backups"), None if names is None else frozenset(names))
