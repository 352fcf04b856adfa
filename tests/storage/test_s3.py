"""The s3 backend on a real moto server: multipart uploads, failures, clear probe messages."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime

import pytest
import requests

import syncapp.storage.s3 as s3_backend
from syncapp.storage import (
    ChecksumMismatch,
    RemoteConfigError,
    RemoteError,
    RemoteNotFound,
    RemoteUnavailable,
    open_remote,
)
from syncapp.storage.parts import part_sizes
from syncapp.storage.s3 import MAX_PART, MAX_PARTS
from tests.peers.process import free_port
from tests.peers.s3 import BUCKET, admin_client, empty_prefix, start_moto
from tests.streams import PatternStream, md5_of_stream, pattern_md5

pytestmark = pytest.mark.peer

MiB = 1024 * 1024


@pytest.fixture
def small_parts(s3_server):
    """A remote that switches to multipart above 5 MiB, with S3's smallest parts (5 MiB)."""
    prefix = f"mp-{uuid.uuid4().hex[:12]}"
    remote = open_remote(
        "s3", prefix=prefix, multipart_threshold=5 * MiB, part_size=5 * MiB, **s3_server.settings
    )
    yield remote
    remote.close()
    if s3_server.process.running:
        empty_prefix(s3_server.settings, prefix + "/")


def pending_uploads(settings, prefix: str) -> list:
    client = admin_client(settings)
    try:
        return client.list_multipart_uploads(Bucket=settings["bucket"], Prefix=prefix).get(
            "Uploads", []
        )
    finally:
        client.close()


def head(settings, key: str) -> dict:
    client = admin_client(settings)
    try:
        return client.head_object(Bucket=settings["bucket"], Key=key)
    finally:
        client.close()


def test_multipart_write_round_trips_with_the_services_checksum(small_parts, s3_server):
    size = 12 * MiB + 3
    expected = pattern_md5(size, seed=11)
    entry = small_parts.write("mp/big.bin", PatternStream(size, seed=11), size=size, md5=expected)
    assert entry.md5 == expected
    assert entry.size == size
    # Really multipart (3 parts): its ETag is not an MD5, yet checksum() knows the MD5.
    raw = head(s3_server.settings, f"{small_parts.prefix}/mp/big.bin")
    assert raw["ETag"].strip('"').endswith("-3")
    assert raw["Metadata"]["md5"] == expected
    assert small_parts.checksum("mp/big.bin") == expected
    assert small_parts.stat("mp/big.bin").md5 == expected
    with small_parts.open_read("mp/big.bin") as reader:
        assert md5_of_stream(reader) == expected


def test_multipart_write_of_unknown_size_round_trips(small_parts):
    size = 11 * MiB
    stream = PatternStream(size, seed=12)
    entry = small_parts.write("unsized.bin", stream)  # no size, no md5: parts planned on the way
    assert entry.md5 == pattern_md5(size, seed=12)
    assert small_parts.stat("unsized.bin").size == size
    # Without an MD5 known up front a multipart object has no service-side MD5 to report.
    assert small_parts.checksum("unsized.bin") in (None, entry.md5)
    with small_parts.open_read("unsized.bin") as reader:
        assert md5_of_stream(reader) == entry.md5


def test_single_put_checksum_is_the_md5(s3_remote):
    data = b"single part" * 5000
    entry = s3_remote.write("one.bin", io.BytesIO(data))
    assert s3_remote.checksum("one.bin") == entry.md5
    listed = {e.path: e for e in s3_remote.iter_entries()}
    assert listed["one.bin"].md5 == entry.md5


def test_failed_multipart_write_leaves_no_object_and_no_pending_upload(small_parts, s3_server):
    stream = PatternStream(20 * MiB, seed=13, fail_after=12 * MiB)
    with pytest.raises((OSError, RemoteError)):
        small_parts.write("broken.bin", stream, size=20 * MiB)
    assert small_parts.stat("broken.bin") is None
    assert list(small_parts.iter_entries()) == []
    assert pending_uploads(s3_server.settings, small_parts.prefix + "/") == []


def test_multipart_md5_mismatch_keeps_previous_version_and_aborts(small_parts, s3_server):
    small_parts.write("keep.bin", io.BytesIO(b"previous"))
    with pytest.raises(ChecksumMismatch):
        small_parts.write("keep.bin", PatternStream(11 * MiB, seed=14), md5="0" * 32)
    with small_parts.open_read("keep.bin") as reader:
        assert reader.read() == b"previous"
    assert pending_uploads(s3_server.settings, small_parts.prefix + "/") == []


def test_multipart_size_mismatch_is_refused(small_parts, s3_server):
    with pytest.raises(RemoteError, match="expected"):
        small_parts.write("short.bin", PatternStream(11 * MiB, seed=15), size=12 * MiB)
    assert small_parts.stat("short.bin") is None
    assert pending_uploads(s3_server.settings, small_parts.prefix + "/") == []


def test_modified_time_is_kept(s3_remote):
    stamp = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
    s3_remote.write("dated.txt", io.BytesIO(b"old"), modified=stamp)
    assert s3_remote.stat("dated.txt").modified == stamp


def test_write_while_server_is_stopped_is_unavailable(s3_server, s3_remote):
    s3_remote.write("before.txt", io.BytesIO(b"x"))
    s3_server.process.stop()
    try:
        with pytest.raises(RemoteUnavailable):
            s3_remote.write("during.txt", io.BytesIO(b"y"))
        with pytest.raises(RemoteUnavailable):
            s3_remote.stat("before.txt")
    finally:
        s3_server.process.start()
    # The readiness check re-created the bucket moto forgot, so the remote works again.
    s3_remote.write("after.txt", io.BytesIO(b"z"))
    assert s3_remote.stat("after.txt").size == 1


def test_missing_bucket_probe_names_it(s3_server):
    settings = {**s3_server.settings, "bucket": "no-such-bucket-here"}
    with open_remote("s3", **settings) as remote:
        result = remote.probe()
    assert not result.success
    assert "'no-such-bucket-here' does not exist" in result.message


def test_closed_port_probe_says_unreachable(s3_server):
    settings = {**s3_server.settings, "endpoint_url": f"http://127.0.0.1:{free_port()}"}
    with open_remote("s3", max_attempts=1, timeout=5, **settings) as remote:
        result = remote.probe()
    assert not result.success
    assert "cannot reach" in result.message


def test_unknown_host_probe_says_unreachable(s3_server):
    settings = {**s3_server.settings, "endpoint_url": "http://no-such-host.invalid:9000"}
    with open_remote("s3", max_attempts=1, timeout=5, **settings) as remote:
        result = remote.probe()
    assert not result.success
    assert "cannot reach http://no-such-host.invalid:9000" in result.message


def test_missing_file_operations_are_not_found(s3_remote):
    with pytest.raises(RemoteNotFound):
        s3_remote.open_read("absent.txt")
    with pytest.raises(RemoteNotFound):
        s3_remote.delete("absent.txt")


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    """A second moto server that checks credentials (the shared one accepts any key)."""
    peer = start_moto(tmp_path_factory.mktemp("moto-auth"), name="moto-s3-auth")
    settings = peer.settings
    iam = _iam(settings)
    iam.create_user(UserName="syncapp")
    iam.put_user_policy(
        UserName="syncapp",
        PolicyName="all-s3",
        PolicyDocument=(
            '{"Version": "2012-10-17", "Statement": '
            '[{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'
        ),
    )
    key = iam.create_access_key(UserName="syncapp")["AccessKey"]
    # From here on every request must be signed with a key moto's IAM knows.
    requests.post(
        f"{settings['endpoint_url']}/moto-api/reset-auth", data=b"0", timeout=5
    ).raise_for_status()
    settings.update(access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"])
    try:
        yield peer
    finally:
        peer.process.stop()


def _iam(settings):
    import boto3

    return boto3.client(
        "iam",
        endpoint_url=settings["endpoint_url"],
        region_name="us-east-1",
        aws_access_key_id="setup",
        aws_secret_access_key="setup",
    )


def test_good_credentials_pass_on_the_checking_server(auth_server):
    with open_remote("s3", prefix="ok", **auth_server.settings) as remote:
        result = remote.probe()
    assert result.success, result.message


def test_unknown_access_key_probe_says_access_denied(auth_server):
    settings = {**auth_server.settings, "access_key_id": "AKIANOSUCHKEY0000000"}
    with open_remote("s3", **settings) as remote:
        result = remote.probe()
    assert not result.success
    assert "access denied" in result.message
    assert "InvalidAccessKeyId" in result.message


def test_wrong_secret_probe_says_access_denied(auth_server):
    settings = {**auth_server.settings, "secret_access_key": "wrong-secret"}
    with open_remote("s3", **settings) as remote:
        result = remote.probe()
    assert not result.success
    assert "SignatureDoesNotMatch" in result.message
    assert "wrong-secret" not in result.message


def test_describe_holds_no_secret():
    remote = open_remote(
        "s3",
        bucket=BUCKET,
        prefix="p",
        access_key_id="AKIA",
        secret_access_key="very-secret",
        session_token="tok-secret",
        endpoint_url="http://127.0.0.1:1",
    )
    text = remote.describe()
    assert "very-secret" not in text and "tok-secret" not in text
    assert "s3://syncapp-test/p" in text


@pytest.mark.parametrize(
    "settings",
    [
        {"access_key_id": "only-the-id"},
        {"part_size": 1024},
        {"addressing_style": "sideways"},
        {"endpoint_url": "127.0.0.1:9000"},
        {"session_token": "t"},
        {"part_size": "lots"},
    ],
)
def test_bad_settings_are_config_errors(settings):
    with pytest.raises(RemoteConfigError):
        open_remote("s3", bucket=BUCKET, **settings)


def test_numeric_settings_may_arrive_as_strings():
    remote = open_remote("s3", bucket=BUCKET, part_size=str(6 * MiB), timeout="12.5")
    assert (remote.part_size, remote.timeout) == (6 * MiB, 12.5)


def _part_sizes(part_size, total):
    return part_sizes(part_size, total, largest=MAX_PART, most=MAX_PARTS, grow_every=1000)


def test_part_sizes_stay_within_the_part_limit():
    known = 200 * 1024 * MiB
    size = next(_part_sizes(8 * MiB, known))
    assert size * MAX_PARTS >= known
    planned = _part_sizes(8 * MiB, None)
    capacity = sum(next(planned) for _ in range(MAX_PARTS))
    assert capacity >= 400 * 1024 * MiB


def test_a_move_above_the_single_copy_limit_copies_by_parts(small_parts, s3_server, monkeypatch):
    """CopyObject takes 5 GiB at most; beyond, the service copies ranges (UploadPartCopy). The
    limit is lowered so that a 12 MiB object takes that path on the real server."""
    size, when = 12 * MiB, datetime(2022, 2, 2, tzinfo=UTC)
    small_parts.write("big.bin", PatternStream(size, seed=12), modified=when)
    monkeypatch.setattr(s3_backend, "MAX_SINGLE_PUT", 5 * MiB)
    moved = small_parts.move("big.bin", "kept/big.bin")
    assert moved.size == size and moved.modified == when
    assert small_parts.stat("big.bin") is None
    with small_parts.open_read("kept/big.bin") as reader:
        assert md5_of_stream(reader) == pattern_md5(size, seed=12)
    client = admin_client(s3_server.settings)
    try:
        assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    finally:
        client.close()
