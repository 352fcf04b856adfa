"""The backups' watched condition (syncapp/alerts/registry.py gathers it): each profile's rhythm.

A profile is late when its newest archive (any type) is older than `alerts.backup_any_every`, or
its newest FULL older than `alerts.backup_full_every`; a user's expectation for the profile
(PUT /api/v1/alerts/expectations/backups/<profile>) overrides either or stops watching it. A
profile with an expectation but no archive yet is late one rhythm after the expectation was set:
the dead man's switch for a backup that never ran."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import func, select

from ..alerts.conditions import Condition, Context, Finding, duration, pick
from .models import BackupArchive

KIND = "backup_rhythm"


def last_archives(session) -> dict[tuple[int, str], dict[str, datetime]]:
    """(owner, profile) -> archive type -> when the newest of that type arrived, and "FIRST" ->
    when the profile's first archive did."""
    rows = session.execute(
        select(
            BackupArchive.owner_id,
            BackupArchive.profile,
            BackupArchive.type,
            func.max(BackupArchive.uploaded_at),
            func.min(BackupArchive.uploaded_at),
        ).group_by(BackupArchive.owner_id, BackupArchive.profile, BackupArchive.type)
    )
    found: dict[tuple[int, str], dict[str, datetime]] = {}
    for owner_id, profile, type_, newest, oldest in rows:
        profile_times = found.setdefault((owner_id, profile), {})
        profile_times[type_] = newest
        first = profile_times.get("FIRST")
        profile_times["FIRST"] = oldest if first is None else min(first, oldest)
    return found


def _late(
    ctx: Context,
    subject: tuple[int, str],
    what: str,
    newest: datetime | None,
    since: datetime,
    limit: float | None,
) -> Finding | None:
    """The finding when `newest` (or, with none yet, `since`) is more than `limit` ago."""
    if not limit or ctx.now - (newest or since) <= timedelta(seconds=limit):
        return None
    owner_id, profile = subject
    label = "archive" if what == "ANY" else "FULL archive"
    if newest is None:
        detail = f"No {label} has arrived yet; one is expected at least every {duration(limit)}."
    else:
        detail = (
            f"The newest {label} arrived {newest:%Y-%m-%d %H:%M} UTC; one is expected at least "
            f"every {duration(limit)}."
        )
    return Finding(
        key=f"{KIND}:{owner_id}:{profile}:{what}",
        owner_id=owner_id,
        title=f"Backup profile {profile}: no {label} for over {duration(limit)}",
        detail=detail,
        link=f"/backups#profile-{quote(profile)}",
    )


def find_late_profiles(ctx: Context) -> Iterator[Finding]:
    options = ctx.options
    times = last_archives(ctx.session)
    subjects = dict.fromkeys(times)
    for expectation in ctx.expectations("backups"):
        subjects.setdefault((expectation.owner_id, expectation.subject), None)
    for subject in subjects:
        expectation = ctx.expectation(subject[0], "backups", subject[1])
        if expectation is not None and not expectation.watch:
            continue
        by_type = times.get(subject, {})
        # the clock of a profile with no archive starts when its expectation was set; of a
        # profile with no FULL yet, with its first archive
        since = by_type.get("FIRST") or (expectation.created_at if expectation else ctx.now)
        newest_any = max((t for k, t in by_type.items() if k != "FIRST"), default=None)
        checks = (
            ("ANY", newest_any, pick(expectation and expectation.any_every,
                                     options.backup_any_every)),
            ("FULL", by_type.get("FULL"), pick(expectation and expectation.full_every,
                                               options.backup_full_every)),
        )  # fmt: skip
        for what, newest, limit in checks:
            finding = _late(ctx, subject, what, newest, since, limit)
            if finding is not None:
                yield finding


CONDITIONS = [Condition(KIND, find_late_profiles)]
