"""Stored remotes per user (issue 16 item 2), against the live server: a remote is used only by
the users an administrator granted it to, for the features named; anyone else cannot use it nor
tell it from a remote that does not exist; errors a user sees name the remote, never its URL,
host or credentials."""

from __future__ import annotations

import json

from tests.peers.process import free_port
from tests.tenancy.conftest import Tenant, Tenants, unique
from tests.tenancy.syncjobs import (
    create_job,
    folder,
    make_tree,
    new_job,
    outside,
    run,
    snapshot,
    status,
)


def add_remote(tenants: Tenants, kind: str, settings: dict, grants: list | None = None) -> dict:
    body = {"name": unique("nas"), "kind": kind, "settings": settings}
    if grants:
        body["grants"] = grants
    reply = tenants.call(tenants.admin, "POST", "/api/v1/remotes", json=body)
    assert reply.status_code == 201, reply.json()
    return reply.json()


def local_remote(tenants: Tenants, files: dict[str, bytes], grants: list | None = None):
    """An administrator's stored remote: a folder in no user's root, holding `files`."""
    root = outside(tenants, files)
    return add_remote(tenants, "local", {"root": str(root)}, grants), root


def grant(who: Tenant, feature: str = "syncs") -> dict:
    return {"user_id": who.id, "feature": feature}


def job_to_remote(tenants: Tenants, who: Tenant, remote: str, source=None, **fields):
    source = source or folder(tenants, who, {"doc.txt": b"from " + who.email.encode()})
    return create_job(tenants, who, source, "mirror", destination_remote=remote, **fields)


def test_b_cannot_write_into_an_administrators_remote_nor_tell_it_exists(tenants):
    b = tenants.b
    remote, root = local_remote(tenants, {"mirror/doc.txt": b"the admin's document"})
    name = remote["name"]

    used = job_to_remote(tenants, b, name, delete_after_sync=True)
    assert used.status_code == 400 and used.json()["error"] == "unknown_remote"
    ghost = job_to_remote(tenants, b, "no-such-remote", delete_after_sync=True)
    assert ghost.json() == json.loads(json.dumps(used.json()).replace(name, "no-such-remote"))

    job_id = new_job(tenants, b, folder(tenants, b), folder(tenants, b))
    moved = tenants.call(b, "PUT", f"/api/v1/syncs/{job_id}", json={"destination_remote": name})
    assert moved.status_code == 400 and moved.json()["error"] == "unknown_remote"
    assert tenants.get(b, "/api/v1/remotes").status_code == 403
    assert tenants.get(b, f"/api/v1/remotes/{remote['id']}").status_code == 403
    assert name not in tenants.get(b, "/api/v1/remotes/granted").text
    assert name not in tenants.get(b, "/syncs", headers={"Accept": "text/html"}).text
    assert snapshot(root) == {"mirror/doc.txt": b"the admin's document"}


def test_a_remote_granted_to_a_is_used_by_a_and_still_not_by_b(tenants):
    a, b = tenants.a, tenants.b
    remote, root = local_remote(tenants, {}, [grant(a)])
    cordiax_only, _ = local_remote(tenants, {}, [grant(b, "cordiax")])
    listed = tenants.get(a, "/api/v1/remotes/granted").json()
    assert {"name": remote["name"], "kind": "local", "features": ["syncs"]} in listed
    assert all(set(item) == {"name", "kind", "features"} for item in listed)  # no settings

    job_id = new_job(tenants, a, folder(tenants, a, {"a.txt": b"a's"}), "mirror",
                     destination_remote=remote["name"])  # fmt: skip
    assert run(tenants, a, job_id)["files_copied"] == 1
    assert snapshot(root) == {"mirror/a.txt": b"a's"}

    refused = job_to_remote(tenants, b, remote["name"])
    assert refused.status_code == 400 and refused.json()["error"] == "unknown_remote"
    not_for_syncs = job_to_remote(tenants, b, cordiax_only["name"])
    assert not_for_syncs.status_code == 400 and not_for_syncs.json()["error"] == "unknown_remote"
    assert snapshot(root) == {"mirror/a.txt": b"a's"}


def test_a_grant_taken_back_stops_the_job_at_its_next_run(tenants):
    a = tenants.a
    remote, root = local_remote(tenants, {}, [grant(a)])
    source = folder(tenants, a, {"one.txt": b"one"})
    job_id = new_job(tenants, a, source, "mirror", destination_remote=remote["name"],
                     delete_after_sync=True)  # fmt: skip
    run(tenants, a, job_id)
    revoked = tenants.call(
        tenants.admin, "PATCH", f"/api/v1/remotes/{remote['id']}", json={"grants": []}
    )
    assert revoked.status_code == 200 and revoked.json()["grants"] == []
    (source / "two.txt").write_bytes(b"two")
    ended = run(tenants, a, job_id)
    assert ended["status"] == "failed" and "no longer available" in ended["error"]
    assert status(tenants, a, job_id)["state"] == "error"
    assert snapshot(root) == {"mirror/one.txt": b"one"} and snapshot(source) == {"two.txt": b"two"}


def seen_by(tenants: Tenants, who: Tenant, job_id: int) -> str:
    """Everything about the job its owner can read: job, status, history, files, its logs."""
    paths = ["", "/status", "/history", "/files"]
    seen = [tenants.get(who, f"/api/v1/syncs/{job_id}{path}").text for path in paths]
    seen.append(tenants.get(who, f"/api/v1/logs?job={job_id}").text)
    return "\n".join(seen)


def test_errors_name_the_remote_never_its_url_host_or_credentials(tenants):
    a = tenants.a
    secret = unique("s3cr3t")
    port = free_port()  # nobody listens there: every call fails with the backend's own words
    settings = {
        "url": f"http://127.0.0.1:{port}/dav-{secret}",
        "username": f"user-{secret}",
        "password": f"password-{secret}",
    }
    remote = add_remote(tenants, "webdav", settings, [grant(a)])
    job_id = new_job(tenants, a, folder(tenants, a, {"x.txt": b"x"}), "mirror",
                     destination_remote=remote["name"])  # fmt: skip
    ended = run(tenants, a, job_id)
    assert ended["status"] == "waiting_destination"
    assert f"remote '{remote['name']}'" in ended["error"]
    seen = seen_by(tenants, a, job_id)
    for leak in (secret, "127.0.0.1", f":{port}", f"port={port}", "http://"):
        assert leak not in seen, leak


def test_file_errors_name_the_remote_not_where_it_is(tenants):
    a = tenants.a
    remote, root = local_remote(tenants, {}, [grant(a)])
    make_tree(root / "mirror" / "x.txt", {"in-the-way": b""})  # a folder where the file goes
    job_id = new_job(tenants, a, folder(tenants, a, {"x.txt": b"x"}), "mirror",
                     destination_remote=remote["name"], max_retries=1)  # fmt: skip
    ended = run(tenants, a, job_id)
    assert (ended["status"], ended["files_failed"]) == ("partial", 1)
    failed = tenants.get(a, f"/api/v1/syncs/{job_id}/files").json()["files"][0]
    assert failed["last_error"].startswith(f"remote '{remote['name']}'")
    assert str(root) not in seen_by(tenants, a, job_id)


def test_a_poller_reads_only_a_remote_granted_to_its_owner(tenants):
    admin, a, b = tenants.admin, tenants.a, tenants.b
    remote, _ = local_remote(tenants, {}, [grant(a, "cordiax")])

    def poller(remote_id: int, owner: Tenant):
        body = {"name": unique("poller"), "remote_id": remote_id, "user_id": owner.id,
                "enabled": False}  # fmt: skip
        return tenants.call(admin, "POST", "/api/v1/cordiax/pollers", json=body)

    refused = poller(remote["id"], b)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_remote"
    unknown = poller(2**31 - 1, b)
    assert unknown.json() == json.loads(
        json.dumps(refused.json()).replace(str(remote["id"]), str(2**31 - 1))
    )
    created = poller(remote["id"], a)
    assert created.status_code == 201, created.json()
    handed = tenants.call(
        admin, "PATCH", f"/api/v1/cordiax/pollers/{created.json()['id']}", json={"user_id": b.id}
    )
    assert handed.status_code == 400 and handed.json()["error"] == "invalid_remote"
    assert tenants.get(b, "/api/v1/cordiax/pollers").json() == []


def test_a_poller_whose_grant_was_taken_back_reads_nothing_and_tells_no_address(tenants):
    admin, a = tenants.admin, tenants.a
    remote, root = local_remote(tenants, {}, [grant(a, "cordiax")])
    body = {"name": unique("poller"), "remote_id": remote["id"], "user_id": a.id,
            "enabled": False}  # fmt: skip
    created = tenants.call(admin, "POST", "/api/v1/cordiax/pollers", json=body)
    assert created.status_code == 201, created.json()
    poller = created.json()["id"]
    working = tenants.call(a, "POST", f"/api/v1/cordiax/pollers/{poller}/test")
    assert working.status_code == 200 and working.json()["success"] is True, working.json()
    assert str(root) not in json.dumps(working.json())  # the remote's folder is not A's to know

    taken = tenants.call(admin, "PATCH", f"/api/v1/remotes/{remote['id']}", json={"grants": []})
    assert taken.status_code == 200, taken.json()
    tested = tenants.call(a, "POST", f"/api/v1/cordiax/pollers/{poller}/test")
    assert tested.json()["success"] is False
    ran = tenants.call(admin, "POST", f"/api/v1/cordiax/pollers/{poller}/run").json()
    assert ran["last_error"] and "no longer yours" in ran["last_error"]
    for answer in (tested.json(), ran):
        assert str(root) not in json.dumps(answer)
