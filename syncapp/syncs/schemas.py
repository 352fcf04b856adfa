"""Shapes of /api/v1/syncs: seed 000's job fields, plus ours with defaults from `sync.*`."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..fields import MAX_INT, StrictBoolean, UtcDateTime
from .models import FILE_STATES, JOB_STATES, RUN_STATUSES
from .paths import GRANTED, PERSONAL, SHARED

_GLOBS = fields.List(
    fields.String(validate=validate.Length(min=1, max=255)), validate=validate.Length(max=100)
)


class SyncJobUpdate(Schema):
    """Every field optional: PUT changes what it names."""

    name = fields.String(validate=validate.Length(min=1, max=255))
    source_path = fields.String(validate=validate.Length(min=1, max=1024))
    destination_path = fields.String(validate=validate.Length(max=1024))
    destination_remote = fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=255),
        metadata={"description": "Name of a stored remote; destination_path is inside it"},
    )
    delete_after_sync = StrictBoolean()
    sync_interval = fields.Integer(
        validate=validate.Range(min=1, max=30 * 86400), metadata={"description": "Seconds"}
    )
    enabled = StrictBoolean()
    realtime = StrictBoolean(metadata={"description": "Also run when the source changes"})
    include = _GLOBS
    exclude = _GLOBS
    max_retries = fields.Integer(validate=validate.Range(min=0, max=100))
    retry_delay = fields.Float(validate=validate.Range(min=0, max=86400))
    workers = fields.Integer(validate=validate.Range(min=1, max=32))


class SyncJobCreate(SyncJobUpdate):
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    source_path = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    destination_path = fields.String(required=True, validate=validate.Length(max=1024))


class RunInfo(Schema):
    id = fields.Integer()
    job_id = fields.Integer()
    reason = fields.String()
    status = fields.String(metadata={"enum": list(RUN_STATUSES)})
    requested_at = UtcDateTime()
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)
    duration = fields.Float(allow_none=True, metadata={"description": "Seconds"})
    files_scanned = fields.Integer()
    files_copied = fields.Integer()
    files_skipped = fields.Integer()
    files_failed = fields.Integer()
    files_waiting = fields.Integer()
    files_deleted = fields.Integer()
    bytes_copied = fields.Integer()
    error = fields.String(allow_none=True)


class SyncJobInfo(Schema):
    id = fields.Integer()
    owner_id = fields.Integer()
    name = fields.String()
    source_path = fields.String()
    destination_path = fields.String()
    destination_remote = fields.String(allow_none=True)
    delete_after_sync = fields.Boolean()
    sync_interval = fields.Integer()
    enabled = fields.Boolean()
    realtime = fields.Boolean()
    include = fields.List(fields.String())
    exclude = fields.List(fields.String())
    max_retries = fields.Integer()
    retry_delay = fields.Float()
    workers = fields.Integer()
    state = fields.String(metadata={"enum": list(JOB_STATES)})
    last_error = fields.String(allow_none=True)
    next_run_at = UtcDateTime(allow_none=True)
    last_run_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class SyncJobList(Schema):
    syncs = fields.List(fields.Nested(SyncJobInfo))
    total = fields.Integer()


class JobStatus(Schema):
    id = fields.Integer()
    name = fields.String()
    state = fields.String(metadata={"enum": list(JOB_STATES)})
    enabled = fields.Boolean()
    running = fields.Boolean()
    current_run = fields.Nested(RunInfo, allow_none=True)
    last_run = fields.Nested(RunInfo, allow_none=True)
    pending_files = fields.Integer()
    failed_files = fields.Integer()
    files_synced = fields.Integer(
        metadata={
            "description": "Files copied and still in the source, plus files moved "
            "(delete_after_sync) by every run of the job"
        }
    )
    next_run_at = UtcDateTime(allow_none=True)
    last_error = fields.String(allow_none=True)


class Page(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_INT))


class FileFilters(Page):
    state = fields.String(validate=validate.OneOf(FILE_STATES))


class QueuedFile(Schema):
    path = fields.String()
    size = fields.Integer()
    state = fields.String(metadata={"enum": list(FILE_STATES)})
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    updated_at = UtcDateTime()


class FileList(Schema):
    files = fields.List(fields.Nested(QueuedFile))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


class RunHistory(Schema):
    runs = fields.List(fields.Nested(RunInfo))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


class RunAccepted(Schema):
    status = fields.String()
    message = fields.String()
    job_id = fields.Integer()
    run_id = fields.Integer()
    run_number = fields.Integer(
        metadata={"description": "The run's number within its job (1: its first run)"}
    )
    requeued = fields.Integer(metadata={"description": "Failed files queued again (retry)"})


class SyncRoot(Schema):
    path = fields.String()
    kind = fields.String(
        metadata={
            "enum": [PERSONAL, GRANTED, SHARED],
            "description": "personal: yours alone ({user_id} in sync.allowed_roots); granted: "
            "given to you by an administrator; shared: administrators' (no placeholder)",
        }
    )
    exists = fields.Boolean()


class SyncRoots(Schema):
    roots = fields.List(fields.Nested(SyncRoot))


class FolderQuery(Schema):
    path = fields.String(
        required=True,
        metadata={"description": "An absolute folder inside one of your sync roots"},
    )


class FolderListing(Schema):
    path = fields.String()
    root = fields.String(metadata={"description": "The sync root it lies in"})
    parent = fields.String(
        allow_none=True, metadata={"description": "The folder above (null at a root)"}
    )
    folders = fields.List(fields.String(), metadata={"description": "Names, sorted"})
    truncated = fields.Boolean(metadata={"description": "More folders than listed"})
