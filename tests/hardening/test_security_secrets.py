"""Security review, secrets: none in API answers or logs.

The whole run is checked by the tests/secret_scan.py plugin (every log under basetemp, at the
end of the session); these tests prove that the plugin fails a run that leaks, and that the
places where secrets pass through the app keep them out of answers and logs.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncapp.security import issue_token
from tests.conftest import PASSWORD, bearer, make_token, make_user
from tests.secret_scan import scan_tree

PROJECT = Path(__file__).resolve().parents[2]
REMOTE_SECRET = "remote-secret-for-the-output-test"


@pytest.fixture
def outside() -> Iterator[Path]:
    """A folder outside the session's basetemp: the leaks planted here are not the run's."""
    with tempfile.TemporaryDirectory(prefix="secret-scan-") as folder:
        yield Path(folder)


def test_the_scan_names_file_and_line_of_each_leak(outside):
    tmp_path = outside
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "syncapp.log").write_text(
        "a clean line\n" + f"login with {PASSWORD}\n" + "token sa_" + "x" * 43 + " used\n"
    )
    (tmp_path / "gunicorn.log.1").write_text("prefix sa_abcdefg shown in a list is fine\n")
    (tmp_path / "smbd.log").write_text(f"{PASSWORD}: a peer's own log is not the app's\n")
    findings = scan_tree(tmp_path)
    assert findings == [
        f"{tmp_path / 'app' / 'syncapp.log'}:2: the secret {PASSWORD!r}",
        f"{tmp_path / 'app' / 'syncapp.log'}:3: a raw API token sa_xxxxxxx…",
    ]


def test_a_run_that_logs_a_secret_fails_loudly(outside):
    tmp_path = outside
    tests = tmp_path / "inner"
    tests.mkdir()
    (tests / "test_leak.py").write_text(
        textwrap.dedent(
            f"""
            def test_leaks(tmp_path):
                (tmp_path / "syncapp.log").write_text("oops {PASSWORD}\\n")

            def test_clean(tmp_path):
                (tmp_path / "syncapp.log").write_text("nothing to see\\n")
            """
        )
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(tests),
            "-p",
            "tests.secret_scan",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            f"--basetemp={tmp_path / 'basetemp'}",
            f"--rootdir={tests}",
            "-q",
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 1, output  # both tests passed: the scan alone failed the run
    assert "2 passed" in output
    assert "SECRETS IN LOGS" in output
    assert "test_leaks0/syncapp.log:1: the secret" in output
    assert "test_clean0" not in output.split("SECRETS IN LOGS")[1]


def test_tokens_and_passwords_stay_out_of_answers_and_logs(app, client, admin):
    headers = bearer(make_token(app, admin))
    with app.app_context():
        from syncapp.auth.accounts import find_user

        _, raw = issue_token(find_user(admin), "seen-once")
    created = client.post("/api/v1/tokens", json={"name": "cron"}, headers=headers)
    new_raw = created.get_json()["token"]  # shown once, in the creation reply only
    login = client.post("/auth/login", json={"email": admin, "password": PASSWORD}).get_json()

    remote = client.post(
        "/api/v1/remotes",
        headers=headers,
        json={
            "name": "dav",
            "kind": "webdav",
            "settings": {"url": "http://127.0.0.1:9/", "username": "u", "password": REMOTE_SECRET},
        },
    ).get_json()
    # a failing call whose URL carries credentials, and a token sent where none is expected
    client.get(f"/api/v1/documents?token={raw}", headers=headers)
    client.get("/api/v1/tokens", headers=bearer(raw + "x"))
    client.post("/api/v1/remotes/{}/test".format(remote["id"]), headers=headers)
    client.post(
        "/api/v1/users",
        headers=headers,
        json={"email": "new@example.com", "password": "another-long-password"},
    )

    answers = "".join(
        client.get(path, headers=headers).get_data(as_text=True)
        for path in (
            "/api/v1/tokens",
            "/api/v1/remotes",
            f"/api/v1/remotes/{remote['id']}",
            "/api/v1/users",
            "/api/v1/logs?limit=1000",
            "/api/v1/status",
            "/settings/remotes",
            "/settings/tokens",
        )
    )
    secrets = [raw, new_raw, login["access_token"], REMOTE_SECRET, PASSWORD]
    secrets.append("another-long-password")
    for secret in secrets:
        assert secret not in answers
    log = Path(app.config["SYNCAPP"]["logging"]["file"]).read_text()
    for secret in [*secrets, "test-secret-key-not-for-production"]:
        assert secret not in log, secret


def test_an_upload_named_like_a_token_is_logged_masked(app, client, token):
    """File names are user input that reaches the logs: a token pasted in one is masked."""
    make_user(app, "bob@example.com")
    name = f"{token}.pdf"
    form = {"file": (io.BytesIO(b"%PDF"), name), "type": "receipt"}
    response = client.post(
        "/api/v1/documents", headers=bearer(token), data=form, content_type="multipart/form-data"
    )
    assert response.status_code == 201
    assert token not in Path(app.config["SYNCAPP"]["logging"]["file"]).read_text()
