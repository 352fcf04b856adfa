"""GET /api/v1/quota: the bytes a user keeps, per feature, against their quota (syncapp/quotas.py).

Users see their own; an administrator also anyone's with `?owner=<id or email>`.
"""

from __future__ import annotations

from marshmallow import Schema, fields

from .extensions import Blueprint, db
from .quotas import quota_and_source, usage
from .tenancy import requested_owner

bp = Blueprint("quota", __name__, url_prefix="/api/v1", description="Storage quota per user")


class OwnerQuery(Schema):
    owner = fields.String(
        metadata={"description": "Administrators: whose quota (a user id or email)"}
    )


class QuotaReport(Schema):
    user_id = fields.Integer()
    quota_bytes = fields.Integer(
        allow_none=True, metadata={"description": "What the user may keep; null: no limit"}
    )
    quota_source = fields.String(
        metadata={
            "enum": ["user", "server", "none"],
            "description": "user: set for this user (PATCH /api/v1/users/<id> quota_bytes); "
            "server: quota.per_user; none: no limit",
        }
    )
    used_bytes = fields.Integer()
    available_bytes = fields.Integer(
        allow_none=True, metadata={"description": "quota_bytes - used_bytes (at least 0)"}
    )
    usage = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "Bytes per feature (documents, cloud: every kept version, ...)"},
    )


@bp.route("/quota", methods=["GET"])
@bp.arguments(OwnerQuery, location="query")
@bp.response(200, QuotaReport)
@bp.alt_response(404, description="`owner` names nobody whose quota you may see")
def get_quota(_query):
    user_id = requested_owner("quota")
    limit, source = quota_and_source(db.session, user_id)
    per_feature = usage(db.session, user_id)
    used = sum(per_feature.values())
    return {
        "user_id": user_id,
        "quota_bytes": limit,
        "quota_source": source,
        "used_bytes": used,
        "available_bytes": None if limit is None else max(0, limit - used),
        "usage": per_feature,
    }
