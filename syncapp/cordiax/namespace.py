"""The Socket.IO namespace /cordiax-sync/, exactly as the unmodifiable Cordiax client expects.

The client connects, receives `sync_request`, and pushes `sync_data` {"data": "<hex>"} with a plain
emit (no credentials of its own beyond what its server URL carries: `?token=...&device=...`).
Every refusal is a `sync_error` {"error", "message"} and stores nothing.
"""

from __future__ import annotations

import binascii
import logging
import random
import re
import threading
from typing import Any

from flask import g, request
from flask_socketio import disconnect, emit
from sqlalchemy.exc import OperationalError

from ..alerts.wiring import recheck
from ..auth.live_connections import register_socket, unregister_socket
from ..extensions import db, socketio
from ..failures import STORAGE_UNAVAILABLE, failure_for
from ..security import user_for_token
from ..settings import settings
from ..socket_guard import mark_authenticated
from ..sockets import GuardedNamespace, socket_error
from ..storage import RemoteError
from ..tenancy import scope_allows, scoped_names
from ..timeutil import isoformat
from . import live, presence
from .anonymous import anonymous_user
from .push_gate import PushBusy
from .refusals import record_refusal
from .requester import SyncRequester
from .snapshots import SnapshotRefused, check_device
from .transport import OVERSIZE_KEY
from .wiring import push_gate, snapshot_store, sync_requester

log = logging.getLogger(__name__)

NAMESPACE = "/cordiax-sync/"


def too_large(size: int, max_size: int) -> SnapshotRefused:
    """The refusal of an over-size push; the client is not asked again on this connection."""
    return SnapshotRefused(
        "too_large",
        f"The snapshot ({size} bytes) exceeds this server's limit of {max_size} bytes "
        "(cordiax.max_snapshot_size); nothing was stored. Make the data smaller or ask the "
        "administrator to raise the limit, then reconnect to push again.",
    )


def decode_payload(data: Any, max_size: int) -> bytes:
    """Accept {"data": hex}, {"data": bytes} and raw bytes; never more copies than needed."""
    if isinstance(data, dict):
        if isinstance(data.get(OVERSIZE_KEY), int):  # dropped by the transport (transport.py)
            raise too_large(data[OVERSIZE_KEY] // 2, max_size)
        data = data.get("data")
    if isinstance(data, bytes | bytearray):
        if len(data) > max_size:
            raise too_large(len(data), max_size)
        return bytes(data)
    if isinstance(data, str):
        if len(data) > 2 * max_size:
            raise too_large(len(data) // 2, max_size)
        try:
            # a table lookup per pair, about 20 % less CPU than bytes.fromhex (which also
            # skips whitespace, never in a client's data.hex())
            return binascii.unhexlify(data)
        except ValueError:  # binascii.Error is one; so is a non-ASCII string
            raise SnapshotRefused(
                "bad_hex", "The data is not a valid hexadecimal string."
            ) from None
    raise SnapshotRefused(
        "bad_payload", 'Expected {"data": "<hex>"}, {"data": <bytes>} or raw bytes.'
    )


def _push_size(data: Any) -> int:
    """The bytes a waiting push holds: its hex string (or raw bytes), before decoding."""
    if isinstance(data, dict):
        data = data.get("data")
    return len(data) if isinstance(data, str | bytes | bytearray) else 0


def _token_from_handshake(auth: Any) -> str | None:
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return auth["token"]
    if request.args.get("token"):
        return request.args["token"]
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _device_name(auth: Any, fallback: str) -> str:
    """The device this connection pushes as: the one it names, else the one its token is bound
    to ("cordiax:<device>"), else one named after `fallback`; a token bound to other devices
    (or to other features only) may not push as it."""
    given = auth.get("device") if isinstance(auth, dict) else None
    given = given or request.args.get("device")
    bound = scoped_names("cordiax")
    if given:
        device = check_device(given)
    elif bound is not None and len(bound) == 1:
        device = check_device(next(iter(bound)))
    else:
        cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", fallback).strip("-._")[:64]
        device = cleaned or "device"
    if not scope_allows("cordiax", device):
        raise SnapshotRefused("token_scope", f"This token may not push as device {device!r}.")
    return device


#: the Cordiax protocol's sentences for the outages failures.failure_for names (its users read
#: them in the client); codes and everything else are failure_for's
OUTAGE_MESSAGES = {
    "insufficient_storage": "The snapshot store is full; nothing was stored.",
    "storage_unavailable": "The snapshot store cannot be reached; try again later.",
    "database_unavailable": "The database cannot be reached; try again later.",
}


def _failure(exc: Exception) -> tuple[str, str]:
    """(sync_error code, message) for a push that was not stored."""
    if isinstance(exc, SnapshotRefused):
        return exc.code, exc.message
    # any other storage error while storing is an outage of the store too
    failure = failure_for(exc) or STORAGE_UNAVAILABLE
    log.warning("%s during a snapshot push: %s", failure.outage, exc)
    return failure.code, OUTAGE_MESSAGES.get(failure.code, failure.message)


def _send_sync_request(sid: str) -> None:
    socketio.emit("sync_request", {}, to=sid, namespace=NAMESPACE)


def _requester() -> SyncRequester:
    """This app's SyncRequester (one per process), started with the first connection."""
    return sync_requester(_send_sync_request)


def _refused(code: str, message: str, device: str | None, user_id: int | None = None) -> None:
    log.info("refused a Cordiax client from %s (%s): %s", request.remote_addr, code, message)
    record_refusal(
        db.session,
        address=request.remote_addr,
        device=device,
        reason=code,
        message=message,
        user_id=user_id,
    )


def _presence(change, *args: Any) -> None:
    """Record a device's presence (presence.py); the page's "online" is a convenience: a
    database hiccup here must not refuse or drop a client."""
    try:
        change(db.session, *args)
    except Exception:
        db.session.rollback()
        log.warning("could not record the presence of a Cordiax device", exc_info=True)


class CordiaxNamespace(GuardedNamespace):
    def __init__(self, namespace: str = NAMESPACE) -> None:
        super().__init__(namespace)
        self._clients: dict[str, tuple[int, str]] = {}
        self._guard = threading.Lock()

    def on_connect(self, auth: Any = None) -> None:
        raw = _token_from_handshake(auth)
        user = user_for_token(raw) if raw else anonymous_user()
        if user is None:
            reason = (
                "The token is invalid or revoked."
                if raw
                else ("A token is required: add ?token=<token> to the server URL.")
            )
            emit("sync_error", {"error": "unauthorized", "message": reason})
            _refused("unauthorized", reason, request.args.get("device"))
            disconnect()
            return
        token = g.get("api_token")
        try:
            device = _device_name(auth, token.name if token else f"anonymous-{request.remote_addr}")
        except SnapshotRefused as exc:
            emit("sync_error", {"error": exc.code, "message": exc.message})
            _refused(exc.code, exc.message, request.args.get("device"), user.id)
            disconnect()
            return
        if not register_socket(NAMESPACE, request.sid, user):
            disconnect()  # its credentials ended while it connected
            return
        mark_authenticated()
        with self._guard:
            self._clients[request.sid] = (user.id, device)
        # Not emitted here: the client could not answer yet (requester.py says why).
        _requester().connected(request.sid)
        _presence(presence.arrived, user.id, device, request.remote_addr)
        live.connected(user.id, device)

    def on_sync_data(self, data: Any = None) -> dict[str, Any]:
        with self._guard:
            identity = self._clients.get(request.sid)
        if identity is None:
            return self._refuse("unauthorized", "This connection is not authenticated.")
        user_id, device = identity
        store = snapshot_store()
        # The store's remote row is read: return the connection before waiting for a push
        # slot, or hundreds of waiting pushes hold the whole pool and the pushes in their
        # slots (and every upload) time out waiting for one.
        db.session.commit()
        try:
            # Each push in flight costs several copies of its payload (bytes, ZIP members,
            # the store's buffers): a bounded number at a time keeps hundreds of clients
            # pushing together from multiplying the process's memory and thrashing its CPU,
            # and a bounded number waits (push_gate.py); the others are asked again later.
            with push_gate().enter(_push_size(data)):
                payload = decode_payload(data, store.limits.max_size)
                data = None  # drop the hex string as soon as it is decoded
                result = store.store(user_id, device, payload)
        except PushBusy:
            return self._busy(user_id, device)
        except (SnapshotRefused, RemoteError, OperationalError) as exc:
            # The store removed what it had written; the client pushes again on its next
            # sync_request, so a full disk or a storage/database outage is an answer, not a crash.
            db.session.rollback()
            code, message = _failure(exc)
            _requester().pushed(request.sid, refused_size=code == "too_large")
            _presence(presence.heard, user_id, device)  # refused, but there
            if isinstance(exc, SnapshotRefused):
                _refused(code, message, device, user_id)
            live.push_failed(user_id, device, code, message)
            return self._refuse(code, message)
        _requester().pushed(request.sid)
        _presence(presence.heard, user_id, device)
        snapshot = result.snapshot
        ack = {
            "status": "ok",
            "version": snapshot.version,
            "sha256": snapshot.sha256,
            "size": snapshot.size,
            "kind": snapshot.kind,
            "encrypted": snapshot.encrypted,
            "received_at": isoformat(snapshot.received_at),
            "created": result.created,
        }
        emit("sync_ack", ack)
        live.snapshot_stored(user_id, device, ack)
        recheck("cordiax_silence", user_id)  # a silent device spoke: its alert ends now
        return ack

    def on_disconnect(self, reason: Any = None) -> None:
        unregister_socket(NAMESPACE, request.sid)
        _requester().disconnected(request.sid)
        with self._guard:
            identity = self._clients.pop(request.sid, None)
        if identity is not None:
            _presence(presence.left, identity[0], identity[1])
            live.disconnected(identity[0], identity[1])

    def _busy(self, user_id: int, device: str) -> dict[str, Any]:
        """A push the process cannot take now: nothing stored, the connection kept, and the
        client asked again (it pushes only on `sync_request`) after a spread-out delay, so that
        hundreds refused together do not all come back at once."""
        base = settings().cordiax.busy_retry_after
        retry_after = max(1, round(base * random.uniform(0.5, 1.5)))
        _requester().retry(request.sid, retry_after)
        log.info("Cordiax push of %s/%s refused: busy, asked again in %d s", user_id, device,
                 retry_after)  # fmt: skip
        message = (
            "The server is storing other snapshots and cannot take this one now; nothing was "
            f"stored. It will ask for it again in about {retry_after} s."
        )
        return self._refuse("busy", message, retry_after=retry_after)

    @staticmethod
    def _refuse(code: str, message: str, **extra: Any) -> dict[str, Any]:
        error = {"error": code, "message": message, **extra}
        emit("sync_error", error)
        return {"status": "error", **error}


def cordiax_socket_error(exc: Exception) -> dict[str, Any]:
    """This namespace's error handler: the Cordiax client only listens for `sync_error`."""
    body = socket_error(exc)
    emit("sync_error", {"error": body["error"], "message": body["message"]})
    return body
