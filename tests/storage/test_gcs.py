"""The `gcs` kind (issue 17 item 19): Google Cloud Storage's XML API over the S3 backend, with
GCS-style settings (an HMAC key, a bucket) against the S3 peer. The storage contract runs on it
too (tests/test_storage_conformance.py, `gcs`)."""

from __future__ import annotations

import io
import uuid

import pytest

from syncapp.storage import RemoteConfigError, open_remote
from syncapp.storage.gcs import GCS_ENDPOINT
from tests.peers.s3 import BUCKET, admin_client, empty_prefix, gcs_settings
from tests.streams import PatternStream, md5_of_stream, pattern_md5

pytestmark = pytest.mark.peer

MiB = 1024 * 1024


def test_google_endpoint_path_style_and_region_auto_by_default():
    remote = open_remote(
        "gcs", bucket="photos", access_key_id="GOOG1EXAMPLE", secret_access_key="hmac-secret"
    )
    try:
        assert remote.endpoint_url == GCS_ENDPOINT
        client = remote.client  # built without I/O
        assert client.meta.region_name == "auto"  # the signing region GCS expects
        assert client.meta.config.s3["addressing_style"] == "path"
        assert remote.describe() == "Google Cloud Storage gs://photos"
        assert "hmac-secret" not in remote.describe()
    finally:
        remote.close()


@pytest.mark.parametrize("missing", ["access_key_id", "secret_access_key", "bucket"])
def test_an_hmac_key_and_a_bucket_are_required(missing):
    settings = {"bucket": "b", "access_key_id": "GOOG1X", "secret_access_key": "s"}
    del settings[missing]
    with pytest.raises(RemoteConfigError, match=missing):
        open_remote("gcs", **settings)


def test_s3_only_settings_are_not_offered():
    with pytest.raises(RemoteConfigError, match="region"):
        open_remote("gcs", bucket="b", access_key_id="k", secret_access_key="s", region="eu")


def test_files_round_trip_through_the_xml_api_protocol(s3_server, gcs_remote):
    gcs_remote.write("reports/2024/q1.pdf", io.BytesIO(b"quarter one"))
    with gcs_remote.open_read("reports/2024/q1.pdf") as reader:
        assert reader.read() == b"quarter one"
    assert [e.path for e in gcs_remote.iter_entries("reports")] == ["reports/2024/q1.pdf"]
    gcs_remote.delete("reports/2024/q1.pdf")
    assert gcs_remote.stat("reports/2024/q1.pdf") is None


def test_multipart_uploads_work_with_gcs_settings(s3_server):
    prefix = f"gcs-mp-{uuid.uuid4().hex[:12]}"
    remote = open_remote(
        "gcs",
        prefix=prefix,
        multipart_threshold=5 * MiB,
        part_size=5 * MiB,
        **gcs_settings(s3_server),
    )
    size = 12 * MiB
    try:
        entry = remote.write("big.bin", PatternStream(size, seed=7), size=size)
        assert entry.md5 == pattern_md5(size, seed=7)
        with remote.open_read("big.bin") as reader:
            assert md5_of_stream(reader) == pattern_md5(size, seed=7)
        client = admin_client(s3_server.settings)
        try:
            head = client.head_object(Bucket=BUCKET, Key=f"{prefix}/big.bin")
            assert head["ContentLength"] == size
        finally:
            client.close()
    finally:
        remote.close()
        empty_prefix(s3_server.settings, prefix + "/")
