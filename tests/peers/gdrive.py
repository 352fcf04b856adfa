"""Peer for the gdrive backend: the wire-level Drive v3 fake (drive_fake.py), served over HTTPS.

There is no Drive server to run, so this is the project's one fake. The client library keeps the
discovery document's https scheme for upload URLs, hence TLS with a self-signed certificate made
here and trusted through the backend's `ca_certs` setting.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import secrets
import ssl
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from syncapp.storage import open_remote
from tests.peers.oauth_fake import AUTHORIZATION_PATH
from tests.peers.process import Peer, ServerProcess, free_port, peer_missing, port_open

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "syncapp-tests.apps.googleusercontent.com"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 that doubles as its own CA bundle."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "syncapp drive fake")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "drive-fake.crt", folder / "drive-fake.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="session")
def gdrive_server(tmp_path_factory):
    for module in ("googleapiclient", "google_auth_httplib2", "cryptography"):
        try:
            __import__(module)
        except ImportError:
            peer_missing(f"the gdrive peer needs {module}: pip install -r requirements.txt")
    base = tmp_path_factory.mktemp("gdrive")
    cert, key = make_certificate(base)
    port = free_port()
    client_secret = secrets.token_urlsafe(16)
    refresh_token = "1//" + secrets.token_urlsafe(32)
    argv = [
        sys.executable,
        "-m",
        "tests.peers.drive_fake",
        "--port",
        str(port),
        "--cert",
        str(cert),
        "--key",
        str(key),
        "--data",
        str(base / "data"),
        # `=`: a random secret may begin with '-', which argparse would take for an option
        "--client-id",
        CLIENT_ID,
        f"--client-secret={client_secret}",
        "--refresh-token",
        refresh_token,
    ]
    # Ready when the fake answers over TLS with our certificate: a bare open port could be
    # another test server that happened to get the same free port.
    process = ServerProcess(
        "drive-fake", argv, ready=lambda: fake_answers(port, cert), log_dir=base, cwd=REPO_ROOT
    )
    process.start()
    settings = {
        "client_id": CLIENT_ID,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
        "token_uri": f"https://127.0.0.1:{port}/token",
        "api_endpoint": f"https://127.0.0.1:{port}/drive/v3/",
        "ca_certs": str(cert),
    }
    try:
        yield Peer("gdrive", settings, process)
    finally:
        process.stop()


def make_drive_folder(peer: Peer) -> str:
    """A new, empty folder in the fake's My Drive; returns its id."""
    with open_remote("gdrive", **peer.settings) as drive:
        return drive.ensure_folder(f"test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def gdrive_remote(gdrive_server):
    remote = open_remote(
        "gdrive", **gdrive_server.settings, root_folder_id=make_drive_folder(gdrive_server)
    )
    yield remote
    remote.close()


def google_settings(peer: Peer) -> dict[str, str]:
    """The app's `google` settings section for this fake: the OAuth client registered there, its
    authorization and token endpoints, the Drive API, and the CA that signed the fake's cert."""
    settings = peer.settings
    base = settings["token_uri"].removesuffix("/token")
    return {
        "client_id": settings["client_id"],
        "client_secret": settings["client_secret"],
        "auth_uri": base + AUTHORIZATION_PATH,
        "token_uri": settings["token_uri"],
        "drive_api_endpoint": settings["api_endpoint"],
        "ca_certs": settings["ca_certs"],
    }


def _fake_call(
    port: int, cert: str | Path, method: str, path: str, body: dict | None = None
) -> dict:
    """A request to the fake's own test endpoints (under /_fake/, not part of Drive)."""
    context = ssl.create_default_context(cafile=str(cert))
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        payload = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def fake_answers(port: int, cert: Path) -> bool:
    if not port_open(port):
        return False
    try:
        _fake_call(port, cert, "GET", "/_fake/stats")
    except (OSError, ValueError, http.client.HTTPException):
        return False
    return True


def _port(peer: Peer) -> int:
    return urlsplit(peer.settings["api_endpoint"]).port  # type: ignore[return-value]


def fake_stats(peer: Peer) -> dict[str, int]:
    """The fake's request counters: which upload path a write took."""
    return _fake_call(_port(peer), peer.settings["ca_certs"], "GET", "/_fake/stats")


def set_fake_quota(peer: Peer, quota: int | None) -> None:
    """Give the fake's Drive a storage quota in bytes (None: unlimited), for "full" tests."""
    _fake_call(_port(peer), peer.settings["ca_certs"], "PUT", "/_fake/quota", {"quota": quota})
