"""/api/v1/users: user administration (administrators only)."""

from __future__ import annotations

from flask_login import current_user
from sqlalchemy import select

from ..extensions import Blueprint, db
from ..security import admin_required
from . import users
from .accounts import create_user
from .models import User
from .schemas import NewUser, UserInfo, UserUpdate

bp = Blueprint(
    "users", __name__, url_prefix="/api/v1/users", description="User administration (admin)"
)


def _actor_id() -> int | None:
    # Administrators only, so somebody is signed in; None would mean "nobody's own account".
    return current_user.id if current_user.is_authenticated else None


@bp.route("", methods=["GET"])
@bp.response(200, UserInfo(many=True))
@admin_required
def list_users():
    return db.session.scalars(select(User).order_by(User.id)).all()


@bp.route("", methods=["POST"])
@bp.arguments(NewUser)
@bp.response(201, UserInfo)
@admin_required
def create_account(data):
    return create_user(
        data["email"], data["password"], role=data["role"], full_name=data["full_name"]
    )


@bp.route("/<int:user_id>", methods=["GET"])
@bp.response(200, UserInfo)
@admin_required
def get_account(user_id: int):
    return users.get_user(user_id)


@bp.route("/<int:user_id>", methods=["PATCH"])
@bp.arguments(UserUpdate, required=False)  # no body: nothing changes
@bp.response(200, UserInfo)
@admin_required
def update_account(data, user_id: int):
    """Change a user's name, role, state, password or granted sync folders (`sync_roots`).
    Nobody demotes or deactivates their own account, and the last active administrator stays
    one (409)."""
    return users.update_user(users.get_user(user_id), data, actor_id=_actor_id())


@bp.route("/<int:user_id>", methods=["DELETE"])
@bp.response(204)
@admin_required
def delete_account(user_id: int):
    """Delete a user who owns nothing (else 409 `user_has_data`: deactivate them instead).
    Nobody deletes their own account, nor the last active administrator."""
    users.delete_user(users.get_user(user_id), actor_id=_actor_id())
