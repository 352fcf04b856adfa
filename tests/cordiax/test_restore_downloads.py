"""Any stored Cordiax version as the original `cordiax.db` or as a ZIP (`?as=db`, `?as=zip`),
whichever form the client pushed: an encrypted database, a plaintext one, or a ZIP bundle."""

from __future__ import annotations

import io
import zipfile

import pytest

from syncapp.auth.accounts import find_user
from syncapp.cordiax.wiring import snapshot_store
from syncapp.extensions import db
from tests.conftest import bearer, make_token, make_user
from tests.cordiax.payloads import encrypted_database, sha256, sqlite_database, zip_bundle
from tests.web.test_pages import HTML, sign_in

URL = "/api/v1/cordiax/devices/{device}/snapshots/{version}/download"


@pytest.fixture
def pushed(make_app, tmp_path):
    app = make_app(cordiax={"allow_plaintext": True})
    alice = make_user(app, "alice@example.com")
    make_user(app, "bob@example.com")
    data = {
        "encrypted": encrypted_database(4000, seed=1),
        "sqlite": sqlite_database(3000, seed=2),
    }
    data["zip"] = zip_bundle(
        {
            "cordiax.db": encrypted_database(5000, seed=3),
            "documentos/a.pdf": b"%PDF-1.4 a",
            "pdfs/deep/cordiax.db": b"not this one",
        }
    )
    data["zip-without-db"] = zip_bundle({"documentos/a.pdf": b"%PDF-1.4 only"})
    versions = {}
    with app.app_context():
        store = snapshot_store()
        for form, payload in data.items():
            versions[form] = store.store(alice, "pc", payload).snapshot.version
    client = app.test_client()
    return app, client, make_token(app, "alice@example.com"), data, versions


def snapshot_owner(app) -> int:
    with app.app_context():
        return find_user("alice@example.com").id


def get(client, token, version, form=None, device="pc"):
    query = {"as": form} if form else {}
    return client.get(
        URL.format(device=device, version=version), query_string=query, headers=bearer(token)
    )


def zip_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        return {name: bundle.read(name) for name in bundle.namelist()}


@pytest.mark.parametrize("form", ["encrypted", "sqlite"])
def test_a_pushed_database_as_cordiax_db_and_as_a_zip(pushed, form):
    _app, client, token, data, versions = pushed
    original = get(client, token, versions[form], "db")
    assert original.status_code == 200 and original.data == data[form]
    assert "filename=cordiax.db" in original.headers["Content-Disposition"]
    assert original.headers["X-Checksum-SHA256"] == sha256(data[form])
    bundled = get(client, token, versions[form], "zip")
    assert bundled.status_code == 200 and bundled.mimetype == "application/zip"
    assert zip_members(bundled.data) == {"cordiax.db": data[form]}
    assert ".zip" in bundled.headers["Content-Disposition"]
    # without `as`: the bytes as pushed, as before
    assert get(client, token, versions[form]).data == data[form]


def test_a_pushed_zip_as_it_was_and_its_cordiax_db(pushed):
    _app, client, token, data, versions = pushed
    bundled = get(client, token, versions["zip"], "zip")
    assert bundled.status_code == 200 and bundled.data == data["zip"]
    assert bundled.headers["X-Checksum-SHA256"] == sha256(data["zip"])
    original = get(client, token, versions["zip"], "db")
    assert original.status_code == 200
    assert original.data == encrypted_database(5000, seed=3)  # the top one, not pdfs/deep's
    assert "filename=cordiax.db" in original.headers["Content-Disposition"]
    missing = get(client, token, versions["zip-without-db"], "db")
    assert missing.status_code == 404 and missing.get_json()["error"] == "no_database"


def test_the_latest_version_and_a_bad_form(pushed):
    _app, client, token, data, _versions = pushed
    latest = client.get("/api/v1/cordiax/devices/pc/latest/download?as=zip", headers=bearer(token))
    assert latest.status_code == 200 and latest.data == data["zip-without-db"]
    bad = get(client, token, _versions["zip"], "tar")
    assert bad.status_code == 400


def test_another_users_version_is_a_missing_one(pushed):
    app, client, _token, _data, versions = pushed
    bob = make_token(app, "bob@example.com")
    for form in (None, "db", "zip"):
        assert get(client, bob, versions["encrypted"], form).status_code == 404


def test_a_damaged_stored_copy_is_not_handed_on_as_a_zip(pushed):
    app, client, token, _data, versions = pushed
    with app.app_context():
        store = snapshot_store()
        snapshot = store.get(snapshot_owner(app), "pc", versions["encrypted"])
        path = store.remote.local_path(snapshot.path)
        db.session.commit()
    damaged = bytearray(path.read_bytes())
    damaged[100] ^= 0x01
    path.write_bytes(bytes(damaged))
    reply = get(client, token, versions["encrypted"], "zip")
    assert reply.status_code == 409 and reply.get_json()["error"] == "snapshot_corrupt"


def test_the_cordiax_page_offers_both_forms(pushed):
    _app, client, _token, _data, versions = pushed
    sign_in(client, "alice@example.com")
    page = client.get("/cordiax", headers=HTML).get_data(as_text=True)
    version = versions["encrypted"]
    assert f"/snapshots/{version}/download?as=db" in page
    assert f"/snapshots/{version}/download?as=zip" in page
