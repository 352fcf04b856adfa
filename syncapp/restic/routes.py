"""/api/v1/restic/repositories: create, list and configure restic repositories.

Users manage their own (administrators everyone's, `?owner=` to create in another user's
namespace). Switching append-only off, quotas on existing repositories, a repository's own
stored remote and granting a repository to one token are an administrator's: they are what
keeps a compromised machine from deleting its backups or filling the server.
"""

from __future__ import annotations

from flask import request
from flask_login import current_user

from .. import security, tenancy
from ..auth.models import ApiToken, User
from ..extensions import Blueprint, db, limiter
from ..failures import BadRequest, Forbidden, NotFound
from ..remotes.catalog import find_remote
from ..security import admin_required, owner_scope
from .info import describe
from .schemas import (
    GrantedToken,
    RepositoryCreate,
    RepositoryInfo,
    RepositoryList,
    RepositoryUpdate,
)
from .wiring import rate_limit, restic_store

bp = Blueprint(
    "restic_api",
    __name__,
    url_prefix="/api/v1/restic",
    description="restic repositories (served at /restic/<name>/)",
)


def _caller_key() -> str:
    return f"user:{current_user.id}" if current_user.is_authenticated else request.remote_addr or ""


limiter.limit(rate_limit, key_func=_caller_key)(bp)


def _info(repos) -> list[dict]:
    return describe(db.session, restic_store(), list(repos), request.host_url)


@bp.route("/repositories", methods=["GET"])
@bp.response(200, RepositoryList)
def list_repositories():
    repos = restic_store().repositories(owner_scope("restic repositories"))
    shown = _info(repos)
    return {"repositories": shown, "total": len(shown)}


@bp.route("/repositories", methods=["POST"])
@bp.arguments(RepositoryCreate)
@bp.response(201, RepositoryInfo)
def create_repository(data):
    owner_id = tenancy.requested_owner("restic repositories")
    remote_id = None
    if data.get("remote"):
        if not current_user.is_admin:
            raise Forbidden("Only an administrator chooses a repository's store.", code="forbidden")
        stored = find_remote(data["remote"])
        if stored is None:
            raise BadRequest(f"No stored remote {data['remote']!r}.", code="unknown_remote")
        remote_id = stored.id
    repo = restic_store().create(
        owner_id,
        data["name"],
        append_only=data.get("append_only"),
        quota_bytes=data.get("quota_bytes"),
        remote_id=remote_id,
    )
    return _info([repo])[0]


@bp.route("/repositories/<int:repo_id>", methods=["GET"])
@bp.response(200, RepositoryInfo)
def get_repository(repo_id: int):
    repo = restic_store().get(repo_id, owner_scope("restic repositories"))
    return _info([repo])[0]


@bp.route("/repositories/<int:repo_id>", methods=["PATCH"])
@bp.arguments(RepositoryUpdate, required=False)  # no body: nothing changes
@bp.response(200, RepositoryInfo)
def update_repository(data, repo_id: int):
    repo = restic_store().get(repo_id, owner_scope("restic repositories"))
    admin = current_user.is_admin
    if "append_only" in data:
        if not data["append_only"] and repo.append_only and not admin:
            raise Forbidden("Only an administrator switches append-only off.", code="forbidden")
        repo.append_only = data["append_only"]
    if "quota_bytes" in data:
        if not admin:
            raise Forbidden("Only an administrator changes a repository's quota.", code="forbidden")
        repo.quota_bytes = data["quota_bytes"]
    if "token_id" in data:
        if not admin:
            raise Forbidden("Only an administrator grants a repository.", code="forbidden")
        repo.token_id = _owners_token(repo.owner_id, data["token_id"])
    db.session.commit()
    return _info([repo])[0]


@bp.route("/repositories/<int:repo_id>", methods=["DELETE"])
@bp.response(204)
def delete_repository(repo_id: int):
    """Delete a repository and every object of it, from its store then from the index: the
    owner's or an administrator's; refused (403) while it is append-only unless by an
    administrator."""
    store = restic_store()
    repo = store.get(repo_id, owner_scope("restic repositories"))
    store.remove_repository(repo, admin=current_user.is_admin)
    return "", 204


@bp.route("/repositories/<int:repo_id>/token", methods=["POST"])
@bp.response(201, GrantedToken)
@admin_required
def grant_new_token(repo_id: int):
    """A new token of the owner, scoped to this repository (`restic:<name>`), and the repository
    granted to it alone: what a machine that backs up gets."""
    repo = restic_store().get(repo_id, None)
    owner = db.session.get(User, repo.owner_id)
    token, raw = security.issue_token(owner, f"restic {repo.name}")
    tenancy.bind_scopes(token, [f"restic:{repo.name}"])
    repo.token_id = token.id
    db.session.commit()
    return {"token": raw, "token_id": token.id, "repository": _info([repo])[0]}


def _owners_token(owner_id: int, token_id: int | None) -> int | None:
    if token_id is None:
        return None
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != owner_id or not token.is_valid:
        raise NotFound(
            f"No valid token {token_id} of the repository's owner.", code="token_not_found"
        )
    return token.id
