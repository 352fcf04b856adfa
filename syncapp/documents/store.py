"""DocumentStore: the users' documents on a storage Remote (`<owner id>/<uuid><ext>`), indexed in
the database. Uploads stream straight into their final name (the write is atomic); a document
whose fields turn out invalid, or that does not fit in its owner's quota, is removed again
before anything is recorded. Every document's size counts towards its owner's quota.

A process killed between the write and the row leaves a file nobody can reach and whose upload
was never acknowledged: `sweep_debris` removes such files once older than the sweep's threshold,
and the temp files of killed writes (docs/architecture.md, "Debris")."""

from __future__ import annotations

import contextlib
import logging
import posixpath
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..failures import BadRequest, InsufficientStorage, NotFound
from ..quotas import hold_quota, register_usage, within_quota
from ..storage import Remote, RemoteFull, RemoteNotFound
from ..storage.base import Entry, is_stale_temp, is_temp, sweep
from ..timeutil import utcnow
from ..uploads import Received, clean_filename, receive_into
from .models import DOCUMENT_TYPES, Document

log = logging.getLogger(__name__)

_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,10}$")
#: a stored document's path, as `receive` names it: anything else in the store is not ours
STORED_PATH = re.compile(r"\d+/[0-9a-f]{32}(?:\.[A-Za-z0-9]{1,10})?")


def parse_type(value: str | None) -> str:
    kind = (value or "").strip().lower()
    if kind not in DOCUMENT_TYPES:
        raise BadRequest(
            f"Invalid document type {value!r}: use {', '.join(DOCUMENT_TYPES)}.",
            code="invalid_type",
        )
    return kind


def parse_date(value: str | None) -> date | None:
    """YYYY-MM-DD (a full ISO date-time is accepted and cut to its date); empty: none."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise BadRequest(f"Invalid date {value!r}: use YYYY-MM-DD.", code="invalid_date") from None


@dataclass(frozen=True)
class Stored:
    path: str
    filename: str
    content_type: str
    received: Received


class DocumentStore:
    def __init__(self, remote: Remote, session: Session, *, max_size: int) -> None:
        self.remote = remote
        self.session = session
        self.max_size = max_size

    def receive(
        self, owner_id: int, chunks: Iterable[bytes], filename: str | None, content_type: str | None
    ) -> Stored:
        name = clean_filename(filename)
        ext = posixpath.splitext(name)[1]
        path = f"{owner_id}/{uuid.uuid4().hex}{ext.lower() if _EXTENSION.fullmatch(ext) else ''}"
        counted = within_quota(self.session, owner_id, chunks)
        try:
            received = receive_into(self.remote, path, counted, limit=self.max_size)
        except RemoteFull as exc:
            raise InsufficientStorage(f"The document store is full: {exc}") from None
        return Stored(path, name, (content_type or "application/octet-stream")[:127], received)

    def discard(self, stored: Stored) -> None:
        with contextlib.suppress(RemoteNotFound):
            self.remote.delete(stored.path)

    def create(
        self, owner_id: int, stored: Stored, *, kind: str, document_date: date | None
    ) -> Document:
        """Record the received file as a document; if it cannot be (over quota, a database
        error), the file is removed: nothing unrecorded stays in the store."""
        now = utcnow()
        try:
            hold_quota(self.session, owner_id, stored.received.size)
            document = Document(
                owner_id=owner_id,
                type=kind,
                document_date=document_date or now.date(),
                filename=stored.filename,
                content_type=stored.content_type,
                stored_path=stored.path,
                size=stored.received.size,
                md5=stored.received.md5,
                uploaded_at=now,
                synced_to_nas=False,
            )
            self.session.add(document)
            self.session.commit()
        except BaseException:
            self.session.rollback()
            self.discard(stored)
            raise
        return document

    def get(self, document_id: int, *, owner_id: int | None) -> Document:
        """The document, if `owner_id` owns it (None: anyone's); else 404, so that other users'
        documents cannot even be told to exist."""
        document = self.session.get(Document, document_id)
        if document is None or (owner_id is not None and document.owner_id != owner_id):
            raise NotFound(f"Document {document_id} not found.", code="document_not_found")
        return document

    def search(
        self,
        *,
        owner_id: int | None,
        kind: str | None = None,
        synced: bool | None = None,
        page: int = 1,
        per_page: int = 50,
        order: Sequence[Any] | None = None,
    ) -> tuple[list[Document], int]:
        """One page of documents; `order` (ORDER BY clauses, e.g. a page's chosen column)
        replaces the default newest date first."""
        query = select(Document)
        if owner_id is not None:
            query = query.where(Document.owner_id == owner_id)
        if kind is not None:
            query = query.where(Document.type == kind)
        if synced is not None:
            query = query.where(Document.synced_to_nas.is_(synced))
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        ordered = query.order_by(*(order or (Document.document_date.desc(), Document.id.desc())))
        items = self.session.scalars(ordered.limit(per_page).offset((page - 1) * per_page))
        return list(items), total

    def delete(self, document: Document) -> None:
        """Remove the stored file and the record; the copy on the NAS is the archive and stays."""
        with contextlib.suppress(RemoteNotFound):
            self.remote.delete(document.stored_path)
        self.session.delete(document)
        self.session.commit()

    def sweep_debris(self, *, older_than: datetime) -> list[str]:
        """Remove what killed uploads left: stale temp files, and stored files without a row
        (written before the kill, never recorded, never acknowledged) last modified before
        `older_than`, so that an upload between its write and its row is never touched. A table
        without a single row is not this store's index (a new database over an old store):
        its files are then left alone."""
        known = set(self.session.scalars(select(Document.stored_path)))
        self.session.commit()  # no transaction held while the store is listed (issue 18)

        def is_debris(entry: Entry) -> bool:
            if is_temp(entry.path):
                return is_stale_temp(entry, older_than)
            return (
                bool(known)
                and entry.path not in known
                and STORED_PATH.fullmatch(entry.path) is not None
                and entry.modified is not None
                and entry.modified < older_than
            )

        removed = sweep(self.remote, is_debris, what="document debris")
        if removed:
            log.info("removed %d piece(s) of interrupted document uploads", len(removed))
        return removed


def documents_usage(session: Session, user_id: int) -> int:
    """Bytes of `user_id`'s documents in the store (their copies on the NAS are not counted)."""
    total = select(func.coalesce(func.sum(Document.size), 0)).where(Document.owner_id == user_id)
    return session.scalar(total) or 0


register_usage("documents", documents_usage)
