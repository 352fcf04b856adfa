"""/list and /verify from plain rows (issue 23): the same bytes as the ORM path gave, whatever
changed in the rows since the items were written, and /verify's body read alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import jsonify
from marshmallow import ValidationError
from sqlalchemy import update

from syncapp.backups import report, verify_request
from syncapp.backups.integrity import wait_idle
from syncapp.backups.models import BackupArchive
from syncapp.backups.schemas import VerifyRequest
from syncapp.backups.wiring import archive_store
from syncapp.extensions import db
from syncapp.scrub import results as scrub_results
from syncapp.scrub.models import ScrubResult
from tests.backups.helpers import make_archive, upload
from tests.conftest import bearer

ARCHIVES = [  # name, type, profile: one INC whose FULL is not stored (base_missing)
    ("full_2025-01-01.tar.gz", "FULL", "laptop"),
    ("inc_2025-01-02.tar.gz", "INC", "laptop"),
    ("full_2025-01-03.tar.gz", "FULL", "server"),
    ("diff_2025-01-04.tar.gz", "DIFF", "server"),
    ("inc_2025-01-05.tar.gz", "INC", "server"),
]


@pytest.fixture
def stored(app, client, token):
    for number, (name, kind, profile) in enumerate(ARCHIVES):
        answer = upload(client, token, make_archive(number), name, type=kind, profile=profile)
        assert answer.status_code == 201
    wait_idle()
    with app.app_context():  # the server's FULL goes: the INC and DIFF built on it miss it
        archive = db.session.query(BackupArchive).filter_by(name="full_2025-01-03.tar.gz").one()
        archive_store().delete(archive)


def expected(app, kind: str | None = None, profile: str | None = None) -> bytes:
    """What the ORM path answered (/list, ?profile=, /list/<kind>): report.archive_item of
    every archive it selects, through jsonify."""
    with app.test_request_context():
        query = db.session.query(BackupArchive)
        everything = query.all()
        fulls = {(a.owner_id, a.profile, a.name) for a in everything if a.type == "FULL"}
        findings = scrub_results.findings(db.session, "backup")
        if kind:
            query = query.filter_by(type=kind)
        if profile:
            query = query.filter_by(profile=profile)
        archives = query.order_by(BackupArchive.uploaded_at, BackupArchive.id).all()
        items = [(a.type, report.archive_item(a, fulls, findings)) for a in archives]
        if kind:
            backups = [item for _, item in items]
            return jsonify(status="success", type=kind, backups=backups, count=len(items)).data
        grouped: dict[str, list] = {"FULL": [], "INC": [], "DIFF": []}
        for of_type, item in items:
            grouped[of_type].append(item)
        return jsonify(status="success", backups=grouped, total_count=len(items)).get_data()


def set_rows(app, **values) -> None:
    with app.app_context():
        db.session.execute(update(BackupArchive).values(**values))
        db.session.commit()


def test_list_answers_the_bytes_the_orm_path_answered(app, client, token, stored):
    listed = client.get("/list", headers=bearer(token))
    assert listed.get_data() == expected(app)
    body = listed.get_json()
    assert [i["base_missing"] for i in body["backups"]["INC"]] == [False, True]
    assert body["backups"]["DIFF"][0]["base_missing"] is True


def test_a_changed_row_is_listed_as_it_is_now(app, client, token, stored):
    """The items /list wrote are kept by the row they came from: any change is a new row."""
    client.get("/list", headers=bearer(token))
    set_rows(app, integrity="corrupt", uploader="later@example.com")
    with app.app_context():
        archive = db.session.query(BackupArchive).filter_by(name=ARCHIVES[0][0]).one()
        db.session.add(
            ScrubResult(
                kind="backup",
                object_id=archive.id,
                owner_id=archive.owner_id,
                integrity="corrupt",
                last_verified_at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
                detail="its MD5 differs",
            )
        )
        db.session.commit()
    body = client.get("/list", headers=bearer(token)).get_json()
    items = [item for kind in ("FULL", "INC", "DIFF") for item in body["backups"][kind]]
    assert {item["integrity"] for item in items} == {"corrupt"}
    assert {item["uploader"] for item in items} == {"later@example.com"}
    first = body["backups"]["FULL"][0]
    assert first["last_verified_at"] == "2026-01-02T03:04:05.000006Z"
    assert first["integrity_detail"] == "its MD5 differs"
    assert client.get("/list", headers=bearer(token)).get_data() == expected(app)


@pytest.mark.parametrize("uploader", ["josé@example.com", "del\x7f@example.com", "tab\t@x"])
def test_text_the_fast_encoder_writes_otherwise_is_answered_as_jsonify_does(
    app, client, token, stored, uploader
):
    """msgspec writes non-ASCII and DEL unescaped: such a listing is jsonify's, escaped."""
    assert client.get("/list", headers=bearer(token)).get_data() == expected(app)
    set_rows(app, uploader=uploader)
    for _ in range(2):  # the items written anew, then as kept
        answers = {
            "/list": expected(app),
            "/list?profile=laptop": expected(app, profile="laptop"),
            "/list/inc": expected(app, kind="INC"),
        }
        for path, wanted in answers.items():
            answer = client.get(path, headers=bearer(token)).get_data()
            assert answer == wanted and answer.isascii() and b"\x7f" not in answer
    inc = client.get("/list/INC", headers=bearer(token)).get_json()
    assert {item["uploader"] for item in inc["backups"]} == {uploader}


def test_filtered_lists_show_what_the_filters_select(app, client, token, stored):
    client.get("/list", headers=bearer(token))  # the items are written: the filters reuse them
    laptop = client.get("/list?profile=laptop", headers=bearer(token)).get_json()
    assert [i["name"] for i in laptop["backups"]["FULL"] + laptop["backups"]["INC"]] == [
        "full_2025-01-01.tar.gz",
        "inc_2025-01-02.tar.gz",
    ]
    assert laptop["total_count"] == 2 and laptop["backups"]["DIFF"] == []
    inc = client.get("/list/inc", headers=bearer(token)).get_json()
    assert inc["count"] == 2 and [i["base_missing"] for i in inc["backups"]] == [False, True]


BODIES = [
    {"local_backups": {"FULL": [{"name": "a.tar.gz", "size": 1, "md5": "A" * 32}]}},
    {"local_backups": {"INC": [{"name": "a.tar.gz"}], "DIFF": []}, "extra_remote": "ignore"},
    {"local_backups": {"FULL": [{"name": "a.tar.gz", "size": None, "md5": None}]}},
    {"local_backups": {"FULL": [{"name": "a.tar.gz", "size": 10**30}]}},
    {"local_backups": {}},
    # what the schema loads otherwise or refuses: msgspec leaves them to it
    {"local_backups": {"FULL": [{"name": "a.tar.gz", "size": True}]}},
    {"local_backups": {"FULL": [{"name": "a.tar.gz", "size": 1.0}]}},
    {"local_backups": {"FULL": [{"name": "a.tar.gz", "size": "12"}]}},
    {"local_backups": {"FULL": [{"name": "a.tar.gz", "modified": "x"}]}},
    {"local_backups": {"FULL": [{"size": 1}]}},
    {"local_backups": {"FULL": [{"name": None}]}},
    {"local_backups": {"WEEKLY": []}},
    {"local_backups": {"FULL": {}}},
    {"local_backups": [], "extra_remote": "ignore"},
    {"local_backups": {}, "extra_remote": "never"},
    {"local_backups": {}, "other": 1},
    {},
    [],
]


@pytest.mark.parametrize("body", BODIES)
def test_verify_bodies_read_by_msgspec_are_those_the_schema_loads_alike(app, body):
    with app.test_request_context("/verify", method="POST", json=body):
        from flask import request

        read = verify_request.read(request)
    try:
        loaded = VerifyRequest().load(body)
    except ValidationError:  # refused by the schema: msgspec must not take it
        assert read is None
        return
    assert read is None or read == loaded


def test_verify_bodies_msgspec_cannot_read_go_to_the_schema(client, token, stored):
    """NaN, a lone surrogate, a size written 1.0: the schema's answer, as before."""
    for data in (
        '{"local_backups": {"FULL": [{"name": "a.tar.gz", "size": NaN}]}}',
        '{"local_backups": {"FULL": [{"name": "\\ud800.tar.gz"}]}}',
        '{"local_backups": {"FULL": [{"name": "full_2025-01-01.tar.gz", "size": 1.0}]}}',
    ):
        answer = client.post(
            "/verify", headers=bearer(token), data=data, content_type="application/json"
        )
        assert answer.status_code in (200, 400)
        assert answer.get_json()["status" if answer.status_code == 200 else "error"]
    wrong_type = client.post("/verify", headers=bearer(token), data="{}", content_type="text/plain")
    assert wrong_type.status_code == 400
