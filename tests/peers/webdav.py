"""A real WsgiDAV server (cheroot) for the webdav backend.

The share is mounted at /remote.php/dav/files/alice, like a Nextcloud user's files, so that the
backend has to handle a url with a path and PROPFIND hrefs that carry that prefix. Its folder is
on disk: state survives a stop and start of the process.
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
import warnings
from pathlib import Path

import pytest
import requests
from urllib3.exceptions import InsecureRequestWarning

from syncapp.storage import open_remote
from tests.peers.process import Peer, ServerProcess, free_port, peer_missing

MOUNT = "/remote.php/dav/files/alice"
USERNAME = "alice"
# A space and non-ASCII characters: the password must travel intact through Basic auth (UTF-8).
PASSWORD = "wonder länd ☃"

CONFIG = """\
host: 127.0.0.1
port: {port}
server: cheroot
server_args:
  numthreads: 20
# 1 MiB reads and writes on the server side: the default 8 KiB would make the peer the bottleneck
block_size: 1048576
verbose: 2
provider_mapping:
  "{mount}": "{root}"
http_authenticator:
  accept_basic: true
  accept_digest: false
  default_to_digest: false
simple_dc:
  user_mapping:
    "*":
      "{username}":
        password: "{password}"
# Nextcloud keeps the X-OC-Mtime header of a PUT as the file's mtime; so does this peer.
honor_mtime_header: true
# Without the browser, a HEAD/GET on a folder gets 403 (docs/test-peers.md).
dir_browser:
  enable: true
"""


def _wsgidav_executable() -> Path:
    # The CLI lives beside the interpreter that runs the tests (the venv's bin folder).
    return Path(sys.executable).parent / "wsgidav"


def start_wsgidav(base: Path, *, tls: tuple[Path, Path] | None = None) -> Peer:
    """Start WsgiDAV with its share and log under `base`; `tls` is (certificate, private key)."""
    executable = _wsgidav_executable()
    if not executable.exists() or importlib.util.find_spec("cheroot") is None:
        peer_missing(f"wsgidav/cheroot not installed ({executable}): pip install wsgidav cheroot")
    root = base / "share"
    root.mkdir(exist_ok=True)
    port = free_port()
    text = CONFIG.format(port=port, mount=MOUNT, root=root, username=USERNAME, password=PASSWORD)
    if tls:
        text += f'ssl_certificate: "{tls[0]}"\nssl_private_key: "{tls[1]}"\n'
    config = base / "wsgidav.yaml"
    config.write_text(text, encoding="utf-8")
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}{MOUNT}"

    def answers() -> bool:
        try:
            with warnings.catch_warnings():  # the test certificate is self-signed
                warnings.simplefilter("ignore", InsecureRequestWarning)
                response = requests.options(url, timeout=2, verify=False)
        except requests.RequestException:
            return False
        return response.status_code in (200, 401)

    process = ServerProcess(
        "wsgidav", [str(executable), "-c", str(config)], ready=answers, log_dir=base
    )
    process.start()
    peer = Peer("webdav", {"url": url, "username": USERNAME, "password": PASSWORD}, process)
    peer.root = root  # the share's folder on disk, for tests that look behind the server
    peer.answers = answers
    return peer


@pytest.fixture(scope="session")
def webdav_server(tmp_path_factory):
    peer = start_wsgidav(tmp_path_factory.mktemp("webdav"))
    try:
        yield peer
    finally:
        peer.process.stop()


@pytest.fixture
def webdav_remote(webdav_server):
    """A fresh folder below the share (created by the first write), nested to exercise MKCOL."""
    remote = open_remote(
        "webdav", remote_path=f"runs/{uuid.uuid4().hex[:12]}", **webdav_server.settings
    )
    try:
        yield remote
    finally:
        remote.close()
