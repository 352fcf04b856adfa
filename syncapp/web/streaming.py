"""The web edge of bytes: receive a multipart upload into a feature's store, send a stored file.

Every feature that takes or gives files goes through here, so that the framing rules (what a
malformed form answers, that a half-received file is discarded) and the download headers (one
Content-Disposition that survives any stored name, Range and conditional requests) are written
once. The stores only ever see a stream of chunks (`receive_into`) or are asked for a reader.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from flask import Response, request, send_file

from ..bodies import request_source
from ..failures import BadRequest
from ..multipart import FormPart, MultipartError, StreamingForm, boundary_of
from ..storage import Remote
from ..storage.base import CHUNK_SIZE
from ..storage.local import LocalRemote

Staged = TypeVar("Staged")


@dataclass(frozen=True)
class ReceivedForm(Generic[Staged]):
    #: what the store made of the first `file` part with a filename, or None if none came
    file: Staged | None
    #: the text fields asked for, as sent (a field sent twice: its last value)
    fields: dict[str, str]


def receive_form(
    store_file: Callable[[FormPart], Staged],
    discard: Callable[[Staged], None],
    *,
    fields: Collection[str],
    field_limit: int,
    check_field: Callable[[str, str, bool], object] | None = None,
) -> ReceivedForm[Staged]:
    """Read the request's multipart body part by part, straight from the socket.

    The first `file` part with a filename goes to `store_file` while it arrives; the text fields
    named in `fields` (at most `field_limit` bytes each) are kept, and each is passed to
    `check_field(name, value, file_received)` as soon as it arrives, so that a field refused
    before the file is sent refuses the upload before a byte of the file is read. Whatever fails
    (a check, the store, a malformed body: 400 `bad_form`) discards the file already stored.
    """
    staged: Staged | None = None
    kept: dict[str, str] = {}
    try:
        source = request_source(request.environ, request.stream)
        form = StreamingForm(source, boundary_of(request.content_type))
        for part in form.parts():
            if part.name == "file" and part.filename is not None and staged is None:
                staged = store_file(part)
            elif part.name in fields:
                kept[part.name] = part.read_text(limit=field_limit)
                if check_field is not None:
                    check_field(part.name, kept[part.name], staged is not None)
    except BaseException as exc:
        if staged is not None:
            discard(staged)
        if isinstance(exc, MultipartError):
            raise BadRequest(f"Malformed upload: {exc}.", code="bad_form") from None
        raise
    return ReceivedForm(staged, kept)


@dataclass(frozen=True)
class Download:
    """How a stored file is offered: always as an attachment named `name`."""

    name: str
    mimetype: str
    etag: str | None = None
    last_modified: datetime | None = None
    #: announced as Content-Length when the bytes stream from a remote (a local file's size is
    #: read from the disk)
    size: int | None = None


def send_stored(remote: Remote, path: str, download: Download) -> Response:
    """The file at `path` in `remote` as the reply; `open_read`'s errors propagate.

    A local store hands Werkzeug the file itself: it then answers Range and conditional
    requests, and gunicorn sends the bytes with sendfile. Any other store is read as a stream;
    when the size is known (`download.size`), one byte range is served (206) with the store's
    ranged read (`Remote.read_range`: only the range crosses the network), and If-None-Match
    against the ETag still answers 304. Read what the reply needs from the database and end
    the transaction before calling this: a remote may stall, and a client may read slowly.
    """
    options = {
        "mimetype": download.mimetype,
        "as_attachment": True,
        "download_name": download.name,
        "etag": download.etag if download.etag is not None else False,
        "last_modified": download.last_modified,
        "conditional": True,
    }
    if isinstance(remote, LocalRemote):
        return send_file(remote.local_path(path), **options)
    span = _requested_span(download)
    if span == UNSATISFIABLE:
        response = Response(status=416)
        response.headers["Content-Range"] = f"bytes */{download.size}"
        return response
    if span is None:
        reader = remote.open_read(path)
    else:
        reader = remote.read_range(path, span[0], span[1] - span[0])
    response = send_file(reader, **options)  # a 304 or 412 closes the reader with the response
    if response.status_code == 200:
        # send_file would pass a file object on 8 KiB at a time, a socket write each; a remote's
        # reader holds chunks of a MiB, which go out whole
        response.response = iter(lambda: reader.read(CHUNK_SIZE), b"")
        response.call_on_close(reader.close)
        if download.size is not None:
            response.accept_ranges = "bytes"
            response.content_length = download.size
        if span is not None:
            start, stop = span
            response.status_code = 206
            response.content_length = stop - start
            response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{download.size}"
    return response


#: a Range no byte of the file satisfies (416)
UNSATISFIABLE = (-1, -1)


def _requested_span(download: Download) -> tuple[int, int] | None:
    """The one byte range asked for, as (start, stop); None to send the whole file (no Range, a
    size unknown, several ranges, or an If-Range naming another version); UNSATISFIABLE."""
    byte_range = request.range
    if byte_range is None or download.size is None or len(byte_range.ranges) != 1:
        return None
    if_range = request.if_range
    asked = if_range.etag is not None or if_range.date is not None
    # a range of another version is no range of this one: send it whole (RFC 9110 13.1.5);
    # only a strong ETag can say it is the same version
    if asked and (if_range.etag is None or if_range.etag != download.etag):
        return None
    span = byte_range.range_for_length(download.size)
    return UNSATISFIABLE if span is None else span
