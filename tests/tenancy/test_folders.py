"""Sync job folders per user (issue 16 items 1 and 5, issue 17 item 17), against the live server.

Each user has a personal root (the default `<instance>/sync/users/{user_id}`), administrators
also the shared `<instance>/sync`, and whatever folders an administrator granted. B replays the
attacks on A's folders; a folder swapped for a link between two runs, and a destination that is
gone or no longer the share, are refused at run time without reading, writing or deleting.
"""

from __future__ import annotations

import shutil

from tests.documents.helpers import mount_tmpfs, unmount
from tests.tenancy.conftest import unique
from tests.tenancy.syncjobs import (
    MARKER,
    create_job,
    folder,
    home,
    instance,
    make_tree,
    moving_job,
    new_job,
    outside,
    run,
    snapshot,
    status,
)


def refused(reply, status_code: int, code: str, field: str) -> dict:
    assert reply.status_code == status_code, reply.json()
    body = reply.json()
    assert body["error"] == code and body["field"] == field, body
    return body


# --- B on A's folders ------------------------------------------------------------------------


def test_b_cannot_take_the_source_of_a_job_of_a_and_learns_nothing_of_it(tenants):
    a, b = tenants.a, tenants.b
    a_source = folder(tenants, a, {"report.pdf": b"a's report", "sub/notes.txt": b"a's notes"})
    new_job(tenants, a, a_source, folder(tenants, a))
    before = snapshot(a_source)
    b_destination = folder(tenants, b)

    taken = create_job(tenants, b, a_source, b_destination, delete_after_sync=True)
    body = refused(taken, 403, "folder_not_allowed", "source_path")
    assert str(home(tenants, a)) not in body["message"].replace(str(a_source), "")
    missing = a_source.parent / unique("never-there")
    ghost = create_job(tenants, b, missing, b_destination, delete_after_sync=True)
    assert ghost.status_code == 403  # the same answer whether A's folder exists or not
    text = body["message"].replace(str(a_source), str(missing))
    assert ghost.json() == {**body, "message": text, "detail": text}

    b_source = folder(tenants, b, {"b.txt": b"b's"})
    job_id = new_job(tenants, b, b_source, b_destination, delete_after_sync=True)
    moved = tenants.call(b, "PUT", f"/api/v1/syncs/{job_id}", json={"source_path": str(a_source)})
    refused(moved, 403, "folder_not_allowed", "source_path")
    assert run(tenants, b, job_id)["status"] == "completed"
    assert snapshot(a_source) == before
    assert snapshot(b_destination) == {"b.txt": b"b's"}


def test_b_cannot_write_into_the_destination_of_a_job_of_a(tenants):
    a, b = tenants.a, tenants.b
    a_destination = folder(tenants, a)
    new_job(tenants, a, folder(tenants, a), a_destination)
    (a_destination / "report.pdf").write_bytes(b"a's report")
    b_source = folder(tenants, b, {"report.pdf": b"forged by b"})

    refused(create_job(tenants, b, b_source, a_destination), 403, "folder_not_allowed",
            "destination_path")  # fmt: skip
    job_id = new_job(tenants, b, b_source, folder(tenants, b))
    moved = tenants.call(
        b, "PUT", f"/api/v1/syncs/{job_id}", json={"destination_path": str(a_destination)}
    )
    refused(moved, 403, "folder_not_allowed", "destination_path")
    run(tenants, b, job_id)
    assert snapshot(a_destination) == {"report.pdf": b"a's report"}


def test_a_link_b_plants_in_its_own_folder_does_not_reach_a(tenants):
    a, b = tenants.a, tenants.b
    a_source = folder(tenants, a, {"secret.txt": b"a's secret"})
    peek = home(tenants, b) / unique("peek")
    peek.symlink_to(a_source, target_is_directory=True)
    reply = create_job(tenants, b, peek, folder(tenants, b), delete_after_sync=True)
    assert "symbolic link" in refused(reply, 400, "invalid_path", "source_path")["message"]
    assert snapshot(a_source) == {"secret.txt": b"a's secret"}


def test_whole_roots_and_the_folder_of_every_users_root_are_refused(tenants):
    shared = instance(tenants) / "sync"
    users = shared / "users"
    target = folder(tenants, tenants.b)
    for path in (shared, users, home(tenants, tenants.a)):
        refused(create_job(tenants, tenants.b, path, target), 403, "folder_not_allowed",
                "source_path")  # fmt: skip
    admin_target = make_tree(shared / unique("admin"), {})
    for path in (shared, users):  # an administrator's job must not sweep up users' folders
        refused(create_job(tenants, tenants.admin, path, admin_target), 400, "invalid_path",
                "source_path")  # fmt: skip


def test_each_user_lists_only_their_own_folders(tenants):
    roots = tenants.get(tenants.b, "/api/v1/syncs/roots").json()["roots"]
    assert roots == [{"path": str(home(tenants, tenants.b)), "kind": "personal", "exists": True}]
    admin = tenants.get(tenants.admin, "/api/v1/syncs/roots").json()["roots"]
    assert {"path": str(instance(tenants) / "sync"), "kind": "shared", "exists": True} in admin


def test_the_readmes_example_still_works_for_the_administrator(tenants):
    base = make_tree(instance(tenants) / "sync" / unique("srv"), {"documenti/a.pdf": b"pdf"})
    (base / "nas-backup").mkdir()
    job_id = new_job(tenants, tenants.admin, base / "documenti", base / "nas-backup",
                     delete_after_sync=True, sync_interval=5)  # fmt: skip
    assert run(tenants, tenants.admin, job_id)["files_copied"] == 1
    assert snapshot(base / "nas-backup") == {"a.pdf": b"pdf"} and snapshot(base / "documenti") == {}
    assert (base / "nas-backup" / MARKER).is_file()


def test_a_granted_folder_works_until_the_grant_is_taken_back(tenants):
    admin, a, b = tenants.admin, tenants.a, tenants.b
    team = make_tree(instance(tenants) / unique("team"), {"plan.txt": b"team plan"})
    granted = tenants.call(
        admin, "PATCH", f"/api/v1/users/{b.id}", json={"sync_roots": [str(team)]}
    )
    assert granted.status_code == 200 and granted.json()["sync_roots"] == [str(team)]
    b_destination = folder(tenants, b)
    job_id = new_job(tenants, b, team, b_destination)
    refused(create_job(tenants, a, team, folder(tenants, a)), 403, "folder_not_allowed",
            "source_path")  # fmt: skip
    assert run(tenants, b, job_id)["files_copied"] == 1

    revoke = tenants.call(admin, "PATCH", f"/api/v1/users/{b.id}", json={"sync_roots": []})
    assert revoke.status_code == 200
    (team / "later.txt").write_bytes(b"after the grant ended")
    ended = run(tenants, b, job_id)
    assert ended["status"] == "failed" and "not in a sync folder" in ended["error"]
    assert status(tenants, b, job_id)["state"] == "error"
    assert snapshot(b_destination) == {"plan.txt": b"team plan"}


# --- a folder swapped for a link between two runs ----------------------------------------------


def swap_for_link(path, target) -> None:
    shutil.rmtree(path)
    path.symlink_to(target, target_is_directory=True)


def test_a_source_folder_swapped_for_a_link_is_not_read(tenants):
    b = tenants.b
    parent = folder(tenants, b, {"docs/first.txt": b"first"})
    destination = folder(tenants, b)
    job_id = new_job(tenants, b, parent / "docs", destination, delete_after_sync=True)
    assert run(tenants, b, job_id)["files_copied"] == 1

    elsewhere = outside(tenants, {"docs/passwd": b"root:x:0:0"})
    swap_for_link(parent, elsewhere)  # the folder holding the source now leads outside
    ended = run(tenants, b, job_id)
    assert ended["status"] == "failed" and "symbolic link" in ended["error"]
    assert snapshot(elsewhere) == {"docs/passwd": b"root:x:0:0"}  # not moved away
    assert snapshot(destination) == {"first.txt": b"first"}


def test_a_folder_inside_the_source_swapped_for_a_link_is_not_followed(tenants):
    b = tenants.b
    source, destination, job_id = moving_job(tenants, b, {"sub/one.txt": b"one"})
    elsewhere = outside(tenants, {"shadow": b"not b's"})
    swap_for_link(source / "sub", elsewhere)
    (source / "top.txt").write_bytes(b"top")
    ended = run(tenants, b, job_id)
    assert (ended["status"], ended["files_copied"]) == ("completed", 1)
    assert snapshot(elsewhere) == {"shadow": b"not b's"}
    assert snapshot(destination) == {"sub/one.txt": b"one", "top.txt": b"top"}


def test_a_destination_folder_swapped_for_a_link_is_not_written(tenants):
    b = tenants.b
    source = folder(tenants, b, {"one.txt": b"one"})
    holder = folder(tenants, b)
    (holder / "mirror").mkdir()
    job_id = new_job(tenants, b, source, holder / "mirror", delete_after_sync=True)
    run(tenants, b, job_id)
    # the attacker's copy even carries a marker: the link itself is refused
    elsewhere = outside(tenants, {f"mirror/{MARKER}": b"planted", "mirror/keep": b"theirs"})
    swap_for_link(holder, elsewhere)
    (source / "two.txt").write_bytes(b"two")
    ended = run(tenants, b, job_id)
    assert ended["status"] == "failed" and "symbolic link" in ended["error"]
    assert snapshot(elsewhere) == {f"mirror/{MARKER}": b"planted", "mirror/keep": b"theirs"}
    assert snapshot(source) == {"two.txt": b"two"}


def test_a_folder_inside_the_destination_swapped_for_a_link_is_not_written(tenants):
    b = tenants.b
    source, destination, job_id = moving_job(tenants, b, {"sub/one.txt": b"one"})
    elsewhere = outside(tenants)
    swap_for_link(destination / "sub", elsewhere)
    (source / "sub" / "two.txt").write_bytes(b"two")
    ended = run(tenants, b, job_id)
    assert (ended["status"], ended["files_copied"], ended["files_failed"]) == ("partial", 0, 1)
    assert snapshot(elsewhere) == {}
    assert snapshot(source) == {"sub/two.txt": b"two"}  # not deleted: never copied
    files = tenants.get(b, f"/api/v1/syncs/{job_id}/files").json()["files"]
    assert "symbolic link" in files[0]["last_error"]


# --- a destination that is gone or no longer the share (issue 17 item 17) --------------------


def test_a_destination_that_does_not_exist_is_refused_and_never_created(tenants):
    a = tenants.a
    missing = home(tenants, a) / unique("nas")
    reply = create_job(tenants, a, folder(tenants, a), missing)
    refused(reply, 400, "destination_missing", "destination_path")
    assert not missing.exists()


def test_a_removed_destination_waits_and_deletes_nothing(tenants):
    a = tenants.a
    source, destination, job_id = moving_job(tenants, a, {"first.txt": b"first"})
    shutil.rmtree(destination)
    (source / "second.txt").write_bytes(b"second")
    ended = run(tenants, a, job_id)
    assert ended["status"] == "waiting_destination" and "does not exist" in ended["error"]
    assert status(tenants, a, job_id)["state"] == "waiting_destination"
    assert snapshot(source) == {"second.txt": b"second"} and not destination.exists()


def test_a_destination_without_its_marker_waits_and_copies_nothing(tenants):
    a = tenants.a
    source, destination, job_id = moving_job(tenants, a, {"first.txt": b"first"})
    (destination / MARKER).unlink()
    (source / "second.txt").write_bytes(b"second")
    ended = run(tenants, a, job_id)
    assert ended["status"] == "waiting_destination" and MARKER in ended["error"]
    assert snapshot(source) == {"second.txt": b"second"}
    assert snapshot(destination) == {"first.txt": b"first"}


def test_an_unmounted_share_is_not_written_to_the_local_disk(tenants):
    a = tenants.a
    source = folder(tenants, a, {"first.txt": b"first"})
    share = home(tenants, a) / unique("nas")
    mount_tmpfs(share)
    try:
        job_id = new_job(tenants, a, source, share, delete_after_sync=True)
        assert run(tenants, a, job_id)["files_copied"] == 1
        assert snapshot(share) == {"first.txt": b"first"}
        assert not (share / MARKER).exists()  # a mount point is the share: no marker needed
    finally:
        unmount(share)
    assert share.is_dir() and snapshot(share) == {}  # the empty folder of the local disk
    (source / "second.txt").write_bytes(b"second")
    ended = run(tenants, a, job_id)
    assert ended["status"] == "waiting_destination" and ended["files_copied"] == 0
    assert snapshot(source) == {"second.txt": b"second"} and list(share.iterdir()) == []
