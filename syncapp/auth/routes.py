"""Auth API: seed 004's /auth/register and /auth/login, and API tokens (users: users_routes)."""

from __future__ import annotations

from datetime import timedelta

from flask_login import current_user
from sqlalchemy import select

from ..extensions import Blueprint, db, limiter
from ..failures import Forbidden, NotFound, Unauthorized
from ..security import issue_token, login_token_lifetime, public, revoke_token
from ..settings import settings
from ..tenancy import bind_scopes
from .accounts import authenticate, create_user
from .models import ApiToken, User
from .schemas import (
    AccessToken,
    Credentials,
    NewToken,
    Registration,
    TokenInfo,
    TokenRequest,
)

bp = Blueprint("auth_api", __name__, description="Accounts, login and API tokens")


def _login_limit() -> str:
    return settings().security.login_rate_limit


def _token_limit() -> str:
    return settings().security.token_rate_limit


def _access_token_reply(user: User, name: str) -> dict:
    token, raw = issue_token(user, name, lifetime=login_token_lifetime())
    return {
        "access_token": raw,
        "token_type": "bearer",
        "user_id": user.id,
        "expires_at": token.expires_at,
    }


@bp.route("/auth/register", methods=["POST"])
@bp.arguments(Registration)
@bp.response(201, AccessToken)
@limiter.limit(_login_limit)
@public
def register(data):
    if not settings().security.registration_enabled:
        raise Forbidden(
            "Registration is disabled on this server; ask an administrator.",
            code="registration_disabled",
        )
    user = create_user(data["email"], data["password"], full_name=data["full_name"])
    return _access_token_reply(user, "registration")


@bp.route("/auth/login", methods=["POST"])
@bp.arguments(Credentials)
@bp.response(200, AccessToken)
@limiter.limit(_login_limit)
@public
def login(data):
    user = authenticate(data["email"], data["password"])
    if user is None:
        raise Unauthorized("Wrong email or password.", code="invalid_credentials")
    return _access_token_reply(user, "login")


@bp.route("/api/v1/tokens", methods=["GET"])
@bp.response(200, TokenInfo(many=True))
def list_tokens():
    query = select(ApiToken).where(ApiToken.user_id == current_user.id).order_by(ApiToken.id)
    return db.session.scalars(query).all()


@bp.route("/api/v1/tokens", methods=["POST"])
@bp.arguments(TokenRequest)
@bp.response(201, NewToken)
@limiter.limit(_token_limit)
def create_token(data):
    days = data["expires_in_days"]
    token, raw = issue_token(
        current_user, data["name"], lifetime=timedelta(days=days) if days else None
    )
    bind_scopes(token, data["scopes"])
    token.raw_value = raw  # lives only on this in-memory object, for this one reply
    return token


@bp.route("/api/v1/tokens/<int:token_id>", methods=["DELETE"])
@bp.response(204)
def revoke_api_token(token_id: int):
    token = db.session.get(ApiToken, token_id)
    if token is None or (token.user_id != current_user.id and not current_user.is_admin):
        raise NotFound(f"No token with id {token_id}.")
    revoke_token(token)
