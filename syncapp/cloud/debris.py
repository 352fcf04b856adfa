"""What killed replications leave in the clouds: an S3 multipart upload that was never completed
(its parts stored and billed, but no object), or a Google Drive upload that a kill stopped before
its rename (a temp file in the user's Drive). Azure discards uncommitted blocks itself.

Swept by the leader with the cloud store's own debris (`CloudStore.sweep_debris`); every cloud
that any copy was asked for is visited once (a shared bucket once, however many users it holds).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..storage import Remote, RemoteError
from ..storage.base import sweep_temps
from .models import CloudCopy, CloudFile
from .targets import TargetUnavailable, stored_remote_name

log = logging.getLogger(__name__)

OpenCloud = Callable[[str, int], Remote]


def sweep_targets(
    session: Session, open_cloud: OpenCloud, *, folder: str, older_than: datetime
) -> list[str]:
    """Abort the unfinished uploads, and remove the stale temp files, that killed replications
    left below `folder` in every cloud a copy was asked for; returns them as `<target>:<path>`.
    A cloud that cannot be reached is skipped (logged): the next sweep tries again."""
    clouds = session.execute(
        select(CloudCopy.target, CloudFile.owner_id)
        .join(CloudFile, CloudFile.id == CloudCopy.file_id)
        .distinct()
        .order_by(CloudCopy.target, CloudFile.owner_id)
    ).all()
    session.commit()  # no transaction held while the clouds answer (issue 18)
    visited: set[tuple[str, object]] = set()
    removed: list[str] = []
    for target, owner_id in clouds:
        # a user's own Drive; a stored remote that several users share is visited once
        where = owner_id if target == "google" else stored_remote_name(target, owner_id)
        if (target, where) in visited:
            continue
        visited.add((target, where))
        try:
            with open_cloud(target, owner_id) as cloud:
                found = cloud.sweep_partial(folder, older_than=older_than)
                if target == "google":  # Drive uploads under a temp name, then renames
                    found += sweep_temps(cloud, folder, older_than)
        except (TargetUnavailable, RemoteError) as exc:
            log.warning("could not sweep the debris of replications in %s: %s", target, exc)
            continue
        removed += [f"{target}:{path}" for path in found]
    if removed:
        log.info("removed %d piece(s) of interrupted replications", len(removed))
    return removed
