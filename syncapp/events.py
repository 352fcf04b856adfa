"""Live events for dashboards and clients: the Socket.IO namespace /events.

`publish()` may be called from any thread (requests, scheduler jobs, transfer callbacks); with a
message queue configured (`socketio.message_queue`) the event reaches clients of every process.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import request
from flask_login import current_user
from flask_socketio import Namespace, join_room

from .extensions import socketio
from .security import user_for_token
from .timeutil import isoformat, utcnow

log = logging.getLogger(__name__)

NAMESPACE = "/events"


def publish(
    event: str, payload: dict[str, Any], *, user_id: int | None = None, admins: bool = False
) -> None:
    """Send `event` to every dashboard, or only to one user's sessions when `user_id` is given
    (and to administrators' too with `admins`; a client in both rooms gets it once)."""
    body = {"event": event, "time": isoformat(utcnow()), **payload}
    room: str | list[str] | None = None
    if user_id is not None:
        room = [f"user:{user_id}", "admins"] if admins else f"user:{user_id}"
    socketio.emit(event, body, namespace=NAMESPACE, to=room)


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
    return user_for_token(raw) if isinstance(raw, str) and raw else None


class EventsNamespace(Namespace):
    def on_connect(self, auth: dict | None = None) -> bool:
        user = socket_user(auth)
        if user is None:
            log.info("refused an unauthenticated /events connection")
            return False
        join_room(f"user:{user.id}")
        if user.is_admin:
            join_room("admins")
        return True

    def on_ping(self, data: Any = None) -> dict[str, Any]:
        return {"pong": True, "time": isoformat(utcnow())}
