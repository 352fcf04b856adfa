"""Who may write a backup archive's `integrity`, and over what (issue 20).

Two readers judge an archive and write its column: the gzip check right after its upload
(integrity.py, store.check_integrity) and the scrub (scrub/service.py), possibly at the same
moment, in the same process or in two. Each reads for a while and writes afterwards, so the
later write may rest on the older read. The rule, kept by conditional UPDATEs (atomic in the
database, so it holds across processes) taken under COMMIT_LOCK (so a write never lands beside
a delete or a commit of this process):

- a finding stands: "corrupt" or "missing" is recorded over "unverified" and "verified", never
  replaced by a "verified" of a read that began before the finding was recorded;
- the gzip check only settles "unverified": its "verified" applies to an archive still
  unverified, its "corrupt" to an unverified or verified one (not over the scrub's "missing",
  which says more);
- the scrub's "ok" clears a "corrupt" or "missing" only if that was already recorded when the
  scrub listed the archive (its read came after the finding: the read proves otherwise); one
  recorded while it read stands until the next pass reads the archive again.
"""

from __future__ import annotations

import threading

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from .models import BackupArchive

#: one commit, delete or integrity verdict at a time per process (the unique index guards
#: hosts); reentrant: a commit deletes the corrupt archive it replaces
COMMIT_LOCK = threading.RLock()

#: the scrub's verdicts (scrub.models.INTEGRITY) as the archive's own column says them
FROM_SCRUB = {"ok": "verified", "corrupt": "corrupt", "missing": "missing"}


def record_gzip_check(session: Session, archive_id: int, verdict: str) -> bool:
    """The gzip check's verdict ("verified" or "corrupt"), if the rule lets it in; False when
    the archive is gone or another verdict was recorded meanwhile. The caller commits."""
    over = ("unverified",) if verdict == "verified" else ("unverified", "verified")
    done = session.execute(
        update(BackupArchive)
        .where(BackupArchive.id == archive_id, BackupArchive.integrity.in_(over))
        .values(integrity=verdict)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)


def record_scrub(session: Session, archive_id: int, integrity: str, seen: str | None) -> bool:
    """The scrub's verdict (ok, corrupt, missing), `seen` the column's value when the scrub
    listed the archive; False when the rule kept what was there. The caller commits."""
    where = [BackupArchive.id == archive_id]
    if integrity == "ok":
        allowed = [BackupArchive.integrity.in_(("unverified", "verified"))]
        if seen is not None:
            allowed.append(BackupArchive.integrity == seen)
        where.append(or_(*allowed))
    done = session.execute(
        update(BackupArchive)
        .where(*where)
        .values(integrity=FROM_SCRUB[integrity])
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)
