"""Restore plans: which of a profile's archives rebuild its folder as it was at a point in time.

scripts/backup.sh chains its archives with GNU tar's --listed-incremental snapshot files:
a FULL starts a new snapshot (full.snar, copied to last.snar); an INC starts from last.snar, the
snapshot of whatever archive ran last (FULL, INC or DIFF); a DIFF starts from full.snar, so it
holds every change since the FULL and replaces every INC or DIFF made before it. Each archive
also lists every folder's full contents, so extracting with --listed-incremental=/dev/null
deletes what was gone when it was made.

So the folder at time T is rebuilt by walking back from the last archive stored at or before T:
an INC needs the archive just before it, a DIFF needs the FULL, a FULL needs nothing. Read
forwards: the latest FULL, then the latest DIFF after it (if any), then every INC after that.

Archives are ordered, and compared with T, by their upload time (the server's clock):
upload.sh sends them oldest first. The time in a name is the client's local time without a
zone, so it only serves to notice archives uploaded out of the order they were made in.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from ..failures import BadRequest
from ..timeutil import isoformat, parse_iso, utcnow
from .models import BackupArchive
from .store import human_size

#: the time backup.sh writes into a name (date +%Y-%m-%d_%H-%M-%S), and its `_<n>` suffix
NAME_STAMP = re.compile(r"_(\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d)(?:_(\d+))?\.tar\.gz$")


@dataclass
class RestorePlan:
    profile: str
    at: datetime
    archives: list[BackupArchive]
    problems: list[str] = field(default_factory=list)

    @property
    def restorable(self) -> bool:
        return not self.problems


def parse_at(value: str | None) -> datetime:
    """`?at=`: ISO 8601, a time without a zone taken as UTC; now when absent."""
    if value is None or not value.strip():
        return utcnow()
    moment = parse_iso(value.strip())
    if moment is None:
        raise BadRequest(
            f"Invalid time {value!r}: use ISO 8601, e.g. 2026-12-07T10:00:00Z.", code="invalid_time"
        )
    return moment


def _chain_order(archive: BackupArchive) -> tuple:
    return (archive.uploaded_at, archive.id)


def _name_stamp(name: str) -> tuple[str, int] | None:
    match = NAME_STAMP.search(name)
    return (match.group(1), int(match.group(2) or 1)) if match else None


def build_plan(archives: Iterable[BackupArchive], profile: str, at: datetime) -> RestorePlan | None:
    """The plan for `profile` at `at` from its owner's `archives` (any order, any profile);
    None when no FULL of the profile was stored at or before `at`."""
    known = sorted(
        (a for a in archives if a.profile == profile and a.uploaded_at <= at), key=_chain_order
    )
    fulls = [i for i, a in enumerate(known) if a.type == "FULL"]
    if not fulls:
        return None
    full = fulls[-1]
    chain: list[BackupArchive] = []
    i = len(known) - 1
    while i > full:
        archive = known[i]
        chain.append(archive)
        # an INC builds on the archive made just before it, a DIFF on the FULL (backup.sh)
        i = i - 1 if archive.type == "INC" else full
    chain.append(known[full])
    chain.reverse()
    return RestorePlan(profile, at, chain, _problems(chain))


def _problems(chain: list[BackupArchive]) -> list[str]:
    problems = [
        f"{a.type}/{a.name} is {a.integrity} (the integrity check found its stored bytes "
        f"{'damaged' if a.integrity == 'corrupt' else 'gone'}): "
        "the folder cannot be restored at this time from this chain."
        for a in chain
        if a.integrity in ("corrupt", "missing")
    ]
    stamps = [_name_stamp(a.name) for a in chain]
    if all(stamps) and stamps != sorted(stamps):  # type: ignore[type-var]
        problems.append(
            "The archives were uploaded in another order than their names' times: an INC or "
            "DIFF would be applied before one made earlier. Re-upload them oldest first."
        )
    return problems


def download_path(archive: BackupArchive, owner: str | None = None) -> str:
    """The archive's /download path (seed 003's route), naming its profile and, for an
    administrator acting for someone, its owner."""
    query = {"profile": archive.profile, **({"owner": owner} if owner else {})}
    return f"/download/{archive.type}/{quote(archive.name)}?{urlencode(query)}"


def restore_command(profile: str, at: datetime, server_url: str, owner: str | None = None) -> str:
    """What to paste: the server's address in SERVER_URL; the token stays in the environment
    (SYNCAPP_TOKEN), never in a command line that lands in a shell history."""
    whose = f" --owner {shlex.quote(owner)}" if owner else ""
    return (
        f"SERVER_URL={shlex.quote(server_url.rstrip('/'))} scripts/restore.sh "
        f"{shlex.quote(profile)}{whose} --at {isoformat(at)} "
        f"--to {shlex.quote('./restored-' + profile)}"
    )


def describe(plan: RestorePlan, server_url: str, owner: str | None = None) -> dict[str, Any]:
    """The plan as the API answers it and the Backups page shows it."""
    root = server_url.rstrip("/")
    steps = []
    for number, archive in enumerate(plan.archives, 1):
        path = download_path(archive, owner)
        steps.append(
            {
                "step": number,
                "name": archive.name,
                "type": archive.type,
                "size": archive.size,
                "size_human": human_size(archive.size),
                "md5": archive.md5,
                "sha256": archive.sha256,
                "uploaded_at": archive.uploaded_at,
                "base_archive": archive.base_archive,
                "integrity": archive.integrity,
                "download_path": path,
                "download_url": root + path,
            }
        )
    return {
        "status": "success",
        "profile": plan.profile,
        "at": plan.at,
        "restorable": plan.restorable,
        "problems": plan.problems,
        "archives": steps,
        "total_size": sum(a.size for a in plan.archives),
        "command": restore_command(plan.profile, plan.at, root, owner),
    }
