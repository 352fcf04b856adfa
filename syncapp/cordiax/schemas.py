"""Shapes of /api/v1/cordiax."""

from __future__ import annotations

from marshmallow import Schema, fields

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


class DeviceInfo(Schema):
    device = fields.String()
    user_id = fields.Integer()
    snapshots = fields.Integer()
    latest = fields.Nested(SnapshotInfo, allow_none=True)
