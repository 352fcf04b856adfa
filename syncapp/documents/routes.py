"""/api/v1/documents (upload, list, download, delete) and seed 001's /api/v1/sync endpoints.

Users see only their own documents (another user's answers 404, as a missing one does);
administrators see everyone's.
"""

from __future__ import annotations

from flask import request

from ..extensions import Blueprint, db
from ..failures import (
    BadRequest,
    DomainError,
    InsufficientStorage,
    NotFound,
    PeerFailed,
    ServiceUnavailable,
)
from ..quotas import refuse_declared
from ..scrub import results as scrub_results
from ..security import admin_required, caller_id, owner_scope, streams_body
from ..uploads import FLAG_PROPERTY, form_body, parse_form_flag, refuse_declared_size
from ..web.streaming import Download, receive_form, send_stored
from . import live, nas_settings
from .messages import localized
from .models import DOCUMENT_TYPES
from .nas import (
    DISK_FULL,
    SOURCE_MISSING,
    SYNCED_TO,
    DocumentSyncError,
    NasNotConfigured,
)
from .schemas import (
    DocumentFilters,
    DocumentInfo,
    DocumentPage,
    DocumentUploadReply,
    NasTargetInfo,
    NasTargetRequest,
    NasTargetTest,
    SyncConfig,
    SyncOutcome,
    SyncRun,
    SyncStatus,
)
from .store import parse_date, parse_type
from .wiring import document_store, nas_options, nas_sync

bp = Blueprint(
    "documents", __name__, url_prefix="/api/v1/documents", description="Documents (seed 001)"
)
sync_bp = Blueprint(
    "nas_sync", __name__, url_prefix="/api/v1/sync", description="NAS synchronisation (seed 001)"
)

UPLOAD_BODY = form_body(
    ["type"],
    type={"type": "string", "enum": list(DOCUMENT_TYPES)},
    # parse_date: YYYY-MM-DD, a date-time cut to its date, or empty for none (no strict format)
    date={
        "type": "string",
        "pattern": r"^\s*(\d{4}-\d{2}-\d{2}[\s\S]*)?$",
        "description": "YYYY-MM-DD (a date-time is cut to its date); empty: no date",
    },
    sync_now=FLAG_PROPERTY,
)


def _me() -> int:
    return caller_id("documents")


def _scope() -> int | None:
    return owner_scope("documents")


def _sync_failure(exc: DocumentSyncError) -> DomainError:
    message = localized(exc.message)
    if exc.message == DISK_FULL:
        return InsufficientStorage(message, code="nas_full", success=False)
    if exc.fatal:
        return ServiceUnavailable(message, code="nas_unavailable", success=False)
    return PeerFailed(message, code="sync_failed", success=False)


def _not_configured(exc: NasNotConfigured, **extra) -> BadRequest:
    return BadRequest(localized(str(exc)), code="nas_not_configured", **extra)


# --- documents -------------------------------------------------------------------------------


@bp.route("", methods=["POST"])
@bp.doc(**UPLOAD_BODY)
@bp.response(201, DocumentUploadReply)
@streams_body
def upload_document():
    owner_id = _me()
    store = document_store()
    refuse_declared_size(request.content_length, store.max_size)
    refuse_declared(db.session, owner_id, request.content_length)
    received = receive_form(
        lambda part: store.receive(owner_id, part.views(), part.filename, part.content_type),
        store.discard,
        fields=("type", "date", "sync_now"),
        field_limit=256,
    )
    stored, fields = received.file, received.fields
    if stored is None:
        raise BadRequest("No file was sent: use -F 'file=@invoice.pdf'.", code="no_file")
    try:
        kind, day = parse_type(fields.get("type")), parse_date(fields.get("date"))
        sync_now = parse_form_flag("sync_now", fields.get("sync_now"))
    except DomainError:
        store.discard(stored)
        raise
    document = store.create(owner_id, stored, kind=kind, document_date=day)
    live.uploaded(document)
    outcome = None
    if sync_now:
        with nas_sync() as service:
            try:
                path = service.sync_document(document)
                outcome = {"success": True, "message": localized(SYNCED_TO.format(path=path))}
            except (NasNotConfigured, DocumentSyncError) as exc:
                outcome = {"success": False, "message": localized(str(exc))}
    document.sync = outcome  # not a column: rides along for the reply only
    return document, 201


@bp.route("", methods=["GET"])
@bp.arguments(DocumentFilters, location="query")
@bp.response(200, DocumentPage)
def list_documents(filters):
    documents, total = document_store().search(
        owner_id=_scope(),
        kind=filters.get("type"),
        synced=filters.get("synced"),
        page=filters["page"],
        per_page=filters["per_page"],
    )
    return {
        "documents": documents,
        "total": total,
        "page": filters["page"],
        "per_page": filters["per_page"],
    }


@bp.route("/<int:document_id>", methods=["GET"])
@bp.response(200, DocumentInfo)
def get_document(document_id: int):
    return document_store().get(document_id, owner_id=_scope())


@bp.route("/<int:document_id>/download", methods=["GET"])
@bp.response(200, description="The document's bytes")
def download_document(document_id: int):
    store = document_store()
    document = store.get(document_id, owner_id=_scope())
    download = Download(
        document.filename,
        document.content_type,
        etag=document.md5,
        last_modified=document.uploaded_at,
    )
    integrity = scrub_results.integrity_of(db.session, "document", document.id)
    if store.remote.stat(document.stored_path) is None:
        raise NotFound(f"Document {document_id} has no file any more.", code="file_missing")
    response = send_stored(store.remote, document.stored_path, download)
    if integrity == "corrupt":  # served, never silently: the last scrub found it damaged
        response.headers[scrub_results.HEADER] = "corrupt"
    return response


@bp.route("/<int:document_id>", methods=["DELETE"])
@bp.response(204)
def delete_document(document_id: int):
    store = document_store()
    document = store.get(document_id, owner_id=_scope())
    owner_id = document.owner_id
    store.delete(document)
    live.deleted(document_id, owner_id)


# --- seed 001: /api/v1/sync ------------------------------------------------------------------


@sync_bp.route("/status", methods=["GET"])
@sync_bp.response(200, SyncStatus)
def sync_status():
    scope = _scope()
    with nas_sync() as service:
        return service.status(scope)


@sync_bp.route("/config", methods=["GET"])
@sync_bp.response(200, SyncConfig)
def sync_config():
    _me()
    with nas_sync() as service:
        config = service.config()
    return {**config, "message": localized(config.get("message"))}


@sync_bp.route("/test", methods=["POST"])
@sync_bp.response(200, SyncOutcome)
def test_nas():
    _me()
    with nas_sync() as service:
        success, message = service.test()
    return {"success": success, "message": localized(message)}


# --- the NAS target, set by an administrator (issue 22): applied without a restart ------------


def _target_reply(choice: nas_settings.NasChoice) -> dict:
    with nas_sync(choice) as service:
        state = service.config()
    reply = nas_settings.describe(db.session, choice)
    return {**reply, "state": {**state, "message": localized(state.get("message"))}}


@sync_bp.route("/target", methods=["GET"])
@sync_bp.response(200, NasTargetInfo)
@admin_required
def get_nas_target():
    """The target in force: set here (`source` settings) or config.yaml's (`source` config)."""
    return _target_reply(nas_options())


@sync_bp.route("/target", methods=["PUT"])
@sync_bp.arguments(NasTargetRequest)
@sync_bp.response(200, NasTargetInfo)
@admin_required
def set_nas_target(body):
    """Set the target: every process uses it from its next NAS use on, no restart needed. It
    is stored even when not reachable now (an unmounted share): its `state` says so."""
    choice = nas_settings.parse(db.session, body)
    nas_settings.save(db.session, choice, _me())
    return _target_reply(nas_options())


@sync_bp.route("/target", methods=["DELETE"])
@sync_bp.response(200, NasTargetInfo)
@admin_required
def reset_nas_target():
    """Forget the target set here: config.yaml's is used again."""
    nas_settings.clear(db.session)
    return _target_reply(nas_options())


@sync_bp.route("/target/test", methods=["POST"])
@sync_bp.arguments(NasTargetRequest)
@sync_bp.response(200, NasTargetTest)
@admin_required
def test_nas_target(body):
    """Check a target before setting it: it answers, and a probe file can be written, read back
    and deleted (seed 001's /test, on the target given)."""
    choice = nas_settings.parse(db.session, body)
    with nas_sync(choice) as service:
        success, message = service.test()
        state = service.config()
    state = {**state, "message": localized(state.get("message"))}
    return {"success": success, "message": localized(message), "state": state}


@sync_bp.route("/run", methods=["POST"])
@sync_bp.response(200, SyncRun)
def run_sync():
    scope = _scope()
    with nas_sync() as service:
        try:
            result = service.run(scope)
        except NasNotConfigured as exc:
            raise _not_configured(exc) from None
    return {
        "total": result.total,
        "synced": result.synced,
        "failed": result.failed,
        "errors": [localized(error) for error in result.errors],
    }


@sync_bp.route("/document/<int:document_id>", methods=["POST"])
@sync_bp.response(200, SyncOutcome)
def sync_one_document(document_id: int):
    store = document_store()
    try:
        document = store.get(document_id, owner_id=_scope())
    except NotFound as exc:
        raise NotFound(localized(exc.message), code=exc.code, success=False) from None
    with nas_sync() as service:
        try:
            service.require_configured()
        except NasNotConfigured as exc:
            raise _not_configured(exc, success=False) from None
        stored_path = document.stored_path
        db.session.commit()  # the store may be a remote: no connection is held while it answers
        if store.remote.stat(stored_path) is None:
            document.last_error = SOURCE_MISSING
            db.session.commit()
            live.sync_result(document, SOURCE_MISSING)
            raise BadRequest(localized(SOURCE_MISSING), code="no_file", success=False)
        try:
            path = service.sync_document(document)
        except NasNotConfigured as exc:
            raise _not_configured(exc, success=False) from None
        except DocumentSyncError as exc:
            raise _sync_failure(exc) from None
    # seed 001: "Synchronized to ..." / "Synchronisé vers ..." by the caller's Accept-Language
    return {"success": True, "message": localized(SYNCED_TO.format(path=path))}
