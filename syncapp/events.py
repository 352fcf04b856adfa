"""Live events for dashboards and clients, sent to the Socket.IO namespace /events.

`publish()` may be called from any thread (requests, scheduler jobs, transfer callbacks); with a
message queue configured (`socketio.message_queue`) the event reaches clients of every process.
It also hands each event to this process's subscribers (the plain WebSocket /api/v1/ws). With a
Redis message queue, every event also goes out on a Redis pub/sub channel, and one listener thread
per process (started with its first subscriber) hands the other processes' events to its
subscribers; a process skips its own (delivered directly), so nobody sees an event twice. The
same channel carries other messages every process must act on (`tell_other_processes`), e.g.
credentials that ended (auth/live_connections.py).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from flask import has_app_context

from .extensions import socketio
from .settings import settings
from .timeutil import isoformat, utcnow

log = logging.getLogger(__name__)

#: the Socket.IO namespace publish() emits to (events_namespace.EventsNamespace)
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
        self.ended = False
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
        """The next event, or None when none came within `timeout` seconds or it ended."""
        with self._ready:
            if not self._events and not self.ended:
                self._ready.wait(timeout)
            return self._events.popleft() if self._events and not self.ended else None

    def end(self) -> None:
        """The listener's credentials ended: wake its reader, which closes the stream."""
        with self._ready:
            self.ended = True
            self._ready.notify_all()

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
    relay = _relay()
    if relay is not None:
        relay.listen()  # from now on this process needs the others' events
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
    _deliver_locally(body, user_id, admins)
    relay = _relay()
    if relay is not None:
        relay.send(body, user_id, admins)
    socketio.emit(event, body, namespace=NAMESPACE, to=room)


def _deliver_locally(body: dict[str, Any], user_id: int | None, admins: bool) -> None:
    with _subscriptions_lock:
        listeners = [s for s in _subscriptions if s.wants(user_id, admins)]
    for subscription in listeners:
        subscription.put(body)


# --- across processes: a Redis pub/sub channel ------------------------------------------------

#: the relay's channel: socketio.channel (Socket.IO's own) with this suffix
CHANNEL_SUFFIX = ":syncapp-events"
#: how long a first subscriber waits for the Redis subscription to be in place
LISTEN_READY_SECONDS = 5.0
#: unique per host and run; with the pid it names one process (a fork gets a new pid)
_RUN = uuid.uuid4().hex[:12]


def _origin() -> str:
    return f"{_RUN}.{os.getpid()}"


class RedisRelay:
    """Publishes this process's events on `channel` and, once `listen()` was called, hands the
    events other processes publish to this process's subscribers.

    Pub/sub keeps nothing: an event published while a listener is reconnecting is lost to it,
    as with Socket.IO's own Redis queue; /api/v1/ws clients are dashboards, not a ledger."""

    def __init__(self, url: str, channel: str) -> None:
        import redis

        self.url = url
        self.channel = channel
        self._client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self._listener: threading.Thread | None = None
        self._lock = threading.Lock()
        self.stop = threading.Event()
        self.ready = threading.Event()  # set while subscribed (tests wait on it)

    def send(self, body: dict[str, Any], user_id: int | None, admins: bool) -> None:
        self._publish(
            {"user_id": user_id, "admins": admins, "body": body}, what=str(body.get("event"))
        )

    def send_other(self, kind: str, data: dict[str, Any]) -> None:
        """A message of `kind` for the handler other processes set with hear_other_processes."""
        self._publish({"kind": kind, "data": data}, what=kind)

    def _publish(self, message: dict[str, Any], what: str) -> None:
        try:
            self._client.publish(
                self.channel, json.dumps({"origin": _origin(), **message}, default=str)
            )
        except Exception as exc:  # Redis down: this process acted on it already
            log.warning("events: could not publish %s to Redis: %s", what, exc)

    def listen(self) -> None:
        """Start the listener (once); the first caller waits until it is subscribed, so a
        subscriber told "connected" does not miss the next event from another process."""
        with self._lock:
            if self._listener is None or not self._listener.is_alive():
                self._listener = threading.Thread(
                    target=self._listen, name="events-relay", daemon=True
                )
                self._listener.start()
        if not self.ready.wait(LISTEN_READY_SECONDS):
            log.warning("events: not subscribed to Redis yet; other processes' events may be late")

    def _listen(self) -> None:
        import redis

        delay = 0.5
        while not self.stop.is_set():
            client = redis.Redis.from_url(
                self.url, socket_connect_timeout=2, health_check_interval=30
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                self.ready.set()
                delay = 0.5
                while not self.stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._handle(message.get("data"))
            except Exception as exc:
                log.warning("events: Redis listener lost its connection (%s); reconnecting", exc)
            finally:
                self.ready.clear()
                pubsub.close()
                client.close()
            self.stop.wait(delay)  # back off while Redis is away, never spin
            delay = min(delay * 2, 10.0)

    def _handle(self, data: Any) -> None:
        try:
            message = json.loads(data)
            if message["origin"] == _origin():
                return  # delivered directly when it was published here
            if "kind" in message:
                handler = _handlers.get(message["kind"])
                if handler is not None:
                    handler(message["data"])
                return
            _deliver_locally(message["body"], message["user_id"], bool(message["admins"]))
        except Exception:  # a malformed message, or its handler failed: the listener goes on
            log.exception("events: could not handle a message on %s", self.channel)


_relays: dict[tuple[str, str], RedisRelay] = {}
_relays_lock = threading.Lock()
#: what this process does with other processes' messages, by kind (hear_other_processes)
_handlers: dict[str, Callable[[dict[str, Any]], None]] = {}


def tell_other_processes(kind: str, data: dict[str, Any]) -> None:
    """Have every other process that hears `kind` run its handler with `data` (JSON values);
    without a Redis message queue there is no other process to tell."""
    relay = _relay()
    if relay is not None:
        relay.send_other(kind, data)


def hear_other_processes(kind: str, handler: Callable[[dict[str, Any]], None]) -> None:
    """From now on, run `handler(data)` for every `kind` message another process sends."""
    _handlers[kind] = handler
    relay = _relay()
    if relay is not None:
        relay.listen()


def relay_for(url: str | None, channel: str = "flask-socketio") -> RedisRelay | None:
    """The process's relay for a Redis message queue (one per URL and channel), or None when
    no Redis queue is configured (other queues carry Socket.IO's emits only)."""
    if not url or not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    key = (url, channel + CHANNEL_SUFFIX)
    with _relays_lock:
        relay = _relays.get(key)
        if relay is None:
            relay = _relays[key] = RedisRelay(*key)
        return relay


def _relay() -> RedisRelay | None:
    if not has_app_context():
        # A thread without an app context: the relay this process uses, if it uses just one.
        with _relays_lock:
            return next(iter(_relays.values())) if len(_relays) == 1 else None
    options = settings().socketio
    return relay_for(options.message_queue, options.channel)
