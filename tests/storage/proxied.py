"""A peer's settings pointed at a `TcpProxy` in front of it, for tests that count or cut what
syncapp sends to a real server."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.peers.azure import connection_string


def proxied_settings(kind: str, settings: dict[str, Any], proxy_port: int) -> dict[str, Any]:
    """`settings` of a peer with its address pointed at a proxy on `proxy_port`."""
    if kind == "smb":
        return {**settings, "port": proxy_port}
    if kind == "webdav":
        url = urlsplit(settings["url"])
        return {**settings, "url": url._replace(netloc=f"127.0.0.1:{proxy_port}").geturl()}
    if kind == "s3":
        return {**settings, "endpoint_url": f"http://127.0.0.1:{proxy_port}"}
    return {**settings, "connection_string": connection_string(proxy_port)}  # azure


def server_port(kind: str, settings: dict[str, Any]) -> int:
    if kind == "smb":
        return int(settings["port"])
    if kind == "azure":
        endpoint = dict(
            part.split("=", 1) for part in settings["connection_string"].split(";") if part
        )["BlobEndpoint"]
        return int(urlsplit(endpoint).port or 0)
    return int(urlsplit(settings["url" if kind == "webdav" else "endpoint_url"]).port or 0)
