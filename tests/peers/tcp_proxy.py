"""A TCP forwarder the tests control: put it between the app and a real server (PostgreSQL, ...)
and stop it to make that server vanish for the app alone, without touching the shared server.

`stop()` closes the listening socket and cuts every open connection (the app sees its sockets
reset, as when the server dies); `start()` listens again on the same port.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

from tests.peers.process import free_port


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.connections = 0  # accepted so far, for tests that check the app went through here
        self.sent = 0  # bytes forwarded from the app to the server, for tests that count them

    @property
    def running(self) -> bool:
        return self._listener is not None

    def start(self) -> TcpProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            open_sockets, self._sockets = self._sockets, set()
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                # SO_LINGER 0: a reset, as from a crashed server; shutdown wakes the pipe threads
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
                self.connections += 1
            for source, sink in ((client, upstream), (upstream, client)):
                args = (source, sink, source is client)
                threading.Thread(target=self._pipe, args=args, daemon=True).start()

    def _holds(self, data: bytes) -> bool:
        """Whether to stop forwarding what the app sends on this connection from `data` on."""
        return False

    def _pipe(self, source: socket.socket, sink: socket.socket, outbound: bool) -> None:
        try:
            while data := source.recv(65536):
                if outbound and self._holds(data):
                    while source.recv(65536):  # read what the app sends, answer nothing
                        pass
                    break
                sink.sendall(data)
                if outbound:
                    with self._lock:
                        self.sent += len(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(sink)
            source.close()


class StallingProxy(TcpProxy):
    """Forwards to a real server until the app sends a request starting with `method` (b"PUT ",
    b"GET "): that request is read and never answered, as by a server that hangs mid-transfer.
    `skip` such requests are forwarded first. `stalled` is set when it happens; `stop()` cuts
    the held connection (the app sees a reset)."""

    def __init__(self, target_host: str, target_port: int, method: bytes, skip: int = 0) -> None:
        super().__init__(target_host, target_port)
        self.method = method
        self.skip = skip
        self.stalled = threading.Event()

    def _holds(self, data: bytes) -> bool:
        # a client sends a request once it has read the previous answer: each starts a read
        if not data.startswith(self.method):
            return False
        with self._lock:
            self.skip -= 1
            if self.skip >= 0:
                return False
        self.stalled.set()
        return True
