"""Shapes of /api/v1/remotes. Secret values are accepted, never returned."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..fields import UtcDateTime
from ..storage import BACKENDS


class RemoteCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    kind = fields.String(required=True, validate=validate.OneOf(sorted(BACKENDS)))
    settings = fields.Dict(keys=fields.String(), load_default=dict)


class RemoteUpdate(Schema):
    name = fields.String(validate=validate.Length(min=1, max=100))
    settings = fields.Dict(
        keys=fields.String(),
        metadata={"description": "Replaces the settings; a secret left out keeps its value."},
    )


class RemoteInfo(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    settings = fields.Dict(metadata={"description": "The settings that are not secret."})
    secrets_set = fields.List(fields.String(), attribute="secret_names")
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class ProbeReply(Schema):
    success = fields.Boolean()
    message = fields.String()
