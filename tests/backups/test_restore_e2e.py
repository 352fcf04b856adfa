"""scripts/restore.sh end to end: a FULL → INC → INC → DIFF chain made by scripts/backup.sh from
a folder that changes between runs (edits, deletions, renames of files and folders, symbolic
links, modes), uploaded with scripts/upload.sh to a live server, restored at each point in time.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.backups.test_scripts_e2e import (  # noqa: F401 (owners_server, private_server: fixtures)
    Client,
    Owner,
    owners_server,
    private_server,
)

pytestmark = pytest.mark.e2e


def touched(path: Path, offset: int = 30) -> None:
    """Date a change clearly after the last backup: filesystem clocks are coarse (a tick), so a
    change a few ms after tar started may carry an earlier time and be left out of an INC."""
    stamp = time.time_ns() + offset * 1_000_000_000
    os.utime(path, ns=(stamp, stamp), follow_symlinks=False)


def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    touched(path)


def picture(root: Path) -> dict[str, tuple]:
    """Every entry below `root` (the root too): its kind, mode, and content or link target."""
    seen: dict[str, tuple] = {}
    for path in [root, *sorted(root.rglob("*"))]:
        info = path.lstat()
        name = str(path.relative_to(root))
        if stat.S_ISLNK(info.st_mode):
            seen[name] = ("link", os.readlink(path))
        elif stat.S_ISDIR(info.st_mode):
            seen[name] = ("dir", stat.S_IMODE(info.st_mode))
        else:
            seen[name] = ("file", stat.S_IMODE(info.st_mode), path.read_bytes())
    return seen


def same_tree(restored: Path, expected: Path) -> None:
    diff = subprocess.run(
        ["diff", "-r", "--no-dereference", str(expected), str(restored)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert diff.returncode == 0, diff.stdout + diff.stderr
    assert picture(restored) == picture(expected)


def newest_upload(server: Owner) -> str:
    reply = requests.get(f"{server.url}/list", headers=server.headers, timeout=30)
    assert reply.status_code == 200, reply.text
    items = [i for items in reply.json()["backups"].values() for i in items]
    return max(i["uploaded_at"] for i in items)


def test_restore_at_each_point_in_time_and_an_altered_archive_stops_it(tmp_path, private_server):  # noqa: F811
    server = private_server
    client = Client(tmp_path, SERVER_URL=server.url, SYNCAPP_TOKEN=server.token)
    source, states = tmp_path / "source", tmp_path / "states"
    states.mkdir()
    points: list[str] = []

    def backup(kind: str) -> None:
        client.ok("backup.sh", "docs", str(source), kind)
        client.ok("upload.sh", "docs", "--all")
        points.append(newest_upload(server))
        # the folder as this backup saw it
        subprocess.run(["cp", "-a", str(source), str(states / str(len(points)))], check=True)

    # FULL
    write(source / "a.txt", "a, first\n")
    write(source / "run.sh", "#!/bin/sh\necho hi\n", 0o755)
    write(source / "secret.txt", "keep out\n", 0o600)
    write(source / "sub" / "c.txt", "c\n")
    write(source / "sub" / "deep" / "d.txt", "d\n", 0o640)
    write(source / "private" / "p.txt", "p\n")
    (source / "private").chmod(0o750)
    (source / "empty").mkdir()
    (source / "link").symlink_to("a.txt")
    (source / "dirlink").symlink_to("sub")
    backup("FULL")

    # INC 1: an edit, a deletion, a file renamed, a mode changed, a link retargeted, a new file
    write(source / "a.txt", "a, second\n")
    (source / "run.sh").unlink()
    (source / "sub" / "c.txt").rename(source / "sub" / "c2.txt")
    touched(source / "sub" / "c2.txt")
    (source / "secret.txt").chmod(0o640)
    touched(source / "secret.txt")
    write(source / "new.txt", "new\n", 0o664)
    (source / "link").unlink()
    (source / "link").symlink_to("new.txt")
    touched(source / "link")
    backup("INC")

    # INC 2: a folder deleted, a folder renamed, a name with spaces
    shutil.rmtree(source / "sub" / "deep")
    (source / "private").rename(source / "private2")
    touched(source / "private2" / "p.txt")
    write(source / "with space.txt", "spaced\n")
    (source / "empty").chmod(0o700)
    backup("INC")

    # DIFF: everything since the FULL, the INCs' changes included
    (source / "a.txt").unlink()
    write(source / "new.txt", "new, edited\n", 0o600)
    write(source / "sub" / "deep" / "e.txt", "e, another deep\n")
    backup("DIFF")

    def restore(at: str | None, to: Path, work: Path) -> subprocess.CompletedProcess:
        args = ["docs", "--to", str(to), "--work", str(work)]
        return client.run("restore.sh", *args, *(["--at", at] if at else []))

    for number, at in enumerate(points, 1):
        target = tmp_path / "restored" / str(number)
        result = restore(at, target, tmp_path / "work" / str(number))
        assert result.returncode == 0, result.stdout + result.stderr
        same_tree(target, states / str(number))
    # the default time is now: the last state
    latest = restore(None, tmp_path / "restored" / "now", tmp_path / "work" / "now")
    assert latest.returncode == 0, latest.stderr
    same_tree(tmp_path / "restored" / "now", states / str(len(points)))
    # the chain at the DIFF leaves the INCs out
    assert latest.stderr.count("extract ") == 2

    # a download cut short is resumed where it stopped (curl -C -), then checked whole
    kept = tmp_path / "work" / "kept"
    first = restore(points[1], tmp_path / "restored" / "kept", kept)
    assert first.returncode == 0 and not list(kept.glob("*.tar.gz"))  # cleaned once restored
    result = client.run(
        "restore.sh",
        "docs",
        "--at",
        points[1],
        "--to",
        str(tmp_path / "restored" / "k2"),
        "--work",
        str(kept),
        "--keep",
    )
    assert result.returncode == 0, result.stderr
    [full_copy] = kept.glob("FULL-*.tar.gz")
    full_copy.write_bytes(full_copy.read_bytes()[: full_copy.stat().st_size // 2])
    resumed = restore(points[1], tmp_path / "restored" / "resumed", kept)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resume FULL/{full_copy.name[5:]} at byte" in resumed.stderr
    assert "have INC/" in resumed.stderr
    same_tree(tmp_path / "restored" / "resumed", states / "2")

    # before the FULL: nothing to restore, nothing made
    early = restore("2000-01-01T00:00:00Z", tmp_path / "restored" / "early", tmp_path / "w0")
    assert early.returncode == 1 and "No FULL backup of profile 'docs'" in early.stderr
    assert not (tmp_path / "restored" / "early").exists()

    # the first INC's stored bytes altered (same size): its MD5 stops the restore before tar
    [first_inc] = sorted((server.archive_root / "INC").glob("inc_*.tar.gz"))[:1]
    data = bytearray(first_inc.read_bytes())
    data[len(data) // 2] ^= 0xFF
    first_inc.write_bytes(bytes(data))
    target = tmp_path / "restored" / "altered"
    altered = restore(points[2], target, tmp_path / "work" / "altered")
    assert altered.returncode == 1, altered.stdout + altered.stderr
    assert "MD5 MISMATCH INC/" in altered.stderr and "nothing was extracted" in altered.stderr
    assert "extract " not in altered.stderr
    assert not target.exists()
    assert not list((tmp_path / "restored").glob(".restore-*"))
    # an empty target given beforehand stays empty
    target.mkdir()
    again = restore(points[1], target, tmp_path / "work" / "altered")
    assert again.returncode == 1 and list(target.iterdir()) == []
    # the DIFF's chain does not need the altered INC
    fine = restore(points[3], tmp_path / "restored" / "diff", tmp_path / "work" / "diff")
    assert fine.returncode == 0, fine.stderr
    same_tree(tmp_path / "restored" / "diff", states / "4")


def test_a_chain_with_a_corrupt_archive_is_refused_before_any_download(tmp_path, private_server):  # noqa: F811
    """The server found an archive not to be a complete gzip (integrity `corrupt`): the plan
    says so, and restore.sh downloads nothing and makes no folder."""
    server = private_server
    client = Client(tmp_path, SERVER_URL=server.url, SYNCAPP_TOKEN=server.token)
    source = tmp_path / "source"
    write(source / "a.txt", "a\n")
    client.ok("backup.sh", "broken", str(source), "FULL")
    [full] = client.archives("FULL")
    truncated = full.read_bytes()[: full.stat().st_size - 12]  # the gzip trailer cut off
    reply = requests.post(
        f"{server.url}/upload",
        headers=server.headers,
        files={"file": (full.name, truncated)},
        data={"type": "FULL", "profile": "broken"},
        timeout=30,
    )
    assert reply.status_code == 201, reply.text
    # /verify finishes the gzip checks of what it lists
    verified = requests.post(
        f"{server.url}/verify", headers=server.headers, json={"local_backups": {}}, timeout=30
    )
    assert verified.status_code == 200, verified.text
    target, work = tmp_path / "restored", tmp_path / "work"
    result = client.run("restore.sh", "broken", "--to", str(target), "--work", str(work))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"FULL/{full.name} is corrupt" in result.stderr
    assert "nothing was downloaded" in result.stderr
    assert not target.exists() and not work.exists()


def test_help_and_usage_errors(tmp_path):
    client = Client(tmp_path)
    helped = client.run("restore.sh", "-h")
    assert helped.returncode == 0 and "--listed-incremental=/dev/null" in helped.stdout
    for args in ([], ["a", "b"], ["../x"], ["p", "--at"], ["p", "--at", "not a time"], ["p", "-x"]):
        result = client.run("restore.sh", *args)
        assert result.returncode == 64, (args, result.stderr)
        assert "Try 'restore.sh -h'." in result.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    busy = client.run("restore.sh", "p", "--to", str(tmp_path / "full"))
    assert busy.returncode == 1 and "is not empty" in busy.stderr
    unreachable = client.run(
        "restore.sh", "p", "--to", str(tmp_path / "t"), SERVER_URL="http://127.0.0.1:9"
    )
    assert unreachable.returncode == 2 and "cannot reach" in unreachable.stderr
