"""Peer for the s3 backend: moto's S3 server (moto[server], installed in the venv).

moto keeps its state in memory, so a restarted server has lost the bucket: the readiness check
(`ServerProcess.ready`, which `process.start()` runs) re-creates it, so fault tests can simply call
`peer.process.stop()` and `peer.process.start()`.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from syncapp.storage import open_remote
from tests.peers.process import Peer, ServerProcess, free_port, peer_missing, port_open

BUCKET = "syncapp-test"


def moto_server_path() -> Path:
    return Path(sys.executable).parent / "moto_server"


def admin_client(settings: dict[str, Any], timeout: float = 5) -> Any:
    """A plain boto3 client for set-up and inspection (not the code under test)."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"max_attempts": 1},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.client(
        "s3",
        endpoint_url=settings["endpoint_url"],
        region_name=settings["region"],
        aws_access_key_id=settings["access_key_id"],
        aws_secret_access_key=settings["secret_access_key"],
        config=config,
    )


def bucket_ready(settings: dict[str, Any]) -> Callable[[], bool]:
    """Readiness check that also (re-)creates the bucket, which a restarted moto has forgotten."""
    port = int(settings["endpoint_url"].rsplit(":", 1)[1])

    def ready() -> bool:
        if not port_open(port):
            return False
        import botocore.exceptions as bex

        client = admin_client(settings, timeout=2)
        try:
            client.create_bucket(Bucket=settings["bucket"])
        except bex.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        except (bex.ConnectionError, bex.HTTPClientError):
            return False
        finally:
            client.close()
        return True

    return ready


def start_moto(
    log_dir: Path,
    name: str = "moto-s3",
    env: dict[str, str] | None = None,
    ready: Callable[[dict[str, Any]], Callable[[], bool]] = bucket_ready,
) -> Peer:
    """Start a moto S3 server on a free port; `env` can e.g. switch on moto's IAM checks."""
    executable = moto_server_path()
    if not executable.exists():
        peer_missing("moto_server not found: pip install 'moto[server]' (requirements-dev.txt)")
    port = free_port()
    settings = {
        "bucket": BUCKET,
        "endpoint_url": f"http://127.0.0.1:{port}",
        "access_key_id": "testing",
        "secret_access_key": "testing-secret",
        "region": "us-east-1",
    }
    process = ServerProcess(
        name,
        [str(executable), "-H", "127.0.0.1", "-p", str(port)],
        ready=ready(settings),
        log_dir=log_dir,
        env=env,
    )
    process.start()
    return Peer("s3", settings, process)


def empty_prefix(settings: dict[str, Any], prefix: str) -> None:
    """Remove every object and pending multipart upload under `prefix`."""
    client = admin_client(settings)
    try:
        bucket = settings["bucket"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=item["Key"])
        uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
        for upload in uploads.get("Uploads", []):
            client.abort_multipart_upload(
                Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
    finally:
        client.close()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[Peer]:
    peer = start_moto(tmp_path_factory.mktemp("moto-s3"))
    try:
        yield peer
    finally:
        peer.process.stop()


@pytest.fixture
def s3_remote(s3_server: Peer) -> Iterator[Any]:
    prefix = f"t-{uuid.uuid4().hex[:12]}"
    remote = open_remote("s3", prefix=prefix, **s3_server.settings)
    try:
        yield remote
    finally:
        remote.close()
        if s3_server.process.running:
            empty_prefix(s3_server.settings, prefix + "/")


def gcs_settings(peer: Peer) -> dict[str, Any]:
    """What an administrator types for a `gcs` remote (an HMAC key's access id and secret, the
    bucket), aimed at the S3 peer instead of https://storage.googleapis.com."""
    return {
        "bucket": peer.settings["bucket"],
        "access_key_id": peer.settings["access_key_id"],
        "secret_access_key": peer.settings["secret_access_key"],
        "endpoint_url": peer.settings["endpoint_url"],
    }


@pytest.fixture
def gcs_remote(s3_server: Peer) -> Iterator[Any]:
    prefix = f"gcs-{uuid.uuid4().hex[:12]}"
    remote = open_remote("gcs", prefix=prefix, **gcs_settings(s3_server))
    try:
        yield remote
    finally:
        remote.close()
        if s3_server.process.running:
            empty_prefix(s3_server.settings, prefix + "/")
