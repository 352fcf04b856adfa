"""Live connections and the credentials that opened them, so that ending credentials ends them.

Every open Socket.IO connection (/cordiax-sync/, /events) and every /api/v1/ws stream is
registered here with what authenticated it: an API token, a browser session of some session
generation, or neither (the seed's shared `api_key`, anonymous LAN clients). When credentials end,
`credentials_changed` closes what they opened, in every process: a revoked token, the connections
opened with it; a deactivation, a password change or a sign-out, every connection of the user.
The message travels on the events relay (Redis pub/sub, syncapp/events.py) when
socketio.message_queue is Redis; with one process it is a local call.

A sweep rechecks every live connection against the database every SWEEP_SECONDS, for what no
message announces: a token revoked by `flask tokens revoke` (a process of its own, without Redis),
a token that expired, a message lost while a relay was reconnecting.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from flask import Flask, current_app, g
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..events import hear_other_processes, tell_other_processes
from ..extensions import db, socketio
from .models import ApiToken, User

log = logging.getLogger(__name__)

#: how often the sweep rechecks live connections against the database
SWEEP_SECONDS = 5.0
#: the relay's kind of message for credentials that ended
RELAY_KIND = "credentials_changed"


@dataclass(frozen=True)
class Credentials:
    """What authenticated a connection."""

    user_id: int
    #: the API token it was opened with
    token_id: int | None = None
    #: the session generation of the browser session it was opened from
    generation: int | None = None


@dataclass(frozen=True)
class _Connection:
    credentials: Credentials
    close: Callable[[], None]
    app: Flask


_live: dict[Hashable, _Connection] = {}
_lock = threading.Lock()
_sweeper: threading.Thread | None = None


def credentials_of(user: User) -> Credentials:
    """The credentials this request (or Socket.IO handshake) authenticated `user` with:
    security.user_for_token leaves the token in g.api_token, security.load_user the session's
    generation in g.session_generation."""
    token = g.get("api_token")
    if token is not None and token.user_id == user.id:
        return Credentials(user.id, token_id=token.id)
    return Credentials(user.id, generation=g.get("session_generation"))


def register(key: Hashable, credentials: Credentials, close: Callable[[], None]) -> bool:
    """Track a live connection until `unregister(key)`; `close()` ends it (from any thread).

    False, and nothing tracked, when the credentials ended between authentication and now (a
    change whose message went out before this registration): the caller refuses the connection.
    A change committed after this check is announced after it, so it finds the connection."""
    hear_other_processes(RELAY_KIND, _heard)
    with _lock:
        _live[key] = _Connection(credentials, close, current_app._get_current_object())
        _start_sweeper()
    if ended([credentials]):
        unregister(key)
        return False
    return True


def unregister(key: Hashable) -> None:
    with _lock:
        _live.pop(key, None)


def register_socket(namespace: str, sid: str, user: User) -> bool:
    """Register the Socket.IO connection being opened (call from its connect handler)."""
    server = socketio.server  # this app's server, even if another app is created later

    def close() -> None:
        server.disconnect(sid, namespace=namespace, ignore_queue=True)

    return register((namespace, sid), credentials_of(user), close)


def unregister_socket(namespace: str, sid: str) -> None:
    unregister((namespace, sid))


def credentials_changed(user_id: int, token_id: int | None = None) -> None:
    """Credentials of `user_id` ended (call after the commit): close the connections opened with
    token `token_id`, or every connection of the user without one, in every process."""
    cut(user_id, token_id)
    tell_other_processes(RELAY_KIND, {"user_id": user_id, "token_id": token_id})


def cut(user_id: int, token_id: int | None = None) -> int:
    """Close this process's connections of `user_id` (only those opened with `token_id` when
    given); the number closed."""

    def doomed(credentials: Credentials) -> bool:
        return credentials.user_id == user_id and token_id in (None, credentials.token_id)

    return _close_where(doomed)


def ended(credentials: Iterable[Credentials]) -> set[Credentials]:
    """Those whose user is gone or inactive, whose session generation is no longer the user's,
    or whose token is revoked, expired or gone.

    Read in a session of its own: the caller's may still be in a transaction that began before
    the change (a SQLite read sees the database as it was when its transaction began)."""
    wanted = set(credentials)
    token_ids = {c.token_id for c in wanted if c.token_id is not None}
    with Session(db.engine) as session:
        users = session.scalars(select(User).where(User.id.in_({c.user_id for c in wanted})))
        current = {user.id: user for user in users}
        valid_tokens: set[int] = set()
        if token_ids:
            tokens = session.scalars(select(ApiToken).where(ApiToken.id.in_(token_ids)))
            valid_tokens = {token.id for token in tokens if token.is_valid}

        def still_good(c: Credentials) -> bool:
            user = current.get(c.user_id)
            if user is None or not user.is_active:
                return False
            if c.generation is not None and c.generation != user.session_generation:
                return False
            return c.token_id is None or c.token_id in valid_tokens

        return {c for c in wanted if not still_good(c)}


def sweep() -> int:
    """Close the live connections whose credentials ended; the number closed."""
    with _lock:
        by_app: dict[Flask, set[Credentials]] = {}
        for connection in _live.values():
            by_app.setdefault(connection.app, set()).add(connection.credentials)
    gone: set[Credentials] = set()
    for app, credentials in by_app.items():
        with app.app_context():
            gone |= ended(credentials)
    return _close_where(gone.__contains__) if gone else 0


def _close_where(doomed: Callable[[Credentials], bool]) -> int:
    with _lock:
        closing = [key for key, connection in _live.items() if doomed(connection.credentials)]
        connections = [_live.pop(key) for key in closing]
    for connection in connections:
        try:
            connection.close()
        except Exception:  # a connection going away by itself at the same moment
            log.debug("closing a live connection failed", exc_info=True)
    if connections:
        log.info("closed %d live connection(s) whose credentials ended", len(connections))
    return len(connections)


def _heard(data: dict) -> None:
    cut(int(data["user_id"]), None if data.get("token_id") is None else int(data["token_id"]))


def _start_sweeper() -> None:
    """Called with _lock held: one sweeping thread while anything is registered."""
    global _sweeper
    if _sweeper is None:
        _sweeper = threading.Thread(target=_sweep_while_live, name="live-sweep", daemon=True)
        _sweeper.start()


def _sweep_while_live() -> None:
    global _sweeper
    pause = threading.Event()  # never set: an interval, not a busy loop
    while True:
        pause.wait(SWEEP_SECONDS)
        with _lock:
            if not _live:
                _sweeper = None
                return
        try:
            sweep()
        except Exception as exc:  # the database is away: keep the connections, try again later
            log.warning("live connections: cannot recheck credentials: %s", exc)
