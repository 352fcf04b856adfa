"""The azure backend on a real Azurite: staged blocks, failures, and clear probe messages."""

from __future__ import annotations

import base64
import io
import os
from datetime import UTC, datetime, timedelta

import pytest
from azure.storage.blob import ContainerSasPermissions, generate_container_sas

from syncapp.storage import (
    ChecksumMismatch,
    RemoteConfigError,
    RemoteError,
    RemoteNotFound,
    RemoteUnavailable,
    open_remote,
)
from tests.peers.azure import (
    ACCOUNT,
    ACCOUNT_KEY,
    admin_client,
    connection_string,
    drop_container,
    new_container,
)
from tests.peers.process import free_port
from tests.streams import PatternStream, md5_of_stream, pattern_md5

pytestmark = pytest.mark.peer

MiB = 1024 * 1024


@pytest.fixture
def small_blocks(azure_server):
    """A remote staging 1 MiB blocks, so a few MiB already take the block-list path."""
    container = new_container(azure_server.settings)
    remote = open_remote("azure", container=container, block_size=MiB, **azure_server.settings)
    yield remote
    remote.close()
    if azure_server.process.running:
        drop_container(azure_server.settings, container)


def committed_blocks(settings, container: str, name: str) -> list:
    with admin_client(settings) as client:
        committed, _ = client.get_blob_client(container, name).get_block_list("committed")
    return committed


def test_block_staged_blob_checksum_is_the_md5(small_blocks, azure_server):
    size = 5 * MiB + 123
    expected = pattern_md5(size, seed=21)
    entry = small_blocks.write("blocks/big.bin", PatternStream(size, seed=21), size=size)
    assert entry.md5 == expected
    assert (
        len(committed_blocks(azure_server.settings, small_blocks.container, "blocks/big.bin")) == 6
    )
    assert small_blocks.checksum("blocks/big.bin") == expected
    listed = {e.path: e for e in small_blocks.iter_entries()}
    assert listed["blocks/big.bin"].md5 == expected
    with small_blocks.open_read("blocks/big.bin") as reader:
        assert md5_of_stream(reader) == expected


def test_single_upload_checksum_is_the_md5(azure_remote):
    data = os.urandom(100_000)
    entry = azure_remote.write("small.bin", io.BytesIO(data))
    assert azure_remote.checksum("small.bin") == entry.md5
    assert azure_remote.stat("small.bin").size == len(data)


def test_failed_block_write_leaves_nothing_visible(small_blocks):
    small_blocks.write("kept.bin", io.BytesIO(b"previous"))
    stream = PatternStream(6 * MiB, seed=22, fail_after=4 * MiB)
    with pytest.raises((OSError, RemoteError)):
        small_blocks.write("kept.bin", stream)
    with pytest.raises((OSError, RemoteError)):
        small_blocks.write("new.bin", PatternStream(6 * MiB, seed=22, fail_after=4 * MiB))
    assert small_blocks.stat("new.bin") is None
    assert {e.path for e in small_blocks.iter_entries()} == {"kept.bin"}
    with small_blocks.open_read("kept.bin") as reader:
        assert reader.read() == b"previous"


def test_block_md5_mismatch_commits_nothing(small_blocks):
    with pytest.raises(ChecksumMismatch):
        small_blocks.write("wrong.bin", PatternStream(3 * MiB, seed=23), md5="0" * 32)
    assert small_blocks.stat("wrong.bin") is None
    with pytest.raises(RemoteError, match="expected"):
        small_blocks.write("short.bin", PatternStream(3 * MiB, seed=23), size=4 * MiB)
    assert list(small_blocks.iter_entries()) == []


def test_modified_time_is_kept_in_stat_and_listing(azure_remote):
    stamp = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    azure_remote.write("dated.txt", io.BytesIO(b"old"), modified=stamp)
    assert azure_remote.stat("dated.txt").modified == stamp
    assert [e.modified for e in azure_remote.iter_entries()] == [stamp]


def test_missing_file_operations_are_not_found(azure_remote):
    with pytest.raises(RemoteNotFound):
        azure_remote.open_read("absent.txt")
    with pytest.raises(RemoteNotFound):
        azure_remote.delete("absent.txt")
    assert azure_remote.stat("absent.txt") is None


def test_write_while_server_is_stopped_is_unavailable(azure_server, azure_remote):
    azure_remote.write("before.txt", io.BytesIO(b"x"))
    azure_server.process.stop()
    try:
        with pytest.raises(RemoteUnavailable):
            azure_remote.write("during.txt", io.BytesIO(b"y"))
        with pytest.raises(RemoteUnavailable):
            azure_remote.stat("before.txt")
    finally:
        azure_server.process.start()
    # Azurite keeps its state on disk: the earlier blob survived the restart.
    with azure_remote.open_read("before.txt") as reader:
        assert reader.read() == b"x"
    assert azure_remote.stat("during.txt") is None


def test_missing_container_probe_names_it(azure_server):
    with open_remote("azure", container="no-such-container", **azure_server.settings) as remote:
        result = remote.probe()
    assert not result.success
    assert "container 'no-such-container' does not exist" in result.message


def test_wrong_account_key_probe_says_access_denied(azure_server, azure_remote):
    port = int(azure_server.settings["connection_string"].split(":")[-1].split("/")[0])
    wrong_key = base64.b64encode(b"not the right key" * 4).decode()
    bad = connection_string(port, key=wrong_key)
    with open_remote("azure", container=azure_remote.container, connection_string=bad) as remote:
        result = remote.probe()
    assert not result.success
    assert "access denied" in result.message
    assert wrong_key not in result.message


def test_account_key_setting_works_and_a_wrong_one_is_refused(azure_server, azure_remote):
    port = int(azure_server.settings["connection_string"].split(":")[-1].split("/")[0])
    common = {
        "container": azure_remote.container,
        "account_name": ACCOUNT,
        "account_url": f"http://127.0.0.1:{port}/{ACCOUNT}",
    }
    with open_remote("azure", account_key=ACCOUNT_KEY, **common) as remote:
        assert remote.probe().success
    with open_remote("azure", account_key="bm90LWEta2V5", **common) as remote:
        result = remote.probe()
    assert not result.success
    assert "access denied" in result.message


def test_closed_port_probe_says_unreachable():
    port = free_port()
    with open_remote(
        "azure", container="probe", connection_string=connection_string(port), timeout=5
    ) as remote:
        result = remote.probe()
    assert not result.success
    assert f"cannot reach http://127.0.0.1:{port}" in result.message


def test_unknown_host_probe_says_unreachable():
    settings = {"account_url": "http://no-such-host.invalid:10000/acct", "sas_token": "sv=x&sig=y"}
    with open_remote("azure", container="probe", timeout=5, **settings) as remote:
        result = remote.probe()
    assert not result.success
    assert "cannot reach http://no-such-host.invalid:10000/acct" in result.message
    assert "sig=y" not in result.message


@pytest.mark.parametrize(
    "settings",
    [
        {},  # no way to authenticate
        {"connection_string": "x", "sas_token": "y", "account_url": "https://a"},  # two ways
        {"account_key": "a2V5"},  # a key without an account name
        {"sas_token": "sv=x"},  # a SAS token without an account
        {"connection_string": "x", "account_name": "a"},
    ],
)
def test_exactly_one_way_of_authenticating(settings):
    with pytest.raises(RemoteConfigError):
        open_remote("azure", container="box", **settings)


@pytest.mark.parametrize("name", ["ab", "Upper", "bad_name", "a--b", "-ab"])
def test_bad_container_names_are_config_errors(name):
    with pytest.raises(RemoteConfigError):
        open_remote("azure", container=name, connection_string=connection_string(1))


def test_numeric_settings_are_checked():
    cs = connection_string(10000)
    remote = open_remote("azure", container="box", connection_string=cs, block_size=str(MiB))
    assert remote.block_size == MiB
    with pytest.raises(RemoteConfigError, match="block_size"):
        open_remote("azure", container="box", connection_string=cs, block_size="big")


def test_describe_holds_no_secret():
    remote = open_remote(
        "azure", container="box", prefix="p", connection_string=connection_string(10000)
    )
    text = remote.describe()
    assert ACCOUNT_KEY not in text
    assert "box/p" in text and "127.0.0.1:10000" in text


def test_reading_ahead_in_ranges_and_closing_early(small_blocks):
    size = 7 * MiB + 5
    small_blocks.write("ranges.bin", PatternStream(size, seed=24), size=size)
    with small_blocks.open_read("ranges.bin") as reader:
        assert reader.read(1000) == PatternStream(size, seed=24).read(1000)
    with small_blocks.open_read("ranges.bin") as reader:
        assert md5_of_stream(reader) == pattern_md5(size, seed=24)


def test_a_blob_replaced_during_a_read_is_not_mixed(small_blocks):
    size = 6 * MiB
    small_blocks.write("moving.bin", PatternStream(size, seed=25), size=size)
    reader = small_blocks.open_read("moving.bin")  # has fetched the first block only
    small_blocks.write("moving.bin", PatternStream(size, seed=26), size=size)
    with reader, pytest.raises(RemoteUnavailable, match="changed"):
        md5_of_stream(reader)


def test_a_sas_in_the_account_url_is_not_shown():
    remote = open_remote(
        "azure",
        container="box",
        account_url="https://acct.blob.core.windows.net/?sv=1&sig=secret",
        sas_token="sv=1&sig=secret",
    )
    assert "secret" not in remote.describe()


def test_reads_of_any_size_return_bytes_across_blocks(azure_remote):
    from tests.streams import PatternStream

    size = 3 * 1024 * 1024 + 123
    azure_remote.write("odd.bin", PatternStream(size, seed=5), size=size)
    expected = PatternStream(size, seed=5).read(size)
    with azure_remote.open_read("odd.bin") as reader:
        pieces = []
        while piece := reader.read(777_777):
            assert isinstance(piece, bytes)
            pieces.append(piece)
    assert b"".join(pieces) == expected


def test_a_move_with_a_sas_token_copies_on_the_service(azure_server, azure_remote):
    """With a SAS token instead of the account key, Copy Blob's source is authorised by the
    token it carries in its URL."""
    port = int(azure_server.settings["connection_string"].split(":")[-1].split("/")[0])
    sas = generate_container_sas(
        ACCOUNT,
        azure_remote.container,
        account_key=ACCOUNT_KEY,
        permission=ContainerSasPermissions(read=True, write=True, delete=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    settings = {"account_url": f"http://127.0.0.1:{port}/{ACCOUNT}", "sas_token": sas}
    with open_remote("azure", container=azure_remote.container, **settings) as remote:
        remote.write("a/file.bin", PatternStream(3 * MiB, seed=21))
        assert remote.move("a/file.bin", "b/file.bin").size == 3 * MiB
        assert remote.stat("a/file.bin") is None
        with remote.open_read("b/file.bin") as reader:
            assert md5_of_stream(reader) == pattern_md5(3 * MiB, seed=21)
