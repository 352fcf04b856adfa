"""Seed 004's files endpoints: /api/v1/upload, /status/<job>, /files and each file's versions.

Users see only their own files and jobs (another user's answers 404, as a missing one does);
administrators see everyone's, as with documents.
"""

from __future__ import annotations

from flask import jsonify, request, url_for

from ..auth.models import User
from ..extensions import Blueprint, db
from ..failures import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    Gone,
    NotFound,
    PeerFailed,
    ServiceUnavailable,
)
from ..quotas import refuse_declared
from ..scrub import results as scrub_results
from ..security import caller_id, owner_scope, public, streams_body
from ..settings import settings
from ..storage import ChecksumMismatch, Remote, RemoteError, RemoteNotFound, RemoteUnavailable
from ..uploads import FLAG_PROPERTY, form_body, parse_form_flag, refuse_declared_size
from ..web.streaming import Download, receive_form, send_stored
from . import links
from .jobs import job_view, replicate_upload
from .models import TARGETS, CloudCopy, CloudFile, CloudJob, CloudVersion
from .schemas import (
    CloudJobStatus,
    CloudUploadReply,
    DeleteQuery,
    DownloadLink,
    FileInfo,
    FilePage,
    FileQuery,
    LinkQuery,
    PageQuery,
    VersionList,
)
from .store import CloudStore, Outcome, Staged
from .targets import TargetUnavailable, configured_targets, open_target, stored_remote_name
from .wiring import cloud_store

bp = Blueprint("cloud", __name__, url_prefix="/api/v1", description="Cloud files (seed 004)")

WHAT = "cloud files"

FLAGS = {f"sync_{target}": target for target in TARGETS}
BINARY = {"type": "string", "format": "binary"}
GET_FILE = "The file's info; with download=true its bytes, or a link to a cloud's copy"
FILE_OR_LINK = {"anyOf": [FileInfo, DownloadLink]}  # apispec makes components of both
UPLOAD_BODY = form_body([], **dict.fromkeys(FLAGS, FLAG_PROPERTY))


# --- services --------------------------------------------------------------------------------


def _open_cloud(target: str, owner_id: int) -> Remote:
    try:
        return open_target(target, owner_id)
    except TargetUnavailable as exc:
        raise Conflict(str(exc), code="target_not_configured") from None


def _cloud_failure(exc: RemoteError) -> DomainError:
    if isinstance(exc, RemoteUnavailable):
        return ServiceUnavailable(f"The cloud cannot be reached: {exc}", code="cloud_unavailable")
    return PeerFailed(f"The cloud refused: {exc}", code="cloud_error")


# --- upload ----------------------------------------------------------------------------------


class TargetChoice:
    """The clouds an upload asks for, each checked as its flag arrives: a flag sent before the
    file refuses the upload before a byte of it is read."""

    def __init__(self, owner_id: int) -> None:
        self.owner_id = owner_id
        self.available = configured_targets(owner_id)
        self.chosen: set[str] = set()

    def take(self, name: str, value: str) -> None:
        target = FLAGS[name]
        if not parse_form_flag(name, value):
            self.chosen.discard(target)
            return
        if not self.available[target]:
            # Google Drive is the user's own, no stored remote: there is no google_remote.
            remote = None if target == "google" else stored_remote_name(target, self.owner_id)
            how = (
                "connect Google Drive first (/auth/google/start)"
                if target == "google"
                else f"an administrator creates the stored remote {remote!r} first"
                if remote
                else f"an administrator sets cloud.{target}_remote first"
            )
            raise BadRequest(
                f"{name}=true, but {target} is not set up for you: {how}.",
                code="target_not_configured",
            )
        self.chosen.add(target)

    @property
    def targets(self) -> list[str]:
        return [target for target in TARGETS if target in self.chosen]


def _receive(store: CloudStore, owner_id: int) -> tuple[Staged | None, list[str]]:
    choice = TargetChoice(owner_id)
    received = receive_form(
        lambda part: store.receive(owner_id, part.views(), part.filename, part.content_type),
        store.discard,
        fields=FLAGS,
        field_limit=16,
        check_field=lambda name, value, _file_received: choice.take(name, value),
    )
    return received.file, choice.targets


def _message(outcome: Outcome, job: CloudJob, requested: list[str]) -> str:
    name, number = outcome.file.filename, outcome.version.number
    if outcome.created:
        text = f"{name} was uploaded as version {number}."
    else:
        text = f"{name} is identical to version {number}: no new version was made."
    if job.status in ("pending", "running"):
        return f"{text} Replication to {', '.join(job.targets)} is under way."
    if requested:
        return f"{text} {', '.join(requested)} already hold this version."
    return text


@bp.route("/upload", methods=["POST"])
@bp.doc(**UPLOAD_BODY)
@bp.response(202, CloudUploadReply)
@streams_body
def upload_file():
    """Store a file (a new version when the name exists and the content differs) and replicate
    it to the clouds asked for, in the background."""
    owner_id = caller_id(WHAT)
    store = cloud_store()
    refuse_declared_size(request.content_length, store.max_size)
    refuse_declared(db.session, owner_id, request.content_length)
    staged, targets = _receive(store, owner_id)
    if staged is None:
        raise BadRequest("No file was sent: use -F 'file=@report.pdf'.", code="no_file")
    outcome = store.commit(owner_id, staged)
    job = replicate_upload(outcome, targets)
    reply = {
        "job_id": job.id,
        "file_id": outcome.file.id,
        "filename": outcome.file.filename,
        "message": _message(outcome, job, targets),
        "version": outcome.version.number,
        "created_version": outcome.created,
    }
    return reply, 202


@bp.route("/status/<job_id>", methods=["GET"])
@bp.response(200, CloudJobStatus)
def job_status(job_id: str):
    scope = owner_scope(WHAT)
    job = db.session.get(CloudJob, job_id)
    if job is None or (scope is not None and job.owner_id != scope):
        raise NotFound(f"Job {job_id} not found.", code="job_not_found")
    return job_view(job)


# --- files -----------------------------------------------------------------------------------


def file_view(file: CloudFile) -> dict:
    current = next((v for v in file.versions if v.number == file.current_version), None)
    return {
        "id": file.id,
        "owner_id": file.owner_id,
        "filename": file.filename,
        "size": current.size if current else 0,
        "md5": current.md5 if current else "",
        "content_type": file.content_type,
        "version": file.current_version,
        "created_at": file.created_at,
        "updated_at": file.updated_at,
        "targets": sorted(file.copies, key=lambda copy: copy.target),
    }


@bp.route("/files", methods=["GET"])
@bp.arguments(PageQuery, location="query")
@bp.response(200, FilePage)
def list_files(query):
    files, total = cloud_store().search(
        owner_id=owner_scope(WHAT), limit=query["limit"], offset=query["offset"]
    )
    return {"files": [file_view(f) for f in files], "total": total, **query}


def _send_version(store: CloudStore, file: CloudFile, version: CloudVersion):
    download = Download(
        file.filename, file.content_type, etag=version.md5, last_modified=version.modified_at
    )
    path, missing = version.stored_path, f"Version {version.number} of {file.filename}"
    integrity = scrub_results.integrity_of(db.session, "cloud_version", version.id)
    db.session.commit()  # read: no connection is held while the store (maybe a remote) answers
    if store.remote.stat(path) is None:
        raise NotFound(f"{missing} has no bytes any more.", code="file_missing")
    response = send_stored(store.remote, path, download)
    if integrity == "corrupt":  # served, never silently: the last scrub found it damaged
        response.headers[scrub_results.HEADER] = "corrupt"
    return response


def _copy_in(file: CloudFile, target: str) -> CloudCopy:
    """The file's copy in `target`, if that cloud holds a version of it."""
    copy = next((c for c in file.copies if c.target == target), None)
    if copy is None or copy.synced_version is None:
        raise NotFound(f"{file.filename} has no copy in {target} yet.", code="not_in_cloud")
    return copy


def _cloud_link(file: CloudFile, target: str) -> dict:
    """A short-lived URL for the cloud's copy: the cloud's own signed URL where it can make one,
    else a signed link to syncapp, which streams the copy from the cloud."""
    copy = _copy_in(file, target)
    ttl = settings().cloud.download_url_ttl
    with _open_cloud(target, file.owner_id) as cloud:
        try:
            url = cloud.download_url(copy.remote_path, ttl)
        except RemoteError as exc:
            raise _cloud_failure(exc) from None
    if url is None:
        grant = links.Grant(caller_id(WHAT), file.id, copy.synced_version or 0, target)
        url = url_for(
            "cloud.download_link",
            file_id=file.id,
            token=links.sign(grant),
            from_storage=target,
            _external=True,
        )
    return {"download_url": url, "expires_in": ttl, "version": copy.synced_version}


@bp.route("/files/<int:file_id>", methods=["GET"])
@bp.arguments(FileQuery, location="query")
@bp.response(200, FileInfo)
# With download=true the answer is the bytes (of their own type), or a cloud copy's link.
@bp.alt_response(200, schema=FILE_OR_LINK, description=GET_FILE, content_type="application/json")
@bp.alt_response(200, schema=BINARY, description=GET_FILE, content_type="*/*")
def get_file(query, file_id: int):
    """The file's info. With `download=true`: the bytes of the current version
    (`from_storage=local`), or `{"download_url", "expires_in", "version"}` for a cloud's copy."""
    store = cloud_store()
    file = store.get(file_id, owner_id=owner_scope(WHAT))
    if not query["download"]:
        return file_view(file)
    if query["from_storage"] == "local":
        return _send_version(store, file, store.current(file))
    return jsonify(DownloadLink().dump(_cloud_link(file, query["from_storage"])))


@bp.route("/files/<int:file_id>/download", methods=["GET"])
@bp.arguments(LinkQuery, location="query")
@bp.response(200, description="The cloud copy's bytes")
@public
def download_link(query, file_id: int):
    """Where a `download_url` for a cloud without signed URLs of its own (Google Drive) leads:
    the signed token is the credential, until `cloud.download_url_ttl` seconds have passed."""
    grant = links.verify(query["token"], settings().cloud.download_url_ttl)
    user = db.session.get(User, grant.user_id)
    mismatch = grant.file_id != file_id or grant.target != query["from_storage"]
    if mismatch or user is None or not user.is_active:
        raise Forbidden("This download link is not valid.", code="link_invalid")
    file = cloud_store().get(file_id, owner_id=None if user.is_admin else user.id)
    copy = _copy_in(file, grant.target)
    if copy.synced_version != grant.version:
        raise Gone(
            f"The {grant.target} copy is no longer version {grant.version}: ask for a new link.",
            code="link_stale",
        )
    cloud = _open_cloud(grant.target, file.owner_id)
    path = copy.remote_path
    download = Download(file.filename, file.content_type, etag=copy.synced_md5 or None)
    db.session.commit()  # read: no connection is held while the cloud answers
    try:
        response = send_stored(cloud, path, download)
    except RemoteNotFound:
        cloud.close()
        raise NotFound(f"The {grant.target} copy is gone.", code="not_in_cloud") from None
    except RemoteError as exc:
        cloud.close()
        raise _cloud_failure(exc) from None
    response.call_on_close(cloud.close)  # the Drive connection serves the body until its end
    return response


@bp.route("/files/<int:file_id>/versions", methods=["GET"])
@bp.response(200, VersionList)
def list_versions(file_id: int):
    file = cloud_store().get(file_id, owner_id=owner_scope(WHAT))
    newest_first = sorted(file.versions, key=lambda v: v.number, reverse=True)
    return {
        "file_id": file.id,
        "filename": file.filename,
        "current_version": file.current_version,
        "versions": [
            {
                "number": v.number,
                "size": v.size,
                "md5": v.md5,
                "modified_at": v.modified_at,
                "created_at": v.created_at,
                "origin": v.origin,
                "current": v.number == file.current_version,
            }
            for v in newest_first
        ],
    }


@bp.route("/files/<int:file_id>/versions/<int:number>/download", methods=["GET"])
@bp.response(200, description="That version's bytes")
def download_version(file_id: int, number: int):
    store = cloud_store()
    file = store.get(file_id, owner_id=owner_scope(WHAT))
    return _send_version(store, file, store.version(file, number))


@bp.route("/files/<int:file_id>/versions/<int:number>/restore", methods=["POST"])
@bp.response(202, CloudUploadReply)
def restore_version(file_id: int, number: int):
    """Make version `number` the current one again: its bytes become a new version (the history
    is kept) and go to every cloud that holds the file, as an upload's would. Restoring the
    current content makes no new version. A stored copy that no longer matches its MD5 is
    refused (409 `checksum_mismatch`)."""
    store = cloud_store()
    file = store.get(file_id, owner_id=owner_scope(WHAT))
    try:
        outcome = store.restore_version(file, number)
    except ChecksumMismatch:
        raise Conflict(
            f"The stored copy of version {number} of {file.filename} is damaged (its MD5 no "
            "longer matches): it was not restored.",
            code="checksum_mismatch",
        ) from None
    job = replicate_upload(outcome, [])
    name = outcome.file.filename
    if outcome.created:
        text = f"{name}: version {number} was restored as version {outcome.version.number}."
    else:
        text = f"{name}: version {number} has the current content already; nothing was made."
    if job.status in ("pending", "running"):
        text += f" Replication to {', '.join(job.targets)} is under way."
    reply = {
        "job_id": job.id,
        "file_id": outcome.file.id,
        "filename": name,
        "message": text,
        "version": outcome.version.number,
        "created_version": outcome.created,
    }
    return reply, 202


@bp.route("/files/<int:file_id>", methods=["DELETE"])
@bp.arguments(DeleteQuery, location="query")
@bp.response(204)
def delete_file(query, file_id: int):
    """The file everywhere: each cloud's copy, then every version here. A cloud that cannot be
    reached answers 503 and nothing local is removed, unless `keep_cloud_copies=true`."""
    store = cloud_store()
    file = store.get(file_id, owner_id=owner_scope(WHAT))
    store.delete(file, open_cloud=None if query["keep_cloud_copies"] else open_target)
