"""/api/v1/notifications: each user's notification targets (where their alerts go), a "send a
test", and the deliveries made to them. Administrators act on anyone's with ?owner=, and their
own targets also receive the store-wide alerts."""

from __future__ import annotations

from flask_login import current_user

from ..extensions import Blueprint, db, limiter
from ..tenancy import caller, requested_owner
from . import deliveries, targets
from .schemas import (
    DeliveryInfo,
    DeliveryQuery,
    OwnerQuery,
    SendTestReply,
    TargetCreate,
    TargetInfo,
    TargetUpdate,
)
from .wiring import allowed_schemes, max_targets, public_only, send_test, test_rate_limit

bp = Blueprint(
    "notifications",
    __name__,
    url_prefix="/api/v1/notifications",
    description="Where the caller's alerts are sent (Apprise URLs, signed webhooks), and how",
)


@bp.route("/targets", methods=["GET"])
@bp.arguments(OwnerQuery, location="query")
@bp.response(200, TargetInfo(many=True))
def list_targets(query):
    return targets.list_targets(db.session, requested_owner("notification targets"))


@bp.route("/targets", methods=["POST"])
@bp.arguments(OwnerQuery, location="query")
@bp.arguments(TargetCreate)
@bp.response(201, TargetInfo)
def create_target(query, data):
    """A target of a user who is not an administrator may name public hosts only (400
    `private_address`), unless `notifications.allow_private_networks` (docs/security.md)."""
    owner_id = requested_owner("notification targets")
    return targets.create_target(
        db.session,
        owner_id,
        allowed_schemes=allowed_schemes(),
        public_only=public_only(owner_id),
        limit=max_targets(),
        **data,
    )


@bp.route("/targets/<int:target_id>", methods=["PATCH"])
@bp.arguments(TargetUpdate, required=False)  # no body: nothing changes
@bp.response(200, TargetInfo)
def update_target(data, target_id: int):
    target = targets.get_target(db.session, target_id, caller())
    return targets.update_target(
        db.session, target, data, allowed_schemes(), public_only=public_only(target.owner_id)
    )


@bp.route("/targets/<int:target_id>", methods=["DELETE"])
@bp.response(204)
def delete_target(target_id: int):
    targets.delete_target(db.session, targets.get_target(db.session, target_id, caller()))


def _per_user() -> str:
    return f"user:{current_user.id}" if current_user.is_authenticated else "anonymous"


@bp.route("/targets/<int:target_id>/test", methods=["POST"])
@limiter.limit(test_rate_limit, key_func=_per_user)  # each test makes the server connect out
@bp.response(200, SendTestReply)
def test_target(target_id: int):
    """Send a test message now: `success` and what the target answered, or why it failed (to a
    caller who is not an administrator: only that it could not be delivered, see SSRF in
    docs/security.md)."""
    who = caller()
    success, message = send_test(targets.get_target(db.session, target_id, who))
    return {
        "success": success,
        "message": message if success else deliveries.shown_error(message, who.is_admin),
    }


@bp.route("/deliveries", methods=["GET"])
@bp.arguments(DeliveryQuery, location="query")
@bp.response(200, DeliveryInfo(many=True))
def list_deliveries(query):
    """The newest deliveries to the caller's targets (or ?owner='s), newest first."""
    owner_id = requested_owner("notification deliveries")
    return deliveries.recent(
        db.session,
        owner_id,
        status=query.get("status"),
        limit=query["limit"],
        admin=caller().is_admin,
    )
