"""Request and response shapes of /auth/google/* (seed 004's Google authorisation)."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from ..fields import UtcDateTime

_FORMAT = fields.String(
    validate=validate.OneOf(["json"]),
    metadata={"description": "json: answer with JSON instead of a redirect"},
)


class StartQuery(Schema):
    user_id = fields.Integer(
        metadata={"description": "seed 004's parameter; only the caller's own id is accepted"}
    )
    format = _FORMAT


class CallbackQuery(Schema):
    class Meta:
        unknown = EXCLUDE  # Google adds scope, authuser, prompt, hd...

    state = fields.String()
    code = fields.String()
    error = fields.String(metadata={"description": "e.g. access_denied: the user said no"})
    error_description = fields.String()
    format = _FORMAT


class AuthorizationUrl(Schema):
    authorization_url = fields.String(required=True)


class GoogleStatus(Schema):
    connected = fields.Boolean(required=True)
    user_id = fields.Integer(required=True)
    connected_at = UtcDateTime(allow_none=True)
    scopes = fields.List(fields.String())
