"""Walking a job's source folder and deciding what a run has to copy."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from ..storage.base import TEMP_PREFIX
from ..storage.local import ConfinedLocalRemote
from ..storage.mounts import MARKER

#: a destination file within this many seconds of the source's mtime counts as the same version
#: (SMB and WebDAV keep whole seconds only)
MTIME_TOLERANCE = 1.0

#: a file at the destination: (size, modification time in seconds or None when unknown)
Landed = tuple[int, float | None]


class SourceFile(NamedTuple):
    """A scanned file. A tuple of plain values: a run holds one per file of the source, and a
    tuple of strings and numbers leaves the garbage collector's lists at its first pass (an
    object of a class would stay, and 10,000 of them soon cost a full collection of the app's
    heap in the run)."""

    path: str  # relative, "/"-separated
    size: int
    mtime_ns: int

    @property
    def mtime(self) -> float:
        return self.mtime_ns / 1e9


def _selected(path: str, include: list[str], exclude: list[str]) -> bool:
    name = path.rsplit("/", 1)[-1]

    def hit(patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(name, p) for p in patterns)

    return (not include or hit(include)) and not hit(exclude)


def scan_source(
    source: ConfinedLocalRemote, include: list[str], exclude: list[str]
) -> dict[str, SourceFile]:
    """Every regular file of the source that the job's globs select. The folder is walked by
    descriptor and symbolic links are never followed (one could lead outside the job's roots);
    syncapp's own temp files and the share marker at the top (the source may be another job's
    destination) are skipped."""
    found: dict[str, SourceFile] = {}
    for rel, st in source.walk():
        name = rel.rsplit("/", 1)[-1]
        if name.startswith(TEMP_PREFIX) or rel == MARKER or not _selected(rel, include, exclude):
            continue
        found[rel] = SourceFile(rel, st.st_size, st.st_mtime_ns)
    return found


@dataclass
class Plan:
    to_copy: list[SourceFile]
    unchanged: int
    #: copied by an earlier run that ended before recording it: recorded now, not copied again
    adopted: list[SourceFile]


def _same_version(source: SourceFile, landed: Landed | None) -> bool:
    if landed is None or landed[0] != source.size:
        return False
    mtime = landed[1]
    return mtime is not None and abs(mtime - source.mtime) <= MTIME_TOLERANCE


def plan_run(
    scanned: Mapping[str, SourceFile],
    index: Mapping[str, tuple[int, int]],
    destination: Mapping[str, Landed],
    *,
    delete_after_sync: bool,
    held_back: Iterable[str] = (),
) -> Plan:
    """Compare the source with what was last copied (the index) and with the destination.

    A file is unchanged when the index has its size and mtime and the destination still holds a
    file of that size. With `delete_after_sync` every file present is copied again: it is still
    there only because it was never proven copied, and it may be deleted only after a proof.
    """
    skip = set(held_back)
    plan = Plan([], 0, [])
    for path in sorted(scanned):
        if path in skip:
            continue
        source = scanned[path]
        landed = destination.get(path)
        if not delete_after_sync:
            if index.get(path) == (source.size, source.mtime_ns):
                if landed is not None and landed[0] == source.size:
                    plan.unchanged += 1
                    continue
            elif path not in index and _same_version(source, landed):
                plan.adopted.append(source)
                plan.unchanged += 1
                continue
        plan.to_copy.append(source)
    return plan
