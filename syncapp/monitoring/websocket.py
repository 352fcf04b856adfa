"""WS /api/v1/ws: seed 000's plain WebSocket, the live events as JSON text frames.

For clients without Socket.IO. Each frame is `{"event": ..., "time": ..., ...payload}`, the same
body the /events namespace carries; the first is `{"event": "connected", ...}`, sent once the
subscription is in place. A user receives the events addressed to them and broadcasts;
administrators also those published for administrators. Messages from the client are ignored.
When the credentials that opened the stream end (auth/live_connections.py), it is closed with
code 1008.

Authentication happens before the upgrade: an API token (Authorization / X-API-Key header, or
`?token=` since browsers cannot set headers on a WebSocket), or the session cookie of a page of
this same site (another site's page could otherwise ride on the cookie).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from flask import Blueprint, g, request
from flask_login import current_user
from flask_sock import Sock

from ..auth import live_connections
from ..events import subscribe, unsubscribe
from ..extensions import db
from ..failures import Unauthorized, UpgradeRequired
from ..security import is_token_request, public, user_for_token
from ..tenancy import scope_allows
from ..timeutil import isoformat, utcnow

PATH = "/api/v1/ws"
#: how often the stream looks at the connection when no event comes
POLL_SECONDS = 1.0
#: WebSocket pings keep proxies from closing an idle stream and find dead clients
PING_SECONDS = 25
#: the close code of a stream whose credentials ended (RFC 6455: policy violation)
CREDENTIALS_ENDED = 1008

bp = Blueprint("events_ws", __name__)
sock = Sock()


@bp.record_once
def configure_server(state) -> None:
    state.app.config.setdefault("SOCK_SERVER_OPTIONS", {"ping_interval": PING_SECONDS})


def _same_origin() -> bool:
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


def socket_caller():
    """The user opening the stream, or None. A machine's token bound to other features (a
    backup profile, a device) opens no stream: it hears no events."""
    user = None
    if current_user.is_authenticated and (is_token_request() or _same_origin()):
        user = current_user._get_current_object()
    elif request.args.get("token"):
        user = user_for_token(request.args["token"])
    return user if user is not None and scope_allows("events") else None


@bp.before_request
def authenticate_socket() -> None:
    # Runs before the view, so before flask-sock answers the upgrade: a refusal is a plain 401.
    user = socket_caller()
    if user is None:
        raise Unauthorized(
            "Authentication required: send 'Authorization: Bearer <token>' or ?token=<token>."
        )
    g.socket_user = (user.id, user.is_admin)
    g.socket_credentials = live_connections.credentials_of(user)
    db.session.close()  # a stream lasts hours: it must not keep a database connection


def _frame(body: dict) -> str:
    return json.dumps(body, default=str, ensure_ascii=False)


@sock.route(PATH, bp=bp)
@public  # authenticate_socket checks it: the deny-by-default layer cannot see ?token=
def event_stream(ws) -> None:
    user_id, is_admin = g.socket_user
    subscription = subscribe(user_id, is_admin)
    try:
        if live_connections.register(subscription, g.socket_credentials, subscription.end):
            hello = {"event": "connected", "time": isoformat(utcnow()), "user_id": user_id}
            ws.send(_frame(hello))
        else:
            subscription.end()  # its credentials ended while it connected
        while ws.connected and not subscription.ended:
            body = subscription.get(timeout=POLL_SECONDS)
            dropped = subscription.take_dropped()
            if dropped:
                notice = {"event": "events_dropped", "time": isoformat(utcnow()), "count": dropped}
                ws.send(_frame(notice))
            if body is not None:
                ws.send(_frame(body))
            while ws.receive(timeout=0) is not None:
                pass  # nothing to answer; read so that a chatty client cannot pile up memory
        if subscription.ended:
            ws.close(reason=CREDENTIALS_ENDED, message="The credentials ended.")
    finally:
        live_connections.unregister(subscription)
        unsubscribe(subscription)


@bp.route(PATH)
def websocket_upgrade_required():
    """The same address without an upgrade: say what it is for."""
    raise UpgradeRequired("This address is a WebSocket: connect with a WebSocket client.")
