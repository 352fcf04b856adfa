"""Shapes of seed 003's endpoints: kept field for field, because scripts read them with jq."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..fields import UtcDateTime
from .models import ARCHIVE_TYPES
from .report import EXTRA_POLICIES


class ArchiveItem(Schema):
    name = fields.String()
    filename = fields.String(metadata={"description": "The name again, as the original listed it"})
    size = fields.Integer()
    size_human = fields.String()
    modified = fields.String(metadata={"description": "Upload time, ISO 8601 UTC"})
    md5 = fields.String()
    sha256 = fields.String()
    type = fields.String()
    profile = fields.String()
    uploaded_at = UtcDateTime()
    uploader = fields.String()
    base_archive = fields.String(allow_none=True)
    base_missing = fields.Boolean(metadata={"description": "INC/DIFF whose FULL is gone"})
    integrity = fields.String(
        metadata={
            "enum": ["unverified", "verified", "corrupt", "missing"],
            "description": "unverified: stored, its gzip stream not checked whole yet (the "
            "check starts after the upload's reply; /verify finishes it); verified: a complete "
            "gzip stream (and, once scrubbed, MD5, SHA-256 and tar stream intact); corrupt: "
            "truncated or damaged, never counted in sync; missing: the scrub found its file "
            "gone from the store",
        }
    )
    last_verified_at = fields.String(
        allow_none=True,
        metadata={"description": "When the scrub last read it back (ISO 8601 UTC); null: never"},
    )
    integrity_detail = fields.String(
        metadata={"description": "What the scrub found wrong (e.g. 'MD5 ... differs'), or ''"}
    )


class UploadReply(Schema):
    status = fields.String()
    message = fields.String()
    file = fields.String()
    type = fields.String()
    size = fields.String(metadata={"description": "Human-readable, e.g. '12.0 MB'"})
    size_bytes = fields.Integer()
    md5 = fields.String()
    sha256 = fields.String()
    profile = fields.String()
    path = fields.String()
    uploaded_at = UtcDateTime()
    base_archive = fields.String(allow_none=True)
    duplicate = fields.Boolean(metadata={"description": "Same as already_stored"})
    already_stored = fields.Boolean(
        metadata={"description": "The profile already had this name with these bytes (201 too)"}
    )
    integrity = fields.String()


class ListReply(Schema):
    status = fields.String()
    backups = fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(ArchiveItem)))
    total_count = fields.Integer()


class TypeListReply(Schema):
    status = fields.String()
    type = fields.String()
    backups = fields.List(fields.Nested(ArchiveItem))
    count = fields.Integer()


class ListFilters(Schema):
    type = fields.String(
        validate=validate.OneOf([*ARCHIVE_TYPES, *(t.lower() for t in ARCHIVE_TYPES)])
    )
    profile = fields.String()
    since = fields.DateTime(metadata={"description": "Only archives uploaded at or after"})


class LocalArchive(Schema):
    name = fields.String(required=True)
    size = fields.Integer(load_default=None)
    md5 = fields.String(load_default=None)


class VerifyRequest(Schema):
    local_backups = fields.Dict(
        keys=fields.String(validate=validate.OneOf(ARCHIVE_TYPES)),
        values=fields.List(fields.Nested(LocalArchive)),
        required=True,
    )
    extra_remote = fields.String(
        load_default=EXTRA_POLICIES[0],
        validate=validate.OneOf(EXTRA_POLICIES),
        metadata={
            "description": "out_of_sync (default, as the original server): archives only on "
            "the server make the state OUT_OF_SYNC; ignore: clients that prune old local "
            "archives"
        },
    )


class TypeVerification(Schema):
    type = fields.String()
    local_count = fields.Integer()
    remote_count = fields.Integer()
    synced = fields.List(fields.String())
    missing_remote = fields.List(fields.String())
    extra_remote = fields.List(fields.String())
    mismatched = fields.List(fields.String())
    corrupt = fields.List(
        fields.String(),
        metadata={"description": "Stored, but not a complete gzip stream, or damaged since"},
    )
    missing_stored = fields.List(
        fields.String(),
        metadata={"description": "Indexed, but the scrub found the file gone from the store"},
    )


class VerifyReply(Schema):
    status = fields.String()
    verification = fields.Dict(keys=fields.String(), values=fields.Nested(TypeVerification))
    sync_status = fields.String()
    issues = fields.List(fields.String())
    local_in_sync = fields.Boolean(
        metadata={"description": "Every local archive is stored intact (extras aside)"}
    )
    extra_remote = fields.String(metadata={"description": "The policy applied"})


class StatsReply(Schema):
    status = fields.String()
    timestamp = fields.String()
    storage = fields.Dict()
    total = fields.Dict()
    profiles = fields.Dict()
    oldest = fields.Dict(allow_none=True)
    newest = fields.Dict(allow_none=True)
    free_space = fields.Integer(allow_none=True)
    free_space_human = fields.String(allow_none=True)


class RestorePlanQuery(Schema):
    at = fields.String(
        metadata={
            "description": "The point in time, ISO 8601 (`2026-12-07T10:00:00Z`; without a zone: "
            "UTC); default now. Compared with the archives' upload times."
        }
    )
    owner = fields.String(metadata={"description": "Administrators: whose profile (id or email)"})


class RestoreStep(Schema):
    step = fields.Integer(metadata={"description": "1 for the FULL, then in the order to extract"})
    name = fields.String()
    type = fields.String()
    size = fields.Integer()
    size_human = fields.String()
    md5 = fields.String()
    sha256 = fields.String()
    uploaded_at = UtcDateTime()
    base_archive = fields.String(allow_none=True)
    integrity = fields.String()
    download_path = fields.String(metadata={"description": "Relative to the server's address"})
    download_url = fields.String()


class RestorePlanReply(Schema):
    status = fields.String()
    profile = fields.String()
    at = UtcDateTime()
    restorable = fields.Boolean(
        metadata={"description": "false when `problems` is not empty (a corrupt archive...)"}
    )
    problems = fields.List(fields.String())
    archives = fields.List(fields.Nested(RestoreStep))
    total_size = fields.Integer()
    command = fields.String(metadata={"description": "scripts/restore.sh for this plan"})


class ArchiveCheckReply(Schema):
    """POST /backups/<type>/<name>/verify: one archive read whole again, now."""

    name = fields.String()
    type = fields.String()
    profile = fields.String()
    integrity = fields.String(
        metadata={"description": "verified, corrupt (bad gzip or MD5) or missing (file gone)"}
    )
    md5 = fields.String(metadata={"description": "The MD5 recorded at upload"})
    md5_matches = fields.Boolean(
        allow_none=True, metadata={"description": "null: the file could not be read whole"}
    )
    detail = fields.String()
    checked_at = fields.String()
