"""What /list, /verify and /stats say, computed from the index alone (no archive is re-read)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from itertools import compress
from operator import itemgetter, not_
from typing import Any

from sqlalchemy import select

from ..auth.models import User
from ..extensions import db
from ..scrub.models import ScrubResult
from ..timeutil import isoformat, utcnow
from .models import ARCHIVE_TYPES, BackupArchive
from .store import human_size

#: what the scrub found, by archive id (scrub.results.findings)
Findings = Mapping[int, ScrubResult]
#: an archive as /verify reads it: an ORM object, or a plain row of its columns (listing.py)
Archive = Any


def archive_item(
    archive: BackupArchive, fulls: set[tuple[int, str, str]], findings: Findings | None = None
) -> dict[str, Any]:
    """One archive as /list shows it; `fulls` are the stored FULLs as (owner, profile, name);
    `findings` the scrub's results (fields added after the seed's, which scripts parse)."""
    found = (findings or {}).get(archive.id)
    return item(
        archive.name,
        archive.size,
        archive.md5,
        archive.sha256,
        archive.type,
        archive.profile,
        archive.uploaded_at,
        archive.uploader,
        archive.base_archive,
        archive.integrity,
        archive.type != "FULL"
        and (archive.owner_id, archive.profile, archive.base_archive) not in fulls,
        found.last_verified_at if found is not None else None,
        found.detail if found is not None else "",
    )


def item(
    name: str,
    size: int,
    md5: str,
    sha256: str,
    kind: str,
    profile: str,
    uploaded_at: datetime,
    uploader: str,
    base_archive: str | None,
    integrity: str,
    base_missing: bool,
    last_verified_at: datetime | None,
    integrity_detail: str,
) -> dict[str, Any]:
    """An archive's item in /list and on the Backups page, from its values: an ORM object's
    (archive_item) or a plain row's (listing.items, 10,000 of them per /list)."""
    uploaded = isoformat(uploaded_at)
    return {
        "name": name,
        "filename": name,  # the original server's sidecar field, which /list merged in
        "size": size,
        "size_human": human_size(size),
        "modified": uploaded[:19] + "Z",  # the upload time to the second: 2025-01-01T00:00:00Z
        "md5": md5,
        "sha256": sha256,
        "type": kind,
        "profile": profile,
        "uploaded_at": uploaded,
        "uploader": uploader,
        "base_archive": base_archive,
        "base_missing": base_missing,
        "integrity": integrity,
        "last_verified_at": isoformat(last_verified_at),
        "integrity_detail": integrity_detail,
    }


def owner_emails(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


def page_sections(
    archives: list[BackupArchive], viewer_id: int, findings: Findings | None = None
) -> list[dict[str, Any]]:
    """The Backups page: one section per (owner, profile), newest archive first; sections of
    other owners (an administrator's page) name their owner, and their links say `?owner=`."""
    fulls = {(a.owner_id, a.profile, a.name) for a in archives if a.type == "FULL"}
    emails = owner_emails({a.owner_id for a in archives} - {viewer_id})
    sections: dict[tuple[int, str], dict[str, Any]] = {}
    for archive in sorted(archives, key=lambda a: (a.uploaded_at, a.id), reverse=True):
        other = archive.owner_id != viewer_id
        section = sections.setdefault(
            (archive.owner_id, archive.profile),
            {
                "profile": archive.profile,
                "owner": emails.get(archive.owner_id, "") if other else None,
                "owner_id": archive.owner_id if other else None,
                "archives": [],
            },
        )
        section["archives"].append(archive_item(archive, fulls, findings))
    return sorted(sections.values(), key=lambda s: (s["profile"], s["owner"] or ""))


#: How /verify counts archives only on the server (`extra_remote` in the request)
EXTRA_POLICIES = ("out_of_sync", "ignore")


def verify(
    local: dict[str, list[dict]],
    archives: Sequence[Archive] | Stored,
    extra: str = "out_of_sync",
    findings: Findings | None = None,
) -> dict[str, Any]:
    """Compare a client's archives with the server's, type by type.

    Same name with a different size or MD5 is `mismatched` (not "missing": it is there, but not
    the same); a stored archive that is not a complete gzip stream, or that the scrub read back
    damaged, is `corrupt`, and one the scrub found absent from the store is `missing_stored`:
    neither is ever synced.
    Archives only on the server are `extra_remote`. By default they make the state OUT_OF_SYNC,
    as the original server did (its verify_sync.sh reports them so); a client that prunes old
    local archives sends `"extra_remote": "ignore"`, or reads `local_in_sync`, which says
    whether every local archive is stored intact whatever the server holds besides.
    `archives` are ORM objects or plain rows (listing.verify_rows), oldest first, or them
    prepared (`Stored`); `findings`
    need only hold the scrub's "corrupt" results (their detail is quoted).
    """
    stored = archives if isinstance(archives, Stored) else Stored(archives)
    verification, issues, local_in_sync = {}, [], True
    for kind in ARCHIVE_TYPES:
        items = local.get(kind, [])
        mine = dict(zip(map(_NAME, items), items, strict=True))  # the last of a name counts
        theirs = stored.remote[kind]
        # The usual case in C, a set lookup each: an intact archive of the name, size and MD5
        # sent. The others (another size or MD5, a capitalised MD5, none sent) are compared
        # one by one below.
        matches = map(stored.intact[kind].__contains__, _described(mine.values()))
        unsure = list(compress(mine, map(not_, matches)))
        synced, missing, mismatched = [], [], []
        for name in sorted(unsure):
            stored_of_name = theirs.get(name)
            if not stored_of_name:
                missing.append(name)
                issues.append(f"Missing on remote: {kind}/{name}")
                continue
            same = _same(mine[name], stored_of_name)
            if same is None:
                mismatched.append(name)
                issues.append(f"Mismatched (size or MD5 differ): {kind}/{name}")
            elif same:
                synced.append(name)
        synced = sorted(mine.keys() - set(unsure) | set(synced))
        damaged = stored.damaged[kind]
        corrupt = sorted({a.name for a in damaged if a.integrity == "corrupt"})
        lost = sorted({a.name for a in damaged if a.integrity == "missing"})
        ordered = sorted(damaged, key=lambda a: a.name)
        issues += list(dict.fromkeys(_damage_issue(a, findings) for a in ordered))
        extras = sorted(theirs.keys() - mine.keys())
        if extra != "ignore":
            issues += [f"Only on remote (not in the local folder): {kind}/{n}" for n in extras]
        local_in_sync = local_in_sync and len(synced) == len(mine)
        verification[kind] = {
            "type": kind,
            "local_count": len(mine),
            "remote_count": stored.counts[kind],
            "synced": synced,
            "missing_remote": missing,
            "extra_remote": extras,
            "mismatched": mismatched,
            "corrupt": corrupt,
            "missing_stored": lost,
        }
    return {
        "status": "success",
        "verification": verification,
        "sync_status": "OUT_OF_SYNC" if issues else "SYNCHRONIZED",
        "issues": issues,
        "local_in_sync": local_in_sync,
        "extra_remote": extra,
    }


#: integrity states of an archive that is not intact in the store
DAMAGED = ("corrupt", "missing")
_NAME = itemgetter("name")
_DESCRIBED = itemgetter("name", "size", "md5")


def _described(items: Iterable[dict]) -> list[tuple]:
    """(name, size, MD5) of each local archive, None for what it does not say."""
    items = list(items)
    try:
        return list(map(_DESCRIBED, items))  # as the request schemas load them: all keys
    except KeyError:
        return [(item["name"], item.get("size"), item.get("md5")) for item in items]


class Stored:
    """The server's side of /verify, prepared once from its archives (ORM objects or rows,
    oldest first): a process keeps it while the owner's archives do not change
    (wiring.kept_answers), and compares each request's archives with it."""

    def __init__(self, archives: Sequence[Archive]) -> None:
        self.archives = archives
        # read only once made, by the requests of several threads
        #: type -> name -> the archives of that name (one per profile holding it)
        self.remote: dict[str, dict[str, list[Archive]]] = {k: {} for k in ARCHIVE_TYPES}
        #: type -> (name, size, MD5) of each intact archive
        self.intact: dict[str, set[tuple[str, int, str]]] = {k: set() for k in ARCHIVE_TYPES}
        self.damaged: dict[str, list[Archive]] = {k: [] for k in ARCHIVE_TYPES}
        self.counts: dict[str, int] = dict.fromkeys(ARCHIVE_TYPES, 0)
        #: type -> name -> profile of the last archive of that name (verifications.py)
        self.profile_of: dict[str, dict[str, str]] = {k: {} for k in ARCHIVE_TYPES}
        for archive in archives:
            kind, name = archive.type, archive.name
            if kind not in self.counts:  # no other type is stored; /verify compares these
                continue
            self.remote[kind].setdefault(name, []).append(archive)
            self.counts[kind] += 1
            self.profile_of[kind][name] = archive.profile
            if archive.integrity in DAMAGED:
                self.damaged[kind].append(archive)
            else:
                self.intact[kind].add((name, archive.size, archive.md5))


def _damage_issue(archive: Archive, findings: Findings | None) -> str:
    """The /verify issue line of a damaged archive: the seed's wording for an archive that was
    incomplete when it arrived (the gzip check), the scrub's detail for one damaged since."""
    where = f"{archive.type}/{archive.name}"
    if archive.integrity == "missing":
        return f"Missing from the remote store (indexed, its file is gone): {where}"
    found = (findings or {}).get(archive.id)
    if found is not None and found.integrity == "corrupt" and found.detail:
        return f"Corrupt on remote ({found.detail}): {where}"
    return f"Corrupt on remote (not a complete gzip stream): {where}"


def _same(item: dict, stored: list[Archive]) -> bool | None:
    """Whether one of the stored archives of a name that match a local archive's description
    (what the client sent of it: an MD5 and a size, each checked when given) is intact; None
    when none matches."""
    md5, size = item.get("md5"), item.get("size")
    md5 = md5.lower() if md5 else None
    matched = None
    for archive in stored:
        if (md5 is None or md5 == archive.md5) and (size is None or size == archive.size):
            if archive.integrity not in DAMAGED:
                return True
            matched = False
    return matched


def _figures(count: int, size: int) -> dict[str, Any]:
    return {"count": count, "size": size, "size_human": human_size(size)}


def _brief(archive: BackupArchive | None) -> dict[str, Any] | None:
    if archive is None:
        return None
    return {
        "name": archive.name,
        "type": archive.type,
        "profile": archive.profile,
        "uploaded_at": isoformat(archive.uploaded_at),
    }


def stats(archives: list[BackupArchive], free_space: int | None) -> dict[str, Any]:
    storage = {kind: _figures(0, 0) for kind in ARCHIVE_TYPES}
    profiles: dict[str, dict[str, Any]] = {}
    for archive in archives:
        figures = storage[archive.type]
        figures.update(_figures(figures["count"] + 1, figures["size"] + archive.size))
        profile = profiles.setdefault(archive.profile, {**_figures(0, 0), "last_full": None})
        profile.update(_figures(profile["count"] + 1, profile["size"] + archive.size))
        if archive.type == "FULL":
            profile["last_full"] = _brief(archive)
    total_size = sum(a.size for a in archives)
    ordered = sorted(archives, key=lambda a: (a.uploaded_at, a.id))
    return {
        "status": "success",
        "timestamp": isoformat(utcnow()),
        "storage": storage,
        "total": {"files": len(archives), "size": total_size, "size_human": human_size(total_size)},
        "profiles": profiles,
        "oldest": _brief(ordered[0] if ordered else None),
        "newest": _brief(ordered[-1] if ordered else None),
        "free_space": free_space,
        "free_space_human": human_size(free_space) if free_space is not None else None,
    }
