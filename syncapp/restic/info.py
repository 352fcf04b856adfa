"""What the API and the page show of a repository: its numbers and the restic command to paste."""

from __future__ import annotations

import shlex
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..remotes.models import StoredRemote
from .models import ResticRepository
from .store import ResticStore


def repository_url(base_url: str, name: str) -> str:
    return f"rest:{base_url.rstrip('/')}/restic/{name}/"


def command_line(base_url: str, name: str, email: str) -> str:
    """The environment restic needs (RESTIC_REST_USERNAME/PASSWORD: restic 0.16 or later; older
    ones take `rest:http://<email>:<token>@host/...`), then a first backup."""
    return " ".join(
        [
            f"RESTIC_REPOSITORY={shlex.quote(repository_url(base_url, name))}",
            f"RESTIC_REST_USERNAME={shlex.quote(email)}",
            "RESTIC_REST_PASSWORD=<your syncapp token>",
            "RESTIC_PASSWORD=<the repository's password>",
            "restic init",
        ]
    )


def describe(
    session: Session, store: ResticStore, repos: list[ResticRepository], base_url: str
) -> list[dict[str, Any]]:
    owners = {repo.owner_id for repo in repos}
    emails = dict(session.execute(select(User.id, User.email).where(User.id.in_(owners))).all())
    remote_ids = {repo.remote_id for repo in repos if repo.remote_id is not None}
    remotes = dict(
        session.execute(
            select(StoredRemote.id, StoredRemote.name).where(StoredRemote.id.in_(remote_ids))
        ).all()
    )
    stats = store.stats(repo.id for repo in repos)
    shown = []
    for repo in repos:
        numbers = stats[repo.id]
        email = emails.get(repo.owner_id, "")
        shown.append(
            {
                "id": repo.id,
                "name": repo.name,
                "owner_id": repo.owner_id,
                "owner": email,
                "append_only": repo.append_only,
                "quota_bytes": repo.quota_bytes,
                "remote": remotes.get(repo.remote_id) if repo.remote_id else None,
                "token_id": repo.token_id,
                "created_at": repo.created_at,
                "last_snapshot_at": numbers.last_snapshot_at,
                "size": numbers.size,
                "objects": numbers.objects,
                "url": repository_url(base_url, repo.name),
                "command": command_line(base_url, repo.name, email),
            }
        )
    return shown
