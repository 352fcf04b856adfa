"""The gzip check after an upload and the scrub judging one archive at the same moment
(backups/verdicts.py): the later write never replaces a finding with an older read's "verified".

The interleaving is made, not waited for: the other reader runs to its end (in a thread of its
own, joined) at the point where one reader has read the bytes and not yet written its verdict."""

from __future__ import annotations

import threading

from syncapp.backups.integrity import wait_idle
from syncapp.backups.models import BackupArchive
from syncapp.backups.store import ArchiveStore
from syncapp.backups.verdicts import record_gzip_check
from syncapp.backups.wiring import archive_remote, archive_store
from syncapp.extensions import db
from syncapp.scrub.service import Scrubber
from syncapp.scrub.wiring import REMOTES
from tests.scrub.helpers import (
    Clock,
    archive_integrity,
    delete_stored,
    scrub_pass,
    store_one_of_each,
    verdicts,
)


def _in_thread(app, work) -> None:
    """Run `work` in another thread with an app context (its own database session), to its end."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context():
                work()
        except BaseException as exc:  # handed to the test's thread
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert not failure, failure


def _unverified(app, archive_id: int) -> None:
    with app.app_context():
        db.session.get(BackupArchive, archive_id).integrity = "unverified"
        db.session.commit()


def test_a_scrub_finding_written_during_the_gzip_check_stands(app):
    stored = store_one_of_each(app)
    archive_id = stored.ids["backup"]
    _unverified(app, archive_id)  # as right after its upload

    class ScrubbedMeanwhile(ArchiveStore):
        def _gzip_verdict(self, path: str) -> str:
            verdict = super()._gzip_verdict(path)  # the bytes were whole when read: "verified"
            delete_stored(app, "backup", path)  # then they go, and the scrub sees it
            scrubbing = threading.Thread(target=lambda: scrub_pass(app))
            scrubbing.start()
            scrubbing.join()
            return verdict

    with app.app_context():
        plain = archive_store()
        checker = ScrubbedMeanwhile(plain.remote, db.session, max_size=plain.max_size)
        checker.check_integrity([db.session.get(BackupArchive, archive_id)])
    assert verdicts(app)["backup"][0] == "missing"
    assert archive_integrity(app) == "missing"  # not the gzip check's older "verified"


class _HookedRemote:
    """The backups' store, running `before_read` once when the scrub opens an object."""

    def __init__(self, remote, before_read) -> None:
        self._remote, self._before_read = remote, before_read

    def open_read(self, path: str):
        if self._before_read is not None:
            hook, self._before_read = self._before_read, None
            hook()
        return self._remote.open_read(path)

    def __getattr__(self, name: str):
        return getattr(self._remote, name)


def test_a_gzip_check_finding_written_during_the_scrubs_read_stands(app):
    stored = store_one_of_each(app)
    archive_id = stored.ids["backup"]
    _unverified(app, archive_id)

    def gzip_check_finds_it_corrupt() -> None:
        assert record_gzip_check(db.session, archive_id, "corrupt")
        db.session.commit()

    clock = Clock()
    with app.app_context():
        hooked = _HookedRemote(
            archive_remote(), lambda: _in_thread(app, gzip_check_finds_it_corrupt)
        )
        service = Scrubber(
            db.session,
            {**REMOTES, "backup": lambda: hooked},
            interval=None,
            max_rate=None,
            now=clock.now,
            clock=clock.monotonic,
            sleep=clock.sleep,
        )
        service.request()
        assert service.run().finished
    assert verdicts(app)["backup"][0] == "ok"  # what the scrub read
    assert archive_integrity(app) == "corrupt"  # recorded while it read: kept for the next pass


def test_a_scrub_read_after_a_finding_clears_it(app):
    """The other half of the rule: the finding was there when the scrub listed the archive, so
    its whole read proves the bytes good again."""
    stored = store_one_of_each(app)
    with app.app_context():
        assert record_gzip_check(db.session, stored.ids["backup"], "corrupt")
        db.session.commit()
    scrub_pass(app)
    assert archive_integrity(app) == "verified"


def test_the_gzip_check_does_not_replace_the_scrubs_verdict_after_it(app):
    stored = store_one_of_each(app)
    wait_idle()
    _unverified(app, stored.ids["backup"])
    delete_stored(app, "backup", stored.paths["backup"])
    scrub_pass(app)
    with app.app_context():
        # a gzip check that read the bytes before they went, writing now
        assert not record_gzip_check(db.session, stored.ids["backup"], "verified")
        db.session.commit()
    assert archive_integrity(app) == "missing"
