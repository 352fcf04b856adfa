"""Store-wide conditions and the ones that come from other parts' rows: free space (threshold
driven by the test), the documents' NAS not mounted, open cloud conflicts, scrub findings, and a
scheduler without a leader. Each fires once and resolves once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from syncapp import scheduled_runs
from syncapp.auth.accounts import find_user
from syncapp.cloud.models import CloudConflict, CloudFile
from syncapp.extensions import db
from syncapp.scheduled_runs import ScheduledRun
from syncapp.scrub.models import ScrubResult
from syncapp.storage.mounts import MARKER
from syncapp.timeutil import utcnow
from tests.alerts.helpers import alert, evaluate, firing_keys, transitions
from tests.web.test_pages import HTML, sign_in


def test_free_space_under_the_threshold_fires_and_resolves(app):
    huge = 1024**6  # an exbibyte: more than any test machine has free
    assert firing_keys(app, "free_space") == set()
    fired = evaluate(app, min_free_space=huge)["fired"]
    assert "free_space:instance" in fired
    found = alert(app, "free_space:instance")
    assert found["owner_id"] is None and "left" in found["title"]
    evaluate(app, min_free_space=huge)
    assert transitions(app, "free_space:instance") == ["firing"]
    resolved = evaluate(app, min_free_space=1, min_free_percent=0)["resolved"]
    assert sorted(resolved) == sorted(fired)
    assert firing_keys(app, "free_space") == set()
    assert transitions(app, "free_space:instance") == ["firing", "resolved"]
    # the share of the disk counts too
    by_share = evaluate(app, min_free_space=None, min_free_percent=101)["fired"]
    assert "free_space:instance" in by_share


def test_a_nas_mount_path_that_is_not_mounted_fires_until_it_is(make_app, tmp_path):
    mount = tmp_path / "nas"
    mount.mkdir()
    app = make_app(documents={"nas_mount_path": str(mount)})
    assert evaluate(app)["fired"] == ["nas_unmounted:documents"]
    found = alert(app, "nas_unmounted:documents")
    assert found["owner_id"] is None and "not mounted" in found["title"]
    evaluate(app)
    # the share's own marker file says it is mounted (storage/mounts.py)
    (mount / MARKER).write_text("syncapp NAS target\n")
    assert evaluate(app)["resolved"] == ["nas_unmounted:documents"]
    assert transitions(app, "nas_unmounted:documents") == ["firing", "resolved"]


def test_no_nas_configured_is_no_alert(app):
    evaluate(app)
    assert firing_keys(app, "nas_unmounted") == set()


def test_open_cloud_conflicts_fire_for_their_owner(app, user):
    with app.app_context():
        owner = find_user(user).id
        file = CloudFile(owner_id=owner, filename="plan.txt")
        db.session.add(file)
        db.session.flush()
        conflict = CloudConflict(
            owner_id=owner, file_id=file.id, target="s3", remote_path="syncapp/plan.txt",
            local_version=1, local_size=3, local_md5="0" * 32, local_modified=utcnow(),
        )  # fmt: skip
        db.session.add(conflict)
        db.session.commit()
        conflict_id = conflict.id
    key = f"cloud_conflicts:{owner}"
    assert evaluate(app)["fired"] == [key]
    assert alert(app, key)["owner_id"] == owner
    evaluate(app)
    with app.app_context():
        db.session.get(CloudConflict, conflict_id).resolved = True
        db.session.commit()
    assert evaluate(app)["resolved"] == [key]
    assert transitions(app, key) == ["firing", "resolved"]


def test_scrub_findings_fire_per_owner_and_resolve_when_fixed(app, user):
    with app.app_context():
        owner = find_user(user).id
        db.session.add_all(
            [
                ScrubResult(kind="backup", object_id=1, owner_id=owner, integrity="corrupt",
                            detail="md5 differs"),
                ScrubResult(kind="backup", object_id=2, owner_id=owner, integrity="ok"),
                ScrubResult(kind="document", object_id=3, owner_id=None, integrity="missing",
                            detail="absent from the store"),
            ]
        )  # fmt: skip
        db.session.commit()
    mine, store = f"scrub_findings:{owner}", "scrub_findings:store"
    assert sorted(evaluate(app)["fired"]) == sorted([mine, store])
    assert "1 corrupt" in alert(app, mine)["title"] and alert(app, store)["owner_id"] is None
    evaluate(app)
    with app.app_context():  # the object is fixed: the next scrub finds it ok
        for row in db.session.scalars(select(ScrubResult).where(ScrubResult.object_id == 1)):
            row.integrity, row.detail = "ok", ""
        db.session.commit()
    assert evaluate(app)["resolved"] == [mine]
    assert firing_keys(app, "scrub_findings") == {store}
    assert transitions(app, mine) == ["firing", "resolved"]
    assert transitions(app, store) == ["firing"]


def test_no_scheduled_run_for_too_long_is_a_missing_leader(app):
    key = "scheduler_leader:store"
    assert evaluate(app)["fired"] == []  # nothing ever scheduled: a fresh install
    with app.app_context():
        run_id = scheduled_runs.start("backups.retention")
        run = db.session.get(ScheduledRun, run_id)
        run.started_at = utcnow() - timedelta(minutes=20)  # the leader's last run
        db.session.commit()
    assert evaluate(app)["fired"] == [key]
    # the test's clock: further on, still no leader, still one alert
    evaluate(app, utcnow() + timedelta(hours=2))
    assert transitions(app, key) == ["firing"]
    with app.app_context():  # a leader is back: its jobs run (and are recorded) again
        scheduled_runs.start("alerts.evaluate")
    assert evaluate(app)["resolved"] == [key]
    assert transitions(app, key) == ["firing", "resolved"]
    assert evaluate(app, leader_silence=None)["fired"] == []


def test_a_page_notices_that_nobody_leads(app, admin):
    """The leader's own evaluation stops with it: a signed-in page looks instead."""
    with app.app_context():
        run = db.session.get(ScheduledRun, scheduled_runs.start("backups.retention"))
        run.started_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    browser = app.test_client()
    sign_in(browser, admin)
    page = browser.get("/dashboard", headers=HTML).get_data(as_text=True)
    assert 'id="health-banner"' in page and "No scheduler leader" in page
    assert transitions(app, "scheduler_leader:store") == ["firing"]
