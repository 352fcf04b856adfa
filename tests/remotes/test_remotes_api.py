"""/api/v1/remotes: admin-only, secrets encrypted at rest and never returned."""

from __future__ import annotations

import json

import pytest

from syncapp.extensions import db
from syncapp.remotes.models import StoredRemote
from tests.conftest import bearer

SMB = {
    "server": "127.0.0.1",
    "share_name": "backup",
    "username": "office",
    "password": "s3cret-pass",
    "port": 1445,
}


def create(client, admin_token, **body):
    return client.post("/api/v1/remotes", headers=bearer(admin_token), json=body)


def test_creating_a_remote_hides_its_secrets(app, client, admin_token):
    response = create(client, admin_token, name="nas", kind="smb", settings=SMB)
    assert response.status_code == 201
    body = response.get_json()
    assert body["secrets_set"] == ["password"]
    assert "password" not in body["settings"]
    assert "s3cret-pass" not in json.dumps(
        client.get("/api/v1/remotes", headers=bearer(admin_token)).get_json()
    )
    with app.app_context():
        row = db.session.get(StoredRemote, body["id"])
        assert "s3cret-pass" not in json.dumps(row.settings) + (row.secrets_encrypted or "")


def test_an_unknown_setting_is_refused_by_name(client, admin_token):
    response = create(client, admin_token, name="nas", kind="smb", settings={**SMB, "pasword": "x"})
    assert response.status_code == 400
    assert "pasword" in response.get_json()["message"]


def test_a_missing_required_setting_is_refused_by_name(client, admin_token):
    settings = {k: v for k, v in SMB.items() if k != "share_name"}
    response = create(client, admin_token, name="nas", kind="smb", settings=settings)
    assert response.status_code == 400
    assert "share_name" in response.get_json()["message"]


def test_an_unknown_kind_is_refused(client, admin_token):
    response = create(client, admin_token, name="x", kind="ftp", settings={})
    assert response.status_code == 400


def test_a_duplicate_name_is_a_conflict(client, admin_token):
    create(client, admin_token, name="nas", kind="smb", settings=SMB)
    assert create(client, admin_token, name="nas", kind="smb", settings=SMB).status_code == 409


def test_update_keeps_a_secret_that_is_left_out(app, client, admin_token):
    remote_id = create(client, admin_token, name="nas", kind="smb", settings=SMB).get_json()["id"]
    changed = {k: v for k, v in SMB.items() if k != "password"} | {"share_name": "docs"}
    response = client.put(
        f"/api/v1/remotes/{remote_id}", headers=bearer(admin_token), json={"settings": changed}
    )
    assert response.status_code == 200
    assert response.get_json()["settings"]["share_name"] == "docs"
    assert response.get_json()["secrets_set"] == ["password"]
    from syncapp.remotes.catalog import secrets_of

    with app.app_context():
        assert secrets_of(db.session.get(StoredRemote, remote_id)) == {"password": "s3cret-pass"}


def test_users_cannot_manage_remotes(client, token):
    assert client.get("/api/v1/remotes", headers=bearer(token)).status_code == 403
    response = client.post(
        "/api/v1/remotes",
        headers=bearer(token),
        json={"name": "x", "kind": "local", "settings": {"root": "/tmp"}},
    )
    assert response.status_code == 403


def test_probe_of_a_local_remote_succeeds(client, admin_token, tmp_path):
    remote_id = create(
        client, admin_token, name="disk", kind="local", settings={"root": str(tmp_path / "store")}
    ).get_json()["id"]
    reply = client.post(f"/api/v1/remotes/{remote_id}/test", headers=bearer(admin_token)).get_json()
    assert reply["success"] is True
    assert "read, write and delete work" in reply["message"]


def test_probe_of_a_missing_folder_explains_why(client, admin_token, tmp_path):
    remote_id = create(
        client,
        admin_token,
        name="nas",
        kind="local",
        settings={"root": str(tmp_path / "not-mounted"), "create_root": False},
    ).get_json()["id"]
    reply = client.post(f"/api/v1/remotes/{remote_id}/test", headers=bearer(admin_token)).get_json()
    assert reply["success"] is False
    assert "does not exist" in reply["message"]


@pytest.mark.peer
def test_probe_with_a_wrong_smb_password_explains_why(client, admin_token, smb_server):
    settings = {**smb_server.settings, "password": "wrong-password", "remote_path": ""}
    remote_id = create(client, admin_token, name="nas", kind="smb", settings=settings).get_json()[
        "id"
    ]
    reply = client.post(f"/api/v1/remotes/{remote_id}/test", headers=bearer(admin_token)).get_json()
    assert reply["success"] is False
    assert "wrong-password" not in reply["message"]
    assert reply["message"]


def test_delete_removes_the_remote(client, admin_token):
    remote_id = create(client, admin_token, name="nas", kind="smb", settings=SMB).get_json()["id"]
    assert (
        client.delete(f"/api/v1/remotes/{remote_id}", headers=bearer(admin_token)).status_code
        == 204
    )
    assert (
        client.get(f"/api/v1/remotes/{remote_id}", headers=bearer(admin_token)).status_code == 404
    )
