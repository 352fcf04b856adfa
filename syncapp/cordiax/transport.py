"""An over-size Cordiax push is answered with `sync_error`, however large it is.

engine.io (threading mode) reads a whole WebSocket message, then finds it above its buffer limit
(`max_http_buffer_size`) and closes the connection without a word: the Cordiax client sees a
dropped transport, reconnects, pushes the same bytes again from its connect handler, and so on
forever (4 x 252 MB in 3 minutes). The message has been read by then, so refusing it costs
nothing more: this WebSocket wrapper replaces an over-size `sync_data` event for /cordiax-sync/
by a small one, `{"transport_oversize": <bytes>}`, which the namespace answers with `too_large`
and the limit, on a connection that stays open. Other over-size messages keep engine.io's
behaviour (the connection closes).
"""

from __future__ import annotations

import re
from typing import Any

from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI

#: an engine.io message (4) carrying a Socket.IO event (2) for the namespace, with an optional
#: ack id: `42/cordiax-sync/,17["sync_data",...`
_PUSH = re.compile(r'42/cordiax-sync/,(\d*)\["sync_data"')
OVERSIZE_KEY = "transport_oversize"


class OversizePushAnswered(SimpleWebSocketWSGI):
    def __init__(self, handler: Any, server: Any, **kwargs: Any) -> None:
        super().__init__(handler, server, **kwargs)
        self._limit = server.max_http_buffer_size

    def wait(self) -> Any:
        message = super().wait()
        if isinstance(message, str) and self._limit and len(message) > self._limit:
            push = _PUSH.match(message[:64])
            if push:
                size = len(message)
                del message  # the hex is not needed: only its size
                return f'42/cordiax-sync/,{push.group(1)}["sync_data",{{"{OVERSIZE_KEY}":{size}}}]'
        return message


def answer_oversize_pushes(engineio_server: Any) -> None:
    """Makes `engineio_server` (threading mode) use the wrapper for its WebSockets."""
    drivers = getattr(engineio_server, "_async", None)
    adapter = drivers.get("websocket") if drivers else None
    if isinstance(adapter, type) and issubclass(adapter, SimpleWebSocketWSGI):
        # over whatever adapter is installed (socket_guard.py's limits stay in force)
        answering = type("OversizePushAnswered", (OversizePushAnswered, adapter), {})
        engineio_server._async = {**drivers, "websocket": answering}
