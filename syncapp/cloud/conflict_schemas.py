"""Shapes of /api/v1/conflicts: both sides of a conflict, and how to resolve it."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..fields import UtcDateTime
from .conflicts import SIDES
from .models import POLICIES, TARGETS


class ConflictFilter(Schema):
    resolved = fields.Boolean(metadata={"description": "Only resolved (true) or open (false)"})


class LocalSide(Schema):
    version = fields.Integer()
    size = fields.Integer()
    md5 = fields.String()
    modified = UtcDateTime()


class RemoteSide(Schema):
    size = fields.Integer(allow_none=True)
    md5 = fields.String(allow_none=True)
    etag = fields.String(allow_none=True)
    modified = UtcDateTime(allow_none=True)


class ConflictInfo(Schema):
    id = fields.Integer()
    file_id = fields.Integer()
    filename = fields.String()
    target = fields.String(metadata={"enum": list(TARGETS)})
    remote_path = fields.String()
    detected_at = UtcDateTime()
    local = fields.Nested(LocalSide, metadata={"description": "The version syncapp holds"})
    remote = fields.Nested(RemoteSide, metadata={"description": "What the cloud holds"})
    resolved = fields.Boolean()
    resolved_at = UtcDateTime(allow_none=True)
    policy = fields.String(allow_none=True, metadata={"enum": list(POLICIES)})
    keep = fields.String(
        allow_none=True, metadata={"description": "The side that won; none for keep-both"}
    )
    notes = fields.String(allow_none=True)
    outcome = fields.Dict(
        allow_none=True,
        metadata={"description": "What resolving wrote: versions and MD5s on each side"},
    )


class ConflictList(Schema):
    conflicts = fields.List(fields.Nested(ConflictInfo))
    total = fields.Integer()


class ResolveRequest(Schema):
    policy = fields.String(required=True, validate=validate.OneOf(POLICIES))
    keep = fields.String(
        allow_none=True,
        validate=validate.OneOf(SIDES),
        metadata={"description": 'With the manual policy: "local" or "remote"'},
    )
    notes = fields.String(allow_none=True, validate=validate.Length(max=4000))

    @validates_schema
    def _manual_needs_keep(self, data: dict, **_: object) -> None:
        if data.get("policy") == "manual" and not data.get("keep"):
            raise ValidationError('The manual policy needs keep: "local" or "remote".', "keep")
