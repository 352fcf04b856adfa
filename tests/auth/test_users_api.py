"""/api/v1/users: user administration, its validation and its safety rules."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, bearer, make_token, make_user
from tests.web.test_pages import HTML, csrf_from, sign_in

JSON = {"Accept": "application/json"}


def users_of(client, admin_token) -> dict[str, dict]:
    response = client.get("/api/v1/users", headers=bearer(admin_token))
    assert response.status_code == 200
    return {user["email"]: user for user in response.get_json()}


def user_id(app, email: str) -> int:
    from syncapp.auth.accounts import find_user

    with app.app_context():
        return find_user(email).id


def test_an_admin_creates_reads_updates_and_deletes_a_user(client, admin_token):
    created = client.post(
        "/api/v1/users",
        headers=bearer(admin_token),
        json={"email": "Carol@Example.com", "password": "longenough1", "full_name": "Carol"},
    )
    assert created.status_code == 201
    carol = created.get_json()
    assert carol["email"] == "carol@example.com" and carol["role"] == "user" and carol["active"]
    assert "password" not in carol and "password_hash" not in carol

    url = f"/api/v1/users/{carol['id']}"
    assert client.get(url, headers=bearer(admin_token)).get_json()["full_name"] == "Carol"
    changed = client.patch(
        url, headers=bearer(admin_token), json={"role": "admin", "full_name": "Carol C."}
    )
    assert changed.status_code == 200
    assert changed.get_json()["role"] == "admin" and changed.get_json()["full_name"] == "Carol C."
    assert users_of(client, admin_token)["carol@example.com"]["role"] == "admin"

    assert client.delete(url, headers=bearer(admin_token)).status_code == 204
    assert client.get(url, headers=bearer(admin_token)).status_code == 404
    assert "carol@example.com" not in users_of(client, admin_token)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": "longenough1"}, "email"),
        ({"email": "d@example.com", "password": "short"}, "password"),
        ({"email": "d@example.com"}, "password"),
        ({"email": "d@example.com", "password": "longenough1", "role": "root"}, "role"),
        ({"email": "d@example.com", "password": "longenough1", "colour": "red"}, "colour"),
    ],
)
def test_creating_a_user_is_validated_field_by_field(client, admin_token, body, field):
    response = client.post("/api/v1/users", headers=bearer(admin_token), json=body)
    assert response.status_code == 400
    answer = response.get_json()
    assert answer["error"] == "validation_error" and field in answer["errors"]
    assert "d@example.com" not in users_of(client, admin_token)


def test_an_existing_email_is_a_conflict(client, admin_token, user):
    response = client.post(
        "/api/v1/users",
        headers=bearer(admin_token),
        json={"email": user.upper(), "password": "longenough1"},
    )
    assert response.status_code == 409 and response.get_json()["error"] == "user_exists"


def test_updates_are_validated(app, client, admin_token, user):
    url = f"/api/v1/users/{user_id(app, user)}"
    for body, field in [
        ({"role": "owner"}, "role"),
        ({"password": "short"}, "password"),
        ({"active": "maybe"}, "active"),
        ({"email": "new@example.com"}, "email"),
    ]:
        response = client.patch(url, headers=bearer(admin_token), json=body)
        assert response.status_code == 400, body
        assert field in response.get_json()["errors"], body
    assert users_of(client, admin_token)[user]["role"] == "user"


def test_an_unknown_user_is_404(client, admin_token):
    for method in ("get", "patch", "delete"):
        response = getattr(client, method)("/api/v1/users/999", headers=bearer(admin_token))
        assert response.status_code == 404, method
        assert response.get_json()["error"] == "user_not_found"


def test_a_deactivated_user_can_neither_sign_in_nor_use_a_token(app, client, admin_token, user):
    token = make_token(app, user)
    url = f"/api/v1/users/{user_id(app, user)}"
    assert client.get("/api/v1/tokens", headers=bearer(token)).status_code == 200

    response = client.patch(url, headers=bearer(admin_token), json={"active": False})
    assert response.status_code == 200 and response.get_json()["active"] is False
    assert client.get("/api/v1/tokens", headers=bearer(token)).status_code == 401
    assert sign_in(client, user).status_code == 401

    assert client.patch(url, headers=bearer(admin_token), json={"active": True}).status_code == 200
    assert client.get("/api/v1/tokens", headers=bearer(token)).status_code == 200


def test_an_admin_sets_a_new_password(app, client, admin_token, user):
    url = f"/api/v1/users/{user_id(app, user)}"
    response = client.patch(url, headers=bearer(admin_token), json={"password": "brand-new-pw"})
    assert response.status_code == 200
    assert client.post("/auth/login", json={"email": user, "password": PASSWORD}).status_code == 401
    login = client.post("/auth/login", json={"email": user, "password": "brand-new-pw"})
    assert login.status_code == 200


@pytest.mark.parametrize(
    ("method", "body"),
    [("patch", {"role": "user"}), ("patch", {"active": False}), ("delete", None)],
)
def test_nobody_demotes_deactivates_or_deletes_their_own_account(
    app, client, admin, admin_token, method, body
):
    make_user(app, "second-admin@example.com", role="admin")  # so "last admin" is not the reason
    url = f"/api/v1/users/{user_id(app, admin)}"
    response = getattr(client, method)(url, headers=bearer(admin_token), json=body)
    assert response.status_code == 409 and response.get_json()["error"] == "own_account"
    me = users_of(client, admin_token)[admin]
    assert me["role"] == "admin" and me["active"]


def test_an_admin_may_still_rename_themselves(app, client, admin, admin_token):
    url = f"/api/v1/users/{user_id(app, admin)}"
    response = client.patch(url, headers=bearer(admin_token), json={"full_name": "Root"})
    assert response.status_code == 200 and response.get_json()["full_name"] == "Root"


def test_another_admin_can_be_demoted_while_one_remains(app, client, admin, admin_token):
    make_user(app, "second-admin@example.com", role="admin")
    url = f"/api/v1/users/{user_id(app, 'second-admin@example.com')}"
    response = client.patch(url, headers=bearer(admin_token), json={"role": "user"})
    assert response.status_code == 200 and response.get_json()["role"] == "user"


def test_the_last_active_administrator_stays_one(app):
    # Acted on by nobody's own account (actor_id=None): only the last-admin rule protects it.
    from syncapp.auth import users
    from syncapp.failures import Conflict

    make_user(app, "only-admin@example.com", role="admin")
    make_user(app, "retired-admin@example.com", role="admin")
    with app.app_context():
        only = users.get_user(user_id(app, "only-admin@example.com"))
        retired = users.get_user(user_id(app, "retired-admin@example.com"))
        users.update_user(retired, {"active": False}, actor_id=None)  # one admin remains
        for change in ({"role": "user"}, {"active": False}):
            with pytest.raises(Conflict) as refused:
                users.update_user(only, change, actor_id=None)
            assert refused.value.code == "last_admin"
        with pytest.raises(Conflict) as refused:
            users.delete_user(only, actor_id=None)
        assert refused.value.code == "last_admin"
        assert only.role == "admin" and only.active


def test_a_user_who_owns_data_is_not_deleted(app, client, admin_token, user):
    alice = user_id(app, user)
    remote = client.post(
        "/api/v1/remotes",
        headers=bearer(admin_token),
        json={"name": "box", "kind": "local", "settings": {"root": str(app.instance_path)},
              "grants": [{"user_id": alice, "feature": "cordiax"}]},  # a poller of alice's
    ).get_json()  # fmt: skip
    poller = client.post(
        "/api/v1/cordiax/pollers",
        headers=bearer(admin_token),
        json={"name": "office", "remote_id": remote["id"], "user_id": alice},
    ).get_json()

    refused = client.delete(f"/api/v1/users/{alice}", headers=bearer(admin_token))
    assert refused.status_code == 409
    assert refused.get_json()["error"] == "user_has_data"
    assert refused.get_json()["owned"] == {"cordiax_pollers": 1}
    assert user in users_of(client, admin_token)

    deleted = client.delete(f"/api/v1/cordiax/pollers/{poller['id']}", headers=bearer(admin_token))
    assert deleted.status_code == 204
    assert client.delete(f"/api/v1/users/{alice}", headers=bearer(admin_token)).status_code == 204
    assert user not in users_of(client, admin_token)


def test_deleting_a_user_deletes_their_tokens(app, client, admin_token, user):
    token = make_token(app, user)
    alice = user_id(app, user)
    assert client.delete(f"/api/v1/users/{alice}", headers=bearer(admin_token)).status_code == 204
    assert client.get("/api/v1/tokens", headers=bearer(token)).status_code == 401


ROUTES = [
    ("get", "/api/v1/users", None),
    ("post", "/api/v1/users", {"email": "x@example.com", "password": "longenough1"}),
    ("get", "/api/v1/users/1", None),
    ("patch", "/api/v1/users/1", {"full_name": "x"}),
    ("delete", "/api/v1/users/1", None),
]


@pytest.mark.parametrize(("method", "url", "body"), ROUTES)
def test_the_users_api_needs_authentication(client, admin, method, url, body):
    response = getattr(client, method)(url, headers=JSON, json=body)
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "url", "body"), ROUTES)
def test_the_users_api_is_for_administrators_only(client, admin, token, method, url, body):
    response = getattr(client, method)(url, headers=bearer(token), json=body)
    assert response.status_code == 403 and response.get_json()["error"] == "forbidden"


def test_cookie_authenticated_changes_need_the_csrf_token(app, client, admin, user):
    alice = user_id(app, user)
    sign_in(client, admin)
    csrf = {"X-CSRFToken": csrf_from(client.get("/settings/users", headers=HTML).data)}
    url = f"/api/v1/users/{alice}"
    new = {"email": "eve@example.com", "password": "longenough1"}

    assert client.post("/api/v1/users", json=new).status_code == 400
    assert client.patch(url, json={"role": "admin"}).status_code == 400
    assert client.delete(url).status_code == 400
    listed = client.get("/api/v1/users").get_json()
    assert {u["email"] for u in listed} == {admin, user}
    assert next(u for u in listed if u["email"] == user)["role"] == "user"

    assert client.post("/api/v1/users", json=new, headers=csrf).status_code == 201
    assert client.patch(url, json={"role": "admin"}, headers=csrf).status_code == 200
    assert client.delete(url, headers=csrf).status_code == 204


def test_the_users_api_is_in_the_openapi_document(client, admin_token):
    paths = client.get("/api/v1/openapi.json", headers=bearer(admin_token)).get_json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/users"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/users/{user_id}"])
