"""Peer for the azure backend: Microsoft's Azurite (npm), blob service only.

Install once: `npm install --prefix .peers azurite` (`.peers/` at the repo root is git-ignored).
Azurite keeps its state on disk in --location, so `peer.process.stop()` then `.start()` on the
same port finds every container again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncapp.storage import open_remote
from tests.peers.process import Peer, ServerProcess, free_port, peer_missing, port_open

REPO = Path(__file__).resolve().parents[2]
AZURITE = REPO / ".peers" / "node_modules" / ".bin" / "azurite-blob"
#: Azurite's well-known development account (published in Microsoft's documentation).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def connection_string(port: int, key: str = ACCOUNT_KEY) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={key};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
    )


def admin_client(settings: dict[str, Any]) -> Any:
    """A plain SDK client for set-up and inspection (not the code under test)."""
    from azure.storage.blob import BlobServiceClient, LinearRetry

    return BlobServiceClient.from_connection_string(
        settings["connection_string"],
        retry_policy=LinearRetry(backoff=0, retry_total=0),
        connection_timeout=5,
        read_timeout=10,
    )


def new_container(settings: dict[str, Any]) -> str:
    name = f"t{uuid.uuid4().hex[:20]}"
    with admin_client(settings) as client:
        client.create_container(name)
    return name


def drop_container(settings: dict[str, Any], name: str) -> None:
    with admin_client(settings) as client:
        client.delete_container(name)


def start_azurite(base: Path) -> Peer:
    """Start Azurite's blob service with its state under `base`; `.process.stop()` stops it."""
    if not AZURITE.exists():
        peer_missing("azurite not installed: npm install --prefix .peers azurite")
    (base / "data").mkdir(exist_ok=True)
    port = free_port()
    argv = [
        str(AZURITE),
        "--skipApiVersionCheck",
        "--disableTelemetry",
        "--silent",
        "--location",
        str(base / "data"),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
    ]
    process = ServerProcess("azurite-blob", argv, ready=lambda: port_open(port), log_dir=base)
    process.start()
    return Peer("azure", {"connection_string": connection_string(port)}, process)


@pytest.fixture(scope="session")
def azure_server(tmp_path_factory) -> Iterator[Peer]:
    peer = start_azurite(tmp_path_factory.mktemp("azurite"))
    try:
        yield peer
    finally:
        peer.process.stop()


@pytest.fixture
def azure_remote(azure_server: Peer) -> Iterator[Any]:
    """A remote on a fresh container of its own, removed afterwards."""
    container = new_container(azure_server.settings)
    remote = open_remote("azure", container=container, **azure_server.settings)
    try:
        yield remote
    finally:
        remote.close()
        if azure_server.process.running:
            drop_container(azure_server.settings, container)
