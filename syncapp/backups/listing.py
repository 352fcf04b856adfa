"""/list and /verify read the index as plain rows, and /list keeps the items it wrote (issue 23).

Loading 10,000 `BackupArchive` ORM objects cost more than everything else these answers do, so
both select only the columns they use, in one query: /list joins the scrub's result of each
archive (what `scrub.results.findings(owner_id=...)` read) and asks the database whether an INC
or DIFF's FULL is stored (the unique index answers), so a row holds everything its item shows.

Writing an item (times, sizes, 16 fields, JSON) costs more than reading its row, and a listing
mostly lists what it listed before. So each process keeps the JSON of the items it wrote, keyed
by the whole row they were written from (`Rendered`): a row that changed in any column is
another key and is written anew, so nothing is ever invalidated and nothing stale can be
served, whoever wrote the database (another process, a migration, a cascade). The datetime
columns are selected as stored and converted only for an item being written.

Most requests change nothing between two listings, and even reading 10,000 rows costs more than
sending the whole answer. So each process also keeps whole answers (`Answers`, per app:
wiring.kept_answers; /list's body, /verify's prepared rows) under the owner's listing version
(`BackupListingVersion`), which the database's own triggers bump in every transaction that
changes the owner's archives or the scrub's results about them, whoever writes. A request
reads the version first, then (on a miss) the rows: a change committed in between is in the
rows and has bumped the version past the one the answer is kept under, so an answer is never
kept under a version older than what it shows.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import Select, and_, bindparam, exists, select
from sqlalchemy.orm import Session, aliased

from .. import fastjson
from ..scrub.models import ScrubResult
from .models import ARCHIVE_TYPES, BackupArchive, BackupListingVersion
from .report import item
from .store import Namespace, filtered

#: the scrub's result of an archive, as `scrub.results.findings` selects it for its owner
_FOUND = and_(
    ScrubResult.kind == "backup",
    ScrubResult.object_id == BackupArchive.id,
    ScrubResult.owner_id == BackupArchive.owner_id,
)
_Full = aliased(BackupArchive)
#: an INC or DIFF whose FULL (its owner's, its profile's) is not stored
_BASE_MISSING = and_(
    BackupArchive.type != "FULL",
    ~exists().where(
        _Full.owner_id == BackupArchive.owner_id,
        _Full.type == "FULL",
        _Full.profile == BackupArchive.profile,
        _Full.name == BackupArchive.base_archive,
    ),
)
#: what /list shows of an archive, in the order `_write` unpacks
LIST_COLUMNS = (
    BackupArchive.name,
    BackupArchive.size,
    BackupArchive.md5,
    BackupArchive.sha256,
    BackupArchive.type,
    BackupArchive.profile,
    BackupArchive.uploaded_at,
    BackupArchive.uploader,
    BackupArchive.base_archive,
    BackupArchive.integrity,
    ScrubResult.last_verified_at,
    ScrubResult.detail,
    _BASE_MISSING,
)
_TYPE = 4  # the column of the archive's type


class Archived(NamedTuple):
    """An archive as /verify compares and reports it (report.verify,
    verifications.record_verification): named like BackupArchive's columns. A tuple's field is
    read 10 times faster than a SQLAlchemy row's attribute, and /verify reads 60,000."""

    id: int
    type: str
    name: str
    profile: str
    size: int
    md5: str
    integrity: str


_VERIFY_COLUMNS = [getattr(BackupArchive, field) for field in Archived._fields]

#: an item as written: its JSON, or the dict when that JSON is not jsonify's (fastjson.encode)
Written = msgspec.Raw | dict[str, Any]


class Rendered:
    """The items a process wrote, per owner, keyed by the row each was written from.

    A listing of the whole namespace keeps exactly its rows' items (what was deleted or changed
    goes); a filtered one adds those it wrote. At most `limit` items are kept in all (about
    1.5 KB each with the row), the owners listed longest ago going first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._owners: OrderedDict[int, dict[tuple, Written]] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, owner_id: int) -> dict[tuple, Written]:
        """Read only: another request may replace it, never change it while it is read."""
        return self._owners.get(owner_id, {})

    def keep(self, owner_id: int, items: dict[tuple, Written], whole: bool) -> None:
        with self._lock:
            if not whole:
                items = {**self._owners.get(owner_id, {}), **items}
            self._owners[owner_id] = items
            self._owners.move_to_end(owner_id)
            total = sum(map(len, self._owners.values()))
            while total > self.limit and len(self._owners) > 1:
                total -= len(self._owners.popitem(last=False)[1])
            if total > self.limit:  # one owner with more archives than the limit
                self._owners.clear()


#: 10,000 archives are ~15 MB of a process's memory
RENDERED = Rendered(limit=25_000)


def list_rows(
    session: Session,
    namespace: Namespace,
    kind: str | None = None,
    profile: str | None = None,
    since: datetime | None = None,
) -> list[tuple]:
    """`namespace`'s archives as /list shows them (LIST_COLUMNS), oldest first, as the driver
    gives them: the times as stored, the flag as 1/0 on SQLite (`_write` converts both)."""
    query = select(*LIST_COLUMNS).outerjoin(ScrubResult, _FOUND)
    return _driver_rows(session, filtered(query, namespace, kind, profile, since))


def items(
    session: Session, owner_id: int, rows: Sequence[tuple], whole: bool
) -> list[tuple[str, Written]]:
    """(type, item) of each of `owner_id`'s `rows` (`list_rows`, all of them when `whole`),
    written now or before."""
    known = RENDERED.of(owner_id)
    written: dict[tuple, Written] = {}
    to_datetime: Callable[[Any], datetime | None] | None = None
    listed = []
    for row in rows:
        entry = known.get(row)
        if entry is None:
            to_datetime = to_datetime or _datetime_reader(session)
            entry = _write(row, to_datetime)
        written[row] = entry
        listed.append((row[_TYPE], entry))
    RENDERED.keep(owner_id, written, whole)
    return listed


def grouped(listed: list[tuple[str, Written]], kind: str | None = None) -> dict[str, list]:
    """The items per type; only `kind`'s key when one was asked for, as the original did."""
    groups: dict[str, list] = {k: [] for k in ((kind,) if kind else ARCHIVE_TYPES)}
    for of_type, entry in listed:
        groups[of_type].append(entry)
    return groups


def _write(row: tuple, to_datetime: Callable[[Any], datetime | None]) -> Written:
    (name, size, md5, sha256, kind, profile, uploaded_at, uploader, base, integrity,
     verified_at, detail, base_missing) = row  # fmt: skip
    entry = item(
        name, size, md5, sha256, kind, profile, to_datetime(uploaded_at), uploader, base,
        integrity, bool(base_missing), to_datetime(verified_at), "" if detail is None else detail,
    )  # fmt: skip
    data = fastjson.encode(entry)
    return entry if data is None else msgspec.Raw(data)


def _datetime_reader(session: Session) -> Callable[[Any], datetime | None]:
    """What SQLAlchemy does to a UtcDateTime column's stored value (SQLite: text) on this
    database, for the columns selected as stored."""
    dialect = session.get_bind().dialect
    column_type = BackupArchive.__table__.c.uploaded_at.type
    convert = column_type.dialect_impl(dialect).result_processor(dialect, None)
    return convert or (lambda value: value)


def verify_rows(session: Session, namespace: Namespace) -> list[Archived]:
    """`namespace`'s archives as /verify compares them, oldest first."""
    rows = _driver_rows(session, filtered(select(*_VERIFY_COLUMNS), namespace))
    return list(map(Archived._make, rows))


def _driver_rows(session: Session, query: Select) -> list[tuple]:
    """`query`'s rows in the session's transaction, as the database driver gives them: tuples.

    For 10,000 rows the ORM's handling of each cost a third of the time and SQLAlchemy's row
    objects another fifth (and they compare in Python: `items` looks each up). The callers'
    columns are integers, strings and values they convert themselves, which SQLAlchemy would
    hand over as the driver gives them."""
    result = session.connection().execute(query)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def unverified(session: Session, namespace: Namespace) -> list[BackupArchive]:
    """`namespace`'s archives whose gzip stream was not checked yet, for the check /verify
    finishes (ArchiveStore.check_integrity): usually none."""
    query = filtered(select(BackupArchive), namespace)
    return list(session.scalars(query.where(BackupArchive.integrity == "unverified")))


_VERSION = select(BackupListingVersion.version).where(
    BackupListingVersion.owner_id == bindparam("owner_id")
)


def version(session: Session, owner_id: int) -> int:
    """`owner_id`'s listing version: read before the rows an answer is made from."""
    return session.execute(_VERSION, {"owner_id": owner_id}).scalar() or 0


class Answers:
    """Answers a process made, each kept with the listing version it was made at; at most
    `limit` of them (of any owners, the least recently used going first: a /list body of
    10,000 archives is ~5 MB, /verify's prepared rows ~3 MB)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._kept: OrderedDict[tuple, tuple[int, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, at: int) -> Any | None:
        with self._lock:
            kept = self._kept.get(key)
            if kept is None or kept[0] != at:
                return None
            self._kept.move_to_end(key)
            return kept[1]

    def keep(self, key: tuple, at: int, answer: Any) -> None:
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept[0] > at:  # a newer one was kept meanwhile
                return
            self._kept[key] = (at, answer)
            self._kept.move_to_end(key)
            while len(self._kept) > self.limit:
                self._kept.popitem(last=False)
