"""A stopping worker closes its Socket.IO connections at once.

Under gunicorn, a WebSocket is a request that never ends by itself: on SIGTERM the worker
waited out its whole graceful timeout (60 s) for the connected Cordiax and dashboard clients,
then tore the thread pool down under them, and each late-finishing one logged "cannot schedule
new futures after shutdown". Closing them when the stop begins lets those requests end within
a moment, and the worker exits as soon as the requests really in flight are done.

The connections are aborted at the transport, without engine.io's CLOSE packet: a
python-socketio client (Cordiax) treats a CLOSE as "the server sent me away" and never
reconnects, while a dropped transport makes it reconnect, to the restarted server.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

from .extensions import socketio

log = logging.getLogger(__name__)


def close_socket_connections() -> int:
    """Aborts every engine.io connection of this process; returns how many there were."""
    server = getattr(socketio, "server", None)
    if server is None:
        return 0
    sockets = list(server.eio.sockets.values())
    for sock in sockets:
        try:
            sock.close(wait=False, abort=True)
        except Exception:  # one broken connection must not keep the others open
            log.debug("closing a Socket.IO connection failed", exc_info=True)
    return len(sockets)


def close_sockets_on_sigterm() -> None:
    """Chains onto the worker's SIGTERM handler (which starts the graceful stop): the
    connections are closed in a thread, as a signal handler must not block."""
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> Any:
        threading.Thread(target=close_socket_connections, name="close-sockets", daemon=True).start()
        if callable(previous):
            return previous(signum, frame)
        return None

    signal.signal(signal.SIGTERM, on_sigterm)
