"""`flask remotes ...`: stored remotes from the command line, for deployments without a browser.

`backups.remote`, `cordiax.remote`, `documents.remote` and `cloud.remote` name stored remotes,
which otherwise only an administrator can create through the API or the settings page. A
container or a systemd unit must be able to provide them non-interactively, and idempotently
(the same command runs on every start), without putting secrets on the command line where `ps`
shows them: hence `--env-prefix`, which reads the settings from environment variables.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..extensions import db
from ..failures import DomainError
from ..storage import RemoteError
from . import catalog
from .models import StoredRemote

remotes = AppGroup("remotes", help="Stored remotes (storage locations) for deployments.")


def settings_from_env(prefix: str, environ: Mapping[str, str]) -> dict[str, str]:
    """`<PREFIX><NAME>=value` for every variable starting with `prefix` → {"name": value}."""
    upper = prefix.upper()
    return {
        name[len(prefix) :].lower(): value
        for name, value in environ.items()
        if name.upper().startswith(upper) and len(name) > len(prefix)
    }


def gather_settings(
    pairs: tuple[str, ...], env_prefix: str | None, settings_file: str | None
) -> dict[str, Any]:
    """Later sources win: the JSON file, then the environment, then `--set`."""
    settings: dict[str, Any] = {}
    if settings_file:
        try:
            with click.open_file(settings_file) as handle:  # "-" is stdin
                data = json.loads(handle.read())
        except (OSError, ValueError) as exc:
            raise click.BadParameter(
                f"{settings_file}: {exc}", param_hint="--settings-file"
            ) from None
        if not isinstance(data, dict):
            raise click.BadParameter("must hold a JSON object", param_hint="--settings-file")
        settings.update(data)
    if env_prefix:
        settings.update(settings_from_env(env_prefix, os.environ))
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--set")
        settings[key] = value
    return settings


@remotes.command("create")
@click.argument("name")
@click.option("--kind", required=True, help="local, smb, webdav, s3, azure or gdrive.")
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE", help="One setting.")
@click.option(
    "--env-prefix",
    metavar="PREFIX",
    help="Read settings from environment variables PREFIX<SETTING> (e.g. S3_BUCKET with S3_); "
    "keeps secrets out of the command line.",
)
@click.option("--settings-file", metavar="PATH", help="A JSON object of settings ('-': stdin).")
@click.option(
    "--update",
    "update_existing",
    is_flag=True,
    help="If the remote exists, replace its settings (secrets not given keep their value).",
)
def create_remote_command(
    name: str,
    kind: str,
    pairs: tuple[str, ...],
    env_prefix: str | None,
    settings_file: str | None,
    update_existing: bool,
) -> None:
    """Create the stored remote NAME (with --update: create it or bring it up to date)."""
    settings = gather_settings(pairs, env_prefix, settings_file)
    existing = catalog.find_remote(name)
    try:
        if existing is None:
            remote = catalog.create_remote(name, kind, settings)
            click.echo(f"created remote {remote.name} ({remote.kind}, id {remote.id})")
            return
        if not update_existing:
            raise click.ClickException(f"a remote named {name!r} exists already (see --update)")
        if existing.kind != kind:
            raise click.ClickException(
                f"the remote {name!r} is of kind {existing.kind}, not {kind}; "
                "delete it in the settings first"
            )
        remote = catalog.update_remote(existing, settings=settings)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"updated remote {remote.name} ({remote.kind}, id {remote.id})")


@remotes.command("list")
def list_remotes_command() -> None:
    """List stored remotes: id, name, kind, settings (never the secrets' values)."""
    for remote in db.session.scalars(select(StoredRemote).order_by(StoredRemote.name)):
        hidden = "".join(f" {key}=***" for key in remote.secret_names)
        shown = "".join(f" {key}={value}" for key, value in sorted(remote.settings.items()))
        click.echo(f"{remote.id}\t{remote.name}\t{remote.kind}\t{shown.strip()}{hidden}")


@remotes.command("test")
@click.argument("name")
def test_remote_command(name: str) -> None:
    """Write, read back and delete a probe file on NAME; exit 1 when that fails."""
    stored = catalog.find_remote(name)
    if stored is None:
        raise click.ClickException(f"no stored remote named {name!r}")
    try:
        with catalog.open_stored(stored) as remote:
            result = remote.probe()
    except RemoteError as exc:
        raise click.ClickException(f"{name}: {exc}") from None
    if not result.success:
        raise click.ClickException(f"{name}: {result.message}")
    click.echo(f"{name}: {result.message}")
