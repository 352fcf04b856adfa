"""The Socket.IO namespace /events: pages (and token holders) hear the events of events.publish
addressed to them; a connection joins its user's room and, for an administrator, `admins`."""

from __future__ import annotations

import logging
from typing import Any

from flask import request
from flask_login import current_user
from flask_socketio import join_room

from .auth import live_connections
from .security import user_for_token
from .socket_guard import mark_authenticated
from .sockets import GuardedNamespace
from .tenancy import scope_allows
from .timeutil import isoformat, utcnow

log = logging.getLogger(__name__)


def socket_user(auth: dict | None):
    """The user of a Socket.IO connection: browser session, or a token (auth, query, header)."""
    if current_user.is_authenticated:
        return current_user._get_current_object()
    raw = None
    if isinstance(auth, dict):
        raw = auth.get("token")
    raw = raw or request.args.get("token")
    header = request.headers.get("Authorization", "")
    if not raw and header.lower().startswith("bearer "):
        raw = header[7:].strip()
    user = user_for_token(raw) if isinstance(raw, str) and raw else None
    # a machine's token bound to other features (a backup profile, a device) hears no events
    return user if user is not None and scope_allows("events") else None


class EventsNamespace(GuardedNamespace):
    def on_connect(self, auth: dict | None = None) -> bool:
        user = socket_user(auth)
        if user is None:
            log.info("refused an unauthenticated /events connection")
            return False
        if not live_connections.register_socket(self.namespace, request.sid, user):
            return False  # its credentials ended while it connected
        mark_authenticated()
        join_room(f"user:{user.id}")
        if user.is_admin:
            join_room("admins")
        return True

    def on_disconnect(self, reason: Any = None) -> None:
        live_connections.unregister_socket(self.namespace, request.sid)

    def on_ping(self, data: Any = None) -> dict[str, Any]:
        return {"pong": True, "time": isoformat(utcnow())}
