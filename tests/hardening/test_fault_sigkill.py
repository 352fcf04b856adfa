"""SIGKILL of the app under gunicorn in the middle of the work (issue 11): after a restart
nothing half-stored is visible and the work completes.

The sync run has its own test (tests/syncs/test_engine.py, a run SIGKILLed in a child process),
and so do an upload cut by a killed server (tests/backups/test_interruptions.py).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.cordiax.client import CordiaxLikeClient
from tests.cordiax.payloads import sha256, zip_bundle
from tests.live import LiveServer
from tests.peers.process import wait_until
from tests.streams import PatternStream

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
MEMBERS = 1500  # ~5 ms each with its fsync: the kill lands in the middle of the extraction


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path)
    live.prepare()
    live.start()
    yield live
    live.stop()


def device_folder(server: LiveServer, device: str) -> Path:
    return Path(server.env["SYNCAPP_INSTANCE_PATH"]) / "cordiax" / "1" / device


def extracted(folder: Path) -> list[Path]:
    """Files already extracted into a version's folder (ZIP members), whatever the version."""
    if not folder.exists():
        return []
    return [p for p in folder.rglob("*") if p.is_file() and p.parent != folder]


def snapshots(server: LiveServer, device: str) -> list[dict]:
    response = requests.get(
        f"{server.url}/api/v1/cordiax/devices/{device}/snapshots",
        headers=server.headers,
        timeout=30,
    )
    if response.status_code == 404:
        return []
    assert response.status_code == 200, response.text
    return response.json()


def test_a_snapshot_push_killed_mid_store_is_invisible_and_the_retry_stores_it_whole(server):
    bundle = zip_bundle(
        {"cordiax.db": os.urandom(64 * 1024)}
        | {f"documentos/{n:05}.pdf": os.urandom(2048) for n in range(MEMBERS)}
    )
    folder = device_folder(server, "killed-pc")
    url = f"{server.url}?token={server.token}&device=killed-pc"
    first = CordiaxLikeClient(bundle).connect(url)
    try:
        wait_until(lambda: extracted(folder), timeout=120, what="the extraction to begin")
        server.process.kill()
    finally:
        first.close()
    # the kill landed in the middle: members on the disk, but no latest.json and no ack
    assert 0 < len(extracted(folder)) < MEMBERS
    assert not (folder / "latest.json").exists()
    assert first.acks.empty()

    server.start()
    assert snapshots(server, "killed-pc") == []  # nothing half-stored is listed

    # Cordiax reconnects and pushes the same bytes again on the new sync_request
    again = CordiaxLikeClient(bundle).connect(url)
    try:
        ack = again.next_ack(timeout=120)
    finally:
        again.close()
    assert ack["status"] == "ok" and ack["sha256"] == sha256(bundle) and ack["created"] is True
    assert [s["version"] for s in snapshots(server, "killed-pc")] == [ack["version"]]
    latest = json.loads((folder / "latest.json").read_text())
    assert latest["version"] == ack["version"]
    assert len(list((folder / ack["version"]).rglob("*.pdf"))) == MEMBERS
    download = requests.get(
        f"{server.url}/api/v1/cordiax/devices/killed-pc/latest/download",
        headers=server.headers,
        timeout=60,
    )
    assert download.status_code == 200 and sha256(download.content) == sha256(bundle)


def job(server: LiveServer, job_id: str) -> dict:
    response = requests.get(
        f"{server.url}/api/v1/status/{job_id}", headers=server.headers, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def s3_keys(settings: dict, prefix: str) -> list[str]:
    from tests.peers.s3 import admin_client

    client = admin_client(settings, timeout=60)
    try:
        listed = client.list_objects_v2(Bucket=settings["bucket"], Prefix=prefix + "/")
    finally:
        client.close()
    return [item["Key"] for item in listed.get("Contents", [])]


@pytest.mark.peer
def test_a_replication_killed_mid_copy_resumes_after_the_restart(tmp_path, s3_server):
    from tests.peers.s3 import admin_client, empty_prefix

    prefix = f"killed-{uuid.uuid4().hex[:10]}"
    # A short lease: the dead process's claim is taken back after 5 s instead of a minute.
    env = {"SYNCAPP_CLOUD_S3_REMOTE": "cloud-s3", "SYNCAPP_CLOUD_REPLICATION_LEASE": "5"}
    server = LiveServer(tmp_path, env=env)
    server.prepare()
    server.start()
    try:
        created = requests.post(
            f"{server.url}/api/v1/remotes",
            headers=server.headers,
            json={
                "name": "cloud-s3",
                "kind": "s3",
                "settings": {**s3_server.settings, "prefix": prefix},
            },
            timeout=30,
        )
        assert created.status_code == 201, created.text
        data = PatternStream(64 * MiB, seed=7).read()
        reply = requests.post(
            f"{server.url}/api/v1/upload",
            headers=server.headers,
            files={"file": ("big.bin", io.BytesIO(data))},
            data={"sync_s3": "true"},
            timeout=300,
        )
        assert reply.status_code == 202, reply.text
        job_id = reply.json()["job_id"]

        def copying() -> bool:
            [target] = job(server, job_id)["targets"]
            return target["status"] == "running" and target["bytes_done"] > 0

        wait_until(copying, timeout=120, what="the copy to S3 to be under way")
        server.process.kill()
        # the copy was cut: nothing is visible in the bucket (an unfinished upload is no object)
        assert s3_keys(s3_server.settings, prefix) == []

        server.start()
        # the dead process's claim runs out and the restarted process takes the copy up again
        wait_until(
            lambda: job(server, job_id)["status"] in ("completed", "failed"),
            timeout=300,
            what="the replication to complete after the restart",
        )
        final = job(server, job_id)
        assert final["status"] == "completed", final
        keys = s3_keys(s3_server.settings, prefix)
        assert len(keys) == 1, keys  # one object, whole, no second copy beside it
        client = admin_client(s3_server.settings, timeout=60)
        try:
            body = client.get_object(Bucket=s3_server.settings["bucket"], Key=keys[0])[
                "Body"
            ].read()
        finally:
            client.close()
        assert hashlib.md5(body).hexdigest() == hashlib.md5(data).hexdigest()
    finally:
        server.stop()
        empty_prefix(s3_server.settings, prefix + "/")
