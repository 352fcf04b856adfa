"""A move within one remote sends no content: the backends that rename or copy on the server
(`Remote.capabilities`) are measured between syncapp and their real server, through a proxy
that counts the bytes syncapp sends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from syncapp.storage import Remote, open_remote
from tests.peers.azure import drop_container, new_container
from tests.peers.s3 import empty_prefix
from tests.peers.tcp_proxy import TcpProxy
from tests.storage.proxied import proxied_settings, server_port
from tests.streams import PatternStream, md5_of_stream, pattern_md5

MiB = 1024 * 1024
SIZE = 8 * MiB
#: what a move may send: requests and their headers, never the content
REQUESTS_ONLY = 256 * 1024

pytestmark = pytest.mark.peer


@pytest.fixture(params=["smb", "webdav", "s3", "azure"])
def proxied(request) -> Iterator[tuple[Remote, TcpProxy]]:
    """A remote of each kind that moves natively, reached through a counting proxy."""
    kind = request.param
    peer = request.getfixturevalue(f"{kind}_server")
    proxy = TcpProxy("127.0.0.1", server_port(kind, peer.settings)).start()
    settings = proxied_settings(kind, peer.settings, proxy.port)
    place = f"move-{uuid.uuid4().hex[:12]}"
    where = {"smb": "remote_path", "webdav": "remote_path", "s3": "prefix"}
    if kind == "azure":
        place = new_container(peer.settings)
        where["azure"] = "container"
    remote = open_remote(kind, **settings, **{where[kind]: place})
    try:
        yield remote, proxy
    finally:
        for entry in list(remote.iter_entries(include_temp=True)):
            remote.delete(entry.path)
        remote.close()
        proxy.stop()
        if kind == "s3":
            empty_prefix(peer.settings, place + "/")
        elif kind == "azure":
            drop_container(peer.settings, place)


def test_a_move_sends_no_content(proxied):
    remote, proxy = proxied
    assert remote.capabilities.move or remote.capabilities.copy
    remote.write("incoming/archive.bin", PatternStream(SIZE, seed=11), size=SIZE)
    assert proxy.sent >= SIZE  # the proxy sees what syncapp sends
    before = proxy.sent

    entry = remote.move("incoming/archive.bin", "kept/in a new folder/archive.bin")

    assert proxy.sent - before < REQUESTS_ONLY
    assert entry.size == SIZE
    assert remote.stat("incoming/archive.bin") is None
    with remote.open_read("kept/in a new folder/archive.bin") as reader:
        assert md5_of_stream(reader) == pattern_md5(SIZE, seed=11)
