"""restic repositories in process: the management API's rules, grants and scoped tokens, the
Basic user name, the scrub's seam (verify_object), metrics and the page."""

from __future__ import annotations

import base64
import hashlib
import io
import os

import pytest

from syncapp.restic.store import RepoRef, verify_object
from syncapp.restic.wiring import repository_remote, restic_store
from tests.conftest import bearer, make_token, make_user


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def put(client, headers, repo: str, kind: str, content: bytes) -> str:
    name = hashlib.sha256(content).hexdigest()
    reply = client.post(f"/restic/{repo}/{kind}/{name}", data=content, headers=headers)
    assert reply.status_code == 200, reply.get_json()
    return name


@pytest.fixture
def repo(client, token) -> str:
    assert client.post("/restic/laptop/?create=true", headers=bearer(token)).status_code == 200
    return "laptop"


def test_basic_user_name_must_be_the_tokens_user(client, token, repo):
    assert (
        client.get("/restic/laptop/keys/", headers=basic("alice@example.com", token)).status_code
        == 200
    )
    assert client.get("/restic/laptop/keys/", headers=basic("", token)).status_code == 200
    wrong = client.get("/restic/laptop/keys/", headers=basic("bob@example.com", token))
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Basic")
    assert (
        client.get("/restic/laptop/keys/", headers=basic("alice@example.com", "x")).status_code
        == 401
    )


def test_a_browser_session_is_no_credential_for_the_protocol(client, app, user):
    client.post("/login", data={"email": "alice@example.com", "password": "password123"})
    assert client.get("/restic/laptop/keys/").status_code in (401, 302)


def test_append_only_goes_off_by_an_administrator_only(client, app, token, admin_token):
    created = client.post(
        "/api/v1/restic/repositories",
        json={"name": "srv", "append_only": True},
        headers=bearer(token),
    )
    assert created.status_code == 201
    repo_id = created.get_json()["id"]
    path = f"/api/v1/restic/repositories/{repo_id}"
    off = client.patch(path, json={"append_only": False}, headers=bearer(token))
    assert off.status_code == 403
    assert client.patch(path, json={"quota_bytes": 10}, headers=bearer(token)).status_code == 403
    assert (
        client.patch(path, json={"append_only": False}, headers=bearer(admin_token)).status_code
        == 200
    )
    assert client.patch(path, json={"append_only": True}, headers=bearer(token)).get_json()[
        "append_only"
    ]
    again = client.post("/api/v1/restic/repositories", json={"name": "srv"}, headers=bearer(token))
    assert again.status_code == 409
    bad = client.post("/api/v1/restic/repositories", json={"name": "../x"}, headers=bearer(token))
    assert bad.status_code in (400, 422)


def test_a_granted_token_reaches_its_repository_only(client, app, token, admin_token, repo):
    other = client.post("/restic/other/?create=true", headers=bearer(token))
    assert other.status_code == 200
    listed = client.get("/api/v1/restic/repositories", headers=bearer(token)).get_json()
    repo_id = next(r["id"] for r in listed["repositories"] if r["name"] == "laptop")
    assert (
        client.post(
            f"/api/v1/restic/repositories/{repo_id}/token", headers=bearer(token)
        ).status_code
        == 403
    )
    granted = client.post(
        f"/api/v1/restic/repositories/{repo_id}/token", headers=bearer(admin_token)
    )
    assert granted.status_code == 201
    machine = granted.get_json()["token"]
    assert granted.get_json()["repository"]["token_id"] == granted.get_json()["token_id"]

    assert client.get("/restic/laptop/keys/", headers=bearer(machine)).status_code == 200
    # its scope: no other repository, no other feature, not the management API
    assert client.get("/restic/other/keys/", headers=bearer(machine)).status_code == 403
    assert client.post("/restic/new/?create=true", headers=bearer(machine)).status_code == 403
    assert client.get("/api/v1/restic/repositories", headers=bearer(machine)).status_code == 403
    assert client.get("/list", headers=bearer(machine)).status_code == 403
    # the repository is the granted token's only: the owner's other tokens are refused
    assert client.get("/restic/laptop/keys/", headers=bearer(token)).status_code == 403
    assert client.get("/restic/other/keys/", headers=bearer(token)).status_code == 200
    # an administrator takes the grant back
    path = f"/api/v1/restic/repositories/{repo_id}"
    assert (
        client.patch(path, json={"token_id": None}, headers=bearer(admin_token)).status_code == 200
    )
    assert client.get("/restic/laptop/keys/", headers=bearer(token)).status_code == 200
    make_user(app, "bob@example.com")
    bobs = client.get(
        "/api/v1/tokens", headers=bearer(make_token(app, "bob@example.com"))
    ).get_json()
    wrong = client.patch(path, json={"token_id": bobs[0]["id"]}, headers=bearer(admin_token))
    assert wrong.status_code == 404  # only a token of the repository's owner


def test_create_on_init_off_needs_the_api(make_app):
    app = make_app(restic={"create_on_init": False})
    make_user(app, "alice@example.com")
    raw = make_token(app, "alice@example.com")
    client = app.test_client()
    assert client.post("/restic/laptop/?create=true", headers=bearer(raw)).status_code == 404
    created = client.post(
        "/api/v1/restic/repositories", json={"name": "laptop"}, headers=bearer(raw)
    )
    assert created.status_code == 201
    assert client.post("/restic/laptop/?create=true", headers=bearer(raw)).status_code == 200


def test_verify_object_finds_a_flipped_byte_and_a_missing_object(client, app, token, repo):
    """The scrub's seam: a data object is checked against its name."""
    content = os.urandom(5000)
    name = put(client, bearer(token), "laptop", "data", content)
    snapshot = put(client, bearer(token), "laptop", "snapshots", b"snapshot file")
    with app.app_context():
        store = restic_store()
        ref = RepoRef.of(store.repositories(None)[0])
        remote = repository_remote(ref)
        listed = store.objects_after(0, 10)
        assert [(r.id, n) for _, r, n in listed] == [(ref.id, name)]
        assert store.objects_after(listed[0][0], 10) == []
        assert verify_object(remote, ref, "data", name) == ("ok", "")
        assert verify_object(remote, ref, "snapshots", snapshot) == ("ok", "")
        path = remote.local_path(f"{ref.path}/data/{name[:2]}/{name}")
        flipped = bytearray(path.read_bytes())
        flipped[100] ^= 0x01
        path.write_bytes(bytes(flipped))
        state, detail = verify_object(remote, ref, "data", name)
        assert state == "corrupt" and "sha256" in detail
        path.unlink()
        assert verify_object(remote, ref, "data", name)[0] == "missing"


def test_delete_removes_objects_then_rows_refused_while_append_only(
    client, app, token, admin_token, repo
):
    """The owner deletes a repository unless it is append-only (then an administrator only):
    its files leave the store through the storage layer, then its rows go."""
    headers = bearer(token)
    put(client, headers, "laptop", "data", os.urandom(3000))
    put(client, headers, "laptop", "snapshots", b"a snapshot")
    with app.app_context():
        ref = RepoRef.of(restic_store().repositories(None)[0])
        remote = repository_remote(ref)
        # a file of the repository's folder that the index does not know (a write whose row
        # never landed) goes too
        remote.write(f"{ref.path}/index/stray", io.BytesIO(b"stray"), size=5)
        assert len(list(remote.iter_entries(f"{ref.path}/"))) == 3
    path = f"/api/v1/restic/repositories/{ref.id}"
    assert client.patch(path, json={"append_only": True}, headers=headers).status_code == 200

    refused = client.delete(path, headers=headers)
    assert refused.status_code == 403 and refused.get_json()["error"] == "append_only"
    assert client.get(path, headers=headers).status_code == 200
    assert client.delete(path, headers=bearer(admin_token)).status_code == 204
    assert client.get(path, headers=headers).status_code == 404
    assert client.get("/restic/laptop/data/", headers=headers).status_code == 404
    with app.app_context():
        assert list(remote.iter_entries(f"{ref.path}/", include_temp=True)) == []
        assert restic_store().stats([ref.id])[ref.id].size == 0

    # the owner deletes one that is not append-only; the name is free again
    assert client.post("/restic/laptop/?create=true", headers=headers).status_code == 200
    put(client, headers, "laptop", "keys", b"a key")
    again = client.get("/api/v1/restic/repositories", headers=headers).get_json()
    repo_id = again["repositories"][0]["id"]
    deleted = client.delete(f"/api/v1/restic/repositories/{repo_id}", headers=headers)
    assert deleted.status_code == 204
    assert client.get("/api/v1/restic/repositories", headers=headers).get_json()["total"] == 0


def test_user_quota_counts_restic_bytes(client, app, token, repo):
    from syncapp.auth.models import User
    from syncapp.extensions import db

    put(client, bearer(token), "laptop", "data", os.urandom(3000))
    quota = client.get("/api/v1/quota", headers=bearer(token)).get_json()
    assert quota["usage"]["restic"] == 3000
    with app.app_context():
        db.session.query(User).filter_by(email="alice@example.com").update({"quota_bytes": 4000})
        db.session.commit()
    content = os.urandom(2000)
    name = hashlib.sha256(content).hexdigest()
    full = client.post(f"/restic/laptop/data/{name}", data=content, headers=bearer(token))
    assert full.status_code == 507
    assert client.head(f"/restic/laptop/data/{name}", headers=bearer(token)).status_code == 404


def test_metrics_show_repositories_and_requests(client, token, repo):
    put(client, bearer(token), "laptop", "data", b"x" * 1234)
    text = client.get("/metrics", headers=bearer(token)).get_data(as_text=True)
    assert (
        'syncapp_restic_bytes{owner="alice@example.com",repository="laptop",type="data"} 1234.0'
        in text
    )
    assert (
        'syncapp_restic_objects{owner="alice@example.com",repository="laptop",type="data"} 1.0'
        in text
    )
    assert 'syncapp_restic_requests_total{method="POST",status="200",type="data"}' in text


def test_the_page_shows_repositories_and_the_command(client, app, token, repo):
    put(client, bearer(token), "laptop", "snapshots", b"a snapshot")
    page = client.get("/restic", headers={**bearer(token), "Accept": "text/html"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-repository="laptop"' in html
    # the URL form first: Debian's restic 0.14 knows no RESTIC_REST_USERNAME (0.17 does)
    command = html.split('data-field="command">')[1].split("</code>")[0]
    assert "restic -r" in command and "alice%40example.com:YOUR_TOKEN@" in command
    assert "RESTIC_REST_USERNAME" not in command
    env = html.split('data-field="command-env">')[1].split("</code>")[0]
    assert "RESTIC_REST_USERNAME=alice@example.com" in env
    assert "restic ≥ 0.17" in html
    assert (
        "/restic/laptop/" in html
        and "never" not in html.split('data-field="last-snapshot"')[1][:80]
    )
