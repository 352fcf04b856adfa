"""GET /api/v1/backups/<profile>/restore-plan: backup.sh's --listed-incremental chain at a time.

Archives are uploaded through the API; their upload times are then set in the index so that
each test states its own timeline (the plan compares `at` with the upload time).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from syncapp.auth.accounts import find_user
from syncapp.backups.integrity import wait_idle
from syncapp.backups.models import BackupArchive
from syncapp.extensions import db
from syncapp.security import issue_token
from syncapp.tenancy import bind_scopes
from tests.backups.helpers import make_archive, md5, upload
from tests.conftest import bearer, make_token, make_user
from tests.web.test_pages import HTML, sign_in

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def world(make_app):
    app = make_app()
    make_user(app, "root@example.com", role="admin")
    make_user(app, "alice@example.com")
    make_user(app, "bob@example.com")
    tokens = {n: make_token(app, f"{n}@example.com") for n in ("root", "alice", "bob")}
    return app, app.test_client(), tokens


def store(world, who: str, kind: str, hour: int, profile: str = "home", seed: int = 0) -> str:
    """Upload a `kind` archive named as backup.sh names it, stored at T0 + `hour` hours."""
    app, client, tokens = world
    moment = T0 + timedelta(hours=hour)
    name = f"{kind.lower()}_{moment:%Y-%m-%d_%H-%M-%S}.tar.gz"
    data = make_archive(hour * 100 + seed)
    reply = upload(client, tokens[who], data, name, type=kind, profile=profile, md5=md5(data))
    assert reply.status_code == 201, reply.get_json()
    wait_idle()  # the upload's gzip check writes the row too: it has finished
    with app.app_context():
        row = db.session.scalar(
            select(BackupArchive).where(
                BackupArchive.name == name, BackupArchive.profile == profile
            )
        )
        row.uploaded_at = moment
        db.session.commit()
    return name


def plan(world, who: str, at: datetime | str | None, profile: str = "home", **query):
    _app, client, tokens = world
    if isinstance(at, datetime):
        query["at"] = at.isoformat()
    elif at is not None:
        query["at"] = at
    return client.get(
        f"/api/v1/backups/{profile}/restore-plan", query_string=query, headers=bearer(tokens[who])
    )


def names_at(world, at, who: str = "alice") -> list[str]:
    reply = plan(world, who, at)
    assert reply.status_code == 200, reply.get_json()
    return [f"{a['type']}/{a['name']}" for a in reply.get_json()["archives"]]


def test_the_chain_follows_backup_sh_incremental_and_differential_rules(world):
    full = store(world, "alice", "FULL", 0)
    inc1 = store(world, "alice", "INC", 1)
    inc2 = store(world, "alice", "INC", 2)
    diff = store(world, "alice", "DIFF", 3)
    inc3 = store(world, "alice", "INC", 4)
    diff2 = store(world, "alice", "DIFF", 5)
    full2 = store(world, "alice", "FULL", 6)
    inc4 = store(world, "alice", "INC", 7)
    at = lambda hour: T0 + timedelta(hours=hour)  # noqa: E731
    assert names_at(world, at(0)) == [f"FULL/{full}"]
    assert names_at(world, at(1)) == [f"FULL/{full}", f"INC/{inc1}"]
    assert names_at(world, at(2)) == [f"FULL/{full}", f"INC/{inc1}", f"INC/{inc2}"]
    # a DIFF holds every change since the FULL: the INCs before it are not needed
    assert names_at(world, at(3)) == [f"FULL/{full}", f"DIFF/{diff}"]
    # an INC builds on whatever ran last, here the DIFF
    assert names_at(world, at(4)) == [f"FULL/{full}", f"DIFF/{diff}", f"INC/{inc3}"]
    assert names_at(world, at(5)) == [f"FULL/{full}", f"DIFF/{diff2}"]
    assert names_at(world, at(6)) == [f"FULL/{full2}"]
    assert names_at(world, at(7)) == [f"FULL/{full2}", f"INC/{inc4}"]
    assert names_at(world, None) == [f"FULL/{full2}", f"INC/{inc4}"]  # default: now


def test_at_boundaries_are_inclusive_and_zones_are_honoured(world):
    full = store(world, "alice", "FULL", 0)
    inc = store(world, "alice", "INC", 1)
    boundary = T0 + timedelta(hours=1)
    assert names_at(world, boundary) == [f"FULL/{full}", f"INC/{inc}"]
    assert names_at(world, boundary - timedelta(microseconds=1)) == [f"FULL/{full}"]
    # the same instant written with an offset, and as a naive time (read as UTC), with a Z
    assert names_at(world, "2026-12-01T04:00:00+01:00") == [f"FULL/{full}", f"INC/{inc}"]
    assert names_at(world, "2026-12-01T02:59:59") == [f"FULL/{full}"]
    assert names_at(world, "2026-12-01T03:00:00Z") == [f"FULL/{full}", f"INC/{inc}"]


def test_the_reply_carries_what_a_restore_needs(world):
    _app, client, tokens = world
    full = store(world, "alice", "FULL", 0)
    reply = plan(world, "alice", T0)
    body = reply.get_json()
    assert body["status"] == "success" and body["profile"] == "home"
    assert body["at"] == "2026-12-01T02:00:00Z"
    assert body["restorable"] is True and body["problems"] == []
    (step,) = body["archives"]
    data = make_archive(0)
    assert step["step"] == 1 and step["name"] == full and step["type"] == "FULL"
    assert step["size"] == len(data) and step["md5"] == md5(data) and len(step["sha256"]) == 64
    assert step["uploaded_at"] == "2026-12-01T02:00:00Z"
    assert step["download_url"].endswith(step["download_path"])
    assert body["total_size"] == len(data)
    assert "scripts/restore.sh home --at 2026-12-01T02:00:00Z" in body["command"]
    download = client.get(step["download_path"], headers=bearer(tokens["alice"]))
    assert download.status_code == 200 and download.data == data


def test_no_full_before_at_is_a_clear_404_and_a_bad_time_a_400(world):
    store(world, "alice", "FULL", 5)
    early = plan(world, "alice", T0)
    assert early.status_code == 404
    assert early.get_json()["error"] == "no_full_backup"
    assert "No FULL backup of profile 'home'" in early.get_json()["message"]
    assert plan(world, "alice", None, profile="nothing").status_code == 404
    bad = plan(world, "alice", "yesterday")
    assert bad.status_code == 400 and bad.get_json()["error"] == "invalid_time"
    assert plan(world, "alice", None, profile="..").status_code in (400, 404)


def test_only_the_profile_asked_for_counts(world):
    full = store(world, "alice", "FULL", 0)
    store(world, "alice", "INC", 1, profile="other", seed=1)
    store(world, "alice", "FULL", 2, profile="other", seed=2)
    assert names_at(world, T0 + timedelta(hours=3)) == [f"FULL/{full}"]


def test_a_corrupt_archive_makes_the_plan_unrestorable(world):
    app = world[0]
    store(world, "alice", "FULL", 0)
    inc = store(world, "alice", "INC", 1)
    with app.app_context():
        row = db.session.scalar(select(BackupArchive).where(BackupArchive.name == inc))
        row.integrity = "corrupt"
        db.session.commit()
    body = plan(world, "alice", None).get_json()
    assert body["restorable"] is False
    assert [a["integrity"] for a in body["archives"]][-1] == "corrupt"
    assert inc in body["problems"][0] and "corrupt" in body["problems"][0]
    # before it, the chain is sound
    assert plan(world, "alice", T0).get_json()["restorable"] is True


def test_archives_uploaded_out_of_the_order_they_were_made_are_flagged(world):
    app = world[0]
    store(world, "alice", "FULL", 0)
    late = store(world, "alice", "INC", 1)
    store(world, "alice", "INC", 2)
    with app.app_context():  # the earlier INC arrived last
        row = db.session.scalar(select(BackupArchive).where(BackupArchive.name == late))
        row.uploaded_at = T0 + timedelta(hours=3)
        db.session.commit()
    body = plan(world, "alice", None).get_json()
    assert body["restorable"] is False and "order" in body["problems"][0]


def test_another_users_plan_is_a_missing_one(world):
    store(world, "alice", "FULL", 0)
    assert plan(world, "bob", None).status_code == 404
    assert plan(world, "bob", None, owner="alice@example.com").status_code == 404
    # bob's own profile of the same name is his
    bobs = store(world, "bob", "FULL", 1, seed=7)
    assert names_at(world, None, who="bob") == [f"FULL/{bobs}"]
    # an administrator names the owner, and the download paths carry it
    body = plan(world, "root", None, owner="alice@example.com").get_json()
    assert body["archives"][0]["download_path"].endswith("owner=alice%40example.com")
    _app, client, tokens = world
    assert client.get(body["archives"][0]["download_path"], headers=bearer(tokens["root"])).data


def test_scoped_tokens_and_anonymous_callers(world):
    app, client, _tokens = world
    store(world, "alice", "FULL", 0)
    with app.app_context():
        token, raw = issue_token(find_user("alice@example.com"), "other-machine")
        bind_scopes(token, ["backups:elsewhere"])
    refused = client.get("/api/v1/backups/home/restore-plan", headers=bearer(raw))
    assert refused.status_code == 403 and refused.get_json()["error"] == "token_scope"
    assert client.get("/api/v1/backups/home/restore-plan").status_code == 401


# --- the Backups page ----------------------------------------------------------------------------


def test_the_backups_page_shows_the_plan_and_the_command(world):
    _app, client, _tokens = world
    full = store(world, "alice", "FULL", 0)
    inc = store(world, "alice", "INC", 1)
    sign_in(client, "alice@example.com")
    page = client.get("/backups", headers=HTML).get_data(as_text=True)
    assert 'id="restore-form"' in page and '<option value="home"' in page
    assert 'id="restore-plan"' not in page
    page = client.get(
        "/backups", query_string={"restore": "home", "at": "2026-12-01T03:30:00Z"}, headers=HTML
    ).get_data(as_text=True)
    plan_html = page[page.index('id="restore-plan"') :]
    assert plan_html.index(full) < plan_html.index(inc)
    assert f"/download/INC/{inc}?profile=home" in plan_html
    assert "scripts/restore.sh home --at 2026-12-01T03:30:00Z --to ./restored-home" in plan_html
    assert "<script" not in plan_html.split("</section>")[0]  # CSP: no inline script
    early = client.get(
        "/backups", query_string={"restore": "home", "at": "2020-01-01T00:00:00Z"}, headers=HTML
    ).get_data(as_text=True)
    assert 'id="restore-error"' in early and "No FULL backup of profile" in early
    bad = client.get("/backups", query_string={"restore": "home", "at": "soon"}, headers=HTML)
    assert bad.status_code == 200 and "Invalid time" in bad.get_data(as_text=True)


def test_the_page_plans_only_the_viewers_profiles(world):
    _app, client, _tokens = world
    store(world, "alice", "FULL", 0)
    sign_in(client, "bob@example.com")
    page = client.get("/backups", query_string={"restore": "home"}, headers=HTML)
    assert "No FULL backup of profile" in page.get_data(as_text=True)
    sign_in(client, "root@example.com")  # an administrator names the owner: `<id>/<profile>`
    with world[0].app_context():
        owner = find_user("alice@example.com").id
    page = client.get("/backups", query_string={"restore": f"{owner}/home"}, headers=HTML).get_data(
        as_text=True
    )
    assert f"owner={owner}" in page and f"--owner {owner}" in page
