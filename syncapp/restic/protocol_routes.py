"""/restic/<repo>/: restic's REST backend protocol, versions 1 and 2, so that
`restic -r rest:http://<email>:<token>@host:5000/restic/<repo>/` backs up to syncapp.

What it answers follows restic's documentation ("REST Backend") and rest-server's handlers:
`POST /?create=true`; `HEAD|GET|POST|DELETE /config`; `GET /<type>/` (v1: a JSON list of names;
v2, asked with `Accept: application/vnd.x.restic.rest.v2`: name and size of each);
`HEAD|GET|POST|DELETE /<type>/<name>` with `Range` on GET (206). An object that exists is never
overwritten (403), an append-only repository refuses deletes but of locks (403), a quota 507,
a data object whose content is not its name 400. restic reads only the status codes; the
bodies are the usual JSON error envelope.

Credentials: an API token as the HTTP Basic password (or Bearer); the Basic user name, when
given, must be the token's user's email or full name, as rest-server checks both halves.
Browser sessions are not credentials here (so there is no CSRF to check). Repository names
resolve in the caller's namespace: another user's repository is simply not there (404).
"""

from __future__ import annotations

import json
import re

from flask import Blueprint, Response, g, request
from flask_login import current_user

from .. import bodies, security, tenancy
from ..extensions import limiter
from ..failures import BadRequest, Forbidden, NotFound, Unauthorized
from ..storage import Remote
from ..storage.base import CHUNK_SIZE
from ..storage.local import LocalRemote
from . import live
from .metrics import REQUESTS
from .models import CONFIG, OBJECT_TYPES
from .store import RepoRef, ResticStore, check_object
from .wiring import create_on_init, rate_limit, restic_store

bp = Blueprint("restic", __name__, url_prefix="/restic")

MIME_V1 = "application/vnd.x.restic.rest.v1"
MIME_V2 = "application/vnd.x.restic.rest.v2"
OCTETS = "application/octet-stream"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _caller_key() -> str:
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return request.remote_addr or "unknown"


limiter.limit(rate_limit, key_func=_caller_key)(bp)


@bp.before_request
def only_tokens() -> None:
    """A token, and a Basic user name that is the token's user's (or none)."""
    if not security.is_token_request():
        raise Unauthorized("restic's REST protocol needs an API token as the password.")
    auth = request.authorization
    if auth is not None and auth.type == "basic" and auth.username:
        names = {current_user.email.lower(), (current_user.full_name or "").strip().lower()}
        if auth.username.strip().lower() not in names - {""}:
            raise Unauthorized("The user name is not the token's user (email or full name).")


@bp.after_request
def count_and_challenge(response: Response) -> Response:
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="syncapp restic"'
    REQUESTS.labels(request.method, g.get("restic_type", "repository"), response.status_code).inc()
    return response


def _repository(store: ResticStore, name: str) -> RepoRef:
    """The caller's repository `name`, if their token may reach it."""
    me = tenancy.caller()
    tenancy.require_scope("restic", name)
    repo = store.find(me.id, name)
    if repo is None:
        # the name is not repeated: it may be another user's, which means nothing here
        raise NotFound("No such restic repository.", code="repository_not_found")
    ref = RepoRef.of(repo)
    token = g.get("api_token")
    if ref.token_id is not None and (token is None or token.id != ref.token_id):
        raise Forbidden(f"The repository {name!r} is granted to another token.", code="token_scope")
    return ref


# --- the repository ----------------------------------------------------------------------------


@bp.route("/<repo>/", methods=["POST"])
def create_repository(repo: str) -> Response:
    """`restic init`: make the repository (when `restic.create_on_init`), idempotently."""
    if request.args.get("create") != "true":
        raise BadRequest("Create a repository with POST /<repo>/?create=true.", code="bad_request")
    store = restic_store()
    me = tenancy.caller()
    tenancy.require_scope("restic", repo)
    if store.find(me.id, repo) is None:
        if not create_on_init():
            raise NotFound(
                f"No restic repository {repo!r}: ask an administrator to create it.",
                code="repository_not_found",
            )
        store.create(me.id, repo)
    _repository(store, repo)  # a grant to another token refuses this one too
    return Response(status=200)


@bp.route("/<repo>/config", methods=["HEAD", "GET", "POST", "DELETE"])
@security.streams_body
def config(repo: str) -> Response:
    g.restic_type = CONFIG
    return _object(repo, CONFIG, CONFIG)


@bp.route("/<repo>/<kind>/", methods=["GET"])
def listing(repo: str, kind: str) -> Response:
    g.restic_type = kind
    if kind not in OBJECT_TYPES:
        raise NotFound(f"No object type {kind!r}.", code="not_found")
    store = restic_store()
    ref = _repository(store, repo)
    entries = store.listing(ref, kind)
    if request.headers.get("Accept") == MIME_V2:
        body = [{"name": name, "size": size} for name, size in entries]
        mimetype = MIME_V2
    else:
        body = [name for name, _ in entries]
        mimetype = MIME_V1
    return Response(_json(body), mimetype=mimetype)


@bp.route("/<repo>/<kind>/<name>", methods=["HEAD", "GET", "POST", "DELETE"])
@security.streams_body
def blob(repo: str, kind: str, name: str) -> Response:
    g.restic_type = kind
    check_object(kind, name)
    return _object(repo, kind, name)


# --- one object ----------------------------------------------------------------------------------


def _object(repo: str, kind: str, name: str) -> Response:
    store = restic_store()
    ref = _repository(store, repo)
    if request.method == "POST":
        size = store.save(ref, kind, name, _body(), request.content_length)
        if kind == "snapshots":
            live.snapshot_saved(ref.owner_id, ref.name, size)
        return Response(status=200)
    if request.method == "DELETE":
        if kind == CONFIG and ref.append_only:
            raise Forbidden("The repository is append-only.", code="append_only")
        store.delete(ref, kind, name)
        return Response(status=200)
    entry = store.entry(ref, kind, name)
    if entry is None:
        raise NotFound(f"No {kind} {name}.", code="not_found")
    size = entry.size
    remote, path = store.remote_and_path(ref, kind, name)
    if request.method == "HEAD":
        response = Response(status=200, mimetype=OCTETS)
        response.headers["Content-Length"] = str(size)
        return response
    return _send(remote, path, size)


def _body():
    """The body as views of pooled buffers, read from gunicorn's socket (syncapp/bodies.py)."""
    return bodies.request_chunks()


def _send(remote: Remote, path: str, size: int) -> Response:
    """An object, whole or the one byte range restic asks for (206)."""
    start, end = 0, size - 1
    status = 200
    header = request.headers.get("Range")
    if header:
        found = _RANGE.fullmatch(header.strip())
        if found is None or not (found.group(1) or found.group(2)):
            raise BadRequest("Only one byte range is served.", code="bad_range")
        first, last = found.groups()
        if first:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        else:  # the last N bytes
            start = max(size - int(last), 0)
        if start >= size or start > end:
            response = Response(status=416)
            response.headers["Content-Range"] = f"bytes */{size}"
            return response
        status = 206
    length = end - start + 1
    body = _body_of(remote, path, start, length)
    # passed through as it is: Werkzeug would otherwise wrap a file wrapper in its own iterator,
    # and gunicorn would copy the file through Python instead of calling sendfile()
    response = Response(body, status=status, mimetype=OCTETS, direct_passthrough=True)
    response.headers["Content-Length"] = str(length)
    response.headers["Accept-Ranges"] = "bytes"
    if status == 206:
        response.headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response


def _body_of(remote: Remote, path: str, start: int, length: int):
    """The bytes of the range: a local file handed to gunicorn's file wrapper at `start`, which
    it sends with sendfile() for Content-Length bytes from where the file stands (a restore
    reads every pack in ranges: no byte crosses Python); otherwise the store's ranged
    read, so that only the range crosses the network (S3, WebDAV, Azure, SMB)."""
    file_wrapper = request.environ.get("wsgi.file_wrapper")
    # gunicorn's wrapper, whose writes also stop at Content-Length when it cannot sendfile (TLS)
    if isinstance(remote, LocalRemote) and "gunicorn.socket" in request.environ:
        file = open(remote.local_path(path), "rb")  # noqa: SIM115 (closed by the server)
        file.seek(start)
        return file_wrapper(file, CHUNK_SIZE)
    reader = remote.read_range(path, start, length)

    def chunks():
        try:
            yield from iter(lambda: reader.read(CHUNK_SIZE), b"")
        finally:
            reader.close()

    return chunks()


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))
