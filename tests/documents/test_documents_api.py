"""/api/v1/documents: upload, list with filters and paging, download, delete; owners only."""

from __future__ import annotations

import hashlib

from syncapp.documents.models import Document
from syncapp.extensions import db
from tests.conftest import bearer, make_token, make_user
from tests.documents.helpers import upload, uploaded


def test_an_upload_is_stored_with_its_fields(app, client, token):
    body = uploaded(
        client, token, b"%PDF-1.4 invoice", "facture mars.pdf", "invoice", date="2024-03-15"
    )
    assert body["type"] == "invoice"
    assert body["date"] == "2024-03-15"
    assert body["filename"] == "facture mars.pdf"
    assert body["size"] == 16
    assert body["md5"] == hashlib.md5(b"%PDF-1.4 invoice").hexdigest()
    assert body["synced_to_nas"] is False and body["synced_at"] is None
    assert body["nas_path"] is None and body["sync"] is None
    download = client.get(f"/api/v1/documents/{body['id']}/download", headers=bearer(token))
    assert download.status_code == 200
    assert download.data == b"%PDF-1.4 invoice"
    assert "facture" in download.headers["Content-Disposition"]


def test_the_date_defaults_to_the_upload_day(client, token):
    body = uploaded(client, token, b"x", "ticket.jpg", "receipt")
    assert body["date"] == body["uploaded_at"][:10]


def test_bad_fields_are_refused_and_nothing_is_kept(app, client, token, tmp_path):
    assert upload(client, token, b"x", "a.pdf", "bill").status_code == 400
    assert upload(client, token, b"x", "a.pdf", "invoice", date="15/03/2024").status_code == 400
    response = client.post(
        "/api/v1/documents",
        headers=bearer(token),
        data={"type": "invoice"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "no_file"
    store = tmp_path / "instance" / "documents"
    assert [p for p in store.rglob("*") if p.is_file()] == []
    with app.app_context():
        assert db.session.query(Document).count() == 0


def test_an_upload_over_the_limit_is_refused(make_app):
    app = make_app(documents={"max_size": 1000})
    make_user(app, "a@example.com")
    token = make_token(app, "a@example.com")
    response = upload(app.test_client(), token, b"x" * 5000, "big.pdf")
    assert response.status_code == 413


def test_listing_filters_by_type_and_sync_state_and_pages(app, client, token):
    for n in range(3):
        uploaded(client, token, b"r%d" % n, f"r{n}.jpg", "receipt", date=f"2024-01-0{n + 1}")
    uploaded(client, token, b"p", "pay.pdf", "payslip", date="2024-02-01")
    everything = client.get("/api/v1/documents", headers=bearer(token)).get_json()
    assert everything["total"] == 4
    assert everything["documents"][0]["date"] == "2024-02-01"  # newest first
    receipts = client.get("/api/v1/documents?type=receipt", headers=bearer(token)).get_json()
    assert receipts["total"] == 3 and {d["type"] for d in receipts["documents"]} == {"receipt"}
    page = client.get("/api/v1/documents?per_page=2&page=2", headers=bearer(token)).get_json()
    assert page["total"] == 4 and len(page["documents"]) == 2 and page["page"] == 2
    with app.app_context():
        first = db.session.query(Document).order_by(Document.id).first()
        first.synced_to_nas = True
        db.session.commit()
    synced = client.get("/api/v1/documents?synced=true", headers=bearer(token)).get_json()
    pending = client.get("/api/v1/documents?synced=false", headers=bearer(token)).get_json()
    assert synced["total"] == 1 and pending["total"] == 3
    assert client.get("/api/v1/documents?type=bill", headers=bearer(token)).status_code == 400


def test_a_user_cannot_see_download_sync_or_delete_another_users_document(app, client, token):
    mine = uploaded(client, token, b"alice's payslip", "pay.pdf", "payslip")
    make_user(app, "bob@example.com")
    bob = make_token(app, "bob@example.com")
    base = f"/api/v1/documents/{mine['id']}"
    assert client.get(base, headers=bearer(bob)).status_code == 404
    assert client.get(f"{base}/download", headers=bearer(bob)).status_code == 404
    assert client.delete(base, headers=bearer(bob)).status_code == 404
    response = client.post(f"/api/v1/sync/document/{mine['id']}", headers=bearer(bob))
    assert response.status_code == 404
    assert response.get_json()["success"] is False
    listing = client.get("/api/v1/documents", headers=bearer(bob)).get_json()
    assert listing["total"] == 0
    assert client.get("/api/v1/sync/status", headers=bearer(bob)).get_json()["total_documents"] == 0
    assert client.get(base, headers=bearer(token)).status_code == 200


def test_an_admin_sees_and_deletes_everyones_documents(app, client, token, admin_token, tmp_path):
    mine = uploaded(client, token, b"alice", "a.pdf")
    listing = client.get("/api/v1/documents", headers=bearer(admin_token)).get_json()
    assert [d["id"] for d in listing["documents"]] == [mine["id"]]
    base = f"/api/v1/documents/{mine['id']}"
    assert client.get(f"{base}/download", headers=bearer(admin_token)).data == b"alice"
    assert client.delete(base, headers=bearer(admin_token)).status_code == 204
    assert client.get(base, headers=bearer(token)).status_code == 404
    store = tmp_path / "instance" / "documents"
    assert [p for p in store.rglob("*") if p.is_file()] == []


def test_the_owner_deletes_a_document(client, token):
    mine = uploaded(client, token, b"bye", "bye.pdf")
    base = f"/api/v1/documents/{mine['id']}"
    assert client.delete(base, headers=bearer(token)).status_code == 204
    assert client.get(base, headers=bearer(token)).status_code == 404


def test_documents_need_authentication(client):
    assert client.get("/api/v1/documents").status_code == 401
    assert client.get("/api/v1/sync/status").status_code == 401
    assert client.post("/api/v1/sync/run").status_code == 401
