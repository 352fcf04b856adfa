"""The smb backend against a real smbd: bad settings, a server that goes away, SMB specifics.

The contract every backend shares is tested in tests/test_storage_conformance.py; this file holds
what only SMB has (wrong credentials, missing share, restarts, files in use, NetBIOS mode).
"""

from __future__ import annotations

import gc
import hashlib
import io
import socket
import threading
from datetime import UTC, datetime

import pytest

from syncapp.storage import RemoteError, RemoteUnavailable, open_remote
from syncapp.storage.base import TEMP_PREFIX
from tests.peers.process import free_port, wait_until
from tests.streams import PatternStream, md5_of_stream, pattern_md5

pytestmark = pytest.mark.peer
MiB = 1024 * 1024


def make_remote(smb_server, **changes):
    return open_remote("smb", **{**smb_server.settings, **changes})


def read_all(remote, path: str) -> bytes:
    with remote.open_read(path) as reader:
        return reader.read()


def files_on_disk(smb_server, smb_remote) -> set[str]:
    """Every file in the remote's folder as smbd's disk holds it, temp files included."""
    folder = smb_server.share_root / smb_remote.root
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def server_answers(smb_server) -> bool:
    remote = make_remote(smb_server)
    try:
        remote.stat("anything")
        return True
    except RemoteUnavailable:
        return False
    finally:
        remote.close()


def restart(smb_server) -> None:
    smb_server.process.stop()
    start(smb_server)


def start(smb_server) -> None:
    if not smb_server.process.running:
        smb_server.process.start()
    wait_until(lambda: server_answers(smb_server), timeout=30, what="smbd to answer SMB")


# -- bad settings: probe() explains instead of raising ------------------------------------------


def test_wrong_password_fails_the_probe_with_a_clear_message(smb_server):
    remote = make_remote(smb_server, password="not-the-password-42")
    result = remote.probe()
    assert not result.success
    assert "authentication failed" in result.message
    assert "credentials" in result.message
    assert "not-the-password-42" not in result.message


def test_unknown_host_fails_the_probe_with_a_clear_message(smb_server):
    result = make_remote(smb_server, server="nonexistent.invalid").probe()
    assert not result.success
    assert "cannot resolve the server name 'nonexistent.invalid'" in result.message


def test_closed_port_fails_the_probe_with_a_clear_message(smb_server):
    result = make_remote(smb_server, port=free_port()).probe()
    assert not result.success
    assert "refused the connection" in result.message


def test_a_server_that_never_answers_times_out(smb_server):
    with socket.socket() as silent:  # accepts connections (the backlog does), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        result = make_remote(smb_server, port=port, timeout=1).probe()
    assert not result.success
    assert "did not answer within 1s" in result.message


def test_missing_share_fails_the_probe_with_a_clear_message(smb_server):
    result = make_remote(smb_server, share_name="no-such-share").probe()
    assert not result.success
    assert "share 'no-such-share' not found" in result.message


def test_describe_names_the_share_but_never_the_password(smb_server, smb_remote):
    text = smb_remote.describe()
    assert smb_server.settings["share_name"] in text
    assert smb_remote.root in text
    assert smb_server.settings["password"] not in text


# -- the server goes away ------------------------------------------------------------------------


def test_a_write_while_the_server_is_stopped_is_unavailable(smb_server, smb_remote):
    smb_remote.write("before.txt", io.BytesIO(b"before"))  # the connection is now open
    smb_server.process.stop()
    try:
        with pytest.raises(RemoteUnavailable):
            smb_remote.write("during.txt", io.BytesIO(b"during"))
    finally:
        start(smb_server)
    smb_remote.write("after.txt", io.BytesIO(b"after"))  # the same Remote reconnects
    assert read_all(smb_remote, "after.txt") == b"after"
    assert smb_remote.stat("during.txt") is None


def test_a_connected_remote_keeps_working_after_a_server_restart(smb_server, smb_remote):
    smb_remote.write("kept.txt", io.BytesIO(b"kept"))
    restart(smb_server)
    # The first call meets the dead connection, replaces it and succeeds: no error surfaces.
    assert smb_remote.stat("kept.txt").size == 4
    restart(smb_server)
    smb_remote.write("new.txt", io.BytesIO(b"new"))
    restart(smb_server)
    assert read_all(smb_remote, "new.txt") == b"new"
    assert {e.path for e in smb_remote.iter_entries()} == {"kept.txt", "new.txt"}


def test_a_read_cut_by_a_restart_is_unavailable(smb_server, smb_remote):
    smb_remote.write("long.bin", PatternStream(4 * MiB, seed=3))
    reader = smb_remote.open_read("long.bin")
    assert len(reader.read(MiB)) == MiB
    restart(smb_server)
    with pytest.raises(RemoteUnavailable):
        reader.read()
    reader.close()
    with smb_remote.open_read("long.bin") as again:  # a new read works on a new connection
        assert md5_of_stream(again) == pattern_md5(4 * MiB, seed=3)


def test_a_connection_lost_mid_upload_leaves_no_file_behind(smb_server, smb_remote):
    class StopsTheServer(PatternStream):
        def read(self, n=-1):
            if self._pos >= 2 * MiB and smb_server.process.running:
                smb_server.process.stop()
            return super().read(n)

    try:
        with pytest.raises(RemoteUnavailable):
            smb_remote.write("cut.bin", StopsTheServer(8 * MiB, seed=5))
    finally:
        start(smb_server)
    assert smb_remote.stat("cut.bin") is None
    # The temp file was delete-on-close: smbd removes it as the dying connection closes it (the
    # connection's process may finish that after the main process has exited).
    wait_until(
        lambda: files_on_disk(smb_server, smb_remote) == set(),
        timeout=10,
        what="smbd to delete the abandoned temp file",
    )


# -- SMB specifics -------------------------------------------------------------------------------


def test_a_reader_keeps_its_version_while_the_file_is_replaced(smb_server, smb_remote):
    size = 6 * MiB
    smb_remote.write("doc.bin", PatternStream(size, seed=1))
    with smb_remote.open_read("doc.bin") as reader:
        head = reader.read(MiB)
        # The open reader blocks a one-step replace: the backend swaps the names around it.
        smb_remote.write("doc.bin", PatternStream(size, seed=2))
        rest = reader.read()
    assert hashlib.md5(head + rest).hexdigest() == pattern_md5(size, seed=1)
    with smb_remote.open_read("doc.bin") as reader:
        assert md5_of_stream(reader) == pattern_md5(size, seed=2)
    assert files_on_disk(smb_server, smb_remote) == {"doc.bin"}  # the old copy is gone


def test_a_failed_upload_leaves_no_temp_file_on_the_server(smb_server, smb_remote):
    with pytest.raises(OSError, match="simulated read failure"):
        smb_remote.write("x.bin", PatternStream(3 * MiB, seed=4, fail_after=MiB))
    with pytest.raises(RemoteError):
        smb_remote.write("y.bin", io.BytesIO(b"payload"), md5="0" * 32)
    assert files_on_disk(smb_server, smb_remote) == set()
    assert not any(name.startswith(TEMP_PREFIX) for name in files_on_disk(smb_server, smb_remote))


def test_modification_time_is_kept_and_reported(smb_remote):
    when = datetime(2021, 3, 4, 5, 6, 7, 123457, tzinfo=UTC)
    entry = smb_remote.write("dated.txt", io.BytesIO(b"d"), modified=when)
    assert entry.modified == when
    assert smb_remote.stat("dated.txt").modified == when
    fresh = smb_remote.write("fresh.txt", io.BytesIO(b"f"))
    assert fresh.modified == smb_remote.stat("fresh.txt").modified


def test_names_smb_cannot_hold_are_refused(smb_server, smb_remote):
    for name in ["a*b.txt", "what?.txt", "stream.txt:hidden", 'quote".txt']:
        with pytest.raises(RemoteError, match="SMB does not allow"):
            smb_remote.write(name, io.BytesIO(b"x"))
    assert files_on_disk(smb_server, smb_remote) == set()


def test_a_file_in_the_way_of_a_folder_is_an_error(smb_remote):
    smb_remote.write("plain", io.BytesIO(b"file"))
    with pytest.raises(RemoteError, match="not a folder"):
        smb_remote.write("plain/inside.txt", io.BytesIO(b"x"))
    assert read_all(smb_remote, "plain") == b"file"


def test_threads_share_one_remote(smb_remote):
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for round_ in range(3):
                seed = worker * 10 + round_
                name = f"w{worker}/f{round_}.bin"
                smb_remote.write(name, PatternStream(2 * MiB + seed, seed=seed))
                with smb_remote.open_read(name) as reader:
                    assert md5_of_stream(reader) == pattern_md5(2 * MiB + seed, seed=seed)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert len(list(smb_remote.iter_entries())) == 12


def test_an_abandoned_reader_does_not_disturb_the_connection(smb_server, smb_remote):
    smb_remote.write("left.bin", PatternStream(3 * MiB, seed=6))
    reader = smb_remote.open_read("left.bin")
    reader.read(10)
    del reader
    gc.collect()
    smb_remote.write("next.txt", io.BytesIO(b"next"))
    smb_remote.delete("left.bin")
    assert files_on_disk(smb_server, smb_remote) == {"next.txt"}


def test_a_reader_finalized_inside_a_call_is_closed_by_the_next_call(smb_remote):
    smb_remote.write("f.bin", io.BytesIO(b"abc"))
    reader = smb_remote.open_read("f.bin")
    # What the garbage collector does when it finalizes a reader in the middle of one of the
    # Remote's own calls: that close must neither deadlock nor interleave with the call.
    smb_remote._call("a call", lambda conn: reader.close())
    assert len(smb_remote._orphans) == 1
    assert smb_remote.stat("f.bin").size == 3
    assert smb_remote._orphans == []


def test_netbios_session_mode_works(smb_server, smb_remote):
    remote = make_remote(smb_server, remote_path=smb_remote.root, is_direct_tcp=False)
    with remote:
        result = remote.probe()
    assert result.success, result.message


def test_a_move_replaces_a_file_a_reader_holds_open(smb_server, smb_remote):
    """The rename's one-step replace is refused while the destination is open: the backend
    swaps the names around the reader, as a write's last step does."""
    size = 3 * MiB
    smb_remote.write("incoming/new.bin", PatternStream(size, seed=5))
    smb_remote.write("doc.bin", PatternStream(size, seed=6))
    with smb_remote.open_read("doc.bin") as reader:
        head = reader.read(MiB)
        smb_remote.move("incoming/new.bin", "doc.bin")
        rest = reader.read()
    assert hashlib.md5(head + rest).hexdigest() == pattern_md5(size, seed=6)
    with smb_remote.open_read("doc.bin") as reader:
        assert md5_of_stream(reader) == pattern_md5(size, seed=5)
    assert files_on_disk(smb_server, smb_remote) == {"doc.bin"}
