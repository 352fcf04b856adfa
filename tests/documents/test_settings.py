"""The documents settings: seed 001's environment names, and the auto-sync job (off by default)."""

from __future__ import annotations

import pytest

from syncapp.config import load_settings
from syncapp.documents.nas import NasSync, NoTarget
from syncapp.scheduler import build_scheduler


def test_the_seeds_environment_names_set_the_nas(tmp_path):
    settings = load_settings(
        environ={"NAS_MOUNT_PATH": "/app/nas_backup", "NAS_REMOTE": "nas", "NAS_FOLDER_NAMES": "fr"}
    )["documents"]
    assert settings["nas_mount_path"] == "/app/nas_backup"
    assert settings["nas_remote"] == "nas"
    assert settings["nas_folder_names"] == "fr"
    assert load_settings(environ={})["documents"]["max_size"] == 50 * 1024**2


def test_unknown_folder_names_are_refused():
    with pytest.raises(ValueError, match="nas_folder_names"):
        NasSync(None, None, NoTarget(), folder_names="de")  # type: ignore[arg-type]


def document_jobs(app) -> list:
    """The documents' auto-sync job (their debris sweep, `documents.debris`, is tests/debris')."""
    return [job for job in build_scheduler(app).get_jobs() if job.id == "documents.auto_sync"]


def test_auto_sync_is_off_by_default_and_runs_at_its_interval(make_app):
    assert document_jobs(make_app()) == []
    jobs = document_jobs(make_app(documents={"auto_sync_interval": 900}))
    assert [job.id for job in jobs] == ["documents.auto_sync"]
    assert jobs[0].trigger.interval.total_seconds() == 900
