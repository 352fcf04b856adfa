"""Shapes of /api/v1/cordiax/pollers."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates

from ..fields import MAX_INT, FullMatch, StrictBoolean, UtcDateTime
from ..storage import RemoteError
from ..storage.base import clean_path
from .pollers import DEFAULT_FILENAME, DEFAULT_INTERVAL, DEFAULT_PATH, MIN_INTERVAL
from .snapshots import DEVICE_PATTERN

_INTERVAL = validate.Range(
    min=MIN_INTERVAL,
    max=MAX_INT,
    error=f"The interval must be from {MIN_INTERVAL} to {MAX_INT} seconds.",
)
_ID = validate.Range(min=1, max=MAX_INT)  # beyond, no row has it (and the database overflows)
_DEVICE = FullMatch(
    DEVICE_PATTERN,
    error="Use up to 64 letters, digits, '.', '_' and '-' (a letter or digit first).",
)
_FILENAME = FullMatch(
    r"[^/\\\x00-\x1f]{1,255}", error="A plain file name, e.g. cordiax_sync.zip or cordiax_sync.db."
)


class _PollerFields(Schema):
    name = fields.String(validate=validate.Length(min=1, max=100))
    remote_id = fields.Integer(
        validate=_ID,
        metadata={"description": "A stored remote of kind webdav, smb or local (admins only)."},
    )
    path = fields.String(
        validate=validate.Length(max=512),
        metadata={"description": "Folder on the remote the Cordiax client writes to."},
    )
    filename = fields.String(validate=_FILENAME)
    device = fields.String(validate=_DEVICE)
    interval = fields.Integer(
        validate=_INTERVAL, metadata={"description": f"Seconds, at least {MIN_INTERVAL}."}
    )
    enabled = StrictBoolean()
    user_id = fields.Integer(
        validate=_ID, metadata={"description": "Owner (admins only; default: the creator)."}
    )

    @validates("path")
    def _check_path(self, value: str, **_: object) -> None:
        try:
            clean_path(value)
        except RemoteError as exc:
            raise ValidationError(str(exc)) from None


class PollerCreate(_PollerFields):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    remote_id = fields.Integer(required=True, validate=_ID)
    path = fields.String(load_default=DEFAULT_PATH, validate=validate.Length(max=512))
    filename = fields.String(load_default=DEFAULT_FILENAME, validate=_FILENAME)
    device = fields.String(
        validate=_DEVICE, metadata={"description": "Default: the name, made a valid device name."}
    )
    interval = fields.Integer(load_default=DEFAULT_INTERVAL, validate=_INTERVAL)
    enabled = StrictBoolean(load_default=True)


class PollerUpdate(_PollerFields):
    pass


class PollerInfo(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    name = fields.String()
    remote_id = fields.Integer()
    path = fields.String()
    filename = fields.String()
    device = fields.String()
    interval = fields.Integer()
    enabled = fields.Boolean()
    created_at = UtcDateTime()
    last_run = UtcDateTime(allow_none=True)
    last_result = fields.String(allow_none=True)
    last_error = fields.String(allow_none=True)
    last_sha256 = fields.String(
        attribute="seen_sha256",
        allow_none=True,
        metadata={"description": "SHA-256 of the content last seen (imported or identical)."},
    )


class ConnectionReply(Schema):
    success = fields.Boolean()
    message = fields.String()
