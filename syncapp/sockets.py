"""What every Socket.IO namespace shares: refusing client-sent reserved events, and the error
handler that answers an event whose handler raised (through the one mapping of
failures.failure_for)."""

from __future__ import annotations

import logging
from typing import Any

from flask_socketio import Namespace

from .extensions import db
from .failures import failure_for

log = logging.getLogger(__name__)


def socket_error(exc: Exception) -> dict[str, Any]:
    """Socket.IO's default error handler: a handler that raised answers the event's ack with an
    error body (a client waiting on `call()` is not left hanging) and the failure is logged,
    instead of a traceback in a dying thread. Outages are answered as HTTP answers them
    (failures.failure_for); fuzzing finds two other kinds: a client sending more arguments than
    the handler takes (its fault), and anything else (ours)."""
    try:
        db.session.rollback()
    except Exception:  # the database connection is gone; the pool discards it
        log.debug("rollback after a Socket.IO handler error failed", exc_info=True)
    failure = failure_for(exc)
    if failure is not None:
        if failure.outage is not None:
            log.warning("%s in a Socket.IO handler: %s", failure.outage, exc.__class__.__name__)
        code, message = failure.code, failure.message
    elif isinstance(exc, TypeError) and "positional argument" in str(exc):
        log.info("refused a Socket.IO event with unexpected arguments: %s", exc)
        code, message = "bad_request", "Unexpected arguments for this event."
    else:
        log.error("unhandled error in a Socket.IO handler", exc_info=exc)
        code, message = "internal_error", "An internal error occurred; it has been logged."
    return {"status": "error", "error": code, "message": message}


class GuardedNamespace(Namespace):
    """python-socketio delivers an ordinary event named "connect" or "disconnect" from a client to
    those handlers, mid-connection (found by fuzzing): it would re-run authentication or make the
    server forget the client while it stays connected. Only the server's own calls get through:
    a real connect hands over this connection's WSGI environ, a real disconnect happens once the
    client is already marked as leaving."""

    def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect") and not self._from_server(event, args):
            log.info("refused a client-sent %r event on %s", event, self.namespace)
            return {"status": "error", "error": "bad_request", "message": "Reserved event name."}
        return super().trigger_event(event, *args)

    def _from_server(self, event: str, args: tuple[Any, ...]) -> bool:
        if not args or self.server is None:
            return True
        sid = args[0]
        if event == "connect":
            return len(args) > 1 and args[1] is self.server.get_environ(sid, self.namespace)
        return not self.server.manager.is_connected(sid, self.namespace)
