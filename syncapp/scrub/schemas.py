"""Shapes of the scrub's API (GET and POST /api/v1/scrub, GET /api/v1/scrub/findings)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from .models import INTEGRITY, OBJECT_KINDS


class Cursor(Schema):
    kind = fields.String(allow_none=True, metadata={"enum": list(OBJECT_KINDS)})
    last_object_id = fields.Integer(metadata={"description": "The last object done in `kind`"})


class PassView(Schema):
    id = fields.Integer()
    state = fields.String(metadata={"enum": ["queued", "running", "paused", "finished"]})
    trigger = fields.String(metadata={"enum": ["schedule", "request", "cli"]})
    requested_at = fields.String()
    started_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)
    cursor = fields.Nested(Cursor)
    objects_planned = fields.Integer()
    bytes_planned = fields.Integer()
    objects_verified = fields.Integer()
    bytes_verified = fields.Integer()
    ok = fields.Integer()
    corrupt = fields.Integer()
    missing = fields.Integer()
    progress = fields.Float(metadata={"description": "0 to 1, by bytes"})
    last_error = fields.String(
        allow_none=True, metadata={"description": "A store unavailable: the pass retries"}
    )


class Findings(Schema):
    total = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_kind = fields.Dict(keys=fields.String(), values=fields.Dict())


class ScrubStatus(Schema):
    current = fields.Nested(PassView, allow_none=True)
    last_pass = fields.Nested(PassView, allow_none=True)
    findings = fields.Nested(Findings)
    interval = fields.Float(allow_none=True, metadata={"description": "scrub.interval, seconds"})
    max_rate = fields.Float(allow_none=True, metadata={"description": "scrub.max_rate, bytes/s"})


class FindingQuery(Schema):
    kind = fields.String(validate=validate.OneOf(OBJECT_KINDS))
    integrity = fields.String(validate=validate.OneOf(INTEGRITY))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class FindingItem(Schema):
    kind = fields.String()
    object_id = fields.Integer()
    owner_id = fields.Integer(allow_none=True)
    integrity = fields.String()
    last_verified_at = fields.String()
    detail = fields.String()


class FindingPage(Schema):
    findings = fields.List(fields.Nested(FindingItem))
    total = fields.Integer()
