"""Seed 003's backup server API: /upload, /list, /verify, /stats, /download, /backups."""

from __future__ import annotations

import base64
import shutil

from flask import Response, request
from flask_login import current_user

from .. import fastjson
from ..alerts.wiring import recheck
from ..auth.models import User
from ..errors import TEXT_ERROR_BLUEPRINTS
from ..extensions import Blueprint, db
from ..failures import BadRequest, DomainError, Forbidden
from ..scrub import results as scrub_results
from ..security import admin_required, anonymous_from_networks, streams_body
from ..settings import settings
from ..storage.local import LocalRemote
from ..tenancy import require_scope
from ..uploads import form_body, refuse_declared_size
from ..web.streaming import Download, receive_form, send_stored
from . import listing, live, report, verifications, verify_request
from .owners import caller_namespace
from .schemas import (
    ArchiveCheckReply,
    ListFilters,
    ListReply,
    StatsReply,
    TypeListReply,
    UploadReply,
    VerifyReply,
    VerifyRequest,
)
from .store import check_md5, check_name, check_profile, human_size, parse_type
from .wiring import archive_store, check_later, kept_answers

bp = Blueprint("backups", __name__, description="Backup archives (seed 003)")
# The original scripts print `jq -r '.error // .message'`: `error` is the sentence here.
TEXT_ERROR_BLUEPRINTS.add(bp.name)

UPLOAD_BODY = form_body(
    [],
    type={"type": "string", "enum": ["FULL", "INC", "DIFF"]},
    profile={"type": "string"},
    md5={"type": "string"},
)


def _uploader() -> tuple[str, int | None]:
    if current_user.is_authenticated:
        return current_user.email, current_user.id
    return f"anonymous@{request.remote_addr}", None


def _upload_reply(result, message: str) -> dict:
    archive = result.archive
    return {
        "status": "success",
        "message": message,
        "file": archive.name,
        "type": archive.type,
        "size": human_size(archive.size),
        "size_bytes": archive.size,
        "md5": archive.md5,
        "sha256": archive.sha256,
        "profile": archive.profile,
        "path": archive.path,
        "uploaded_at": archive.uploaded_at,
        "base_archive": archive.base_archive,
        "duplicate": not result.created,
        "already_stored": not result.created,
        "integrity": archive.integrity,
    }


#: each form field's check, run as soon as the field arrives: a bad `type` sent before the file
#: is refused before the file is read
FIELD_CHECKS = {"type": parse_type, "profile": check_profile, "md5": check_md5}


def _check_field(name: str, value: str, file_received: bool) -> None:
    checked = FIELD_CHECKS[name](value)
    if name == "profile" and not file_received:
        require_scope("backups", checked)  # before the file, too


@bp.route("/upload", methods=["POST"])
@bp.doc(**UPLOAD_BODY)
@bp.response(201, UploadReply, description="Stored, or already stored with these bytes")
@streams_body
@anonymous_from_networks("backups")
def upload_backup():
    namespace = caller_namespace()  # before the body: an upload nobody can own reads nothing
    store = archive_store()  # its first use reads the stored remote's row
    db.session.commit()  # and the connection goes back to the pool while the body streams
    refuse_declared_size(request.content_length, store.max_size, sizes=human_size)
    received = receive_form(
        lambda part: store.receive(part.views(), part.filename),
        store.discard,
        fields=FIELD_CHECKS,
        field_limit=512,
        check_field=_check_field,
    )
    staged, fields = received.file, received.fields
    if staged is None:
        raise BadRequest("No file was sent: use -F 'file=@archive.tar.gz'.", code="no_file")
    try:
        kind, profile = parse_type(fields.get("type")), check_profile(fields.get("profile"))
        md5 = check_md5(fields.get("md5"))
        require_scope("backups", profile)  # a machine's token writes its own profiles only
    except DomainError:
        store.discard(staged)
        raise
    uploader, uploader_id = _uploader()
    result = store.commit(
        staged,
        namespace,
        kind=kind,
        profile=profile,
        md5=md5,
        uploader=uploader,
        uploader_id=uploader_id,
    )
    if result.created:
        owner = db.session.get(User, result.archive.owner_id)
        live.uploaded(result.archive, owner.email if owner else None)
        reply = _upload_reply(result, "Backup uploaded successfully")
        check_later(result.archive.id)
        recheck("backup_rhythm", result.archive.owner_id)  # a late profile is on time again
        return reply, 201
    # 201 again (with already_stored): the original upload.sh counts only 201 as success, and
    # a re-run after a lost reply must not report the archive it has stored as failed.
    return _upload_reply(result, "Backup already stored with identical content"), 201


def _listed(filters: dict, kind: str | None) -> list[tuple[str, listing.Written]]:
    """(type, item) of the caller's archives that `filters` select, oldest first."""
    store, namespace = archive_store(), caller_namespace()
    profile, since = filters.get("profile"), filters.get("since")
    rows = listing.list_rows(store.session, namespace, kind, profile, since)
    whole = kind is None and profile is None and since is None
    return listing.items(store.session, namespace.owner_id, rows, whole)


def _kept_reply(shape: str, filters: dict, kind: str | None, make) -> Response:
    """The reply `make()` gives, or the one this process made at the owner's current listing
    version for the same question (kept_answers()): the version is read before any row."""
    namespace = caller_namespace()
    version = listing.version(db.session, namespace.owner_id)
    key = (shape, namespace, kind, filters.get("profile"), filters.get("since"))
    kept = kept_answers().get(key, version)
    if kept is None:
        response = make()
        kept_answers().keep(key, version, (response.get_data(), response.mimetype))
        return response
    data, mimetype = kept
    return fastjson.again(data, mimetype)


# Plain rows, items written once (listing.py) and JSON by msgspec (fastjson.py): ORM objects
# and the standard library made /list of 10,000 archives take 0.3-0.7 s. The schemas document.
# A reply made at the owner's current listing version is sent again as it is.
@bp.route("/list")
@bp.arguments(ListFilters, location="query")
@bp.response(200, ListReply)
@anonymous_from_networks("backups")
def list_backups(filters):
    kind = parse_type(filters["type"]) if "type" in filters else None

    def make() -> Response:
        listed = _listed(filters, kind)
        body = {"status": "success", "backups": listing.grouped(listed, kind)}
        return fastjson.reply({**body, "total_count": len(listed)})

    return _kept_reply("list", filters, kind, make)


@bp.route("/list/<string:backup_type>")
@bp.arguments(ListFilters, location="query")
@bp.response(200, TypeListReply)
@anonymous_from_networks("backups")
def list_backups_of_type(filters, backup_type: str):
    kind = parse_type(backup_type)

    def make() -> Response:
        items = [entry for _, entry in _listed(filters, kind)]
        return fastjson.reply(
            {"status": "success", "type": kind, "backups": items, "count": len(items)}
        )

    return _kept_reply("list_of_type", filters, kind, make)


@bp.route("/verify", methods=["POST"])
@bp.fast_arguments(VerifyRequest, verify_request.read)
@bp.response(200, VerifyReply)
@anonymous_from_networks("backups")
def verify_backups(body):
    namespace = caller_namespace()
    store = archive_store()
    key = ("verify", namespace)
    version = listing.version(store.session, namespace.owner_id)
    stored = kept_answers().get(key, version)
    if stored is None:
        unverified = listing.unverified(store.session, namespace)
        if unverified:
            # those stored before the gzip check: once each (it commits, and bumps the version)
            store.check_integrity(unverified)
            version = listing.version(store.session, namespace.owner_id)
        # kept at the version read before them: none was unverified at that version
        stored = report.Stored(listing.verify_rows(store.session, namespace))
        kept_answers().keep(key, version, stored)
    findings = None
    if any(stored.damaged.values()):  # only a corrupt archive's issue quotes the scrub
        findings = scrub_results.findings(
            db.session, "backup", owner_id=namespace.owner_id, integrity="corrupt"
        )
    result = report.verify(body["local_backups"], stored, body["extra_remote"], findings)
    verifications.record_verification(result, stored, namespace.owner_id)
    return fastjson.reply(result)


@bp.route("/stats")
@bp.response(200, StatsReply)
@anonymous_from_networks("backups")
def backup_stats():
    store, namespace = archive_store(), caller_namespace()
    free = None
    if isinstance(store.remote, LocalRemote):
        free = shutil.disk_usage(store.remote.root).free
    return report.stats(store.archives(namespace), free)


@bp.route("/download/<string:backup_type>/<string:filename>")
@bp.response(200, description="The archive's bytes (supports Range)")
@anonymous_from_networks("backups")
def download_backup(backup_type: str, filename: str):
    store = archive_store()
    # A name no upload could have today (one stored before names were checked whole, with a
    # final newline) would break the headers: refused as the upload would be.
    archive = store.require(
        caller_namespace(), backup_type, check_name(filename), _profile_argument()
    )
    path, name, size, md5 = archive.path, archive.name, archive.size, archive.md5
    uploaded_at, integrity = archive.uploaded_at, archive.integrity
    # the values are read: end the transaction, so that neither the store (a remote that may
    # stall) nor the client reading the stream holds a database connection (issue 18)
    db.session.commit()
    content_md5 = base64.b64encode(bytes.fromhex(md5)).decode()
    download = Download(name, "application/gzip", etag=md5, last_modified=uploaded_at, size=size)
    response = send_stored(store.remote, path, download)
    if response.status_code == 200:
        response.headers["Content-MD5"] = content_md5
    if integrity == "corrupt":  # served, never silently: the scrub or the gzip check found it so
        response.headers[scrub_results.HEADER] = "corrupt"
    return response


@bp.route("/backups/<string:backup_type>/<string:filename>", methods=["DELETE"])
@bp.response(204)
@admin_required
def delete_backup(backup_type: str, filename: str):
    if settings().backups.append_only:
        raise Forbidden(
            "The backup store is append-only: archives cannot be deleted.", code="append_only"
        )
    store = archive_store()
    store.delete(store.require(caller_namespace(), backup_type, filename, _profile_argument()))


@bp.route("/backups/<string:backup_type>/<string:filename>/verify", methods=["POST"])
@bp.response(200, ArchiveCheckReply)
@anonymous_from_networks("backups")
def verify_archive(backup_type: str, filename: str):
    """Read one archive whole again now: its recorded MD5 and a complete gzip stream (the
    Backups page's "Verify"; /verify is the seed's comparison with a client's list). The
    verdict is recorded in the archive's row."""
    store = archive_store()
    archive = store.require(
        caller_namespace(), backup_type, check_name(filename), _profile_argument()
    )
    return store.verify_now(archive)


def _profile_argument() -> str | None:
    """`?profile=`: which profile's archive, when several of the caller's hold the name."""
    value = request.args.get("profile")
    return None if value is None else check_profile(value)
