"""Shapes of /api/v1/notifications. URLs and secrets are accepted, never returned: the API
shows `url_masked` and whether a secret is set."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..fields import StrictBoolean, UtcDateTime
from .models import DELIVERY_STATUSES, TARGET_KINDS

_URL = {
    "description": "apprise: any Apprise URL (mailtos://user:pass@host?to=..., ntfys://topic, "
    "json://host/path, slack://..., ...); webhook: the http(s) URL the signed POST goes to. "
    "Stored encrypted; only a masked form is returned."
}
_SECRET = {
    "description": "webhook only: the HMAC-SHA256 key (at least 16 characters) the receiver "
    "checks X-Syncapp-Signature with. Stored encrypted, never returned."
}
_OWNER = {
    "description": "Administrators: whose targets, as a user id or email (default: your own). "
    "A user may name only themselves."
}


class OwnerQuery(Schema):
    owner = fields.String(validate=validate.Length(min=1, max=254), metadata=_OWNER)


class TargetCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    kind = fields.String(required=True, validate=validate.OneOf(TARGET_KINDS))
    url = fields.String(required=True, validate=validate.Length(min=1, max=2048), metadata=_URL)
    secret = fields.String(validate=validate.Length(max=512), metadata=_SECRET)
    enabled = StrictBoolean(load_default=True)


class TargetUpdate(Schema):
    name = fields.String(validate=validate.Length(min=1, max=100))
    url = fields.String(validate=validate.Length(min=1, max=2048), metadata=_URL)
    secret = fields.String(validate=validate.Length(max=512), metadata=_SECRET)
    enabled = StrictBoolean()


class TargetInfo(Schema):
    id = fields.Integer()
    owner_id = fields.Integer()
    name = fields.String()
    kind = fields.String(metadata={"enum": list(TARGET_KINDS)})
    enabled = fields.Boolean()
    url_masked = fields.String(
        metadata={"description": "The URL with passwords, tokens and query values masked"}
    )
    secret_set = fields.Method("_secret_set", metadata={"type": "boolean"})
    created_at = UtcDateTime()
    updated_at = UtcDateTime()

    def _secret_set(self, target) -> bool:
        return target.kind == "webhook"


class SendTestReply(Schema):
    success = fields.Boolean()
    message = fields.String(metadata={"description": "What the target answered, or why not"})


class DeliveryQuery(OwnerQuery):
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class DeliveryInfo(Schema):
    id = fields.Integer()
    target_id = fields.Integer()
    target_name = fields.String()
    transition_id = fields.Integer()
    alert_id = fields.Integer()
    state = fields.String(metadata={"description": "The alert's new state: firing or resolved"})
    title = fields.String()
    status = fields.String(metadata={"enum": list(DELIVERY_STATUSES)})
    attempts = fields.Integer()
    next_attempt_at = UtcDateTime(allow_none=True)
    delivered_at = UtcDateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = UtcDateTime()
