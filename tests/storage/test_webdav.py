"""The webdav backend against a real WsgiDAV server mounted at a Nextcloud-like path."""

from __future__ import annotations

import hashlib
import io
import ipaddress
import shutil
import socket
import tracemalloc
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import requests

from syncapp.storage import (
    ChecksumMismatch,
    RemoteConfigError,
    RemoteError,
    RemoteNotFound,
    RemoteUnavailable,
    open_remote,
)
from syncapp.storage.base import TEMP_PREFIX
from syncapp.storage.webdav import WebDavRemote, _parse_multistatus
from tests.peers.process import free_port, wait_until
from tests.peers.webdav import start_wsgidav
from tests.streams import PatternStream, md5_of_stream, pattern_md5

pytestmark = pytest.mark.peer
MiB = 1024 * 1024


def make_remote(peer, **overrides) -> WebDavRemote:
    settings = {**peer.settings, "remote_path": f"runs/{uuid.uuid4().hex[:12]}", **overrides}
    return open_remote("webdav", **settings)


def on_disk(peer, remote: WebDavRemote):
    return peer.root / remote.root


def temp_files(folder) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.name.startswith(TEMP_PREFIX)]


# -- probe gives clear messages for bad settings ------------------------------------------------


def test_wrong_password_fails_the_probe_with_a_clear_message(webdav_server):
    with make_remote(webdav_server, password="not the password") as remote:
        result = remote.probe()
    assert not result.success
    assert "check the username and password" in result.message
    assert "not the password" not in result.message


def test_unknown_host_fails_the_probe_with_a_clear_message(webdav_server):
    with make_remote(
        webdav_server, url="http://no-such-host.invalid/remote.php/dav/files/alice", timeout=10
    ) as remote:
        result = remote.probe()
    assert not result.success
    assert "no-such-host.invalid" in result.message
    assert "does not resolve" in result.message


def test_closed_port_fails_the_probe_with_a_clear_message(webdav_server):
    url = f"http://127.0.0.1:{free_port()}/remote.php/dav/files/alice"
    with make_remote(webdav_server, url=url, timeout=5) as remote:
        result = remote.probe()
    assert not result.success
    assert "connection refused" in result.message


def test_a_server_that_never_answers_is_unavailable_after_the_timeout(webdav_server):
    # A listening socket that nobody accepts from: TCP connects, no HTTP answer ever comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/remote.php/dav/files/alice"
        with make_remote(webdav_server, url=url, timeout=0.5) as remote:
            with pytest.raises(RemoteUnavailable, match="no answer within the timeout"):
                remote.stat("anything.txt")
            result = remote.probe()
    assert not result.success
    assert "no answer within the timeout" in result.message


@pytest.mark.parametrize("suffix", ["/../bob", "/no-such-folder"])
@pytest.mark.parametrize("remote_path", ["", "sub/dir"])
def test_wrong_base_path_fails_the_probe(webdav_server, suffix, remote_path):
    base = webdav_server.settings["url"]
    url = base.rsplit("/", 1)[0] + "/bob" if suffix == "/../bob" else base + suffix
    with make_remote(webdav_server, url=url, remote_path=remote_path) as remote:
        result = remote.probe()
    assert not result.success
    assert "does not exist on the server: check the url" in result.message


def test_the_probe_works_at_the_share_root_and_leaves_nothing(webdav_server):
    with make_remote(webdav_server, remote_path="") as remote:
        result = remote.probe()
    assert result.success, result.message
    assert not (webdav_server.root / ".syncapp-probe").exists()


# -- faults ---------------------------------------------------------------------------------------


def test_a_stopped_server_is_unavailable_and_state_survives_a_restart(webdav_server):
    remote = make_remote(webdav_server, timeout=5)
    remote.write("kept/before.txt", io.BytesIO(b"written before the stop"))
    process = webdav_server.process
    try:
        process.stop()
        with pytest.raises(RemoteUnavailable):
            remote.write("kept/during.txt", io.BytesIO(b"nobody is listening"))
        with pytest.raises(RemoteUnavailable):
            remote.open_read("kept/before.txt")
        with pytest.raises(RemoteUnavailable):
            remote.stat("kept/before.txt")
    finally:
        if not process.running:
            process.start()
        wait_until(webdav_server.answers, 30, "WsgiDAV to answer after the restart")
    # The same Remote (with its pooled, now dead, connections) carries on.
    with remote.open_read("kept/before.txt") as reader:
        assert reader.read() == b"written before the stop"
    remote.write("kept/after.txt", io.BytesIO(b"written after the restart"))
    assert {e.path for e in remote.iter_entries()} == {"kept/before.txt", "kept/after.txt"}
    remote.close()


class StopsTheServerMidway(PatternStream):
    """Stops the server once part of the upload has gone out, then keeps on giving data."""

    def __init__(self, size: int, process, after: int) -> None:
        super().__init__(size, seed=11)
        self.process = process
        self.after = after
        self.sent = 0

    def read(self, n: int = -1) -> bytes:
        if self.sent >= self.after and self.process.running:
            self.process.stop()
        data = super().read(n)
        self.sent += len(data)
        return data


def test_a_server_that_dies_during_an_upload_is_unavailable_and_keeps_the_old_file(
    webdav_server,
):
    remote = make_remote(webdav_server, timeout=5)
    remote.write("victim.bin", io.BytesIO(b"previous version"))
    process = webdav_server.process
    try:
        with pytest.raises(RemoteUnavailable):
            remote.write(
                "victim.bin", StopsTheServerMidway(16 * MiB, process, after=4 * MiB), size=16 * MiB
            )
        assert not process.running
    finally:
        if not process.running:
            process.start()
        wait_until(webdav_server.answers, 30, "WsgiDAV to answer after the restart")
    with remote.open_read("victim.bin") as reader:
        assert reader.read() == b"previous version"
    assert [e.path for e in remote.iter_entries()] == ["victim.bin"]
    remote.close()


def test_a_folder_removed_behind_the_backends_back_is_recreated_on_retry(webdav_server):
    with make_remote(webdav_server) as remote:
        remote.write("gone/first.txt", io.BytesIO(b"1"))
        shutil.rmtree(on_disk(webdav_server, remote) / "gone")
        with pytest.raises(RemoteUnavailable):
            remote.write("gone/second.txt", io.BytesIO(b"2"))
        remote.write("gone/second.txt", io.BytesIO(b"2"))  # what a retry does
        assert {e.path for e in remote.iter_entries()} == {"gone/second.txt"}


# -- TLS ----------------------------------------------------------------------------------------


def self_signed_certificate(folder) -> tuple:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def webdav_tls_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("webdav-tls")
    peer = start_wsgidav(base, tls=self_signed_certificate(base))
    try:
        yield peer
    finally:
        peer.process.stop()


def test_a_self_signed_certificate_is_refused_with_a_hint(webdav_tls_server):
    with make_remote(webdav_tls_server, timeout=10) as remote:
        result = remote.probe()
    assert not result.success
    assert "TLS" in result.message and "verify_tls" in result.message


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_tls_off_accepts_a_self_signed_certificate(webdav_tls_server):
    with make_remote(webdav_tls_server, verify_tls=False) as remote:
        assert remote.probe().success
        remote.write("secure.bin", PatternStream(3 * MiB, seed=5), size=3 * MiB)
        with remote.open_read("secure.bin") as reader:
            assert md5_of_stream(reader) == pattern_md5(3 * MiB, seed=5)


# -- paths under a nested, percent-encoded prefix -----------------------------------------------


def test_names_that_need_percent_encoding_round_trip(webdav_server):
    names = [
        "per%cent/100% sure.txt",
        "hash#tag/a b&c=d+e,f!g$h.txt",
        "quotes/'single' \"double\".txt",
        "日本語/ファイル.txt",
        "tilde~/[brackets] {braces} @at.txt",
    ]
    with make_remote(webdav_server, remote_path=f"spaced root/ü {uuid.uuid4().hex[:6]}") as remote:
        for index, name in enumerate(names):
            remote.write(name, io.BytesIO(f"#{index}".encode()))
        assert {e.path for e in remote.iter_entries()} == set(names)
        for index, name in enumerate(names):
            assert remote.stat(name).size == len(f"#{index}")
            with remote.open_read(name) as reader:
                assert reader.read() == f"#{index}".encode()
            # ...and they are where they should be on the server's disk.
            assert (on_disk(webdav_server, remote) / name).read_bytes() == f"#{index}".encode()
        assert {e.path for e in remote.iter_entries("per%cent")} == {"per%cent/100% sure.txt"}


@pytest.mark.parametrize("name", ["semi;colon.txt", "ques?tion/file.txt"])
def test_names_that_some_servers_mangle_are_stored_or_refused_never_misplaced(webdav_remote, name):
    # WsgiDAV 4.4 moves such files to a truncated name; Nextcloud and Apache store them right.
    try:
        webdav_remote.write(name, io.BytesIO(b"data"))
    except RemoteError as exc:
        assert "stored the file under another name" in str(exc)
    else:
        assert webdav_remote.stat(name).size == 4


def test_a_url_with_a_trailing_slash_and_credentials_in_it_works(webdav_server):
    parts = urlsplit(webdav_server.settings["url"])
    url = f"http://someone:leaked@{parts.netloc}{parts.path}/"
    with make_remote(webdav_server, url=url) as remote:
        assert remote.probe().success
        assert "leaked" not in remote.describe()
        assert "someone" not in remote.describe()


def test_a_nextcloud_dav_root_url_finds_the_users_files(webdav_server):
    # Seed 002 gives https://cloud.example.com/remote.php/dav as the url: files/<user> is implied.
    url = webdav_server.settings["url"].removesuffix("/files/alice")
    assert url.endswith("/remote.php/dav")
    with make_remote(webdav_server, url=url) as remote:
        remote.write("found.txt", io.BytesIO(b"here"))
        assert (on_disk(webdav_server, remote) / "found.txt").read_bytes() == b"here"


def test_iter_entries_of_a_file_prefix_is_empty(webdav_remote):
    webdav_remote.write("f/file.txt", io.BytesIO(b"x"))
    assert list(webdav_remote.iter_entries("f/file.txt")) == []
    assert [e.path for e in webdav_remote.iter_entries("f")] == ["f/file.txt"]


# -- folders are not files ------------------------------------------------------------------------


def test_reading_or_deleting_a_folder_is_not_found_and_keeps_its_content(webdav_remote):
    webdav_remote.write("folder/inside.txt", io.BytesIO(b"precious"))
    with pytest.raises(RemoteNotFound):
        webdav_remote.open_read("folder")
    with pytest.raises(RemoteNotFound):
        webdav_remote.delete("folder")
    with pytest.raises(RemoteNotFound):
        webdav_remote.checksum("folder")
    assert webdav_remote.stat("folder") is None
    with webdav_remote.open_read("folder/inside.txt") as reader:
        assert reader.read() == b"precious"


def test_writing_where_a_folder_is_fails_and_keeps_the_folder(webdav_remote):
    webdav_remote.write("taken/inside.txt", io.BytesIO(b"x"))
    with pytest.raises(RemoteError):
        webdav_remote.write("taken", io.BytesIO(b"a file over a folder"))
    assert webdav_remote.stat("taken/inside.txt").size == 1


# -- writes -----------------------------------------------------------------------------------


def test_write_returns_the_entry_and_keeps_the_modification_time(webdav_remote):
    modified = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
    entry = webdav_remote.write("dated.txt", io.BytesIO(b"old news"), modified=modified)
    assert entry.size == 8
    assert entry.md5 == hashlib.md5(b"old news").hexdigest()
    assert entry.modified == modified
    stat = webdav_remote.stat("dated.txt")
    assert stat.modified == modified
    assert stat.etag and stat.etag == entry.etag


def test_a_checksum_mismatch_removes_the_upload_from_the_server(webdav_server, webdav_remote):
    with pytest.raises(ChecksumMismatch):
        webdav_remote.write("x/bad.bin", io.BytesIO(b"payload"), md5="0" * 32)
    folder = on_disk(webdav_server, webdav_remote)
    assert temp_files(folder) == []
    assert not (folder / "x" / "bad.bin").exists()


def test_a_longer_stream_than_announced_is_refused(webdav_remote):
    with pytest.raises(RemoteError, match="expected 3 bytes"):
        webdav_remote.write("long.bin", io.BytesIO(b"abcdef"), size=3)
    assert webdav_remote.stat("long.bin") is None


@pytest.mark.parametrize("known_size", [True, False])
def test_writing_and_reading_stream_without_growing_memory(webdav_remote, known_size):
    size = 48 * MiB
    tracemalloc.start()
    try:
        webdav_remote.write(
            "stream.bin", PatternStream(size, seed=3), size=size if known_size else None
        )
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with webdav_remote.open_read("stream.bin") as reader:
            digest = md5_of_stream(reader)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest == pattern_md5(size, seed=3)
    assert write_peak < 10 * MiB, write_peak
    assert read_peak < 10 * MiB, read_peak


def test_an_abandoned_read_does_not_hold_the_file_or_the_remote(webdav_remote):
    webdav_remote.write("half.bin", PatternStream(4 * MiB, seed=1), size=4 * MiB)
    reader = webdav_remote.open_read("half.bin")
    assert len(reader.read(1000)) == 1000
    reader.close()
    webdav_remote.write("half.bin", io.BytesIO(b"replaced"))
    with webdav_remote.open_read("half.bin") as reader:
        assert reader.read() == b"replaced"


def test_threads_can_share_one_remote(webdav_remote):
    def work(index: int) -> str:
        data = f"thread {index}".encode() * 1000
        webdav_remote.write(f"t/{index % 3}/{index}.txt", io.BytesIO(data), size=len(data))
        with webdav_remote.open_read(f"t/{index % 3}/{index}.txt") as reader:
            return hashlib.md5(reader.read()).hexdigest()

    with ThreadPoolExecutor(max_workers=8) as pool:
        digests = list(pool.map(work, range(24)))
    assert digests == [hashlib.md5(f"thread {i}".encode() * 1000).hexdigest() for i in range(24)]
    assert len(list(webdav_remote.iter_entries("t"))) == 24


def test_one_connection_serves_a_series_of_operations(webdav_remote):
    for index in range(5):
        webdav_remote.write(f"c/{index}.txt", io.BytesIO(b"x"))
        assert webdav_remote.stat(f"c/missing-{index}") is None
        with pytest.raises(RemoteNotFound):
            webdav_remote.open_read(f"c/missing-{index}")
        with webdav_remote.open_read(f"c/{index}.txt") as reader:
            assert reader.read() == b"x"
        webdav_remote.delete(f"c/{index}.txt")
    assert list(webdav_remote.iter_entries()) == []
    pools = webdav_remote._session.get_adapter("http://").poolmanager.pools
    # RecentlyUsedContainer refuses plain iteration; keys() is its way.
    assert sum(pools[key].num_connections for key in pools.keys()) == 1  # noqa: SIM118


# -- settings -----------------------------------------------------------------------------------


def test_settings_secrets_and_description(webdav_server):
    assert WebDavRemote.secret_settings == frozenset({"password"})
    with make_remote(webdav_server, remote_path="a b") as remote:
        text = remote.describe()
    assert webdav_server.settings["url"] in text
    assert webdav_server.settings["password"] not in text


@pytest.mark.parametrize("url", ["ftp://host/dav", "host/dav", "http:///nohost", "http://h:x/"])
def test_a_bad_url_is_a_config_error(url):
    with pytest.raises(RemoteConfigError):
        open_remote("webdav", url=url, username="u", password="p")


def test_a_bad_timeout_is_a_config_error():
    with pytest.raises(RemoteConfigError):
        open_remote("webdav", url="http://h/dav", username="u", password="p", timeout=0)


def test_the_peer_refuses_requests_without_credentials(webdav_server):
    # Guards the fixture itself: a share open to anyone would hide authentication bugs.
    assert requests.request("PROPFIND", webdav_server.settings["url"], timeout=5).status_code == 401


# -- Nextcloud's answer format (no Nextcloud server can run here) -----------------------------

NEXTCLOUD_PROPFIND = b"""<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns"
    xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">
 <d:response>
  <d:href>/remote.php/dav/files/alice%40example.com/Backups/</d:href>
  <d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype>
   <d:getlastmodified>Tue, 02 Jan 2024 10:00:00 GMT</d:getlastmodified>
   <d:getetag>&quot;65940a50c1b2e&quot;</d:getetag></d:prop>
   <d:status>HTTP/1.1 200 OK</d:status></d:propstat>
  <d:propstat><d:prop><d:getcontentlength/><oc:checksums/></d:prop>
   <d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>
 </d:response>
 <d:response>
  <d:href>/remote.php/dav/files/alice%40example.com/Backups/db%20copy%20%C3%BC.sqlite</d:href>
  <d:propstat><d:prop><d:resourcetype/><d:getcontentlength>1048576</d:getcontentlength>
   <d:getlastmodified>Tue, 02 Jan 2024 10:00:00 GMT</d:getlastmodified>
   <d:getetag>&quot;abc123&quot;</d:getetag>
   <oc:checksums><oc:checksum>SHA1:da39a3ee5e6b4b0d3255bfef95601890afd80709
     MD5:D41D8CD98F00B204E9800998ECF8427E ADLER32:00000001</oc:checksum></oc:checksums>
   </d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
 </d:response>
</d:multistatus>
"""


def test_nextcloud_answers_are_decoded_and_their_md5_is_used():
    # Fed in small pieces, as it arrives from the network.
    pieces = [NEXTCLOUD_PROPFIND[i : i + 100] for i in range(0, len(NEXTCLOUD_PROPFIND), 100)]
    folder, file = _parse_multistatus(pieces)
    assert folder.is_folder
    assert folder.href_path == "/remote.php/dav/files/alice@example.com/Backups"
    assert not file.is_folder
    assert file.href_path == "/remote.php/dav/files/alice@example.com/Backups/db copy ü.sqlite"
    assert file.size == 1048576
    assert file.md5 == "d41d8cd98f00b204e9800998ecf8427e"
    assert file.etag == "abc123"
    assert file.modified == datetime(2024, 1, 2, 10, 0, tzinfo=UTC)
