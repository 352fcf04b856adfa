"""Shapes of /api/v1/alerts: alerts with their history, the filters, and the expectations."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..fields import StrictBoolean, UtcDateTime
from .models import ALERT_STATES, EXPECTATION_KINDS
from .registry import KINDS


class AlertFilter(Schema):
    state = fields.String(
        validate=validate.OneOf(ALERT_STATES),
        metadata={"description": "Only alerts in this state (default: firing and resolved)"},
    )
    kind = fields.String(validate=validate.OneOf(KINDS))
    owner = fields.String(
        validate=validate.Length(min=1, max=254),
        metadata={
            "description": "Administrators: one user's alerts (id or email), or `store` for the "
            "store-wide ones. A user may name only themselves."
        },
    )


class TransitionInfo(Schema):
    id = fields.Integer()
    state = fields.String(metadata={"enum": ["firing", "resolved"]})
    title = fields.String()
    detail = fields.String()
    link = fields.String()
    at = UtcDateTime()


class AlertInfo(Schema):
    id = fields.Integer()
    key = fields.String(metadata={"description": "What is watched: <kind>:<subject>"})
    kind = fields.String(metadata={"enum": list(KINDS)})
    owner_id = fields.Integer(
        allow_none=True, metadata={"description": "None: a store-wide alert (administrators)"}
    )
    state = fields.String(metadata={"enum": list(ALERT_STATES)})
    title = fields.String()
    detail = fields.String()
    link = fields.String(metadata={"description": "The page that shows the subject"})
    first_seen_at = UtcDateTime(
        allow_none=True, metadata={"description": "When the current (or last) firing began"}
    )
    changed_at = UtcDateTime()
    resolved_at = UtcDateTime(allow_none=True)


class AlertDetail(AlertInfo):
    history = fields.List(
        fields.Nested(TransitionInfo), metadata={"description": "Its changes, newest first"}
    )


class AlertList(Schema):
    alerts = fields.List(fields.Nested(AlertInfo))
    firing = fields.Integer(metadata={"description": "How many of them fire"})
    total = fields.Integer()


class OwnerQuery(Schema):
    owner = fields.String(
        validate=validate.Length(min=1, max=254),
        metadata={"description": "Administrators: whose expectations (id or email)"},
    )


def _seconds(description: str) -> fields.Float:
    return fields.Float(
        allow_none=True,
        validate=validate.Range(min=60, max=366 * 86400),
        metadata={"description": f"{description}, in seconds; null: the default"},
    )


class ExpectationBody(Schema):
    """Only the fields of the subject's kind apply (backups: any_every, full_every; cordiax:
    max_silence; syncs: max_failed_runs; restic: any_every); fields left out go back to the
    defaults."""

    watch = StrictBoolean(metadata={"description": "false: never alert about this subject"})
    any_every = _seconds(
        "backups: any archive at least this often; restic: a new snapshot at least this often"
    )
    full_every = _seconds("backups: a FULL archive at least this often")
    max_silence = _seconds("cordiax: the longest a device may stay silent")
    max_failed_runs = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=1, max=10000),
        metadata={"description": "syncs: failed runs in a row before the alert; null: default"},
    )


class ExpectationInfo(Schema):
    kind = fields.String(metadata={"enum": list(EXPECTATION_KINDS)})
    subject = fields.String()
    owner_id = fields.Integer()
    watch = fields.Boolean()
    set = fields.Dict(metadata={"description": "What the owner set (null: the default)"})
    effective = fields.Dict(metadata={"description": "What applies: the set value or default"})
    updated_at = UtcDateTime()


class ExpectationList(Schema):
    defaults = fields.Dict(
        metadata={"description": "Per kind, the defaults from the `alerts` settings (seconds)"}
    )
    expectations = fields.List(fields.Nested(ExpectationInfo))
