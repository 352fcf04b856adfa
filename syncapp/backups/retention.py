"""Which archives a retention policy keeps: the last N FULL chains plus daily/weekly/monthly FULLs
(grandfather-father-son). An INC or DIFF lives exactly as long as the FULL it builds on. Each
owner's profiles are judged apart: two users' profiles of the same name are two profiles."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .models import BackupArchive


@dataclass(frozen=True)
class RetentionPolicy:
    full_chains: int | None = None
    daily: int | None = None
    weekly: int | None = None
    monthly: int | None = None

    @classmethod
    def from_settings(cls, backups: Any) -> RetentionPolicy:
        """From the `backups` settings section (settings().backups)."""
        return cls(
            backups.retention_full_chains,
            backups.retention_daily,
            backups.retention_weekly,
            backups.retention_monthly,
        )

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.full_chains, self.daily, self.weekly, self.monthly))


def _newest_per_period(
    fulls: list[BackupArchive], count: int | None, period: Callable[[datetime], Hashable]
) -> set[str]:
    """The newest FULL of each of the `count` most recent periods that have one."""
    if not count:
        return set()
    picked: dict[Hashable, str] = {}
    for archive in fulls:  # newest first
        key = period(archive.uploaded_at)
        if key not in picked:
            if len(picked) == count:
                break
            picked[key] = archive.name
    return set(picked.values())


def expired(archives: list[BackupArchive], policy: RetentionPolicy) -> list[BackupArchive]:
    """The archives the policy lets go; never a FULL that a kept INC or DIFF builds on."""
    if not policy.active:
        return []
    by_profile: dict[tuple[int, str], list[BackupArchive]] = defaultdict(list)
    for archive in archives:
        by_profile[archive.owner_id, archive.profile].append(archive)
    doomed: list[BackupArchive] = []
    for items in by_profile.values():
        fulls = sorted(
            (a for a in items if a.type == "FULL"),
            key=lambda a: (a.uploaded_at, a.id),
            reverse=True,
        )
        kept = {a.name for a in fulls[: policy.full_chains or 0]}
        kept |= _newest_per_period(fulls, policy.daily, lambda t: t.date())
        kept |= _newest_per_period(fulls, policy.weekly, lambda t: t.isocalendar()[:2])
        kept |= _newest_per_period(fulls, policy.monthly, lambda t: (t.year, t.month))
        gone = {a.name for a in fulls} - kept
        # Dependants first, so that a crash half-way never leaves a kept INC without its FULL.
        doomed += [a for a in items if a.type != "FULL" and a.base_archive in gone]
        doomed += [a for a in fulls if a.name in gone]
    return doomed
