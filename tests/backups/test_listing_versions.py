"""/list and /verify answers kept under the owner's listing version (issue 23): the database's
triggers bump it on every change of the owner's archives or scrub results, whoever writes, so a
kept answer is never served once anything it shows changed."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from syncapp.backups import listing
from syncapp.backups.integrity import wait_idle
from syncapp.backups.models import BackupArchive
from syncapp.backups.store import Namespace
from syncapp.backups.wiring import kept_answers
from syncapp.extensions import db
from tests.backups.helpers import make_archive, md5, upload
from tests.conftest import bearer, make_token, make_user

NAMES = ["full_2025-01-01.tar.gz", "inc_2025-01-02.tar.gz"]


def stored(client, token) -> dict[str, list[dict]]:
    """Two archives; the client-side listing /verify is sent."""
    local: dict[str, list[dict]] = {"FULL": [], "INC": []}
    for number, (name, kind) in enumerate(zip(NAMES, ["FULL", "INC"], strict=True)):
        data = make_archive(number)
        assert upload(client, token, data, name, type=kind, profile="laptop").status_code == 201
        local[kind].append({"name": name, "size": len(data), "md5": md5(data)})
    wait_idle()  # the gzip checks have recorded their verdicts
    return local


def elsewhere(app, statement: str, **values) -> None:
    """A write on a connection of its own, outside the app's session: what another gunicorn
    process, `flask` command or database client does."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], **_engine_options(app))
    try:
        with engine.begin() as connection:
            connection.execute(text(statement), values)
    finally:
        engine.dispose()


def _engine_options(app) -> dict:
    options = app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})
    return {"connect_args": options["connect_args"]} if "connect_args" in options else {}


def version(app, owner_id: int) -> int:
    with app.app_context():
        return listing.version(db.session, owner_id)


def owner_of(app, email: str) -> int:
    with app.app_context():
        return db.session.execute(
            text("SELECT id FROM users WHERE email = :e"), {"e": email}
        ).one()[0]


def test_an_unchanged_listing_is_answered_as_kept(app, client, token, user):
    stored(client, token)
    first = client.get("/list", headers=bearer(token)).get_data()
    owner = owner_of(app, user)
    key = ("list", Namespace(owner), None, None, None)
    with app.app_context():
        kept = kept_answers().get(key, version(app, owner))
    assert kept is not None and kept[0] == first
    assert client.get("/list", headers=bearer(token)).get_data() == first


def test_a_change_written_elsewhere_is_in_the_next_answers(app, client, token, user):
    local = stored(client, token)
    listed = client.get("/list", headers=bearer(token)).get_json()
    verified = client.post("/verify", json={"local_backups": local}, headers=bearer(token))
    assert verified.get_json()["sync_status"] == "SYNCHRONIZED"
    assert listed["backups"]["FULL"][0]["md5"] == local["FULL"][0]["md5"]

    elsewhere(app, "UPDATE backup_archives SET md5 = :md5 WHERE name = :name", md5="0" * 32,
              name=NAMES[0])  # fmt: skip
    listed = client.get("/list", headers=bearer(token)).get_json()
    assert listed["backups"]["FULL"][0]["md5"] == "0" * 32
    verified = client.post("/verify", json={"local_backups": local}, headers=bearer(token))
    assert verified.get_json()["verification"]["FULL"]["mismatched"] == [NAMES[0]]

    elsewhere(app, "DELETE FROM backup_archives WHERE name = :name", name=NAMES[1])
    listed = client.get("/list", headers=bearer(token)).get_json()
    assert listed["total_count"] == 1 and listed["backups"]["INC"] == []
    verified = client.post("/verify", json={"local_backups": local}, headers=bearer(token))
    assert verified.get_json()["verification"]["INC"]["missing_remote"] == [NAMES[1]]


def test_a_scrub_result_written_elsewhere_is_in_the_next_list(app, client, token, user):
    stored(client, token)
    assert (
        client.get("/list", headers=bearer(token)).get_json()["backups"]["FULL"][0][
            "integrity_detail"
        ]
        == ""
    )
    with app.app_context():
        archive = db.session.query(BackupArchive).filter_by(name=NAMES[0]).one()
        archive_id, owner_id = archive.id, archive.owner_id
    elsewhere(
        app,
        "INSERT INTO scrub_results (kind, object_id, owner_id, integrity, last_verified_at, detail)"
        " VALUES ('backup', :id, :owner, 'corrupt', '2026-01-01 00:00:00.000000', 'md5 differs')",
        id=archive_id,
        owner=owner_id,
    )
    item = client.get("/list", headers=bearer(token)).get_json()["backups"]["FULL"][0]
    assert item["integrity_detail"] == "md5 differs"


def test_every_write_bumps_its_owners_version_only(app, client, token, user):
    make_user(app, "bob@example.com")
    bob_token = make_token(app, "bob@example.com")
    alice, bob = owner_of(app, user), owner_of(app, "bob@example.com")
    stored(client, token)
    before = version(app, alice), version(app, bob)
    assert before[0] > 0 and before[1] == 0

    data = make_archive(7)
    assert upload(client, bob_token, data, "full_x.tar.gz", type="FULL").status_code == 201
    wait_idle()
    assert version(app, alice) == before[0] and version(app, bob) > 0

    last = version(app, alice)
    elsewhere(app, "UPDATE backup_archives SET uploader = 'x' WHERE owner_id = :o", o=alice)
    assert version(app, alice) > last
    last = version(app, alice)
    # no row of hers: nothing changes, nothing is bumped
    elsewhere(app, "UPDATE scrub_results SET detail = 'y' WHERE owner_id = :o", o=alice)
    assert version(app, alice) == last
    elsewhere(app, "DELETE FROM backup_archives WHERE owner_id = :o AND type = 'INC'", o=alice)
    assert version(app, alice) > last
