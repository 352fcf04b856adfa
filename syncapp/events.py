"""Live events for dashboards and clients: the Socket.IO namespace /events.

`publish()` may be called from any thread (requests, scheduler jobs, transfer callbacks); with a
message queue configured (`socketio.message_queue`) the event reaches clients of every process.
It also hands each event to this process's subscribers (the plain WebSocket /api/v1/ws): they
see what this process publishes, which is everything when one process serves the deployment.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any

from flask import request
from flask_login import current_user
from flask_socketio import Namespace, join_room

from .extensions import socketio
from .security import user_for_token
from .timeutil import isoformat, utcnow

log = logging.getLogger(__name__)

NAMESPACE = "/events"
#: events a subscriber may fall behind by before the oldest are dropped
SUBSCRIBER_BACKLOG = 1000


class Subscription:
    """Events for one listener: those addressed to its user, broadcasts, and (for an
    administrator) those published with `admins=True`. A slow listener loses its oldest events
    instead of holding up `publish()`."""

    def __init__(self, user_id: int, is_admin: bool, backlog: int = SUBSCRIBER_BACKLOG) -> None:
        self.user_id = user_id
        self.is_admin = is_admin
        self.dropped = 0
        self._events: deque[dict[str, Any]] = deque()
        self._backlog = backlog
        self._ready = threading.Condition()

    def wants(self, user_id: int | None, admins: bool) -> bool:
        return user_id is None or user_id == self.user_id or (admins and self.is_admin)

    def put(self, body: dict[str, Any]) -> None:
        with self._ready:
            if len(self._events) >= self._backlog:
                self._events.popleft()
                self.dropped += 1
            self._events.append(body)
            self._ready.notify()

    def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next event, or None when none came within `timeout` seconds."""
        with self._ready:
            if not self._events:
                self._ready.wait(timeout)
            return self._events.popleft() if self._events else None

    def take_dropped(self) -> int:
        with self._ready:
            dropped, self.dropped = self.dropped, 0
            return dropped


_subscriptions: set[Subscription] = set()
_subscriptions_lock = threading.Lock()


def subscribe(user_id: int, is_admin: bool) -> Subscription:
    subscription = Subscription(user_id, is_admin)
    with _subscriptions_lock:
        _subscriptions.add(subscription)
    return subscription


def unsubscribe(subscription: Subscription) -> None:
    with _subscriptions_lock:
        _subscriptions.discard(subscription)


def publish(
    event: str, payload: dict[str, Any], *, user_id: int | None = None, admins: bool = False
) -> None:
    """Send `event` to every dashboard, or only to one user's sessions when `user_id` is given
    (and to administrators' too with `admins`; a client in both rooms gets it once)."""
    body = {"event": event, "time": isoformat(utcnow()), **payload}
    room: str | list[str] | None = None
    if user_id is not None:
        room = [f"user:{user_id}", "admins"] if admins else f"user:{user_id}"
    with _subscriptions_lock:
        listeners = [s for s in _subscriptions if s.wants(user_id, admins)]
    for subscription in listeners:
        subscription.put(body)
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
