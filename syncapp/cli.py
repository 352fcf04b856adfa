"""Command-line tools: `flask users create`, `flask tokens create|revoke`, `flask bootstrap`,
`flask alerts evaluate`."""

from __future__ import annotations

import secrets
from datetime import datetime

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from .alerts.wiring import evaluator
from .auth.accounts import create_user, find_user, user_count
from .auth.models import ROLES, ApiToken
from .backups.wiring import archive_store
from .extensions import db
from .failures import DomainError
from .scrub.wiring import run_on_demand, scrubber
from .security import issue_token, revoke_token
from .tenancy import ScopeError, bind_scopes, parse_scopes
from .timeutil import utcnow

users = AppGroup("users", help="Manage user accounts.")
tokens = AppGroup("tokens", help="Manage API tokens.")
alerts = AppGroup("alerts", help="Watched conditions (the leader evaluates them every minute).")


@users.command("create")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", type=click.Choice(ROLES), default="user", show_default=True)
@click.option("--full-name", default="")
def create_user_command(email: str, password: str, role: str, full_name: str) -> None:
    """Create a user."""
    try:
        user = create_user(email, password, role=role, full_name=full_name)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"created {user.role} {user.email} (id {user.id})")


@tokens.command("create")
@click.option("--email", required=True, help="The user the token acts for.")
@click.option("--name", required=True, help="What the token is for, e.g. 'nightly backup'.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="Limit the token, e.g. 'backups:web-01' (one backup profile); repeatable. "
    "None: everything the user may do.",
)
def create_token_command(email: str, name: str, scopes: tuple[str, ...]) -> None:
    """Create an API token; it is printed once and cannot be shown again."""
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no user with the email {email}")
    try:
        bound = parse_scopes(scopes or None)
    except ScopeError as exc:
        raise click.ClickException(str(exc)) from None
    token, raw = issue_token(user, name)
    bind_scopes(token, bound)
    click.echo(f"token {token.id} ({token.name}) for {user.email}:")
    click.echo(raw)


@tokens.command("revoke")
@click.argument("token_id", type=int)
def revoke_token_command(token_id: int) -> None:
    """Revoke a token by its id (see `flask tokens list`)."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise click.ClickException(f"no token with id {token_id}")
    revoke_token(token)
    click.echo(f"revoked token {token.id} ({token.name})")


@tokens.command("list")
def list_tokens_command() -> None:
    """List tokens (never their values)."""
    for token in db.session.scalars(select(ApiToken).order_by(ApiToken.id)):
        state = "revoked" if token.revoked_at else "active"
        scopes = ",".join(token.scopes) if token.scopes is not None else "all"
        click.echo(
            f"{token.id}\t{token.prefix}…\t{token.user.email}\t{token.name}\t{state}\t{scopes}"
        )


@click.command("bootstrap")
@click.option("--email", default="admin@localhost", show_default=True)
def bootstrap_command(email: str) -> None:
    """On first start, with no users yet: create an admin and print its password and a token."""
    if user_count() > 0:
        return
    password = secrets.token_urlsafe(12)
    admin = create_user(email, password, role="admin", full_name="Administrator")
    _, raw = issue_token(admin, "bootstrap")
    click.echo("")
    click.echo("First start: an administrator was created. This is shown only once:")
    click.echo(f"  email:     {admin.email}")
    click.echo(f"  password:  {password}")
    click.echo(f"  API token: {raw}")
    click.echo("")


backups = AppGroup("backups", help="Backup archive store.")


@backups.command("reindex")
def reindex_backups_command() -> None:
    """Rebuild the archive index from the sidecar files (the truth)."""
    store = archive_store()
    removed = store.clean_debris()
    count = store.reindex()
    click.echo(f"indexed {count} archive(s); removed {len(removed)} piece(s) of upload debris")


@backups.command("check")
def check_backups_command() -> None:
    """Check every archive still "unverified" (stored before the gzip check existed, or whose
    check a restart interrupted) now, rather than at the next /verify; exits 1 if any is
    corrupt."""
    store = archive_store()
    archives = store.archives(None)
    store.check_integrity(archives)
    corrupt = [a.path for a in archives if a.integrity == "corrupt"]
    for path in corrupt:
        click.echo(f"corrupt: {path}")
    click.echo(f"{len(archives)} archive(s), {len(corrupt)} corrupt")
    if corrupt:
        raise SystemExit(1)


scrub = AppGroup("scrub", help="Read every stored object back against its checksums.")


@scrub.command("run")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after N objects.")
def scrub_run_command(limit: int | None) -> None:
    """Run the unfinished scrub pass (or a new one) here, in the foreground, at scrub.max_rate;
    exits 1 if the pass found anything corrupt or missing so far."""
    done = run_on_demand(limit)
    if done is None:
        raise click.ClickException("another process is running the scrub pass now")
    found = done.found
    state = "finished" if done.finished else "paused" if done.error else "stopped (--limit)"
    click.echo(
        f"pass {done.pass_id} {state}: {done.objects} object(s), {done.bytes} bytes read; "
        f"{found['ok']} ok, {found['corrupt']} corrupt, {found['missing']} missing"
    )
    if done.error:
        click.echo(f"a store is unavailable: {done.error}", err=True)
    totals = scrubber().status()["findings"]["total"]
    if totals["corrupt"] or totals["missing"]:
        raise SystemExit(1)


@alerts.command("evaluate")
@click.option(
    "--at",
    "at",
    default=None,
    help="Evaluate as if it were this UTC time (ISO 8601); default now. The alerts move, and "
    "their notifications go out, as if it were (a drill); the next evaluation puts them back.",
)
def evaluate_alerts_command(at: str | None) -> None:
    """Evaluate every condition now (what the leader's alerts.evaluate job does) and print the
    alerts that fired and resolved."""
    try:
        now = datetime.fromisoformat(at.replace("Z", "+00:00")) if at else utcnow()
    except ValueError:
        raise click.ClickException(f"--at: {at!r} is not an ISO 8601 time") from None
    if now.tzinfo is None:
        raise click.ClickException("--at: give the time zone, e.g. 2026-12-08T06:00:00Z")
    summary = evaluator().evaluate(now)
    for key in summary.fired:
        click.echo(f"firing {key}")
    for key in summary.resolved:
        click.echo(f"resolved {key}")
    for kind in summary.failed:
        click.echo(f"could not evaluate {kind} (see the log)", err=True)


def register_cli(app: Flask) -> None:
    app.cli.add_command(scrub)
    app.cli.add_command(alerts)
    app.cli.add_command(backups)
    app.cli.add_command(users)
    app.cli.add_command(tokens)
    app.cli.add_command(bootstrap_command)
