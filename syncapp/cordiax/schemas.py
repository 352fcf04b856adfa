"""Shapes of /api/v1/cordiax."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..fields import UtcDateTime


class SnapshotInfo(Schema):
    version = fields.String()
    device = fields.String()
    sha256 = fields.String()
    size = fields.Integer()
    kind = fields.String()
    encrypted = fields.Boolean()
    source = fields.String()
    received_at = UtcDateTime()


class OwnerQuery(Schema):
    owner = fields.String(
        validate=validate.Length(min=1, max=254),
        metadata={
            "description": "Administrators: whose device, as a user id or email (default: "
            "your own). A user may name only themselves."
        },
    )


class DownloadQuery(OwnerQuery):
    form = fields.String(
        data_key="as",
        load_default="stored",
        validate=validate.OneOf(["stored", "db", "zip"]),
        metadata={
            "description": "stored (default): the bytes as pushed; db: the original "
            "`cordiax.db` (the pushed database, or the one inside a pushed ZIP); zip: a pushed "
            "ZIP as it was, or the database in a ZIP as the Cordiax client makes them"
        },
    )


class DeviceInfo(Schema):
    device = fields.String()
    user_id = fields.Integer()
    owner = fields.String(
        allow_none=True, metadata={"description": "The owner's email, shown to administrators"}
    )
    snapshots = fields.Integer()
    latest = fields.Nested(SnapshotInfo, allow_none=True)


class RefusalInfo(Schema):
    address = fields.String(metadata={"description": "The client's address"})
    device = fields.String(metadata={"description": "The device it named (may be empty)"})
    reason = fields.String(metadata={"description": "The sync_error code it was sent"})
    message = fields.String()
    user_id = fields.Integer(allow_none=True, metadata={"description": "Whose token, if valid"})
    count = fields.Integer()
    first_at = UtcDateTime()
    last_at = UtcDateTime()
