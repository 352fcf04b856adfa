"""Shapes of /api/v1/documents (ours) and /api/v1/sync (seed 001, field for field)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..fields import MAX_INT, UtcDateTime
from .models import DOCUMENT_TYPES


class DocumentInfo(Schema):
    id = fields.Integer()
    owner_id = fields.Integer()
    type = fields.String()
    date = fields.Date(attribute="document_date")
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    md5 = fields.String()
    uploaded_at = UtcDateTime()
    synced_to_nas = fields.Boolean()
    synced_at = UtcDateTime(allow_none=True)
    nas_path = fields.String(allow_none=True)
    last_error = fields.String(allow_none=True)


class SyncOutcome(Schema):
    success = fields.Boolean()
    message = fields.String()


class DocumentUploadReply(DocumentInfo):
    sync = fields.Nested(SyncOutcome, allow_none=True, metadata={"description": "With sync_now"})


class DocumentFilters(Schema):
    type = fields.String(validate=validate.OneOf(DOCUMENT_TYPES))
    synced = fields.Boolean()
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_INT))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class DocumentPage(Schema):
    documents = fields.List(fields.Nested(DocumentInfo))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class SyncStatus(Schema):
    total_documents = fields.Integer()
    synced = fields.Integer()
    pending = fields.Integer()
    sync_percentage = fields.Float()
    last_sync = fields.String(allow_none=True)
    nas_configured = fields.Boolean()


class SyncConfig(Schema):
    configured = fields.Boolean()
    nas_host = fields.Boolean()
    nas_user = fields.Boolean()
    nas_path = fields.Boolean()
    host = fields.String()
    path = fields.String(allow_none=True)
    path_exists = fields.Boolean()
    path_writable = fields.Boolean()
    mounted = fields.Boolean(metadata={"description": "A mount point (or the remote answers)"})
    message = fields.String(allow_none=True, metadata={"description": "Why not configured"})


class SyncRun(Schema):
    total = fields.Integer()
    synced = fields.Integer()
    failed = fields.Integer()
    errors = fields.List(fields.String())


class NasTargetRequest(Schema):
    """The NAS target set on /settings/nas: a mounted folder or a stored remote."""

    mount_path = fields.String(
        allow_none=True, metadata={"description": "An absolute folder where the share is mounted"}
    )
    remote_name = fields.String(
        allow_none=True, metadata={"description": "Or a stored remote's name (e.g. an SMB share)"}
    )
    folder_names = fields.String(load_default="en", validate=validate.OneOf(["en", "fr"]))


class NasTargetInfo(Schema):
    mount_path = fields.String(allow_none=True)
    remote_name = fields.String(allow_none=True)
    folder_names = fields.String()
    source = fields.String(
        metadata={"description": "settings: set here; config: config.yaml or the environment"}
    )
    updated_at = fields.String(allow_none=True)
    state = fields.Nested(SyncConfig, metadata={"description": "The target checked now"})


class NasTargetTest(SyncOutcome):
    state = fields.Nested(SyncConfig)
