"""GET /api/v1/syncs/folders: the folder picker's listing (issue 22), inside the caller's roots
only, without links or hidden names."""

from __future__ import annotations

import os


def test_lists_the_folders_inside_a_root_and_below(sync_client, sync_root):
    (sync_root / "src" / "invoices" / "2025").mkdir(parents=True)
    (sync_root / "src" / ".hidden").mkdir()
    (sync_root / "src" / "notes.txt").write_text("a file, not a folder")
    os.symlink("/etc", sync_root / "src" / "link-to-etc")

    top = sync_client.get("/api/v1/syncs/folders", query_string={"path": str(sync_root)})
    assert top.status_code == 200, top.json
    assert top.json["folders"] == ["dst", "src"]
    assert top.json["parent"] is None and top.json["root"] == str(sync_root)

    inside = sync_client.get("/api/v1/syncs/folders", query_string={"path": str(sync_root / "src")})
    assert inside.status_code == 200, inside.json
    assert inside.json["folders"] == ["invoices"]  # no file, no link, no hidden folder
    assert inside.json["parent"] == str(sync_root)
    assert inside.json["truncated"] is False


def test_refuses_folders_outside_the_roots_and_missing_ones(sync_client, sync_root, tmp_path):
    outside = sync_client.get("/api/v1/syncs/folders", query_string={"path": str(tmp_path)})
    assert outside.status_code == 403 and outside.json["error"] == "folder_not_allowed"
    missing = sync_client.get(
        "/api/v1/syncs/folders", query_string={"path": str(sync_root / "nowhere")}
    )
    assert missing.status_code == 404 and missing.json["error"] == "folder_missing"
    link = sync_root / "src" / "away"
    os.symlink(tmp_path, link)
    refused = sync_client.get("/api/v1/syncs/folders", query_string={"path": str(link)})
    assert refused.status_code == 400, refused.json
    assert sync_client.get("/api/v1/syncs/folders").status_code in (400, 422)
