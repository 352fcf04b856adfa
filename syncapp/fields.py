"""Marshmallow fields shared by every feature's schemas."""

from __future__ import annotations

from marshmallow import fields

from .timeutil import isoformat


class UtcDateTime(fields.DateTime):
    """Serialises aware datetimes as ISO 8601 with a trailing Z."""

    def _serialize(self, value, attr, obj, **kwargs):
        return isoformat(value)
