"""A real Samba smbd for the smb backend (recipe: docs/test-peers.md).

smbd runs with a private smb.conf whose every state folder lives under the test session's temp
dir, listening on 127.0.0.1 on a free port. The share is a folder on disk, so its files survive a
stop and start of the process (fault tests restart it on the same port).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from syncapp.storage import open_remote
from tests.peers.process import Peer, ServerProcess, free_port, peer_missing, port_open

SHARE = "syncapp"
PASSWORD = "s3cret pass"  # a space: the password must travel intact
INSTALL_HINT = "apt-get install samba"
STATE_DIRS = {
    "private dir": "private",
    "lock directory": "lock",
    "state directory": "state",
    "cache directory": "cache",
    "pid directory": "pid",
    "ncalrpc dir": "ncalrpc",
}


def find_samba_tool(name: str) -> str:
    """smbd and smbpasswd live in /usr/sbin, which a non-login PATH may lack."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if path is None:
        peer_missing(f"{name} not installed: {INSTALL_HINT}")
    return path


def smb_conf(base: Path, share: Path, port: int, user: str) -> str:
    state = "\n".join(f"   {key} = {base / folder}" for key, folder in STATE_DIRS.items())
    return f"""\
[global]
   interfaces = 127.0.0.1
   bind interfaces only = yes
   smb ports = {port}
   disable netbios = yes
   server role = standalone server
   passdb backend = tdbsam
   map to guest = never
   server min protocol = SMB2_02
   load printers = no
   printcap name = /dev/null
   disable spoolss = yes
   log file = {base / "log" / "log.%m"}
{state}

[{SHARE}]
   path = {share}
   read only = no
   valid users = {user}
   force user = {user}
"""


def start_smbd(base: Path) -> Peer:
    """Start smbd with its config, state and share under `base`; `.process.stop()` stops it."""
    smbd = find_samba_tool("smbd")
    smbpasswd = find_samba_tool("smbpasswd")
    if os.geteuid() != 0:
        peer_missing("smbd must run as root to serve files (it switches to the share's user)")
    user = pwd.getpwuid(os.geteuid()).pw_name  # the SMB user must be an existing Unix account

    share = base / "share"
    for folder in [share, base / "log", *(base / name for name in STATE_DIRS.values())]:
        folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = base / "smb.conf"
    conf.write_text(smb_conf(base, share, port, user))
    subprocess.run(
        [smbpasswd, "-c", str(conf), "-s", "-a", user],
        input=f"{PASSWORD}\n{PASSWORD}\n".encode(),
        capture_output=True,
        check=True,
        timeout=60,
    )

    process = ServerProcess(
        "smbd",
        [smbd, "--foreground", "--no-process-group", "--debug-stdout", "-d", "1", "-s", str(conf)],
        ready=lambda: port_open(port),
        log_dir=base,
    )
    process.start()
    settings = {
        "server": "127.0.0.1",
        "share_name": SHARE,
        "username": user,
        "password": PASSWORD,
        "port": port,
        "timeout": 10,
    }
    peer = Peer("smb", settings, process)
    peer.share_root = share  # the share's folder on disk, for tests that look behind the server
    return peer


@pytest.fixture(scope="session")
def smb_server(tmp_path_factory):
    peer = start_smbd(tmp_path_factory.mktemp("smb"))
    try:
        yield peer
    finally:
        peer.process.stop()


@pytest.fixture
def smb_remote(smb_server):
    """A Remote rooted in a new, empty folder of the share; the folder is removed afterwards."""
    folder = f"test-{uuid.uuid4().hex[:12]}"
    on_disk = smb_server.share_root / folder
    on_disk.mkdir()
    remote = open_remote("smb", **smb_server.settings, remote_path=folder)
    try:
        yield remote
    finally:
        remote.close()
        shutil.rmtree(on_disk, ignore_errors=True)
