"""A pytest plugin: at the end of the session, no known test secret may appear in a log file.

Every log the session wrote lives under its basetemp: each app's syncapp.log (make_settings,
LiveServer), the gunicorn logs of tests/peers/process.ServerProcess (stdout, stderr and the
access log), nginx's. They are read line by line for
- the literal secrets the tests use: passwords, secret keys, stored remotes' credentials;
- anything shaped like a raw API token (`sa_` + 43 URL-safe characters): every token minted by
  make_token, issue_token, POST /api/v1/tokens, /auth/login or `flask tokens create` has that
  shape, and the logs may only show its 10-character prefix or `sa_***`.
A hit fails the run (exit status 1) and names the file, the line and the secret.

The peers' own logs (an SMB or WebDAV server may print the account it serves) are not the
app's output and are skipped; nginx's access log is not: it is part of a deployment.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.peers.azure import ACCOUNT_KEY
from tests.peers.smb import PASSWORD as SMB_PASSWORD
from tests.peers.webdav import PASSWORD as WEBDAV_PASSWORD

#: Literal secrets of the suite. Add new ones here (or with register_secret at import time).
KNOWN_SECRETS: set[str] = {
    PASSWORD,
    "test-secret-key-not-for-production",  # conftest.make_settings
    "live-server-test-secret",  # tests/live.LiveServer
    "live-password-123",  # the LiveServer admin's password
    "testing-secret",  # the S3 peer's secret access key
    SMB_PASSWORD,
    WEBDAV_PASSWORD,
    ACCOUNT_KEY,  # Azurite's account key: a logged connection string would show it
    "matrix-remote-password-4f9c",  # tests/hardening/test_authorization_matrix
}
RAW_TOKEN = re.compile(r"sa_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")
# the Drive fake's refresh and access tokens (tests/peers/gdrive.py, drive_fake.py)
GOOGLE_TOKEN = re.compile(r"1//[A-Za-z0-9_-]{43}|ya29\.fake-[A-Za-z0-9_-]{32}")
LOG_NAME = re.compile(r"\.log(\.\d+)?$")
#: ServerProcess names of peers (tests/peers/): their logs are theirs, not the app's.
PEER_LOGS = ("azurite-blob", "wsgidav", "smbd", "drive-fake", "moto", "s3", "postgres", "redis")
SCAN_LIMIT = 64 * 1024**2  # bytes per file: a runaway log must not stall the end of the run

_findings_key = pytest.StashKey[list[str]]()


def register_secret(value: str) -> None:
    """A secret that a test module creates (e.g. a peer's generated password)."""
    if value:
        KNOWN_SECRETS.add(value)


def _peer_log(path: Path) -> bool:
    return path.name.startswith(PEER_LOGS)


def scan_file(path: Path, secrets: set[str]) -> list[str]:
    findings = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if handle.tell() > SCAN_LIMIT:
                break
            line = raw.decode("utf-8", errors="replace")
            for secret in secrets:
                if secret in line:
                    findings.append(f"{path}:{number}: the secret {secret!r}")
            for token in RAW_TOKEN.findall(line):
                findings.append(f"{path}:{number}: a raw API token {token[:10]}…")
            for token in GOOGLE_TOKEN.findall(line):
                findings.append(f"{path}:{number}: a Google token {token[:10]}…")
    return findings


def scan_tree(root: Path, secrets: set[str] | None = None) -> list[str]:
    secrets = KNOWN_SECRETS if secrets is None else secrets
    findings: list[str] = []
    if not root.is_dir():
        return findings
    for path in sorted(root.rglob("*")):
        if LOG_NAME.search(path.name) and path.is_file() and not _peer_log(path):
            findings.extend(scan_file(path, secrets))
    return findings


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        # A pytest-xdist worker: its basetemp is a folder of the controller's, which scans it
        # once every worker has finished (a worker's findings would not reach the report).
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or getattr(factory, "_basetemp", None) is None:
        return  # no test used tmp_path: nothing was logged under basetemp
    findings = scan_tree(factory.getbasetemp())
    session.config.stash[_findings_key] = findings
    if findings:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    findings = config.stash.get(_findings_key, [])
    if not findings:
        return
    terminalreporter.section("SECRETS IN LOGS", sep="!", red=True, bold=True)
    for finding in findings[:200]:
        terminalreporter.line(finding, red=True)
    if len(findings) > 200:
        terminalreporter.line(f"... and {len(findings) - 200} more", red=True)
    terminalreporter.line(
        "A log file under the session's basetemp holds a test secret (tests/secret_scan.py): "
        "the run fails.",
        red=True,
        bold=True,
    )
