"""The scrub against real stores: a byte changed in a stored archive, Cordiax snapshot and
document, on local disk, on the S3 peer (moto) and on the SMB peer (Samba), is found corrupt by
the next pass; /verify reports the archive and every download says so in a header; a deleted
object is missing; the right bytes put back are ok again at the next pass."""

from __future__ import annotations

import pytest

from tests.conftest import bearer
from tests.scrub.helpers import (
    ARCHIVE_NAME,
    archive_integrity,
    delete_stored,
    flip_one_byte,
    peer_sections,
    scrub_pass,
    store_one_of_each,
    use_peer_stores,
    verdicts,
    write_stored,
)

HEADER = "X-Syncapp-Integrity"
DAMAGED = ("backup", "cordiax", "document")


@pytest.fixture(params=["local", "s3", "smb"])
def scrubbed_app(request, make_app):
    """An app whose backups, Cordiax snapshots, documents and cloud files are kept on `kind`."""
    kind = request.param
    if kind == "local":
        return make_app()
    request.applymarker(pytest.mark.peer)
    peer = request.getfixturevalue(f"{kind}_server")
    app = make_app(**peer_sections())
    use_peer_stores(app, kind, peer.settings)
    return app


def _downloads(app, stored) -> dict[str, object]:
    client, headers = app.test_client(), bearer(stored.token)
    return {
        "backup": client.get(f"/download/FULL/{ARCHIVE_NAME}", headers=headers),
        "cordiax": client.get("/api/v1/cordiax/devices/pc/latest/download", headers=headers),
        "document": client.get(f"/api/v1/documents/{stored.document_id}/download", headers=headers),
    }


def _verify(app, stored) -> dict:
    local = {"FULL": [{"name": ARCHIVE_NAME, "size": len(stored.archive)}]}
    reply = app.test_client().post(
        "/verify", headers=bearer(stored.token), json={"local_backups": local}
    )
    assert reply.status_code == 200, reply.get_json()
    return reply.get_json()


def test_corrupt_missing_and_repaired_objects_are_found(scrubbed_app):
    app = scrubbed_app
    stored = store_one_of_each(app)

    done = scrub_pass(app)
    assert done.objects == 4 and done.found == {"ok": 4, "corrupt": 0, "missing": 0}
    assert archive_integrity(app) == "verified"
    assert _verify(app, stored)["sync_status"] == "SYNCHRONIZED"

    originals = {kind: flip_one_byte(app, kind, stored.paths[kind]) for kind in DAMAGED}
    done = scrub_pass(app)
    assert done.found == {"ok": 1, "corrupt": 3, "missing": 0}
    found = verdicts(app)
    assert found["cloud_version"] == ("ok", "")
    assert all(found[kind][0] == "corrupt" for kind in DAMAGED)
    assert "MD5" in found["backup"][1] and "SHA-256" in found["backup"][1]
    assert "SHA-256" in found["cordiax"][1] and "MD5" in found["document"][1]
    assert archive_integrity(app) == "corrupt"
    verified = _verify(app, stored)
    assert verified["sync_status"] == "OUT_OF_SYNC"
    assert verified["verification"]["FULL"]["corrupt"] == [ARCHIVE_NAME]
    assert verified["verification"]["FULL"]["synced"] == []
    assert any("MD5" in issue and ARCHIVE_NAME in issue for issue in verified["issues"])
    for kind, response in _downloads(app, stored).items():
        assert response.status_code == 200, (kind, response.status_code)
        assert response.headers.get(HEADER) == "corrupt", kind  # served, and said
    listed = app.test_client().get("/list", headers=bearer(stored.token)).get_json()
    [item] = listed["backups"]["FULL"]
    assert item["integrity"] == "corrupt" and "MD5" in item["integrity_detail"]
    assert item["last_verified_at"].endswith("Z")
    assert item["md5"] and item["size"] == len(stored.archive)  # the seed's fields unchanged

    for kind in DAMAGED:
        delete_stored(app, kind, stored.paths[kind])
    done = scrub_pass(app)
    assert done.found == {"ok": 1, "corrupt": 0, "missing": 3}
    assert archive_integrity(app) == "missing"
    verified = _verify(app, stored)
    assert verified["verification"]["FULL"]["missing_stored"] == [ARCHIVE_NAME]
    assert verified["sync_status"] == "OUT_OF_SYNC"

    for kind, data in originals.items():
        write_stored(app, kind, stored.paths[kind], data)
    done = scrub_pass(app)
    assert done.found == {"ok": 4, "corrupt": 0, "missing": 0}
    assert {integrity for integrity, _ in verdicts(app).values()} == {"ok"}
    assert archive_integrity(app) == "verified"
    assert _verify(app, stored)["sync_status"] == "SYNCHRONIZED"
    for kind, response in _downloads(app, stored).items():
        assert response.status_code == 200 and HEADER not in response.headers, kind
