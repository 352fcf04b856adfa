"""A Socket.IO client that behaves exactly like the Cordiax desktop client (seed 002 / issue 5).

It registers connect / sync_request / disconnect on /cordiax-sync/, calls connect(url) without a
`namespaces` argument, and pushes {"data": "<hex>"} with a plain emit from its connect handler
and again for every sync_request. The sync_ack / sync_error observers are the test's own.
"""

from __future__ import annotations

import queue

import socketio

NAMESPACE = "/cordiax-sync/"


class CordiaxLikeClient:
    def __init__(self, payload: bytes) -> None:
        self.payload_hex = payload.hex()
        self.sio = socketio.Client(reconnection=False)
        self.acks: queue.Queue = queue.Queue()
        self.errors: queue.Queue = queue.Queue()
        self.sio.on("connect", self._push, namespace=NAMESPACE)
        self.sio.on("sync_request", lambda data=None: self._push(), namespace=NAMESPACE)
        self.sio.on("disconnect", lambda *args: None, namespace=NAMESPACE)
        self.sio.on("sync_ack", self.acks.put, namespace=NAMESPACE)
        self.sio.on("sync_error", self.errors.put, namespace=NAMESPACE)

    def _push(self) -> None:
        self.sio.emit("sync_data", {"data": self.payload_hex}, namespace=NAMESPACE)

    def connect(self, url: str) -> CordiaxLikeClient:
        self.sio.connect(url, wait_timeout=30)
        return self

    def next_ack(self, timeout: float = 60) -> dict:
        return self.acks.get(timeout=timeout)

    def next_error(self, timeout: float = 30) -> dict:
        return self.errors.get(timeout=timeout)

    def close(self) -> None:
        self.sio.disconnect()
