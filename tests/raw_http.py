"""Requests written by hand on one socket: pipelined, kept alive, or cut short, as the
`requests` library never sends them."""

from __future__ import annotations

import http.client
import socket


def request_bytes(method: str, path: str, port: int, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class _Shared:
    """One reader for every response of a connection, which a response may not close: read
    one after the other, they never lose the read-ahead of the previous one."""

    def __init__(self, reader) -> None:
        self._reader = reader

    def __getattr__(self, name: str):
        return getattr(self._reader, name)

    def close(self) -> None:
        pass


class _OneFile:
    """What http.client.HTTPResponse needs of a socket."""

    def __init__(self, reader) -> None:
        self._reader = _Shared(reader)

    def makefile(self, *args, **kwargs):
        return self._reader


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self._reader = self.sock.makefile("rb")

    def send(self, *requests: bytes) -> None:
        """Several requests in one write: the server reads the next one's bytes with the body."""
        self.sock.sendall(b"".join(requests))

    def response(self) -> tuple[int, dict[str, str], bytes]:
        reply = http.client.HTTPResponse(_OneFile(self._reader))  # type: ignore[arg-type]
        reply.begin()
        return reply.status, dict(reply.getheaders()), reply.read()

    def close(self) -> None:
        self._reader.close()
        self.sock.close()
