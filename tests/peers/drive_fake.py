"""A wire-level fake of the Google Drive v3 API, the only fake peer in the project.

No Drive server can run on a test machine, so this one speaks the subset of the REST protocol that
google-api-python-client sends for syncapp's Drive backend (see docs/test-peers.md): file
listing with `q`, metadata get/create/update/delete, media download with `Range`, multipart and
resumable uploads, and Google's OAuth endpoints (oauth_fake.py: the authorization endpoint and
the token endpoint, so that the app's whole "connect Google Drive" flow runs against it). It is
served over HTTPS because the client keeps the discovery document's https scheme for upload URLs.

Run it as a subprocess so that tests can stop and restart it:

    python -m tests.peers.drive_fake --port P --cert C --key K --data DIR \
        --client-id ID --client-secret SECRET --refresh-token TOKEN [--redirect-uri URI ...]

State lives under DIR (file bodies in blobs/, one JSON sidecar per file in meta/, upload sessions
in sessions/, issued access tokens in tokens.json), so a restart keeps files, sessions and tokens.
Uploads are written to disk as they arrive and hashed incrementally: nothing holds a whole file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.peers.oauth_fake import AUTHORIZATION_PATH, AuthorizationServer, OAuthError

FOLDER_MIME = "application/vnd.google-apps.folder"
IO_CHUNK = 1024 * 1024
#: Google refuses simple and multipart uploads above 5 MB; larger files must be resumable.
MULTIPART_LIMIT = 5 * 1024 * 1024
DEFAULT_FIELDS = ("kind", "id", "name", "mimeType")
#: Where the Flask test client's app receives the browser back (url_for(..., _external=True)).
DEFAULT_REDIRECT_URI = "http://localhost/auth/google/callback"


class DriveError(Exception):
    """An error answered in Google's JSON shape."""

    def __init__(self, code: int, reason: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [{"domain": "global", "reason": self.reason, "message": self.message}],
            }
        }


def not_found(file_id: str) -> DriveError:
    return DriveError(404, "notFound", f"File not found: {file_id}.")


def bad_request(message: str) -> DriveError:
    return DriveError(400, "invalid", message)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_id() -> str:
    return secrets.token_urlsafe(24)


def write_json(path: Path, data: Any) -> None:
    """Atomic replace, so that a server killed mid-write never leaves a torn sidecar."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    temp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(temp, path)


# ---------------------------------------------------------------------------------------------
# The `q` search language: the clauses syncapp sends, combined with and / or / not / parentheses.

TOKEN_RE = re.compile(
    r"\s*(?:(?P<str>'(?:\\.|[^'\\])*')|(?P<op>!=|<=|>=|=|<|>)|(?P<paren>[()])"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)

Predicate = Callable[[dict], bool]


def tokenize(q: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(q):
        if q[pos:].strip() == "":
            break
        match = TOKEN_RE.match(q, pos)
        if match is None:
            raise bad_request(f"Invalid Value: cannot parse query at {q[pos:]!r}")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append((kind, value))
        pos = match.end()
    return tokens


class QueryParser:
    def __init__(self, q: str, resolve: Callable[[str], str]) -> None:
        self.tokens = tokenize(q)
        self.pos = 0
        self.resolve = resolve

    def parse(self) -> Predicate:
        predicate = self.or_expr()
        if self.pos != len(self.tokens):
            raise bad_request(f"Invalid Value: unexpected {self.tokens[self.pos][1]!r} in query")
        return predicate

    def peek_word(self) -> str | None:
        if self.pos < len(self.tokens) and self.tokens[self.pos][0] == "word":
            return self.tokens[self.pos][1].lower()
        return None

    def take(self, kind: str | None = None) -> str:
        if self.pos >= len(self.tokens):
            raise bad_request("Invalid Value: query ends too early")
        token_kind, value = self.tokens[self.pos]
        if kind is not None and token_kind != kind:
            raise bad_request(f"Invalid Value: expected {kind}, found {value!r}")
        self.pos += 1
        return value

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.peek_word() == "or":
            self.pos += 1
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda f: any(p(f) for p in parts))

    def and_expr(self) -> Predicate:
        parts = [self.unary()]
        while self.peek_word() == "and":
            self.pos += 1
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda f: all(p(f) for p in parts))

    def unary(self) -> Predicate:
        if self.peek_word() == "not":
            self.pos += 1
            inner = self.unary()
            return lambda f: not inner(f)
        if self.pos < len(self.tokens) and self.tokens[self.pos] == ("paren", "("):
            self.pos += 1
            inner = self.or_expr()
            if self.take("paren") != ")":
                raise bad_request("Invalid Value: missing ')'")
            return inner
        return self.clause()

    def clause(self) -> Predicate:
        if self.tokens[self.pos][0] == "str":
            value = self.take("str")
            if (self.take("word").lower(), self.take("word")) != ("in", "parents"):
                raise bad_request("Invalid Value: only '<id>' in parents is supported")
            parent = self.resolve(value)
            return lambda f: parent in f.get("parents", [])
        field = self.take("word")
        op = self.take()
        if op.lower() == "contains":
            value = self.take("str")
            return lambda f: value in str(f.get(field, ""))
        if field == "trashed":
            wanted = self.take("word").lower() == "true"
            return self.compare(lambda f: bool(f.get("trashed")), op, wanted)
        if field not in ("name", "mimeType"):
            raise bad_request(f"Invalid Value: the fake does not search by {field!r}")
        value = self.take("str")
        return self.compare(lambda f: f.get(field), op, value)

    @staticmethod
    def compare(get: Callable[[dict], Any], op: str, value: Any) -> Predicate:
        if op == "=":
            return lambda f: get(f) == value
        if op == "!=":
            return lambda f: get(f) != value
        raise bad_request(f"Invalid Value: operator {op!r} is not supported here")


# ---------------------------------------------------------------------------------------------
# `fields` selection, honoured loosely: top-level names and one level of `files(...)`.


def parse_fields(spec: str) -> dict[str, Any]:
    """'nextPageToken,files(id,name)' -> {'nextPageToken': None, 'files': {'id': None, ...}}."""
    result: dict[str, Any] = {}
    stack = [result]
    name = ""
    for char in spec + ",":
        if char in ",()":
            name = name.strip()
            if char == "(":
                child: dict[str, Any] = {}
                stack[-1][name] = child
                stack.append(child)
            elif name:
                stack[-1][name] = None
            if char == ")" and len(stack) > 1:
                stack.pop()
            name = ""
        else:
            name += char
    return result


def select(resource: dict, spec: dict[str, Any] | None) -> dict:
    if spec is None or "*" in spec:
        return dict(resource)
    return {key: resource[key] for key in spec if key in resource}


# ---------------------------------------------------------------------------------------------
# State on disk.


class Store:
    def __init__(self, data: Path):
        self.data = data
        self.lock = threading.RLock()
        for sub in ("meta", "blobs", "sessions"):
            (data / sub).mkdir(parents=True, exist_ok=True)
        self.files: dict[str, dict] = {}
        for sidecar in (data / "meta").glob("*.json"):
            resource = json.loads(sidecar.read_text(encoding="utf-8"))
            self.files[resource["id"]] = resource
        self.sessions: dict[str, dict] = {}
        for sidecar in (data / "sessions").glob("*.json"):
            session = json.loads(sidecar.read_text(encoding="utf-8"))
            # The part file is the truth: a chunk cut short by a crash still counts.
            session["received"] = self.session_part(session["id"]).stat().st_size
            self.sessions[session["id"]] = session
        self.hashers: dict[str, Any] = {}  # session id -> running md5 (rebuilt after a restart)
        tokens_file = data / "tokens.json"
        self.tokens: set[str] = (
            set(json.loads(tokens_file.read_text())) if tokens_file.exists() else set()
        )
        self.root_id = self._load_root()
        self.quota: int | None = None  # bytes; None is unlimited

    def _load_root(self) -> str:
        marker = self.data / "root_id"
        if marker.exists():
            return marker.read_text().strip()
        root_id = new_id()
        stamp = now_rfc3339()
        self.save(
            {
                "kind": "drive#file",
                "id": root_id,
                "name": "My Drive",
                "mimeType": FOLDER_MIME,
                "parents": [],
                "trashed": False,
                "createdTime": stamp,
                "modifiedTime": stamp,
            }
        )
        marker.write_text(root_id)
        return root_id

    # -- tokens
    def issue_token(self) -> str:
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens.add(token)
            write_json(self.data / "tokens.json", sorted(self.tokens))
        return token

    # -- files
    def resolve(self, file_id: str) -> str:
        return self.root_id if file_id == "root" else file_id

    def get(self, file_id: str) -> dict:
        resource = self.files.get(self.resolve(file_id))
        if resource is None:
            raise not_found(file_id)
        return resource

    def blob(self, file_id: str) -> Path:
        return self.data / "blobs" / file_id

    def save(self, resource: dict) -> None:
        with self.lock:
            self.files[resource["id"]] = resource
            write_json(self.data / "meta" / f"{resource['id']}.json", resource)

    def new_resource(self, metadata: dict) -> dict:
        parents = [self.resolve(p) for p in metadata.get("parents") or ["root"]]
        for parent in parents:
            if self.get(parent).get("mimeType") != FOLDER_MIME:
                raise bad_request(f"The parent {parent} is not a folder.")
        stamp = now_rfc3339()
        return {
            "kind": "drive#file",
            "id": new_id(),
            "name": metadata.get("name") or "Untitled",
            "mimeType": metadata.get("mimeType") or "application/octet-stream",
            "parents": parents,
            "trashed": False,
            "createdTime": stamp,
            "modifiedTime": metadata.get("modifiedTime") or stamp,
        }

    def check_room(self, size: int) -> None:
        """Google refuses what would exceed the account's storage quota."""
        if self.quota is None:
            return
        with self.lock:
            used = sum(int(f.get("size") or 0) for f in self.files.values())
        if used + size > self.quota:
            raise DriveError(
                403, "storageQuotaExceeded", "The user's Drive storage quota has been exceeded."
            )

    def add_content(self, resource: dict, part: Path, md5: str, size: int) -> dict:
        try:
            self.check_room(size)
        except DriveError:
            part.unlink(missing_ok=True)
            raise
        os.replace(part, self.blob(resource["id"]))
        resource.update(size=str(size), md5Checksum=md5)
        self.save(resource)
        return resource

    def delete(self, file_id: str) -> None:
        with self.lock:
            resource = self.get(file_id)
            if resource["id"] == self.root_id:
                raise DriveError(403, "cannotDeleteRoot", "The root folder cannot be deleted.")
            doomed = [resource["id"]]
            index = 0
            while index < len(doomed):  # Drive deletes a folder's descendants with it
                doomed += [f["id"] for f in self.files.values() if doomed[index] in f["parents"]]
                index += 1
            for dead in doomed:
                self.files.pop(dead, None)
                (self.data / "meta" / f"{dead}.json").unlink(missing_ok=True)
                self.blob(dead).unlink(missing_ok=True)

    def search(self, q: str | None) -> list[dict]:
        predicate = QueryParser(q, self.resolve).parse() if q else (lambda f: True)
        with self.lock:
            found = [f for f in self.files.values() if f["id"] != self.root_id and predicate(f)]
        return found

    # -- upload sessions
    def open_session(self, metadata: dict, fields: str | None, total: int | None) -> dict:
        resource = self.new_resource(metadata)  # validates parents now, as Google does
        session = {
            "id": secrets.token_urlsafe(32),
            "resource": resource,
            "fields": fields,
            "received": 0,
            "total": total,
        }
        with self.lock:
            self.sessions[session["id"]] = session
            self.session_part(session["id"]).touch()
            self.hashers[session["id"]] = hashlib.md5()
            write_json(self.data / "sessions" / f"{session['id']}.json", session)
        return session

    def session_part(self, session_id: str) -> Path:
        return self.data / "sessions" / f"{session_id}.part"

    def session_hasher(self, session: dict):
        hasher = self.hashers.get(session["id"])
        if hasher is None:  # the server restarted mid-upload: rebuild the running hash once
            hasher = hashlib.md5()
            with open(self.session_part(session["id"]), "rb") as part:
                while chunk := part.read(IO_CHUNK):
                    hasher.update(chunk)
            self.hashers[session["id"]] = hasher
        return hasher

    def close_session(self, session: dict) -> None:
        with self.lock:
            self.sessions.pop(session["id"], None)
            self.hashers.pop(session["id"], None)
            (self.data / "sessions" / f"{session['id']}.json").unlink(missing_ok=True)
            self.session_part(session["id"]).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# HTTP.

CONTENT_RANGE_RE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)")
RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")
#: Paths a request reaches without a Drive access token.
UNAUTHENTICATED = frozenset({"/token", AUTHORIZATION_PATH, "/_fake/stats", "/_fake/quota"})


def split_part(part: bytes) -> tuple[bytes, bytes]:
    """(headers, payload) of one multipart part; the client's MIME writer may use LF or CRLF."""
    eol = b"\r\n" if part.startswith(b"\r\n") else b"\n"  # ends the delimiter line
    headers_end = part.find(eol + eol, len(eol))
    if not part.startswith(eol) or headers_end < 0:
        raise bad_request("malformed multipart part")
    # The line break before the next delimiter belongs to the delimiter.
    return part[:headers_end], part[headers_end + 2 * len(eol) :].removesuffix(eol)


class DriveHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real service and httplib2 expect
    server: DriveServer

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    # -- plumbing
    @property
    def store(self) -> Store:
        return self.server.store

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        self.body_left = int(self.headers.get("Content-Length") or 0)
        try:
            handler = self._route(self.command, url.path)
            if url.path not in UNAUTHENTICATED:
                self._check_token()
            handler()
        except DriveError as exc:
            self._drain()
            self._send_json(exc.code, exc.body(), exc.headers)
        except (ConnectionError, TimeoutError, ssl.SSLError):
            self.close_connection = True
        except Exception as exc:  # a bug in the fake: answer 500 instead of hanging the client
            self._drain()
            self._send_json(500, DriveError(500, "backendError", repr(exc)).body())
        if self.body_left:
            self.close_connection = True  # unread body bytes would poison the next request

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def _route(self, method: str, path: str) -> Callable[[], None]:
        if path == "/token" and method == "POST":
            return self.token
        if path == AUTHORIZATION_PATH and method == "GET":
            return self.authorize
        if path == "/_fake/stats" and method == "GET":
            return self.stats
        if path == "/_fake/quota" and method == "PUT":
            return self.set_quota
        if path == "/drive/v3/files":
            return {"GET": self.list_files, "POST": self.create_file}.get(method, self.no_route)
        match = re.fullmatch(r"/drive/v3/files/([^/]+)", path)
        if match:
            self.file_id = match.group(1)
            actions = {"GET": self.get_file, "PATCH": self.update_file, "DELETE": self.delete_file}
            return actions.get(method, self.no_route)
        if path == "/upload/drive/v3/files":
            if method == "PUT" and "upload_id" in self.query:
                return self.upload_chunk
            if method == "POST":
                return self.start_upload
        return self.no_route

    def no_route(self) -> None:
        raise DriveError(404, "notFound", f"The fake does not serve {self.command} {self.path}")

    def _check_token(self) -> None:
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        if token not in self.store.tokens:
            raise DriveError(
                401,
                "authError",
                "Request had invalid authentication credentials.",
                {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
            )

    def _read(self, size: int) -> bytes:
        data = self.rfile.read(min(size, self.body_left))
        self.body_left -= len(data)
        if size and not data:
            raise ConnectionError("client closed the connection mid-body")
        return data

    def _read_body(self, limit: int = MULTIPART_LIMIT) -> bytes:
        if self.body_left > limit:
            raise DriveError(413, "uploadTooLarge", "The request body is too large.")
        return self._read(self.body_left) if self.body_left else b""

    def _drain(self) -> None:
        while self.body_left > 0 and self.body_left <= 64 * IO_CHUNK:
            self._read(min(self.body_left, IO_CHUNK))

    def _json_body(self) -> dict:
        raw = self._read_body()
        try:
            return json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise bad_request("Invalid JSON payload received.") from None

    def _send(
        self,
        code: int,
        body: bytes = b"",
        headers: dict | None = None,
        content_type: str = "application/json; charset=UTF-8",
    ) -> None:
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if body or code not in (204, 308):
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _send_json(self, code: int, data: dict, headers: dict | None = None) -> None:
        self._send(code, json.dumps(data).encode(), headers)

    def _fields(self, default: Iterable[str] = DEFAULT_FIELDS) -> dict[str, Any] | None:
        spec = self.query.get("fields")
        return parse_fields(spec) if spec else dict.fromkeys(default)

    def stats(self) -> None:
        """Not Drive: request counters that let tests see which protocol path was taken."""
        with self.store.lock:
            self._send_json(200, dict(self.server.counters))

    def set_quota(self) -> None:
        """Not Drive: `{"quota": bytes or null}` sets the storage quota (until a restart), for
        "disk full" tests."""
        quota = self._json_body().get("quota")
        self.store.quota = None if quota is None else int(quota)
        self._send_json(200, {"quota": self.store.quota})

    # -- OAuth
    def authorize(self) -> None:
        self.server.count("authorizations")
        try:
            location = self.server.oauth.authorize(self.query)
        except OAuthError as exc:  # Google shows these on its own page, never redirects
            self._send_json(exc.status, exc.body())
            return
        self._send(302, b"", {"Location": location, "Cache-Control": "no-store"})

    def token(self) -> None:
        form = {k: v[-1] for k, v in parse_qs(self._read_body().decode()).items()}
        try:
            answer = self.server.oauth.token(form)
        except OAuthError as exc:
            self._send_json(exc.status, exc.body())
            return
        self._send_json(200, answer, {"Cache-Control": "no-store"})

    # -- metadata
    def list_files(self) -> None:
        found = self.store.search(self.query.get("q"))
        order = self.query.get("orderBy", "")
        for key in reversed([k.strip() for k in order.split(",") if k.strip()]):
            name, _, direction = key.partition(" ")
            found.sort(key=lambda f, n=name: str(f.get(n, "")), reverse=direction == "desc")
        size = min(int(self.query.get("pageSize") or 100), 1000)
        start = int(self.query.get("pageToken") or 0)
        page = found[start : start + size]
        # Without `fields` Drive answers every list key but only a few keys per file.
        spec = self.query.get("fields")
        fields = parse_fields(spec) if spec else None
        file_spec: dict[str, Any] | None = dict.fromkeys(DEFAULT_FIELDS)
        if fields is not None:
            file_spec = None if "*" in fields else fields.get("files")
        reply: dict[str, Any] = {
            "kind": "drive#fileList",
            "incompleteSearch": False,
            "files": [select(f, file_spec) for f in page],
        }
        if start + size < len(found):
            reply["nextPageToken"] = str(start + size)
        self._send_json(200, select(reply, fields))

    def get_file(self) -> None:
        resource = self.store.get(self.file_id)
        if self.query.get("alt") == "media":
            self.send_media(resource)
        else:
            self._send_json(200, select(resource, self._fields()))

    def create_file(self) -> None:
        metadata = self._json_body()
        # As on Drive, a file is listed from the moment its createdTime says: stamped and
        # saved at once, so creators racing each other see the same order of creation.
        with self.store.lock:
            resource = self.store.new_resource(metadata)
            if resource["mimeType"] != FOLDER_MIME:
                self.store.blob(resource["id"]).touch()
                resource.update(size="0", md5Checksum=hashlib.md5().hexdigest())
            self.store.save(resource)
        self._send_json(200, select(resource, self._fields()))

    def update_file(self) -> None:
        changes = self._json_body()
        with self.store.lock:
            resource = dict(self.store.get(self.file_id))
            for key in ("name", "modifiedTime", "trashed", "mimeType"):
                if key in changes:
                    resource[key] = changes[key]
            parents = list(resource["parents"])
            for removed in filter(None, self.query.get("removeParents", "").split(",")):
                parents = [p for p in parents if p != self.store.resolve(removed)]
            for added in filter(None, self.query.get("addParents", "").split(",")):
                folder = self.store.get(added)
                if folder.get("mimeType") != FOLDER_MIME:
                    raise bad_request(f"The parent {added} is not a folder.")
                if folder["id"] not in parents:
                    parents.append(folder["id"])
            resource["parents"] = parents
            if "modifiedTime" not in changes:
                resource["modifiedTime"] = now_rfc3339()
            self.store.save(resource)
        self._send_json(200, select(resource, self._fields()))

    def delete_file(self) -> None:
        self.store.delete(self.file_id)
        self._send(204)

    def send_media(self, resource: dict) -> None:
        self.server.count("media_gets")
        if resource.get("mimeType") == FOLDER_MIME:
            raise DriveError(
                403, "fileNotDownloadable", "Only files with binary content can be downloaded."
            )
        blob = self.store.blob(resource["id"])
        try:
            handle = open(blob, "rb")  # noqa: SIM115 - closed below, after streaming
        except FileNotFoundError:
            raise not_found(resource["id"]) from None
        with handle:
            total = os.fstat(handle.fileno()).st_size
            start, end, code = 0, total - 1, 200
            headers = {"Accept-Ranges": "bytes"}
            match = RANGE_RE.fullmatch(self.headers.get("Range", "").strip())
            if match and match.group(1):
                start = int(match.group(1))
                end = min(int(match.group(2)), total - 1) if match.group(2) else total - 1
                if start >= total:
                    raise DriveError(
                        416,
                        "requestedRangeNotSatisfiable",
                        "Request range not satisfiable",
                        {"Content-Range": f"bytes */{total}"},
                    )
                code = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{total}"
            self.send_response(code)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(max(end - start + 1, 0)))
            self.end_headers()
            handle.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = handle.read(min(IO_CHUNK, left))
                if not chunk:
                    raise ConnectionError("blob shrank while it was sent")
                self.wfile.write(chunk)
                left -= len(chunk)

    # -- uploads
    def start_upload(self) -> None:
        kind = self.query.get("uploadType")
        if kind == "resumable":
            self.start_resumable()
        elif kind == "multipart":
            self.multipart_upload()
        elif kind == "media":
            self.media_upload({"mimeType": self.headers.get("Content-Type")})
        else:
            raise bad_request(f"Invalid uploadType: {kind!r}")

    def start_resumable(self) -> None:
        self.server.count("resumable_sessions")
        declared = self.headers.get("X-Upload-Content-Length")
        metadata = self._json_body()
        metadata.setdefault("mimeType", self.headers.get("X-Upload-Content-Type"))
        self.store.check_room(int(declared) if declared else 0)
        session = self.store.open_session(
            metadata, self.query.get("fields"), int(declared) if declared else None
        )
        host = self.headers.get("Host", f"127.0.0.1:{self.server.server_port}")
        location = (
            f"https://{host}/upload/drive/v3/files?uploadType=resumable&upload_id={session['id']}"
        )
        self._send(200, b"", {"Location": location})

    def upload_chunk(self) -> None:
        self.server.count("chunk_puts")
        session = self.store.sessions.get(self.query["upload_id"])
        if session is None:
            raise DriveError(404, "notFound", "No such upload session.")
        first, last, total = self._content_range(session)
        skip = max(session["received"] - first, 0) if first is not None else self.body_left
        if first is not None and first > session["received"]:
            raise bad_request(f"Chunk starts at {first}, {session['received']} bytes received.")
        self._append(session, skip)
        if total is not None:
            session["total"] = total
        with self.store.lock:
            write_json(self.store.data / "sessions" / f"{session['id']}.json", session)
        received = session["received"]
        done = session["total"] is not None and received >= session["total"]
        if last is not None and last + 1 > received and not done:
            raise bad_request("The chunk arrived incomplete.")
        if not done:
            headers = {"Range": f"bytes=0-{received - 1}"} if received else {}
            self._send(308, b"", headers)
            return
        if received != session["total"]:
            raise bad_request(f"Received {received} bytes, {session['total']} were declared.")
        self.finish_session(session)

    def _content_range(self, session: dict) -> tuple[int | None, int | None, int | None]:
        header = self.headers.get("Content-Range")
        if header is None:  # the whole (possibly empty) content in one request
            return 0, None, self.body_left
        match = CONTENT_RANGE_RE.fullmatch(header.strip())
        if match is None:
            raise bad_request(f"Invalid Content-Range: {header!r}")
        first = int(match.group(1)) if match.group(1) is not None else None
        last = int(match.group(2)) if match.group(2) is not None else None
        total = None if match.group(3) == "*" else int(match.group(3))
        return first, last, total

    def _append(self, session: dict, skip: int) -> None:
        """Write the body to the session's part file as it arrives, hashing on the way."""
        while skip > 0:  # bytes the client re-sent that we already hold
            skip -= len(self._read(min(skip, IO_CHUNK)))
        hasher = self.store.session_hasher(session)
        with open(self.store.session_part(session["id"]), "ab") as part:
            try:
                while self.body_left > 0:
                    chunk = self._read(min(self.body_left, IO_CHUNK))
                    part.write(chunk)
                    hasher.update(chunk)
                    session["received"] += len(chunk)
            finally:
                part.flush()

    def finish_session(self, session: dict) -> None:
        resource = session["resource"]
        md5 = self.store.session_hasher(session).hexdigest()
        try:
            self.store.get(resource["parents"][0])
            self.store.add_content(
                resource, self.store.session_part(session["id"]), md5, session["received"]
            )
        finally:
            self.store.close_session(session)
        spec = (
            parse_fields(session["fields"]) if session["fields"] else dict.fromkeys(DEFAULT_FIELDS)
        )
        self._send_json(200, select(resource, spec))

    def multipart_upload(self) -> None:
        self.server.count("multipart_uploads")
        match = re.search(r'boundary="?([^";]+)"?', self.headers.get("Content-Type", ""))
        if match is None:
            raise bad_request("multipart/related upload without a boundary")
        delimiter = b"--" + match.group(1).encode()
        chunks = self._read_body(MULTIPART_LIMIT + 64 * 1024).split(delimiter)[1:]
        parts = [split_part(p) for p in chunks if not p.startswith(b"--")]
        if len(parts) != 2:
            raise bad_request("multipart upload needs a metadata part and a media part")
        try:
            metadata = json.loads(parts[0][1] or b"{}")
        except ValueError:
            raise bad_request("Invalid JSON in the metadata part.") from None
        media_type = re.search(rb"(?im)^content-type:\s*([^\s;]+)", parts[1][0])
        if media_type and not metadata.get("mimeType"):
            metadata["mimeType"] = media_type.group(1).decode()
        self.store_content(metadata, [parts[1][1]])

    def media_upload(self, metadata: dict) -> None:
        self.store_content(
            metadata,
            iter(lambda: self._read(min(self.body_left, IO_CHUNK)) if self.body_left else b"", b""),
        )

    def store_content(self, metadata: dict, chunks: Iterable[bytes]) -> None:
        resource = self.store.new_resource(metadata)
        part = self.store.data / "sessions" / f"{resource['id']}.direct"
        hasher, size = hashlib.md5(), 0
        with open(part, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                hasher.update(chunk)
                size += len(chunk)
        self.store.add_content(resource, part, hasher.hexdigest(), size)
        self._send_json(200, select(resource, self._fields()))


class DriveServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        port: int,
        store: Store,
        oauth: AuthorizationServer,
        context: ssl.SSLContext,
        verbose: bool,
    ):
        self.store = store
        self.oauth = oauth
        self.context = context
        self.verbose = verbose
        self.counters: dict[str, int] = {}
        super().__init__(("127.0.0.1", port), DriveHandler)

    def count(self, what: str) -> None:
        with self.store.lock:
            self.counters[what] = self.counters.get(what, 0) + 1

    def finish_request(self, request, client_address) -> None:
        # The TLS handshake runs here, in the connection's own thread, so that one slow client
        # cannot hold up accept() for everybody else.
        try:
            # Headers and body leave in separate writes: without NODELAY, Nagle's algorithm and
            # the client's delayed ACK add 40 ms to every small answer.
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--client-id", default="fake-client-id")
    parser.add_argument("--client-secret", default="fake-client-secret")
    parser.add_argument("--refresh-token", default="fake-refresh-token")
    parser.add_argument(
        "--redirect-uri",
        action="append",
        dest="redirect_uris",
        help="a redirect URI registered for the client (repeatable; default: "
        f"{DEFAULT_REDIRECT_URI})",
    )
    parser.add_argument("--reset", action="store_true", help="start from an empty Drive")
    parser.add_argument("--quota", type=int, help="storage quota in bytes (default: none)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    data = Path(args.data)
    if args.reset and data.exists():
        shutil.rmtree(data)
    store = Store(data)
    store.quota = args.quota
    oauth = AuthorizationServer(
        args.client_id,
        args.client_secret,
        args.refresh_token,
        args.redirect_uris or [DEFAULT_REDIRECT_URI],
        store.issue_token,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server = DriveServer(args.port, store, oauth, context, args.verbose)
    print(f"drive fake listening on https://127.0.0.1:{args.port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
