"""Documents' live events on /events: each reaches its owner's sessions and administrators',
nobody else's, and carries what the Documents page needs to add, update or remove a row."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from syncapp.documents import nas
from syncapp.documents.wiring import auto_sync
from syncapp.extensions import socketio
from tests.conftest import bearer, make_token, make_user
from tests.documents.helpers import uploaded
from tests.documents.test_sync_mount import stored_file

ALICE, BOB, ADMIN = "alice@example.com", "bob@example.com", "root@example.com"
DOCUMENT_EVENTS = {
    "document_uploaded", "document_synced", "document_sync_failed", "document_deleted",
}  # fmt: skip


@pytest.fixture
def nas_folder(tmp_path):
    """A folder standing in for the mounted share: the marker is what makes it count as one."""
    folder = tmp_path / "nas"
    folder.mkdir()
    (folder / nas.MARKER).write_text("put there on the share by the administrator\n")
    return folder


@pytest.fixture
def docs_app(make_app, nas_folder):
    app = make_app(documents={"nas_mount_path": str(nas_folder)}, transfer={"attempts": 1})
    make_user(app, ALICE)
    make_user(app, BOB)
    make_user(app, ADMIN, role="admin")
    return app


@pytest.fixture
def alice(docs_app) -> str:
    return make_token(docs_app, ALICE)


@contextmanager
def listening(app, *emails: str) -> Iterator[dict[str, list[dict]]]:
    """Socket.IO clients of /events, one per user; after the block, the document events each
    received (name and payload, in order)."""
    clients = {
        email: socketio.test_client(
            app, namespace="/events", auth={"token": make_token(app, email, "events")}
        )
        for email in emails
    }
    seen: dict[str, list[dict]] = {}
    try:
        assert all(c.is_connected("/events") for c in clients.values())
        yield seen
        for email, events_client in clients.items():
            seen[email] = [
                {"name": e["name"], **e["args"][0]}
                for e in events_client.get_received("/events")
                if e["name"] in DOCUMENT_EVENTS
            ]
    finally:
        for events_client in clients.values():
            events_client.disconnect(namespace="/events")


def named(events: list[dict], name: str) -> list[dict]:
    return [e for e in events if e["name"] == name]


def test_an_upload_is_announced_to_its_owner_and_administrators_only(docs_app, alice):
    client = docs_app.test_client()
    with listening(docs_app, ALICE, BOB, ADMIN) as seen:
        doc = uploaded(client, alice, b"%PDF-1.4 march", "facture.pdf", date="2024-03-15")
    expected = {
        "name": "document_uploaded", "id": doc["id"], "filename": "facture.pdf",
        "type": "invoice", "date": "2024-03-15", "size": 14, "synced_to_nas": False,
        "nas_path": None,
    }  # fmt: skip
    for email in (ALICE, ADMIN):
        assert len(seen[email]) == 1, seen[email]
        assert expected.items() <= seen[email][0].items()
    assert seen[BOB] == []


def test_an_upload_synced_right_away_announces_its_copy(docs_app, alice, nas_folder):
    client = docs_app.test_client()
    with listening(docs_app, ALICE, BOB) as seen:
        doc = uploaded(
            client, alice, b"payslip", "paie.pdf", "payslip", date="2024-02-29", sync_now="true"
        )
    assert doc["sync"]["success"] is True
    names = [e["name"] for e in seen[ALICE]]
    assert names == ["document_uploaded", "document_synced"]
    synced = seen[ALICE][1]
    assert synced["id"] == doc["id"]
    assert synced["nas_path"] == str(nas_folder / "2024" / "02" / "salaries" / "paie.pdf")
    assert synced["synced_at"].endswith("Z")
    assert (nas_folder / "2024" / "02" / "salaries" / "paie.pdf").read_bytes() == b"payslip"
    assert seen[BOB] == []


def test_a_sync_run_announces_each_copy_and_each_failure(docs_app, alice, tmp_path):
    client = docs_app.test_client()
    good = uploaded(client, alice, b"kept", "kept.pdf", date="2024-01-05")
    lost = uploaded(client, alice, b"lost", "lost.pdf", date="2024-01-06")
    stored_file(docs_app, tmp_path, lost["id"]).unlink()
    with listening(docs_app, ALICE, BOB, ADMIN) as seen:
        reply = client.post("/api/v1/sync/run", headers=bearer(alice)).get_json()
    assert (reply["synced"], reply["failed"]) == (1, 1)
    for email in (ALICE, ADMIN):
        synced = named(seen[email], "document_synced")
        assert [e["id"] for e in synced] == [good["id"]]
        assert synced[0]["nas_path"].endswith("/2024/01/invoices/kept.pdf")
        failed = named(seen[email], "document_sync_failed")
        assert [(e["id"], e["error"]) for e in failed] == [(lost["id"], nas.SOURCE_MISSING)]
    assert seen[BOB] == []


def test_syncing_one_document_whose_file_is_gone_announces_the_failure(docs_app, alice, tmp_path):
    client = docs_app.test_client()
    doc = uploaded(client, alice, b"gone", "gone.pdf")
    stored_file(docs_app, tmp_path, doc["id"]).unlink()
    with listening(docs_app, ALICE) as seen:
        answer = client.post(f"/api/v1/sync/document/{doc['id']}", headers=bearer(alice))
    assert answer.status_code == 400
    assert [(e["name"], e["id"], e["error"]) for e in seen[ALICE]] == [
        ("document_sync_failed", doc["id"], nas.SOURCE_MISSING)
    ]


def test_the_auto_sync_job_announces_its_copies(docs_app, alice, nas_folder):
    doc = uploaded(docs_app.test_client(), alice, b"auto", "auto.pdf", "receipt", date="2024-05-01")
    with listening(docs_app, ALICE, ADMIN) as seen, docs_app.app_context():
        result = auto_sync()
    assert result.synced == 1
    path = str(nas_folder / "2024" / "05" / "receipts" / "auto.pdf")
    for email in (ALICE, ADMIN):
        assert [(e["name"], e["id"], e["nas_path"]) for e in seen[email]] == [
            ("document_synced", doc["id"], path)
        ]


def test_a_deletion_is_announced_to_its_owner_and_administrators(docs_app, alice):
    client = docs_app.test_client()
    doc = uploaded(client, alice, b"old", "old.pdf")
    with listening(docs_app, ALICE, BOB, ADMIN) as seen:
        answer = client.delete(f"/api/v1/documents/{doc['id']}", headers=bearer(alice))
    assert answer.status_code == 204
    for email in (ALICE, ADMIN):
        assert [(e["name"], e["id"]) for e in seen[email]] == [("document_deleted", doc["id"])]
    assert seen[BOB] == []
