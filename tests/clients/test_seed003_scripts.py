"""Seed 003's original backup scripts, as replicas (tests/clients/seed003/), against a live server.

The replicas keep what the originals' users depend on: success is HTTP 201 only, errors are
printed with `jq -r '.error // .message'`, the verdict is "Synchronisation OK" only for
SYNCHRONIZED, and the archives are listed with the originals' jq filters. They authenticate the
only way an unmodified script can, with the token in SERVER_URL (`http://backup:<token>@host`).
Each test works in a profile of its own, through a token bound to it: its /list and /verify see
that profile only, so the tests share one server.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from tests.live import LiveServer

pytestmark = pytest.mark.e2e

REPLICAS = Path(__file__).parent / "seed003"
STAMP = "2025-11-28_19-29-39"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("seed003"), threads=8)
    server.prepare()
    server.start()
    yield server
    server.stop()


class Host:
    """One machine running the original scripts: its backup folder and its profile's token."""

    def __init__(self, server: LiveServer, workdir: Path, profile: str | None = None) -> None:
        self.server = server
        self.profile = profile or f"p{uuid.uuid4().hex[:10]}"
        self.backup_dir = workdir / self.profile / "backup"
        answer = requests.post(
            f"{server.url}/api/v1/tokens",
            headers=server.headers,
            json={"name": self.profile, "scopes": [f"backups:{self.profile}"]},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        self.token = answer.json()["token"]
        host = server.url.removeprefix("http://")
        self.url = f"http://backup:{self.token}@{host}"

    def archive(self, kind: str, stamp: str = STAMP, files: int = 3) -> Path:
        """A real `tar czf` archive, named as the original backup.sh names them."""
        source = self.backup_dir.parent / f"src-{uuid.uuid4().hex[:6]}"
        source.mkdir(parents=True)
        for number in range(files):
            (source / f"file{number}.txt").write_bytes(os.urandom(2048) + b"text\n" * 500)
        folder = self.backup_dir / kind
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{kind.lower()}_{stamp}.tar.gz"
        subprocess.run(["tar", "czf", str(path), "-C", str(source), "."], check=True, timeout=60)
        return path

    def run(self, script: str, *args: str, url: str | None = None) -> str:
        result = subprocess.run(
            [str(REPLICAS / script), *args],
            cwd=self.backup_dir.parent,
            env={
                "PATH": os.environ["PATH"],
                "SERVER_URL": url or self.url,
                "BACKUP_DIR": str(self.backup_dir),
            },
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # in order: the error line, then what jq printed
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout
        return result.stdout

    def upload(self, **kwargs) -> str:
        return self.run("upload.sh", self.profile, **kwargs)

    def verify(self) -> str:
        return self.run("verify_sync.sh")


@pytest.fixture
def host(server, tmp_path) -> Host:
    return Host(server, tmp_path)


def original_verdict(local: dict[str, list[str]], remote: dict[str, list[str]]) -> str:
    """The original server's rule (serv/backup-server/app.py): in sync when nothing local is
    missing (name and MD5) and every type has as many archives on each side."""
    for kind in ("FULL", "INC", "DIFF"):
        mine, theirs = local.get(kind, []), remote.get(kind, [])
        if set(mine) - set(theirs) or len(mine) != len(theirs):
            return "OUT_OF_SYNC"
    return "SYNCHRONIZED"


def shown_verdict(output: str) -> str:
    if "[SUCCESS] Synchronisation OK" in output:
        return "SYNCHRONIZED"
    assert "[WARN] Hors de synchronisation" in output, output
    return "OUT_OF_SYNC"


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_upload_run_twice_reports_success_both_times(host):
    archives = [host.archive("FULL"), host.archive("INC"), host.archive("DIFF")]
    for run in (1, 2):
        output = host.upload()
        assert "Résumé : 3/3 fichiers uploadés" in output, (run, output)
        assert output.count("[SUCCESS] Upload réussi") == 3 and "Erreur" not in output, output
        for path in archives:  # the md5 the original keeps from the reply, on each run
            assert path.with_suffix("").with_suffix(".md5").read_text() == md5_of(path) + "\n"


def test_errors_print_the_servers_sentence(host, server):
    archive = host.archive("FULL")
    host.upload()
    archive.write_bytes(gzip.compress(b"other content under the same name"))
    output = host.upload()
    assert "Résumé : 0/1 fichiers uploadés" in output
    assert f"[ERROR] Erreur upload (HTTP 409) : {archive.name}" in output
    printed = output.split(f"(HTTP 409) : {archive.name}\n", 1)[1].splitlines()[0]
    assert "exists with different content" in printed and printed != "archive_exists"

    wrong = host.run("upload.sh", host.profile, url=host.url.replace(host.token, "sa_" + "x" * 43))
    assert "[ERROR] Erreur upload (HTTP 401)" in wrong
    reply = requests.get(f"{server.url}/list", auth=("backup", "sa_" + "x" * 43), timeout=30)
    printed = wrong.split(f"(HTTP 401) : {archive.name}\n", 1)[1].splitlines()[0]
    assert printed == reply.json()["message"] and " " in printed  # a sentence, not "unauthorized"


def test_verify_verdicts_match_the_original_servers(host):
    full, inc = host.archive("FULL"), host.archive("INC")
    host.upload()
    remote = {"FULL": [(full.name, md5_of(full))], "INC": [(inc.name, md5_of(inc))]}

    def local() -> dict[str, list[tuple[str, str]]]:
        return {
            kind: [(p.name, md5_of(p)) for p in sorted((host.backup_dir / kind).glob("*.tar.gz"))]
            for kind in ("FULL", "INC", "DIFF")
        }

    def check(expected: str) -> str:
        output = host.verify()
        assert shown_verdict(output) == original_verdict(local(), remote) == expected, output
        return output

    check("SYNCHRONIZED")
    diff = host.archive("DIFF")  # made, not uploaded: missing on the server
    assert "Missing on remote: DIFF/" + diff.name in check("OUT_OF_SYNC")
    diff.unlink()
    inc.rename(inc.with_name("pruned.bak"))  # the client pruned an archive the server keeps
    assert "Only on remote (not in the local folder): INC/" + inc.name in check("OUT_OF_SYNC")
    inc.with_name("pruned.bak").rename(inc)
    full.write_bytes(gzip.compress(b"rewritten"))  # same name, other content
    check("OUT_OF_SYNC")


def test_a_truncated_archive_is_flagged_and_its_reupload_refused_in_words(host):
    """The archive's gzip stream is checked after the reply (docs/benchmarks.md says why), so
    the first upload.sh reports it uploaded; verify_sync.sh then says out of sync with the
    reason, and upload.sh's next run prints why the server refuses those bytes."""
    good = host.archive("FULL")
    cut = host.archive("INC", files=6)
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])  # a `tar czf` killed mid-way
    assert "Résumé : 2/2 fichiers uploadés" in host.upload()
    verdict = host.verify()  # finishes the check if it is still pending
    assert shown_verdict(verdict) == "OUT_OF_SYNC"
    assert f"Corrupt on remote (not a complete gzip stream): INC/{cut.name}" in verdict
    full_part = verdict.split("\nFULL\n", 1)[1]
    assert "Synced: 1 fichiers" in full_part.split("\n\n", 1)[0]  # the FULL is in sync
    again = host.upload()
    assert "Résumé : 1/2 fichiers uploadés" in again and good.exists()
    assert f"[ERROR] Erreur upload (HTTP 400) : {cut.name}" in again
    printed = again.split(f"(HTTP 400) : {cut.name}\n", 1)[1].splitlines()[0]
    assert "not a complete gzip stream" in printed
    # made again, whole: the upload replaces the damaged copy, and all is in sync
    cut.unlink()
    host.archive("INC")
    assert "Résumé : 2/2 fichiers uploadés" in host.upload()
    assert shown_verdict(host.verify()) == "SYNCHRONIZED"


def test_two_hosts_same_second_under_their_own_profiles_are_both_stored(server, tmp_path):
    """Issue 17 item 20: `full_<same second>.tar.gz` from two machines, each with its profile."""
    first, second = Host(server, tmp_path), Host(server, tmp_path)
    archives = [first.archive("FULL"), second.archive("FULL")]
    assert archives[0].name == archives[1].name
    for machine in (first, second):
        assert "Résumé : 1/1 fichiers uploadés" in machine.upload()
        assert shown_verdict(machine.verify()) == "SYNCHRONIZED"
    for machine, archive in zip((first, second), archives, strict=True):
        fetched = tmp_path / f"fetched-{machine.profile}"
        machine.backup_dir = fetched
        assert "Résumé : 1/1 fichiers téléchargés" in machine.run("download.sh", machine.profile)
        assert (fetched / "FULL" / archive.name).read_bytes() == archive.read_bytes()


def test_download_by_type_uses_list_by_type(host, tmp_path):
    full, inc = host.archive("FULL"), host.archive("INC")
    host.upload()
    host.backup_dir = tmp_path / "restore"
    output = host.run("download.sh", host.profile, "--type", "INC")
    assert "Résumé : 1/1 fichiers téléchargés" in output
    assert (host.backup_dir / "INC" / inc.name).read_bytes() == inc.read_bytes()
    assert not (host.backup_dir / "FULL").exists() and full.exists()
