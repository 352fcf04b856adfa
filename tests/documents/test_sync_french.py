"""Seed 001's messages in French for a caller whose Accept-Language prefers it (issue 17 item
19): the seed documents the same API in both languages, e.g. "Synchronisé vers ..."."""

from __future__ import annotations

import pytest

from syncapp.storage.mounts import MARKER
from tests.conftest import bearer
from tests.documents.helpers import uploaded
from tests.documents.test_sync_mount import app_for, stored_file

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.8"}


def french(token: str) -> dict[str, str]:
    return {**bearer(token), **FRENCH}


@pytest.fixture
def nas_folder(tmp_path):
    """A folder marked as the NAS (instead of a mount point)."""
    folder = tmp_path / "nas"
    folder.mkdir()
    (folder / MARKER).write_text("")
    return folder


def test_a_document_synced_for_a_french_caller_says_synchronise_vers(make_app, nas_folder):
    _, client, token = app_for(make_app, nas_folder)
    doc = uploaded(client, token, b"facture", "abc.pdf", date="2024-01-15")
    reply = client.post(f"/api/v1/sync/document/{doc['id']}", headers=french(token))
    assert reply.status_code == 200
    body = reply.get_json()
    assert body["success"] is True
    assert body["message"] == f"Synchronisé vers {nas_folder}/2024/01/invoices/abc.pdf"
    english = client.post(f"/api/v1/sync/document/{doc['id']}", headers=bearer(token))
    assert english.get_json()["message"].startswith("Synchronized to ")  # no header: English
    test = client.post("/api/v1/sync/test", headers=french(token)).get_json()
    assert test == {"success": True, "message": "Montage NAS accessible en lecture/écriture"}


def test_run_errors_are_french_with_the_document_named(make_app, nas_folder, tmp_path):
    app, client, token = app_for(make_app, nas_folder)
    doc = uploaded(client, token, b"ticket", "t.jpg", kind="receipt")
    stored_file(app, tmp_path, doc["id"]).unlink()
    result = client.post("/api/v1/sync/run", headers=french(token)).get_json()
    assert result["failed"] == 1
    assert result["errors"] == [f"Document {doc['id']}: Fichier source introuvable"]


def test_error_answers_are_french_too(make_app):
    _, client, token = app_for(make_app, None)
    refused = client.post("/api/v1/sync/run", headers=french(token))
    assert refused.status_code == 400
    body = refused.get_json()
    assert body["message"] == (
        "Montage NAS non configuré. Définissez NAS_MOUNT_PATH et montez le partage SMB."
    )
    assert body["detail"] == body["message"] and body["error"] == "nas_not_configured"
    missing = client.post("/api/v1/sync/document/999", headers=french(token))
    assert missing.status_code == 404
    assert missing.get_json()["message"] == "Document 999 non trouvé."


def test_a_missing_mount_path_is_named_in_french(make_app, tmp_path):
    gone = tmp_path / "no-such-mount"
    _, client, token = app_for(make_app, gone)
    test = client.post("/api/v1/sync/test", headers=french(token)).get_json()
    assert test["message"] == f"Le chemin de montage n'existe pas: {gone}"
    config = client.get("/api/v1/sync/config", headers=french(token)).get_json()
    assert config["message"] == f"Le chemin de montage n'existe pas: {gone}"


def test_english_stays_first_when_the_caller_ranks_it_first(make_app):
    _, client, token = app_for(make_app, None)
    headers = {**bearer(token), "Accept-Language": "en-US,en;q=0.9,fr;q=0.8"}
    body = client.post("/api/v1/sync/test", headers=headers).get_json()
    assert body["message"].startswith("NAS mount not configured")
