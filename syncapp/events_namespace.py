"""The Socket.IO namespace /events: pages (and token holders) hear the events of events.publish
addressed to them; a connection joins its user's room and, for an administrator, `admins`."""

from __future__ import annotations

import logging
from typing import Any

from flask import request
from flask_socketio import join_room

from .auth import live_connections
from .socket_guard import mark_authenticated
from .sockets import GuardedNamespace, socket_user
from .timeutil import isoformat, utcnow

log = logging.getLogger(__name__)


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
