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
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from .models import BackupArchive

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
        f"{a.type}/{a.name} is corrupt (its stored bytes failed the integrity check): "
        "the folder cannot be restored at this time from this chain."
        for a in chain
        if a.integrity == "corrupt"
    ]
    stamps = [_name_stamp(a.name) for a in chain]
    if all(stamps) and stamps != sorted(stamps):  # type: ignore[type-var]
        problems.append(
            "The archives were uploaded in another order than their names' times: an INC or "
            "DIFF would be applied before one made earlier. Re-upload them oldest first."
        )
    return problems
