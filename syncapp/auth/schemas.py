"""Request and response shapes of the auth API (seed 004's /auth/register and /auth/login)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate

from ..fields import StrictBoolean, UtcDateTime
from ..tenancy import ScopeError, parse_scopes
from .models import ROLES
from .sync_roots import granted_root


class Scopes(fields.List):
    """A token's scopes: "feature" or "feature:name" (tenancy.parse_scopes); none: unrestricted."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.String(validate=validate.Length(min=1, max=200)), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> list[str] | None:
        try:
            return parse_scopes(super()._deserialize(value, attr, data, **kwargs))
        except ScopeError as exc:
            raise ValidationError(str(exc)) from None


class Credentials(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, load_only=True)


class Registration(Credentials):
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=8))
    full_name = fields.String(load_default="", validate=validate.Length(max=255))


class AccessToken(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    user_id = fields.Integer(required=True)
    expires_at = UtcDateTime(allow_none=True)


class TokenRequest(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    # at most a century: a later expiry overflows datetime (a 500 before this bound)
    expires_in_days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=36500))
    scopes = Scopes(
        load_default=None,
        allow_none=True,
        metadata={
            "description": 'What the token may reach, e.g. ["backups:web-01"] (one backup '
            'profile), ["backups", "events"]; left out: everything its user may do.'
        },
    )


class TokenInfo(Schema):
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String()
    created_at = UtcDateTime()
    last_used_at = UtcDateTime(allow_none=True)
    expires_at = UtcDateTime(allow_none=True)
    revoked = fields.Function(lambda token: token.revoked_at is not None)
    scopes = fields.List(fields.String(), allow_none=True, metadata={"description": "None: all"})


class NewToken(TokenInfo):
    token = fields.String(
        attribute="raw_value", metadata={"description": "The token itself; shown only this once."}
    )


class UserInfo(Schema):
    id = fields.Integer()
    email = fields.String()
    full_name = fields.String()
    role = fields.String()
    quota_bytes = fields.Integer(
        allow_none=True, metadata={"description": "null: the server's quota.per_user"}
    )
    active = fields.Boolean()
    sync_roots = fields.List(fields.String())
    created_at = UtcDateTime()


class NewUser(Registration):
    role = fields.String(load_default="user", validate=validate.OneOf(ROLES))


class UserUpdate(Schema):
    full_name = fields.String(validate=validate.Length(max=255))
    role = fields.String(validate=validate.OneOf(ROLES))
    quota_bytes = fields.Integer(
        allow_none=True,
        strict=True,
        validate=validate.Range(min=0, max=2**63 - 1),
        metadata={
            "description": "Bytes the user may keep across features (GET /api/v1/quota); "
            "null: the server's quota.per_user."
        },
    )
    active = StrictBoolean(
        metadata={"description": "An inactive user cannot sign in, and their tokens stop working."}
    )
    password = fields.String(
        load_only=True,
        validate=validate.Length(min=8),
        metadata={"description": "A new password (leave out to keep the current one)."},
    )
    sync_roots = fields.List(
        fields.String(validate=validate.Length(min=1, max=1024)),
        validate=validate.Length(max=100),
        metadata={
            "description": "Folders on this server granted to the user for sync jobs, besides "
            "their personal ones (absolute paths); replaces the list."
        },
    )

    @post_load
    def _normalise_sync_roots(self, data: dict, **_: object) -> dict:
        if "sync_roots" in data:
            try:
                roots = [granted_root(path) for path in data["sync_roots"]]
            except ValueError as exc:
                raise ValidationError({"sync_roots": [str(exc)]}) from None
            data["sync_roots"] = list(dict.fromkeys(roots))
        return data
