"""Shapes of /api/v1/remotes. Secret values are accepted, never returned."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..fields import MAX_INT, UtcDateTime
from ..storage import BACKENDS
from .models import GRANT_FEATURES


class Grant(Schema):
    user_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_INT))
    feature = fields.String(
        required=True,
        validate=validate.OneOf(GRANT_FEATURES),
        metadata={"description": "syncs: a sync job's destination; cordiax: a poller's share"},
    )


_GRANTS = {
    "description": "Who may use the remote, for what: users not listed cannot use it, nor learn "
    "that it exists (administrators use every remote). On update the list replaces the stored "
    "one; leave it out to keep it."
}


class RemoteCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    kind = fields.String(required=True, validate=validate.OneOf(sorted(BACKENDS)))
    settings = fields.Dict(keys=fields.String(), load_default=dict)
    grants = fields.List(
        fields.Nested(Grant),
        load_default=list,
        validate=validate.Length(max=1000),
        metadata=_GRANTS,
    )


class RemoteUpdate(Schema):
    name = fields.String(validate=validate.Length(min=1, max=100))
    settings = fields.Dict(
        keys=fields.String(),
        metadata={"description": "Replaces the settings; a secret left out keeps its value."},
    )
    grants = fields.List(fields.Nested(Grant), validate=validate.Length(max=1000), metadata=_GRANTS)


class RemoteInfo(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    settings = fields.Dict(metadata={"description": "The settings that are not secret."})
    secrets_set = fields.List(fields.String(), attribute="secret_names")
    grants = fields.List(fields.Nested(Grant))
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class UsableRemote(Schema):
    """What a user learns of a remote granted to them: never its settings."""

    name = fields.String()
    kind = fields.String()
    features = fields.List(
        fields.String(metadata={"enum": list(GRANT_FEATURES)}),
        metadata={"description": "What the caller may use it for"},
    )


class ProbeReply(Schema):
    success = fields.Boolean()
    message = fields.String()
