"""A folder on a WebDAV server: Nextcloud, ownCloud, Apache mod_dav, nginx, WsgiDAV, a NAS.

Everything goes through one `requests.Session` (pooled keep-alive connections) instead of
webdavclient3's helpers: those read whole files into memory or write to local paths, and this
backend must stream in both directions and classify every failure itself.

Paths: `url` may carry a path of its own (Nextcloud: `https://host/remote.php/dav/files/<user>`;
a url ending in `/remote.php/dav` gets `/files/<username>` added), `remote_path` is a folder below
it, and the paths callers give are relative to that folder.
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import BinaryIO
from urllib.parse import quote, unquote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.util.retry import Retry

from . import coerce
from .base import (
    CHUNK_SIZE,
    Capabilities,
    ChunkReader,
    Entry,
    HashingReader,
    RangeReader,
    Remote,
    RemoteConfigError,
    RemoteError,
    RemoteNotFound,
    RemoteUnavailable,
    check_range,
    clean_path,
    skip,
    temp_name,
    verify_md5,
)

DAV = "{DAV:}"
OC = "{http://owncloud.org/ns}"

# oc:checksums is Nextcloud/ownCloud's record of a file's hashes; other servers answer 404 for it.
PROPFIND_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>'
    b"<d:resourcetype/><d:getcontentlength/><d:getlastmodified/><d:getetag/><oc:checksums/>"
    b"</d:prop></d:propfind>"
)

# Methods that are safe to send again when a pooled connection turned out to be dead. Never PUT
# (its body is a one-shot stream), MOVE or DELETE (a lost answer would turn success into 404).
RETRYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PROPFIND", "MKCOL"})


# WsgiDAV 4.4 decodes a MOVE's Destination before splitting off the query string (and ";params"),
# so such names land under a truncated name while the MOVE reports success. Writes of those names
# check the result, so that this turns into an error rather than a silently misplaced file.
MANGLED_BY_SOME_SERVERS = ("?", ";")


class _SourceFailed(Exception):
    """Raised inside a PUT body to abort the request; carries the caller's own error."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _UploadBody:
    """The PUT body: the caller's stream read in 1 MiB chunks, hashed on the way.

    With a known size it has a length, so requests sends Content-Length (some servers mishandle
    chunked uploads); without one the body goes out chunked. A short or long stream, or a read
    error, aborts the request through _SourceFailed instead of uploading something wrong.
    """

    def __init__(self, reader: HashingReader, first: bytes, size: int | None, rel: str) -> None:
        self._reader = reader
        self._first = first
        self._size = size
        self._rel = rel

    def __len__(self) -> int:
        return self._size or 0  # 0: requests then sends the body chunked

    def __bool__(self) -> bool:
        return True  # requests drops a falsy body, and len() is 0 when the size is unknown

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks()
        except _SourceFailed:
            raise
        except Exception as exc:  # the caller's stream failed: abort, and report its error
            raise _SourceFailed(exc) from exc

    def _chunks(self) -> Iterator[bytes]:
        chunk = self._first
        while chunk:
            if self._size is not None and self._reader.bytes_read > self._size:
                raise _SourceFailed(self._size_error())
            yield chunk
            chunk = self._reader.read(CHUNK_SIZE)
        if self._size is not None and self._reader.bytes_read != self._size:
            raise _SourceFailed(self._size_error())

    def _size_error(self) -> RemoteError:
        return RemoteError(
            f"{self._rel}: expected {self._size} bytes, received {self._reader.bytes_read}"
        )


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        stamp = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _md5_from_checksums(prop: ET.Element) -> str | None:
    """oc:checksums holds e.g. "SHA1:ab.. MD5:cd.. ADLER32:ef.." in one or more oc:checksum."""
    for node in prop.iter(f"{OC}checksum"):
        for item in (node.text or "").split():
            kind, _, value = item.partition(":")
            if kind.upper() == "MD5" and len(value) == 32:
                return value.lower()
    return None


class _Props:
    """The properties of one resource in a PROPFIND answer."""

    __slots__ = ("etag", "href_path", "is_folder", "md5", "modified", "size")

    def __init__(self, href_path: str, prop: ET.Element) -> None:
        self.href_path = href_path
        resourcetype = prop.find(f"{DAV}resourcetype")
        self.is_folder = resourcetype is not None and (
            resourcetype.find(f"{DAV}collection") is not None
        )
        length = (prop.findtext(f"{DAV}getcontentlength") or "").strip()
        self.size = int(length) if length.isdigit() else 0
        self.modified = _parse_time(prop.findtext(f"{DAV}getlastmodified"))
        etag = (prop.findtext(f"{DAV}getetag") or "").strip()
        self.etag = etag.removeprefix("W/").strip('"') or None
        self.md5 = _md5_from_checksums(prop)

    def entry(self, rel: str) -> Entry:
        return Entry(path=rel, size=self.size, modified=self.modified, md5=self.md5, etag=self.etag)


def _parse_multistatus(chunks: Iterable[bytes]) -> list[_Props]:
    """Every resource of a 207 answer that the server reported as found, hrefs decoded.

    Parsed as it arrives and each <response> dropped once read, so that a folder with a hundred
    thousand files costs a list of small objects, not the whole XML text and its tree.
    """
    parser = ET.XMLPullParser(events=("start", "end"))
    root: ET.Element | None = None
    found: list[_Props] = []
    try:
        for chunk in chunks:
            parser.feed(chunk)
            for event, element in parser.read_events():
                if root is None:
                    root = element
                elif event == "end" and element.tag == f"{DAV}response":
                    props = _response_props(element)
                    if props is not None:
                        found.append(props)
                    root.clear()
        parser.close()
    except ET.ParseError as exc:
        raise RemoteError(f"the server's PROPFIND answer is not valid XML: {exc}") from None
    return found


def _response_props(response: ET.Element) -> _Props | None:
    href = response.findtext(f"{DAV}href")
    if not href or not _status_ok(response.findtext(f"{DAV}status"), default=True):
        return None
    merged = ET.Element("prop")
    for propstat in response.findall(f"{DAV}propstat"):
        prop = propstat.find(f"{DAV}prop")
        if prop is not None and _status_ok(propstat.findtext(f"{DAV}status"), default=True):
            merged.extend(list(prop))
    # hrefs may be absolute URLs or absolute paths, always percent-encoded.
    return _Props(unquote(urlsplit(href.strip()).path).rstrip("/"), merged)


def _status_ok(status: str | None, *, default: bool) -> bool:
    if not status:
        return default
    parts = status.split()
    return len(parts) > 1 and parts[1].startswith("2")


class WebDavRemote(Remote):
    kind = "webdav"
    secret_settings = frozenset({"password"})
    # MOVE renames on the server; Nextcloud and ownCloud report an MD5 (oc:checksums)
    capabilities = Capabilities(move=True, hashes=frozenset({"md5"}))

    def __init__(
        self,
        *,
        url: str,
        username: str,
        password: str,
        remote_path: str = "",
        timeout: float = 30,
        verify_tls: bool = True,
    ) -> None:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RemoteConfigError(f"url must be an http:// or https:// address, not {url!r}")
        try:
            port = parts.port
        except ValueError:
            raise RemoteConfigError(f"url has an invalid port: {url!r}") from None
        self.timeout = coerce.positive("timeout", timeout)
        # Any user:password@ in the url is dropped: credentials come from their own settings,
        # and the url shows up in messages.
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        self._origin = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
        # The url's own path stays as given (it may already be percent-encoded).
        self._base_path = parts.path.rstrip("/")
        if self._base_path.endswith("/remote.php/dav"):
            # Nextcloud's DAV root (what its own docs, and seed 002, give as "the url") holds
            # every user's files one level down, at files/<user>.
            self._base_path += "/files/" + quote(username, safe="")
        self.root = clean_path(remote_path or "")
        self.username = username
        verify = coerce.flag("verify_tls", verify_tls)
        self._session = self._make_session(username, password, verify)
        self._folders: set[str] = set()  # folders (relative to url) known to exist

    @staticmethod
    def _make_session(username: str, password: str, verify_tls: bool) -> requests.Session:
        session = requests.Session()
        # As UTF-8 bytes: requests would encode text as Latin-1 (or fail on other characters),
        # while Nextcloud, ownCloud and WsgiDAV decode Basic credentials as UTF-8.
        session.auth = (username.encode(), password.encode())
        session.verify = verify_tls
        session.trust_env = False  # no ~/.netrc credentials or proxy variables sneaking in
        session.headers["User-Agent"] = "syncapp-webdav"
        retry = Retry(
            total=2,
            connect=1,
            read=1,
            status=0,
            other=0,
            redirect=0,
            allowed_methods=RETRYABLE_METHODS,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def describe(self) -> str:
        where = self._origin + self._base_path + ("/" + self.root if self.root else "")
        return f"WebDAV {where} (user {self.username})"

    def close(self) -> None:
        self._session.close()

    # -- addresses ------------------------------------------------------------------------------

    def _full(self, rel: str) -> str:
        """Path relative to the url, remote_path included."""
        return "/".join(p for p in (self.root, rel) if p)

    def _url(self, full: str, *, folder: bool = False) -> str:
        path = self._base_path + "/" + quote(full, safe="/")
        if folder and not path.endswith("/"):
            path += "/"
        return self._origin + path

    # -- HTTP -----------------------------------------------------------------------------------

    def _request(self, method: str, url: str, rel: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)
        try:
            return self._session.request(method, url, **kwargs)
        except _SourceFailed:
            raise
        except requests.exceptions.SSLError as exc:
            raise RemoteError(
                f"TLS error talking to {self._origin} ({_reason(exc)}); for a self-signed "
                "certificate set verify_tls to false"
            ) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RemoteUnavailable(f"cannot reach {self._origin}: {_reason(exc)}") from None
        except (requests.RequestException, Urllib3Error, OSError) as exc:
            raise RemoteUnavailable(f"{method} {rel or '/'} failed: {_reason(exc)}") from None

    def _fail(self, response: requests.Response, rel: str, action: str) -> RemoteError:
        """The error for a non-success answer (the caller raises it)."""
        code = response.status_code
        _drain(response)
        what = f"{action} {rel or '/'}"
        if code == 401:
            return RemoteError(self._auth_message(response))
        if code == 403:
            return RemoteError(f"{what}: permission denied (403) for user {self.username!r}")
        if code == 404:
            return RemoteNotFound(rel)
        if code == 507:
            return RemoteError(f"{what}: the server has no space left (507 Insufficient Storage)")
        if code in (408, 423, 429) or (code >= 500 and code not in (501, 505)):
            return RemoteUnavailable(f"{what}: the server answered {code} {response.reason}")
        if 300 <= code < 400:
            target = response.headers.get("Location", "?")
            return RemoteError(f"{what}: the server redirects to {target}; use that url")
        return RemoteError(f"{what}: the server answered {code} {response.reason}")

    def _base_missing(self) -> RemoteNotFound:
        return RemoteNotFound(
            f"the folder {self._origin}{self._base_path or '/'} does not exist on the server: "
            "check the url"
        )

    def _auth_message(self, response: requests.Response) -> str:
        challenge = response.headers.get("WWW-Authenticate", "")
        if challenge and "basic" not in challenge.lower():
            return (
                f"{self._origin} asks for {challenge.split()[0]} authentication; "
                "only Basic authentication is supported"
            )
        return (
            f"authentication failed for user {self.username!r} at {self._origin}: "
            "check the username and password"
        )

    # -- PROPFIND -------------------------------------------------------------------------------

    def _propfind(self, full: str, depth: str, rel: str, *, folder: bool = False) -> list[_Props]:
        """Found resources, or [] when the path does not exist."""
        url = self._url(full, folder=folder)
        headers = {"Depth": depth, "Content-Type": "application/xml; charset=utf-8"}
        response = self._request(
            "PROPFIND", url, rel, data=PROPFIND_BODY, headers=headers, stream=True
        )
        if (
            response.is_redirect
            and not url.endswith("/")
            and (response.headers.get("Location", "").endswith("/"))
        ):
            # Some servers redirect a folder's plain name to its slash form: ask there.
            _drain(response)
            url += "/"
            response = self._request(
                "PROPFIND", url, rel, data=PROPFIND_BODY, headers=headers, stream=True
            )
        if response.status_code in (404, 409):  # 409: a parent is missing or is a file
            _drain(response)
            return []
        if response.status_code != 207:
            raise self._fail(response, rel, "listing")
        with response:
            return _parse_multistatus(self._body_chunks(response, rel, 64 * 1024))

    def _stat_full(self, full: str, rel: str) -> _Props | None:
        found = self._propfind(full, "0", rel)
        if not found or found[0].is_folder:
            return None
        return found[0]

    def _is_folder(self, full: str) -> bool:
        found = self._propfind(full, "0", full)
        return bool(found) and found[0].is_folder

    def stat(self, path: str) -> Entry | None:
        rel = clean_path(path)
        if not rel:
            return None  # the root is a folder
        props = self._stat_full(self._full(rel), rel)
        return props.entry(rel) if props else None

    def _children(self, rel_folder: str) -> Iterator[tuple[str, _Props]]:
        """(path relative to the root, props) of each member of a folder."""
        full = self._full(rel_folder)
        found = self._propfind(full, "1", rel_folder, folder=True)
        if not found:
            return
        own = self._own_response(found, full)
        if not own.is_folder:
            return  # the prefix names a file, not a folder
        for props in found:
            if props is own:
                continue
            if not props.href_path.startswith(own.href_path + "/"):
                raise RemoteError(
                    f"listing {rel_folder or '/'}: the server returned an unexpected href "
                    f"{props.href_path!r}"
                )
            name = props.href_path[len(own.href_path) + 1 :]
            if name and "/" not in name and name not in (".", ".."):
                yield "/".join(p for p in (rel_folder, name) if p), props

    def _own_response(self, found: list[_Props], full: str) -> _Props:
        """The folder's own entry in its Depth 1 answer."""
        expected = (unquote(self._base_path) + "/" + full).rstrip("/")
        for props in found:
            if props.href_path == expected:
                return props
        # A proxy that rewrites the path prefix changes every href alike: the folder itself is
        # then the shortest one, and its members sit one segment below it.
        return min(found, key=lambda props: len(props.href_path))

    def _iter_files(self, prefix: str = "") -> Iterator[Entry]:
        # Depth 1 level by level: many servers (Nextcloud among them) refuse Depth: infinity.
        pending = [clean_path(prefix)]
        while pending:
            folder = pending.pop()
            for rel, props in self._children(folder):
                if props.is_folder:
                    pending.append(rel)
                else:
                    yield props.entry(rel)

    # -- reading --------------------------------------------------------------------------------

    def open_read(self, path: str) -> BinaryIO:
        rel = clean_path(path)
        if not rel:
            raise RemoteNotFound("/")
        response = self._request(
            "GET",
            self._url(self._full(rel)),
            rel,
            stream=True,
            headers={"Accept-Encoding": "identity"},  # the stored bytes, nothing to decompress
        )
        if response.status_code in (301, 302, 307, 308, 409):
            # A folder (servers redirect to its slash form) or a path through a file.
            _drain(response)
            raise RemoteNotFound(rel)
        if response.status_code != 200:
            raise self._fail(response, rel, "reading")
        return ChunkReader(self._body_chunks(response, rel), on_close=response.close)  # type: ignore[return-value]

    def read_range(self, path: str, offset: int, length: int | None = None) -> BinaryIO:
        """A GET with a Range header (RFC 9110): the server sends only the range (206); one
        that ignores Range (200) sends everything, and the bytes before it are dropped."""
        check_range(offset, length)
        rel = clean_path(path)
        if not rel:
            raise RemoteNotFound("/")
        if length == 0:
            return self._nothing_of(rel)
        last = "" if length is None else str(offset + length - 1)
        response = self._request(
            "GET",
            self._url(self._full(rel)),
            rel,
            stream=True,
            headers={"Accept-Encoding": "identity", "Range": f"bytes={offset}-{last}"},
        )
        if response.status_code in (301, 302, 307, 308, 409):
            _drain(response)
            raise RemoteNotFound(rel)
        if response.status_code == 416:  # starts at or past the end
            _drain(response)
            return self._nothing_of(rel)
        if response.status_code not in (200, 206):
            raise self._fail(response, rel, "reading")
        reader = ChunkReader(self._body_chunks(response, rel), on_close=response.close)
        if response.status_code == 200:
            skip(reader, offset)  # type: ignore[arg-type]
        return RangeReader(reader, length)  # type: ignore[arg-type, return-value]

    def _nothing_of(self, rel: str) -> BinaryIO:
        """An empty range of a file that must exist."""
        if self.stat(rel) is None:
            raise RemoteNotFound(rel)
        return io.BytesIO(b"")

    def _body_chunks(
        self, response: requests.Response, rel: str, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        try:
            yield from response.iter_content(chunk_size)
        except (requests.RequestException, Urllib3Error, OSError) as exc:
            response.close()
            raise RemoteUnavailable(
                f"reading {rel or '/'} was interrupted: {_reason(exc)}"
            ) from None

    # -- writing --------------------------------------------------------------------------------

    def _ensure_folder(self, full: str) -> None:
        """Create `full` (relative to the url) and missing parents; the url itself must exist."""
        if not full or full in self._folders:
            return
        response = self._request("MKCOL", self._url(full, folder=True), full)
        code = response.status_code
        _drain(response)
        if code in (404, 409):
            # The parent is missing: create it first, or, when the parent is the url's own
            # folder, the url is wrong.
            parent = posixpath.dirname(full)
            if not parent:
                raise self._base_missing()
            self._ensure_folder(parent)
            response = self._request("MKCOL", self._url(full, folder=True), full)
            code = response.status_code
            _drain(response)
        # 405: something exists there already (RFC 4918 9.3.1); a file in the way shows up as a
        # failing PUT below. Some servers say 403 for an existing folder whose parent the user
        # may not write to (a folder shared with them), and WsgiDAV says 500 when another
        # thread created the folder a moment earlier: either way, the folder is there to use.
        if code not in (200, 201, 204, 401, 405) and self._is_folder(full):
            code = 405
        if code not in (200, 201, 204, 405):
            raise self._fail(response, full, "creating folder")
        self._folders.add(full)

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
        rel = clean_path(path)
        if not rel:
            raise RemoteError("cannot write to the root folder itself; give a file name")
        final = self._full(rel)
        temp = temp_name(final)
        self._prepare_target(final, rel)
        reader = HashingReader(stream)
        try:
            self._put(temp, rel, reader, size, modified)
            verify_md5(rel, md5, reader.md5)
            stored = self._stat_full(temp, rel)
            if stored is None or stored.size != reader.bytes_read:
                got = "nothing" if stored is None else f"{stored.size} bytes"
                raise RemoteError(
                    f"{rel}: sent {reader.bytes_read} bytes but the server stored {got}"
                )
            self._move(temp, final, rel)
        except BaseException:
            self._discard(temp)
            raise
        return Entry(
            path=rel,
            size=reader.bytes_read,
            modified=stored.modified,
            md5=reader.md5,
            etag=stored.etag,
        )

    def _put(
        self,
        temp: str,
        rel: str,
        reader: HashingReader,
        size: int | None,
        modified: datetime | None,
    ) -> None:
        headers = {"Content-Type": "application/octet-stream"}
        if modified is not None and modified.timestamp() >= 0:
            # Nextcloud/ownCloud (and WsgiDAV with honor_mtime_header) keep this as the mtime.
            headers["X-OC-Mtime"] = str(int(modified.timestamp()))
        first = reader.read(CHUNK_SIZE)
        body: _UploadBody | bytes = b""  # empty: Content-Length 0 rather than an empty chunk
        if first:
            body = _UploadBody(reader, first, size, rel)
        elif size:
            raise RemoteError(f"{rel}: expected {size} bytes, received 0")
        try:
            response = self._request("PUT", self._url(temp), rel, data=body, headers=headers)
        except _SourceFailed as exc:
            raise exc.error from None
        if response.status_code in (404, 409):
            # The folder was there when cached; someone removed it since. Forget it so that a
            # retry creates it again.
            _drain(response)
            folder = posixpath.dirname(temp)
            self._folders.clear()
            if not folder:
                raise self._base_missing()
            raise RemoteUnavailable(f"{rel}: its folder disappeared during the upload; retry")
        if response.status_code not in (200, 201, 204):
            raise self._fail(response, rel, "uploading")
        _drain(response)

    def _prepare_target(self, final: str, rel: str) -> None:
        """Make `final`'s folder, and make sure no folder has its name: a MOVE with Overwrite: T
        onto a folder deletes the whole folder first (RFC 4918 9.9.3)."""
        self._ensure_folder(posixpath.dirname(final))
        if self._is_folder(final):
            raise RemoteError(f"{rel}: a folder of that name is in the way")

    def move(self, src: str, dst: str) -> Entry:
        """A MOVE on the server: no byte crosses the network again."""
        rel_src, rel_dst = clean_path(src), clean_path(dst)
        if not rel_dst:
            raise RemoteError("cannot move a file onto the root folder itself")
        source = self._stat_full(self._full(rel_src), rel_src) if rel_src else None
        if source is None:
            raise RemoteNotFound(rel_src)
        if rel_src == rel_dst:
            return source.entry(rel_dst)
        final = self._full(rel_dst)
        self._prepare_target(final, rel_dst)
        self._move(self._full(rel_src), final, rel_dst, "moving a file onto")
        moved = self._stat_full(final, rel_dst)
        if moved is None:
            raise RemoteError(f"{rel_dst}: missing right after the server moved it there")
        return moved.entry(rel_dst)

    def _move(
        self, source: str, final: str, rel: str, action: str = "renaming the upload onto"
    ) -> None:
        response = self._request(
            "MOVE",
            self._url(source),
            rel,
            headers={"Destination": self._url(final), "Overwrite": "T"},
        )
        if response.status_code == 409:
            # The destination's folder was there when cached (RFC 4918 9.9.4: a missing parent);
            # someone removed it since. Forget the cache, so that a retry makes it again.
            _drain(response)
            self._folders.clear()
            raise RemoteUnavailable(f"{action} {rel}: its folder disappeared; retry")
        if response.status_code not in (201, 204):
            raise self._fail(response, rel, action)
        _drain(response)
        if any(char in final for char in MANGLED_BY_SOME_SERVERS) and (
            self._stat_full(final, rel) is None
        ):
            raise RemoteError(
                f"{rel}: the server stored the file under another name: it mishandles "
                f"{' and '.join(repr(c) for c in MANGLED_BY_SOME_SERVERS)} in names"
            )

    def _discard(self, temp: str) -> None:
        """Best effort: a leftover temp file is invisible to listings and cleaned up later."""
        with contextlib.suppress(RemoteError):
            self._request("DELETE", self._url(temp), temp, timeout=min(self.timeout, 10)).close()

    def delete(self, path: str) -> None:
        rel = clean_path(path)
        full = self._full(rel)
        # DELETE on a folder removes everything below it: make sure this is a file first.
        if not rel or self._stat_full(full, rel) is None:
            raise RemoteNotFound(rel)
        response = self._request("DELETE", self._url(full), rel)
        if response.status_code not in (200, 204):
            raise self._fail(response, rel, "deleting")
        _drain(response)

    def checksum(self, path: str) -> str | None:
        entry = self.stat(path)
        if entry is None:
            raise RemoteNotFound(clean_path(path))
        return entry.md5  # only Nextcloud/ownCloud keep one (oc:checksums), when a client sent it


def _drain(response: requests.Response) -> None:
    """Finish with an answer whose body is small (errors, 404s, redirects): reading it to the end
    returns the connection to the pool, where closing it unread would throw the connection away
    (a new TCP and TLS handshake for the next request)."""
    try:
        length = int(response.headers.get("Content-Length", "0") or 0)
        if length <= 64 * 1024 and response.headers.get("Transfer-Encoding") != "chunked":
            response.content  # noqa: B018 - read for its side effect
    except (ValueError, requests.RequestException, Urllib3Error, OSError):
        pass
    finally:
        response.close()


def _reason(exc: BaseException) -> str:
    """A short cause for a requests/urllib3 error, without their long wrapper text."""
    text = str(exc)
    verify = re.search(r"certificate verify failed: ([^(]+?)\s*(\(_ssl|'|\"|$)", text)
    if verify:
        return f"certificate verify failed: {verify.group(1).rstrip('.')}"
    if any(
        sign in text
        for sign in (
            "NameResolutionError",
            "Name or service not known",
            "nodename nor servname",
            "getaddrinfo failed",
        )
    ):
        return "the host name does not resolve"
    if "Connection refused" in text:
        return "connection refused (is the server running, and is the port right?)"
    if "timed out" in text.lower() or isinstance(exc, requests.Timeout):
        return "no answer within the timeout"
    if "Connection aborted" in text or "RemoteDisconnected" in text or "reset by peer" in text:
        return "the connection was closed by the server"
    return text[:300]
