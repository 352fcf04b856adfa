"""A folder in Google Drive, through the Drive v3 API (google-api-python-client + google-auth).

Drive has no paths, only files with parent folders, so a path "a/b/c.txt" below the root folder
is the folder "a" in the root, the folder "b" in "a" and the file "c.txt" in "b". Folders are
found (or created) one segment at a time and their ids cached; clients creating one folder at
the same moment all keep the oldest copy (`_create_shared_folder`). Drive allows several files with
the same name in one folder; when that happens (briefly during an overwrite, or after a writer
died between its steps) the most recently created one is the file at that path.
"""

from __future__ import annotations

import http.client
import logging
import os
import posixpath
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, BinaryIO

import google.oauth2.credentials
import httplib2
from google.auth.exceptions import GoogleAuthError, RefreshError
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import Error as ApiClientError
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaInMemoryUpload, MediaIoBaseDownload, MediaUpload

from . import coerce
from .base import (
    CHUNK_SIZE,
    Capabilities,
    ChecksumMismatch,
    ChunkReader,
    Entry,
    HashingReader,
    Remote,
    RemoteConfigError,
    RemoteError,
    RemoteFull,
    RemoteNotFound,
    RemoteUnavailable,
    clean_path,
    temp_name,
    verify_md5,
)

log = logging.getLogger(__name__)

FOLDER_MIME = "application/vnd.google-apps.folder"
#: Google Docs, Sheets, shortcuts...: no bytes to download, so they are not files for syncapp.
NATIVE_PREFIX = "application/vnd.google-apps."
FILE_FIELDS = "id,name,size,md5Checksum,modifiedTime,createdTime,mimeType"
LIST_FIELDS = f"nextPageToken,files({FILE_FIELDS})"
#: Files up to this size go in one multipart request rather than a resumable session and a chunk.
#: Google allows 5 MB, but the client library builds the multipart body with the email package
#: at about 50 MB/s, so beyond a few hundred KiB a second round trip is the cheaper cost.
MULTIPART_LIMIT = 256 * 1024
#: Resumable upload chunks must be multiples of 256 KiB (except the last one).
DRIVE_GRANULE = 256 * 1024
MiB = 1024 * 1024
#: 403 reasons that mean "slow down", not "you may not".
RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "sharingRateLimitExceeded"}
#: 403 reasons that mean "no room left" (the account's or the shared drive's storage).
FULL_REASONS = {"storageQuotaExceeded", "teamDriveFileLimitExceeded"}


class _SourceError(Exception):
    """The caller's own stream failed: re-raised unchanged, never mistaken for a Drive fault."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


def _quote(value: str) -> str:
    """A string literal for a Drive `q` query."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _rfc3339(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _usable_name(name: str) -> bool:
    # A "/" in a Drive name cannot be told apart from a folder boundary in a path: skip it.
    return "/" not in name and name not in ("", ".", "..")


def _is_file(item: dict) -> bool:
    return not item.get("mimeType", "").startswith(NATIVE_PREFIX) and _usable_name(
        item.get("name", "")
    )


def _newest(items: list[dict]) -> dict | None:
    return max(items, key=lambda item: (item.get("createdTime", ""), item["id"]), default=None)


def _oldest(items: list[dict]) -> dict | None:
    """Of folders with one name, the one every client keeps: the first created (ties by id)."""
    return min(items, key=lambda item: (item.get("createdTime", ""), item["id"]), default=None)


def _http_error(exc: HttpError, what: str) -> RemoteError:
    status = exc.status_code
    details = exc.error_details if isinstance(exc.error_details, list) else []
    reasons = {d.get("reason") for d in details if isinstance(d, dict)}
    message = exc.reason or f"HTTP {status}"
    if status == 404:
        return RemoteNotFound(what)
    if status == 401:
        return RemoteError(f"Drive refused the credentials (HTTP 401: {message})")
    if status == 403 and reasons & FULL_REASONS:
        return RemoteFull(f"{what}: the Drive storage quota is used up ({message})")
    if status == 403 and reasons & RATE_LIMIT_REASONS:
        return RemoteUnavailable(f"{what}: Drive asks to slow down ({message})")
    if status == 403:
        return RemoteError(f"{what}: Drive denied access (HTTP 403: {message})")
    if status in (408, 429) or status >= 500:
        return RemoteUnavailable(f"{what}: Drive is unavailable (HTTP {status}: {message})")
    return RemoteError(f"{what}: Drive answered HTTP {status}: {message}")


def _classify(exc: BaseException, what: str) -> RemoteError | None:
    """The RemoteError for a library or network exception; None for anything else (a bug)."""
    if isinstance(exc, HttpError):
        return _http_error(exc, what)
    if isinstance(exc, RefreshError) and not exc.retryable:
        return RemoteError(
            f"Drive refused the credentials: the access token could not be "
            f"refreshed ({exc}); reconnect the Google account"
        )
    if isinstance(exc, GoogleAuthError):  # transport trouble while talking to the token endpoint
        return RemoteUnavailable(f"{what}: the Google token endpoint is unreachable ({exc})")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return RemoteError(
            f"{what}: the Drive endpoint's TLS certificate is not trusted ({exc.verify_message})"
        )
    if isinstance(exc, httplib2.ServerNotFoundError):
        return RemoteUnavailable(f"{what}: {exc}")
    if isinstance(exc, OSError | httplib2.HttpLib2Error | http.client.HTTPException):
        return RemoteUnavailable(f"{what}: cannot reach Drive ({exc or type(exc).__name__})")
    if isinstance(exc, ApiClientError):
        return RemoteError(f"{what}: {exc}")
    return None


@contextmanager
def _errors(what: str) -> Iterator[None]:
    """Callers never see a library's own exception: translate it into the storage errors."""
    try:
        yield
    except (RemoteError, _SourceError):
        raise
    except Exception as exc:
        mapped = _classify(exc, what)
        if mapped is None:
            raise
        raise mapped from exc


class _StreamingMedia(MediaUpload):
    """The body of a resumable upload, read once from a one-way stream.

    MediaIoBaseUpload needs a seekable file (it seeks to the end to learn the size), which a
    network stream is not. This keeps at most one chunk (plus one byte) in memory and reads one
    byte ahead, so the total is known before the last chunk goes out: Drive then receives an exact
    "bytes a-b/total" range, and the size and MD5 checks run before the upload can complete.
    """

    def __init__(self, reader: HashingReader, chunk_size: int, limit: int | None, on_eof) -> None:
        super().__init__()
        self._reader = reader
        self._chunk = chunk_size
        self._limit = limit
        self._on_eof = on_eof
        self._buffer = bytearray()
        self._start = 0  # stream offset of _buffer[0]
        self._handed_out = 0  # stream offset where the last chunk given to the client ended
        self._eof = False

    def chunksize(self) -> int:
        return self._chunk

    def mimetype(self) -> str:
        return "application/octet-stream"

    def resumable(self) -> bool:
        return True

    def has_stream(self) -> bool:
        return False

    def size(self) -> int | None:
        # The client asks at the start of every next_chunk(): look ahead past the next chunk.
        self._fill(self._handed_out + self._chunk + 1)
        return self._start + len(self._buffer) if self._eof else None

    def getbytes(self, begin: int, length: int) -> bytes:
        if begin < self._start:
            raise RemoteError("Drive asked to resend bytes that are no longer buffered")
        del self._buffer[: begin - self._start]
        self._start = begin
        self._fill(begin + length)
        with memoryview(self._buffer) as view:
            data = bytes(view[:length])
        self._handed_out = begin + len(data)
        return data

    def _fill(self, upto: int) -> None:
        while not self._eof and self._start + len(self._buffer) < upto:
            wanted = min(upto - self._start - len(self._buffer), CHUNK_SIZE)
            try:
                data = self._reader.read(wanted)
            except Exception as exc:
                raise _SourceError(exc) from exc
            if not data:
                self._eof = True
                self._on_eof()
                return
            self._buffer += data
            if self._limit is not None and self._reader.bytes_read > self._limit:
                raise RemoteError(f"expected {self._limit} bytes, the stream holds more")


class _Sink:
    """Where MediaIoBaseDownload writes each chunk; ChunkReader takes it from here."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(data)
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class DriveRemote(Remote):
    kind = "gdrive"
    secret_settings = frozenset({"refresh_token", "client_secret", "access_token"})
    # a metadata update renames and re-parents; Drive reports every file's md5Checksum
    capabilities = Capabilities(move=True, hashes=frozenset({"md5"}))

    def __init__(
        self,
        *,
        refresh_token: str,
        client_id: str,
        client_secret: str,
        token_uri: str = "https://oauth2.googleapis.com/token",
        access_token: str | None = None,
        root_folder_id: str = "root",
        api_endpoint: str | None = None,
        ca_certs: str | None = None,
        chunk_size: int = 8 * MiB,
        timeout: float = 30,
    ) -> None:
        if api_endpoint and not api_endpoint.endswith("/drive/v3/"):
            raise RemoteConfigError(f"api_endpoint must end with /drive/v3/: {api_endpoint!r}")
        if ca_certs and not os.path.isfile(ca_certs):
            raise RemoteConfigError(f"ca_certs file does not exist: {ca_certs}")
        self.chunk_size = coerce.number("chunk_size", chunk_size)
        if self.chunk_size <= 0 or self.chunk_size % DRIVE_GRANULE:
            raise RemoteConfigError(
                f"chunk_size must be a positive multiple of 256 KiB "
                f"(262144 bytes), not {chunk_size}"
            )
        self.timeout = coerce.positive("timeout", timeout)
        self.root_folder_id = root_folder_id or "root"
        self.api_endpoint = api_endpoint
        self.ca_certs = ca_certs
        # Shared by every thread, so that one refresh serves them all.
        self._credentials = google.oauth2.credentials.Credentials(
            token=access_token,
            refresh_token=refresh_token,
            client_id=client_id,
            client_secret=client_secret,
            token_uri=token_uri,
        )
        # httplib2.Http is not thread-safe: each thread gets its own connection and service.
        self._local = threading.local()
        self._https: list[httplib2.Http] = []
        self._https_lock = threading.Lock()
        self._folder_lock = threading.Lock()
        self._root_id: str | None = None
        self._folders: dict[str, str] = {}  # folder path below the root -> Drive id

    def describe(self) -> str:
        where = f" at {self.api_endpoint}" if self.api_endpoint else ""
        return f"Google Drive folder {self.root_folder_id}{where}"

    # -- plumbing -----------------------------------------------------------------------------

    def _files(self) -> Any:
        """The files() collection of this thread's Drive service (built offline, lazily)."""
        service = getattr(self._local, "service", None)
        if service is None:
            transport = httplib2.Http(ca_certs=self.ca_certs, timeout=self.timeout)
            # A resumable upload answers "308 Resume Incomplete" without a Location: it is
            # not a redirect, and following it fails with RedirectMissingLocation.
            transport.redirect_codes = transport.redirect_codes - {308}
            options = {"api_endpoint": self.api_endpoint} if self.api_endpoint else None
            authorized = AuthorizedHttp(self._credentials, http=transport)
            service = build(
                "drive",
                "v3",
                http=authorized,
                static_discovery=True,
                cache_discovery=False,
                client_options=options,
            )
            with self._https_lock:
                self._https.append(transport)
            self._local.service = service
            self._local.http = authorized
        return service.files()

    def close(self) -> None:
        with self._https_lock:
            https, self._https = self._https, []
        for transport in https:
            transport.close()
        self._local = threading.local()

    def _root(self) -> str:
        if self._root_id is None:
            try:
                with _errors("root folder"):
                    item = (
                        self._files()
                        .get(
                            fileId=self.root_folder_id,
                            fields="id,mimeType",
                            supportsAllDrives=True,
                        )
                        .execute()
                    )
            except RemoteNotFound:
                raise RemoteError(
                    f"Drive folder {self.root_folder_id!r} (root_folder_id) does "
                    f"not exist or is not shared with this account"
                ) from None
            if item.get("mimeType") != FOLDER_MIME:
                raise RemoteConfigError(f"root_folder_id {self.root_folder_id!r} is not a folder")
            self._root_id = item["id"]  # "root" is an alias: keep the real id
        return self._root_id

    def _list(self, q: str, what: str) -> Iterator[dict]:
        token = None
        while True:
            with _errors(what):
                reply = (
                    self._files()
                    .list(
                        q=q,
                        fields=LIST_FIELDS,
                        pageSize=1000,
                        pageToken=token,
                        supportsAllDrives=True,
                        includeItemsFromAllDrives=True,
                    )
                    .execute()
                )
            yield from reply.get("files", [])
            token = reply.get("nextPageToken")
            if not token:
                return

    def _named(self, parent: str, name: str, *, folders: bool) -> list[dict]:
        kind = "=" if folders else "!="
        q = (
            f"{_quote(parent)} in parents and name = {_quote(name)} and trashed = false "
            f"and mimeType {kind} '{FOLDER_MIME}'"
        )
        items = list(self._list(q, name))
        return items if folders else [item for item in items if _is_file(item)]

    def _folder(self, folder: str, *, create: bool) -> str | None:
        """The Drive id of a folder path below the root; None when missing and not created."""
        if not folder:
            return self._root()
        cached = self._folders.get(folder)
        if cached is not None:
            return cached
        parent_path, name = posixpath.split(folder)
        parent = self._folder(parent_path, create=create)
        if parent is None:
            return None
        with self._folder_lock:  # one creator per process, so that a folder is made once
            if folder not in self._folders:
                found = _oldest(self._named(parent, name, folders=True))
                if found:
                    # Two processes may have raced to create it: all agree on the oldest one.
                    self._folders[folder] = found["id"]
                elif create:
                    self._folders[folder] = self._create_shared_folder(parent, name)
                else:
                    return None
            return self._folders[folder]

    def _make_folder(self, parent: str, name: str) -> str:
        with _errors(name):
            item = (
                self._files()
                .create(
                    body={"name": name, "mimeType": FOLDER_MIME, "parents": [parent]},
                    fields="id",
                    supportsAllDrives=True,
                )
                .execute()
            )
        return item["id"]

    def _create_shared_folder(self, parent: str, name: str) -> str:
        """Create the folder, then look again: other processes (or other Remote instances) may
        have found nothing and created the same folder at the same moment. Every creator keeps
        the oldest of them, so all files land in one folder; the folder made here, when it lost,
        is deleted while still empty (no client picks a newer duplicate), else left alone."""
        made = self._make_folder(parent, name)
        kept = _oldest(self._named(parent, name, folders=True))
        if kept is None or kept["id"] == made:  # not listed yet, or ours is the oldest
            return made
        log.info(
            "Drive folder %r was created by another client at the same time: using %s, "
            "removing the duplicate %s",
            name,
            kept["id"],
            made,
        )
        self._discard_if_empty(made)
        return kept["id"]

    def _discard_if_empty(self, folder_id: str) -> None:
        q = f"{_quote(folder_id)} in parents and trashed = false"
        if next(iter(self._list(q, folder_id)), None) is None:
            self._discard(folder_id)
        else:  # deleting a Drive folder deletes what is in it: never with files inside
            log.warning("duplicate Drive folder %s is not empty: left in place", folder_id)

    def ensure_folder(self, path: str) -> str:
        """The Drive id of the folder at `path` below the root, created when missing."""
        return self._folder(clean_path(path), create=True)  # type: ignore[return-value]

    def _versions(self, rel: str) -> tuple[str | None, list[dict]]:
        """(parent folder id, every file named like `rel` in it): several after a crash."""
        folder, name = posixpath.split(rel)
        parent = self._folder(folder, create=False) if name else None
        return parent, self._named(parent, name, folders=False) if parent else []

    def _find(self, rel: str) -> dict | None:
        return _newest(self._versions(rel)[1])

    def _entry(self, rel: str, item: dict) -> Entry:
        return Entry(
            path=rel,
            size=int(item.get("size") or 0),
            modified=_parse_time(item.get("modifiedTime")),
            md5=item.get("md5Checksum"),
            etag=item["id"],
        )  # every write makes a new file, so the id names the version

    def _discard(self, file_id: str) -> None:
        """Best-effort delete for clean-ups: a leftover is harmless, a masked error is not."""
        try:
            with _errors(file_id):
                self._files().delete(fileId=file_id, supportsAllDrives=True).execute()
        except RemoteNotFound:
            pass
        except RemoteError as exc:
            log.warning("could not delete Drive file %s: %s", file_id, exc)

    # -- the contract -------------------------------------------------------------------------

    def stat(self, path: str) -> Entry | None:
        rel = clean_path(path)
        item = self._find(rel)
        return None if item is None else self._entry(rel, item)

    def _iter_files(self, prefix: str) -> Iterator[Entry]:
        base = clean_path(prefix)
        start = self._folder(base, create=False)
        if start is None:
            return
        stack = [(base, start)]
        while stack:
            folder, folder_id = stack.pop()
            newest: dict[str, dict] = {}
            q = f"{_quote(folder_id)} in parents and trashed = false"
            for item in self._list(q, folder or "root folder"):
                if item.get("mimeType") == FOLDER_MIME and _usable_name(item["name"]):
                    stack.append((posixpath.join(folder, item["name"]), item["id"]))
                elif _is_file(item):
                    kept = newest.get(item["name"])
                    if kept is None or _newest([item, kept]) is item:
                        newest[item["name"]] = item
            for name, item in newest.items():
                yield self._entry(posixpath.join(folder, name), item)

    def open_read(self, path: str) -> BinaryIO:
        rel = clean_path(path)
        item = self._find(rel)
        if item is None:
            raise RemoteNotFound(rel)
        with _errors(rel):
            request = self._files().get_media(fileId=item["id"], supportsAllDrives=True)
        sink = _Sink()
        # Range requests of chunk_size each: memory stays at one chunk whatever the file size.
        download = MediaIoBaseDownload(sink, request, chunksize=self.chunk_size)

        def chunks() -> Iterator[bytes]:
            done = False
            while not done:
                with _errors(rel):
                    self._files()
                    # The reader may be consumed by another thread than the one that opened it:
                    # each chunk goes through the connection of the thread asking for it.
                    request.http = self._local.http
                    _, done = download.next_chunk()
                yield sink.take()

        return ChunkReader(chunks())  # type: ignore[return-value]

    def write(
        self,
        path: str,
        stream: BinaryIO,
        *,
        size: int | None = None,
        md5: str | None = None,
        modified: datetime | None = None,
        compute_md5: bool = True,
    ) -> Entry:
        # The sequence, chosen so that readers only ever see complete, verified files and a failed
        # write keeps the previous version:
        #  1. resumable upload into the target folder under a temp name (listings skip those);
        #     Drive creates the file only when the last chunk arrives, and the size and MD5 of the
        #     stream are checked before that last chunk is sent, so a short, long or corrupt stream
        #     never creates a file at all;
        #  2. compare Drive's md5Checksum and size with what was sent; on mismatch delete the temp;
        #  3. rename the temp to the final name (the new version becomes visible at once);
        #  4. delete the file(s) that had that name before. Between 3 and 4 both versions are
        #     visible under the name, and readers take the most recently created one.
        rel = clean_path(path)
        folder, name = posixpath.split(rel)
        if not name:
            raise RemoteError("cannot write to the root folder itself")
        parent = self._folder(folder, create=True)
        assert parent is not None
        reader = HashingReader(stream)

        def check_stream() -> None:
            if size is not None and reader.bytes_read != size:
                raise RemoteError(f"{rel}: expected {size} bytes, received {reader.bytes_read}")
            verify_md5(rel, md5, reader.md5)

        uploaded = self._upload(rel, parent, reader, size, check_stream, modified)
        temp_id = uploaded["id"]
        try:
            if (
                uploaded.get("md5Checksum") != reader.md5
                or int(uploaded.get("size") or -1) != reader.bytes_read
            ):
                raise ChecksumMismatch(
                    f"{rel}: Drive stored {uploaded.get('size')} bytes with MD5 "
                    f"{uploaded.get('md5Checksum')}, {reader.bytes_read} bytes with MD5 "
                    f"{reader.md5} were sent"
                )
            previous = [
                item for item in self._named(parent, name, folders=False) if item["id"] != temp_id
            ]
            changes: dict[str, str] = {"name": name}
            if modified is not None:
                changes["modifiedTime"] = _rfc3339(modified)
            with _errors(rel):
                final = (
                    self._files()
                    .update(
                        fileId=temp_id, body=changes, fields=FILE_FIELDS, supportsAllDrives=True
                    )
                    .execute()
                )
        except BaseException:
            self._discard(temp_id)
            raise
        for item in previous:
            self._discard(item["id"])
        return Entry(
            path=rel,
            size=reader.bytes_read,
            modified=_parse_time(final.get("modifiedTime")),
            md5=reader.md5,
            etag=final["id"],
        )

    def _upload(
        self,
        rel: str,
        parent: str,
        reader: HashingReader,
        size: int | None,
        check_stream,
        modified: datetime | None,
    ) -> dict:
        metadata: dict[str, Any] = {
            "name": posixpath.basename(temp_name(rel)),
            "parents": [parent],
            "mimeType": "application/octet-stream",
        }
        if modified is not None:
            metadata["modifiedTime"] = _rfc3339(modified)
        media = _StreamingMedia(reader, self.chunk_size, size, check_stream)
        try:
            with _errors(rel):
                total = media.size()  # reads ahead: is the whole file already in hand?
                if total is not None and total <= MULTIPART_LIMIT:
                    # One multipart request instead of a session and a chunk: small files are
                    # common, and round trips dominate their cost.
                    whole = MediaInMemoryUpload(media.getbytes(0, total), mimetype=media.mimetype())
                    return (
                        self._files()
                        .create(
                            body=metadata,
                            media_body=whole,
                            fields=FILE_FIELDS,
                            supportsAllDrives=True,
                        )
                        .execute()
                    )
                request = self._files().create(
                    body=metadata, media_body=media, fields=FILE_FIELDS, supportsAllDrives=True
                )
                response = None
                while response is None:
                    _, response = request.next_chunk()
        except _SourceError as exc:
            raise exc.original from None
        except RemoteNotFound:
            # The cached parent folder vanished (deleted elsewhere): forget the cache, so that
            # a retry finds or re-creates the folders.
            self._folders.clear()
            raise RemoteUnavailable(
                f"{rel}: its Drive folder disappeared during the upload; retrying will re-create it"
            ) from None
        return response

    def delete(self, path: str) -> None:
        rel = clean_path(path)
        items = self._versions(rel)[1]
        if not items:
            raise RemoteNotFound(rel)
        for item in items:  # same-name duplicates go too, or an older version would reappear
            try:
                with _errors(rel):
                    self._files().delete(fileId=item["id"], supportsAllDrives=True).execute()
            except RemoteNotFound:
                pass  # someone else deleted it first: the outcome is the same

    def move(self, src: str, dst: str) -> Entry:
        # Drive renames and re-parents a file in one metadata update, without copying bytes.
        # The file that had the destination name before is deleted afterwards (readers take the
        # newest in between), and so are stale same-name duplicates of the source, which would
        # otherwise reappear at the old path.
        rel_src, rel_dst = clean_path(src), clean_path(dst)
        src_parent, versions = self._versions(rel_src)
        item = _newest(versions)
        if item is None or src_parent is None:
            raise RemoteNotFound(rel_src)
        dst_folder, dst_name = posixpath.split(rel_dst)
        if not dst_name:
            raise RemoteError("cannot move a file onto the root folder itself")
        if rel_src == rel_dst:
            return self._entry(rel_dst, item)
        dst_parent = self._folder(dst_folder, create=True)
        assert dst_parent is not None
        replaced = [
            other
            for other in self._named(dst_parent, dst_name, folders=False)
            if other["id"] != item["id"]
        ]
        parents = (
            {"addParents": dst_parent, "removeParents": src_parent}
            if dst_parent != src_parent
            else {}
        )
        body = {"name": dst_name}
        if item.get("modifiedTime"):
            body["modifiedTime"] = item["modifiedTime"]  # a rename is not a content change
        with _errors(rel_src):
            moved = (
                self._files()
                .update(
                    fileId=item["id"],
                    body=body,
                    fields=FILE_FIELDS,
                    supportsAllDrives=True,
                    **parents,
                )
                .execute()
            )
        for other in replaced + [v for v in versions if v["id"] != item["id"]]:
            self._discard(other["id"])
        return self._entry(rel_dst, moved)
