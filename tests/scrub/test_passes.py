"""A scrub pass: what it judges an archive by (gzip and tar streams), where it resumes after an
interruption, when the schedule starts one, and one reader per pass."""

from __future__ import annotations

import io
import subprocess

from sqlalchemy import select

from syncapp.backups.gzipcheck import IncompleteTar, TarFollower
from syncapp.backups.integrity import wait_idle
from syncapp.backups.models import BackupArchive
from syncapp.extensions import db
from syncapp.scrub.models import ScrubPass, ScrubResult
from syncapp.scrub.service import PASS_CLAIMS
from syncapp.scrub.wiring import scrubber
from syncapp.storage.base import owner_tag
from tests.conftest import bearer, make_token, make_user
from tests.scrub.helpers import Clock, archive_integrity, scrub_pass, tar_bytes, tar_gz, verdicts


def _upload(app, token: str, data: bytes, name: str) -> dict:
    form = {"file": (io.BytesIO(data), name), "type": "FULL", "profile": "office"}
    reply = app.test_client().post(
        "/upload", headers=bearer(token), data=form, content_type="multipart/form-data"
    )
    assert reply.status_code == 201, reply.get_json()
    return reply.get_json()


def _admin(app) -> str:
    make_user(app, "root@example.com", role="admin")
    return make_token(app, "root@example.com")


def test_a_truncated_tar_in_a_complete_gzip_stream_is_corrupt(app):
    token = _admin(app)
    cut = len(tar_bytes(1)) // 2  # inside the second member
    _upload(app, token, tar_gz(1, cut=cut), "full_2026-12-01_00-00-00.tar.gz")
    wait_idle()
    assert archive_integrity(app) == "verified"  # gzip -t passes: only the tar shows it
    scrub_pass(app)
    integrity, detail = verdicts(app)["backup"]
    assert integrity == "corrupt" and detail.startswith("tar:") and "truncated" in detail
    assert archive_integrity(app) == "corrupt"


def test_the_tar_follower_needs_every_member_and_the_end_marker():
    whole = tar_bytes(2)
    follower = TarFollower()
    for start in range(0, len(whole), 777):  # any chunking
        follower.feed(whole[start : start + 777])
    follower.finish()
    assert follower.members == 3
    for cut in (100, 512, 512 + 4000, len(whole) - 10240):  # header, data, boundary, no marker
        follower = TarFollower()
        follower.feed(whole[:cut])
        try:
            follower.finish()
        except IncompleteTar:
            continue
        raise AssertionError(f"a tar cut at {cut} passed")
    damaged = bytearray(whole)
    damaged[10] ^= 0xFF  # a header byte: its checksum no longer matches
    follower = TarFollower()
    try:
        follower.feed(bytes(damaged))
        raise AssertionError("a damaged header passed")
    except IncompleteTar as exc:
        assert "checksum" in str(exc)


def _documents(app, token: str, count: int) -> list[int]:
    ids = []
    for n in range(count):
        form = {"file": (io.BytesIO(b"page %d " % n * 100), f"doc-{n}.pdf"), "type": "invoice"}
        reply = app.test_client().post(
            "/api/v1/documents",
            headers=bearer(token),
            data=form,
            content_type="multipart/form-data",
        )
        assert reply.status_code == 201, reply.get_json()
        ids.append(reply.get_json()["id"])
    return ids


def test_an_interrupted_pass_resumes_at_the_next_object(app):
    token = _admin(app)
    _upload(app, token, tar_gz(1), "full_2026-12-01_00-00-00.tar.gz")
    wait_idle()
    documents = _documents(app, token, 4)
    clock = Clock()
    with app.app_context():
        first = scrubber(max_rate=None, now=clock.now, clock=clock.monotonic, sleep=clock.sleep)
        first.request("request")
        done = first.run(max_objects=3)  # the archive, then two documents: interrupted there
        assert done.objects == 3 and not done.finished
        row = db.session.scalars(select(ScrubPass)).one()
        assert (row.kind, row.last_object_id) == ("document", documents[1])
        assert (row.objects_verified, row.lease_owner) == (3, None)  # kept, and given back
    clock.advance(3600)  # "a restart": a new app context, a new Scrubber, a later time
    with app.app_context():
        db.session.remove()
        second = scrubber(max_rate=None, now=clock.now, clock=clock.monotonic, sleep=clock.sleep)
        done = second.run(max_objects=1)
        assert done.objects == 1 and not done.finished
        times = {
            r.object_id: r.last_verified_at
            for r in db.session.scalars(select(ScrubResult).where(ScrubResult.kind == "document"))
        }
        assert set(times) == set(documents[:3])  # N+1: the third document, not the first again
        assert times[documents[2]] > times[documents[0]] == times[documents[1]]
        done = second.run()
        assert done.finished and done.objects == 1  # the last document; no cordiax/cloud rows
        row = db.session.scalars(select(ScrubPass)).one()
        assert row.objects_verified == 5 and row.finished_at is not None and row.ok == 5


def test_a_pass_held_by_another_process_is_left_alone(app):
    clock = Clock()
    with app.app_context():
        service = scrubber(max_rate=None, now=clock.now)
        scrub = service.request("request")
        assert PASS_CLAIMS.claim(db.session, scrub.id, "otherhost.1.abc", now=clock.now())
        assert service.run() is None
        clock.advance(PASS_CLAIMS.lease.total_seconds() + 1)  # its lease ran out: taken over
        done = service.run()
        assert done is not None and done.finished


def test_a_pass_whose_process_ended_is_taken_over_at_once(app):
    with app.app_context():
        service = scrubber(max_rate=None)
        scrub = service.request("request")
        holder = f"{owner_tag().split('.')[0]}.{_ended_pid()}"
        assert PASS_CLAIMS.claim(db.session, scrub.id, holder)
        done = service.run()  # within the dead slice's lease
        assert done is not None and done.finished


def _ended_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_the_schedule_starts_a_pass_an_interval_after_the_last(app):
    clock = Clock()
    week = 7 * 24 * 3600.0
    with app.app_context():
        service = scrubber(max_rate=None, interval=week, now=clock.now)
        assert service.run().finished  # never ran: due at once
        assert service.run() is None  # just finished: nothing due
        clock.advance(week - 60)
        assert service.due() is None
        clock.advance(120)
        assert service.run().finished
        assert db.session.scalar(select(db.func.count(ScrubPass.id))) == 2
        off = scrubber(max_rate=None, interval=None, now=clock.now)
        clock.advance(2 * week)
        assert off.run() is None  # scheduled passes off: only on demand
        off.request("request")
        assert off.run().finished
        trigger = db.session.scalar(select(ScrubPass.trigger).order_by(ScrubPass.id.desc()))
        assert trigger == "request"


def test_a_slice_ends_when_its_seconds_are_spent_and_the_next_continues(app):
    token = _admin(app)
    _documents(app, token, 4)  # ~800 bytes each
    clock = Clock()
    with app.app_context():
        # 400 bytes/s with a 400-byte burst: each document costs ~2 s of the test's clock
        service = scrubber(max_rate=400, now=clock.now, clock=clock.monotonic, sleep=clock.sleep)
        service.request("request")
        done = service.run(max_seconds=3.0)
        assert 1 <= done.objects < 4 and not done.finished
        assert sum(clock.slept) > 0  # the limiter waited (on the test's clock, not for real)
        rest = service.run()
        assert rest.finished and done.objects + rest.objects == 4


def test_uploading_the_recorded_bytes_again_repairs_a_damaged_copy(app):
    from tests.scrub.helpers import delete_stored, flip_one_byte

    token = _admin(app)
    data, name = tar_gz(3), "full_2026-12-02_00-00-00.tar.gz"
    first = _upload(app, token, data, name)
    wait_idle()
    with app.app_context():
        path = db.session.scalar(select(BackupArchive.path))
    flip_one_byte(app, "backup", path)
    scrub_pass(app)
    assert archive_integrity(app) == "corrupt"
    again = _upload(app, token, data, name)  # the client still has the archive
    assert again["already_stored"] is False and again["md5"] == first["md5"]
    assert verdicts(app) == {}  # the damaged copy's finding went with it
    wait_idle()
    assert archive_integrity(app) == "verified"
    scrub_pass(app)
    assert verdicts(app)["backup"][0] == "ok"
    delete_stored(app, "backup", path)
    scrub_pass(app)
    assert archive_integrity(app) == "missing"
    assert _upload(app, token, data, name)["already_stored"] is False
    wait_idle()
    scrub_pass(app)
    assert archive_integrity(app) == "verified" and verdicts(app)["backup"][0] == "ok"
