"""What the API and the page show of a repository: its numbers and the restic command to paste."""

from __future__ import annotations

import shlex
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..remotes.models import StoredRemote
from .models import ResticRepository
from .store import ResticStore


def repository_url(base_url: str, name: str) -> str:
    return f"rest:{base_url.rstrip('/')}/restic/{name}/"


def credentials_url(base_url: str, name: str, email: str) -> str:
    """The repository URL with the credentials in it: what every restic version takes (the
    `@` of the email written %40)."""
    scheme, _, host = base_url.rstrip("/").partition("://")
    user = quote(email, safe="")
    return f"rest:{scheme}://{user}:YOUR_TOKEN@{host}/restic/{name}/"


def command_line(base_url: str, name: str, email: str) -> str:
    """The primary line to paste: credentials in the URL, which every restic takes (Debian's
    0.14 included), then a first `init`."""
    return " ".join(
        [
            "RESTIC_PASSWORD=<the repository's password>",
            "restic",
            "-r",
            shlex.quote(credentials_url(base_url, name, email)),
            "init",
        ]
    )


def command_env(base_url: str, name: str, email: str) -> str:
    """The same with credentials from the environment: RESTIC_REST_USERNAME/PASSWORD are read
    by restic 0.17 and later only (restic PR 4480)."""
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
                "command_env": command_env(base_url, repo.name, email),
            }
        )
    return shown
