"""Shapes of /api/v1/restic/repositories."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..fields import MAX_INT, FullMatch, StrictBoolean, UtcDateTime
from .store import NAME

#: what a BIGINT column holds on every supported database
MAX_BYTES = 2**63 - 1
_QUOTA = {"description": "Bytes the repository may hold (null: only the owner's quota)."}


class RepositoryCreate(Schema):
    name = fields.String(required=True, validate=FullMatch(NAME))
    append_only = StrictBoolean(
        load_default=None,
        metadata={
            "description": "Deletes refused except for locks (default restic.append_only_default)."
        },
    )
    quota_bytes = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=0, max=MAX_BYTES),
        metadata=_QUOTA,
    )
    remote = fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "A stored remote to keep it on (administrators only)."},
    )


class RepositoryUpdate(Schema):
    append_only = StrictBoolean(
        metadata={"description": "The owner may switch it on; only an administrator off."}
    )
    quota_bytes = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=0, max=MAX_BYTES),
        metadata=_QUOTA,
    )
    token_id = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1, max=MAX_INT),
        metadata={
            "description": "Administrators: grant the repository to this token of its owner "
            "only (null: to every token of the owner)."
        },
    )


class RepositoryInfo(Schema):
    id = fields.Integer()
    name = fields.String()
    owner_id = fields.Integer()
    owner = fields.String(metadata={"description": "The owner's email."})
    append_only = fields.Boolean()
    quota_bytes = fields.Integer(allow_none=True)
    remote = fields.String(allow_none=True)
    token_id = fields.Integer(allow_none=True)
    created_at = UtcDateTime()
    last_snapshot_at = UtcDateTime(allow_none=True)
    size = fields.Integer(metadata={"description": "Bytes stored."})
    objects = fields.Dict(keys=fields.String(), values=fields.Integer())
    url = fields.String(metadata={"description": "The restic repository URL (rest:...)."})
    command = fields.String(
        metadata={"description": "A restic command line to paste (credentials in the URL)."}
    )
    command_env = fields.String(
        metadata={"description": "The same with RESTIC_REST_USERNAME/PASSWORD (restic >= 0.17)."}
    )


class RepositoryList(Schema):
    repositories = fields.List(fields.Nested(RepositoryInfo))
    total = fields.Integer()


class GrantedToken(Schema):
    token = fields.String(metadata={"description": "Shown once: a token for this repository only."})
    token_id = fields.Integer()
    repository = fields.Nested(RepositoryInfo)
