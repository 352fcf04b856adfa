"""Shapes of seed 004's /api/v1/upload, /status and /files (its fields, plus ours)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..fields import MAX_INT, UtcDateTime
from .models import JOB_STATUSES, TARGET_STATUSES, TARGETS

STORAGES = ("local", *TARGETS)


class CloudUploadReply(Schema):
    job_id = fields.String()
    file_id = fields.Integer()
    filename = fields.String()
    message = fields.String()
    version = fields.Integer(metadata={"description": "The version the upload is (or matched)"})
    created_version = fields.Boolean(
        metadata={"description": "False: identical to the current version, nothing new stored"}
    )


class CloudJobTarget(Schema):
    target = fields.String(validate=validate.OneOf(TARGETS))
    status = fields.String(validate=validate.OneOf(TARGET_STATUSES))
    bytes_done = fields.Integer()
    attempts = fields.Integer()
    error = fields.String(allow_none=True)


class CloudJobStatus(Schema):
    job_id = fields.String()
    file_id = fields.Integer()
    version = fields.Integer()
    status = fields.String(validate=validate.OneOf(JOB_STATUSES))
    progress_percentage = fields.Float(
        metadata={"description": "Bytes sent over bytes to send, across targets; 100 only once "
                  "every copy is verified"}
    )  # fmt: skip
    error_message = fields.String(allow_none=True)
    bytes_total = fields.Integer()
    bytes_done = fields.Integer()
    created_at = UtcDateTime()
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)
    targets = fields.List(fields.Nested(CloudJobTarget))


class CopyState(Schema):
    target = fields.String(validate=validate.OneOf(TARGETS))
    status = fields.String(validate=validate.OneOf(TARGET_STATUSES))
    wanted_version = fields.Integer()
    synced_version = fields.Integer(
        allow_none=True, metadata={"description": "The version the cloud held at the last sync"}
    )
    synced_at = UtcDateTime(allow_none=True)
    last_error = fields.String(allow_none=True)


class FileInfo(Schema):
    id = fields.Integer()
    owner_id = fields.Integer()
    filename = fields.String()
    size = fields.Integer(metadata={"description": "Of the current version"})
    md5 = fields.String(metadata={"description": "Of the current version"})
    content_type = fields.String()
    version = fields.Integer(metadata={"description": "The current version's number"})
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    targets = fields.List(fields.Nested(CopyState))


class FileQuery(Schema):
    download = fields.Boolean(load_default=False)
    from_storage = fields.String(load_default="local", validate=validate.OneOf(STORAGES))


class PageQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_INT))


class FilePage(Schema):
    files = fields.List(fields.Nested(FileInfo))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


class DownloadLink(Schema):
    download_url = fields.String()
    expires_in = fields.Integer(metadata={"description": "Seconds the URL stays valid"})
    version = fields.Integer(metadata={"description": "The version the cloud holds"})


class LinkQuery(Schema):
    token = fields.String(required=True)
    from_storage = fields.String(required=True, validate=validate.OneOf(TARGETS))


class VersionInfo(Schema):
    number = fields.Integer()
    size = fields.Integer()
    md5 = fields.String()
    modified_at = UtcDateTime()
    created_at = UtcDateTime()
    origin = fields.String(metadata={"description": "upload, or <target>-conflict"})
    current = fields.Boolean()


class VersionList(Schema):
    file_id = fields.Integer()
    filename = fields.String()
    current_version = fields.Integer()
    versions = fields.List(fields.Nested(VersionInfo), metadata={"description": "Newest first"})


class DeleteQuery(Schema):
    keep_cloud_copies = fields.Boolean(
        load_default=False,
        metadata={"description": "Delete here even when a cloud is unreachable, leaving its "
                  "copy there"},
    )  # fmt: skip
