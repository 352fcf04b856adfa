"""Schemathesis against the app's own /api/v1/openapi.json, under gunicorn, over every operation.

The schemathesis CLI runs as a subprocess (its pytest plugin does not work with pytest 9) with
the coverage phase (boundary and type-violating values of every parameter, body and field) and
the fuzzing phase. Bounded and deterministic: derandomised generation, MAX_EXAMPLES examples per
operation in the fuzzing phase, no shrinking, no example database, one worker; a run sends the
same requests in the same order every time, and FUZZ_TIME_CAP bounds it. Checks:
not_a_server_error, status_code_conformance, content_type_conformance,
response_schema_conformance (the error envelope included), response_headers_conformance, and
the defaults that stay on: negative_data_rejection (input the document forbids is refused),
unsupported_method (405 with Allow), missing_required_header. positive_data_acceptance is off,
see fuzz_config.

The fuzzer signs in with an admin token, so every admin-only operation is reachable. Path
parameters that name rows are pinned to rows created beforehand, so operations reach the code
behind the lookup instead of stopping at 404; each DELETE gets rows of its own, so it cannot
take away the rows the other operations use. DELETE /api/v1/tokens/{token_id} is pinned to a
victim token: the fuzzer's own token is never revoked (every later request would be a 401).
The app refuses by itself to delete, deactivate or demote the calling administrator, so
/api/v1/users needs no exclusion. Uploads are multipart bodies generated from the document
(a binary `file` part and the form fields), kept small by Hypothesis and by UPLOAD_LIMIT.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import bearer, make_user
from tests.live import BIN, LiveServer

#: Generated examples per operation in the fuzzing phase.
MAX_EXAMPLES = 10
#: Seconds for the whole schemathesis run: about 55 s on a quiet 2-core machine, twice that
#: when the machine is shared; the test fails beyond this.
FUZZ_TIME_CAP = 300
#: Upload limits of the fuzz server: generated files stay small, and bounded by these anyway.
UPLOAD_LIMIT = "256KB"


def _ok(response: requests.Response, *expected: int) -> dict[str, Any]:
    assert response.status_code in expected, (response.status_code, response.text)
    return response.json() if response.content else {}


def tar_gz(content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        member = tarfile.TarInfo("fuzz.txt")
        member.size = len(content)
        archive.addfile(member, io.BytesIO(content))
    return buffer.getvalue()


class Fixtures:
    """Rows created through the API before the fuzzing, named by the path parameters."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.http = requests.Session()
        self.http.headers.update(server.headers)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.post(self.server.url + path, timeout=30, **kwargs)

    def user(self, email: str) -> int:
        body = {"email": email, "password": "victim-password-1", "role": "user"}
        return _ok(self.post("/api/v1/users", json=body), 201)["id"]

    def token(self, name: str) -> int:
        return _ok(self.post("/api/v1/tokens", json={"name": name}), 201)["id"]

    def remote(self, name: str) -> int:
        root = self.server.workdir / "remotes" / name
        body = {"name": name, "kind": "local", "settings": {"root": str(root)}}
        return _ok(self.post("/api/v1/remotes", json=body), 201)["id"]

    def target(self, name: str) -> int:
        # nothing listens on port 9: "send a test" fails at once, with a 200 saying so
        body = {"name": name, "kind": "apprise", "url": "json://127.0.0.1:9/fuzz"}
        return _ok(self.post("/api/v1/notifications/targets", json=body), 201)["id"]

    def poller(self, name: str, remote_id: int) -> int:
        body = {"name": name, "remote_id": remote_id, "enabled": False}
        return _ok(self.post("/api/v1/cordiax/pollers", json=body), 201)["id"]

    def snapshots(self, remote: str, poller_id: int, count: int) -> list[str]:
        """Snapshots of device `kept`: a Cordiax ZIP bundle dropped where the poller looks,
        imported by running it, once per content."""
        bundle = self.server.workdir / "remotes" / remote / "cordiax_sync" / "cordiax_sync.zip"
        bundle.parent.mkdir(parents=True, exist_ok=True)
        for number in range(count):
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr("cordiax.db", f"snapshot {number}")
            bundle.write_bytes(buffer.getvalue())
            _ok(self.post(f"/api/v1/cordiax/pollers/{poller_id}/run"), 200)
        listed = self.http.get(
            f"{self.server.url}/api/v1/cordiax/devices/kept/snapshots", timeout=30
        )
        versions = [snapshot["version"] for snapshot in _ok(listed, 200)]
        assert len(versions) == count, versions
        return versions

    def sync_job(self, name: str) -> int:
        # Both ends inside <instance>/sync, the only allowed root by default.
        source = self.server.workdir / "instance" / "sync" / name
        source.mkdir(parents=True, exist_ok=True)
        (source / "a.txt").write_text("fuzz")
        # The destination exists too: /api/v1/health checks it, and answers 503 otherwise.
        destination = source.parent / f"{name}-copy"
        destination.mkdir(exist_ok=True)
        body = {
            "name": name,
            "source_path": str(source),
            "destination_path": str(destination),
            "enabled": False,
        }
        return _ok(self.post("/api/v1/syncs", json=body), 201)["id"]

    def document(self, name: str) -> int:
        files = {"file": (name, b"%PDF-1.4 fuzz", "application/pdf")}
        return _ok(self.post("/api/v1/documents", files=files, data={"type": "invoice"}), 201)["id"]

    def backup(self, name: str) -> str:
        files = {"file": (name, tar_gz(b"fuzz archive"), "application/gzip")}
        _ok(self.post("/upload", files=files, data={"type": "FULL", "profile": "fuzz"}), 201)
        return name

    def restic_repository(self, name: str) -> int:
        return _ok(self.post("/api/v1/restic/repositories", json={"name": name}), 201)["id"]

    def cloud_file(self, name: str) -> tuple[int, str]:
        files = {"file": (name, b"fuzz cloud", "text/plain")}
        reply = _ok(self.post("/api/v1/upload", files=files), 202)
        return reply["file_id"], reply["job_id"]


def fuzz_config(server: LiveServer, rows: Fixtures) -> dict[str, Any]:
    keep_user, gone_user = rows.user("kept@example.com"), rows.user("victim@example.com")
    gone_token = rows.token("victim")
    remote, gone_remote = rows.remote("fuzz-kept"), rows.remote("fuzz-victim")
    poller, gone_poller = rows.poller("kept", remote), rows.poller("victim", remote)
    version, gone_version = rows.snapshots("fuzz-kept", poller, 2)
    job, gone_job = rows.sync_job("kept"), rows.sync_job("victim")
    document, gone_document = rows.document("kept.pdf"), rows.document("victim.pdf")
    kept_archive = rows.backup("full_2025-01-01_00-00-00.tar.gz")
    gone_archive = rows.backup("full_2025-01-02_00-00-00.tar.gz")
    (file_id, cloud_job), (gone_file, _) = rows.cloud_file("kept.txt"), rows.cloud_file("gone.txt")
    restic_repo = rows.restic_repository("kept")
    target, gone_target = rows.target("kept"), rows.target("victim")

    def pin(method: str, path: str, **values: Any) -> dict[str, Any]:
        # include-name: one operation ("include-method" + "include-path" would match either)
        return {
            "include-name": f"{method} {path}",
            "parameters": {f"path.{k}": v for k, v in values.items()},
        }

    operations = [
        pin("DELETE", "/api/v1/tokens/{token_id}", token_id=gone_token),
        pin("DELETE", "/api/v1/users/{user_id}", user_id=gone_user),
        pin("DELETE", "/api/v1/remotes/{remote_id}", remote_id=gone_remote),
        pin("DELETE", "/api/v1/cordiax/pollers/{poller_id}", poller_id=gone_poller),
        pin("DELETE", "/api/v1/syncs/{job_id}", job_id=gone_job),
        pin("DELETE", "/api/v1/documents/{document_id}", document_id=gone_document),
        pin("DELETE", "/api/v1/files/{file_id}", file_id=gone_file),
        pin("DELETE", "/api/v1/notifications/targets/{target_id}", target_id=gone_target),
        pin(
            "DELETE",
            "/backups/{backup_type}/{filename}",
            backup_type="FULL",
            filename=gone_archive,
        ),
        pin(
            "GET",
            "/download/{backup_type}/{filename}",
            backup_type="FULL",
            filename=kept_archive,
        ),
        pin("GET", "/api/v1/status/{job_id}", job_id=cloud_job),
        pin(
            "DELETE",
            "/api/v1/cordiax/devices/{device}/snapshots/{version}",
            device="kept",
            version=gone_version,
        ),
        pin(
            "GET",
            "/api/v1/cordiax/devices/{device}/snapshots/{version}/download",
            device="kept",
            version=version,
        ),
    ]
    return {
        "base-url": server.url,
        "headers": server.headers,
        "request-timeout": 30,
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "no-shrink": True,
            "database": "none",
        },
        # Every other operation naming these rows gets the kept ones.
        "parameters": {
            "path.user_id": keep_user,
            "path.remote_id": remote,
            "path.poller_id": poller,
            "path.job_id": job,
            "path.document_id": document,
            "path.file_id": file_id,
            "path.target_id": target,
            "path.device": "kept",
            "path.repo_id": restic_repo,
        },
        "operations": operations,
        "phases": {"stateful": {"enabled": False}},
        "checks": {
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
            "response_headers_conformance": {"enabled": True},
            # Off: a request the schema allows may still break a rule no schema can say (a
            # .tar.gz that is no gzip, a remote_id with no remote, a host that is unreachable),
            # and a 4xx is then the right answer, not a finding.
            "positive_data_acceptance": {"enabled": False},
        },
    }


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory) -> LiveServer:
    workdir: Path = tmp_path_factory.mktemp("fuzz")
    (workdir / "nas").mkdir()
    server = LiveServer(
        workdir,
        threads=8,
        env={
            # The fuzzer sends hundreds of logins and token requests in a minute: rate limits
            # would answer 429 to most of them and hide what the routes themselves do.
            "SYNCAPP_RATELIMIT_ENABLED": "false",
            "SYNCAPP_SECURITY_REGISTRATION_ENABLED": "true",
            "SYNCAPP_BACKUPS_MAX_SIZE": UPLOAD_LIMIT,
            "SYNCAPP_DOCUMENTS_MAX_SIZE": UPLOAD_LIMIT,
            "SYNCAPP_CLOUD_MAX_SIZE": UPLOAD_LIMIT,
            "NAS_MOUNT_PATH": str(workdir / "nas"),
            # Google sign-in configured (its routes go past "not configured"), but pointed at a
            # closed local port: no request of the fuzzer leaves the machine.
            "GOOGLE_CLIENT_ID": "fuzz-client",
            "GOOGLE_CLIENT_SECRET": "fuzz-secret",
            "SYNCAPP_GOOGLE_TOKEN_URI": "http://127.0.0.1:9/token",
            "SYNCAPP_GOOGLE_DRIVE_API_ENDPOINT": "http://127.0.0.1:9/drive",
            # Scheduled work (retention, pollers, sync dispatch) is not under test here.
            "SYNCAPP_SCHEDULER_ENABLED": "false",
        },
    )
    server.prepare()
    server.start()
    yield server
    server.stop()


def toml_value(value: Any) -> str:
    """TOML for the config: inline tables and arrays suffice (TOML strings escape as JSON's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def run_schemathesis(
    config_file: Path, url: str, workdir: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(BIN / "schemathesis"),
            "--config-file",
            str(config_file),
            "--no-color",
            "run",
            f"{url}/api/v1/openapi.json",
            # One worker: the same requests in the same order on every run (and CPython 3.11's
            # ast.parse, which Hypothesis calls, is not safe across threads).
            "--workers",
            "1",
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=FUZZ_TIME_CAP,
        check=False,
    )


@pytest.mark.timeout(FUZZ_TIME_CAP + 120)  # plus the server and the rows it starts with
def test_every_operation_survives_fuzzing(fuzz_server: LiveServer, tmp_path: Path) -> None:
    config = fuzz_config(fuzz_server, Fixtures(fuzz_server))
    config_file = tmp_path / "schemathesis.toml"
    config_file.write_text("".join(f"{k} = {toml_value(v)}\n" for k, v in config.items()))
    # The CLI runs every phase (examples, coverage, fuzzing) and prints each failure with a
    # curl line to reproduce it; its exit status is non-zero on any failed check.
    try:
        result = run_schemathesis(config_file, fuzz_server.url, tmp_path)
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout or b""  # bytes even in text mode, as far as it got
        text = output.decode(errors="replace") if isinstance(output, bytes) else output
        pytest.fail(f"schemathesis ran over {FUZZ_TIME_CAP} s:\n{text}")
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    # Every operation of the document was tested, and each phase ran and passed them all.
    spec_url = f"{fuzz_server.url}/api/v1/openapi.json"
    spec = requests.get(spec_url, headers=fuzz_server.headers, timeout=30).json()
    operations = sum(
        method in ("get", "put", "post", "patch", "delete")
        for path in spec["paths"].values()
        for method in path
    )
    assert operations > 70, operations
    assert f"Selected: {operations}/{operations}" in report, report
    assert f"Tested: {operations}\n" in report, report
    assert report.count(f"✅ {operations} passed") == 2, report  # coverage and fuzzing
    assert re.search(r"Test cases:\s+(\d+) generated, \1 passed", report), report


# --- what the fuzzer found, each pinned by the request that found it (fast: no gunicorn) ------


def test_errors_are_documented_as_the_envelope_they_are(client, token):
    spec = client.get("/api/v1/openapi.json", headers=bearer(token)).get_json()
    error = spec["components"]["schemas"]["ErrorEnvelope"]
    assert set(error["required"]) == {"status", "error", "message", "detail"}
    assert error["additionalProperties"] is True  # routes add fields (DomainError.extra)
    default = spec["components"]["responses"]["DEFAULT_ERROR"]
    assert default["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorEnvelope")
    # invalid input answers 400 (errors.handle_http_exception), and the document says so
    operation = spec["paths"]["/api/v1/tokens"]["post"]["responses"]
    assert "400" in operation and "422" not in operation
    assert client.post("/api/v1/tokens", headers=bearer(token), json={}).status_code == 400


def test_405_names_the_allowed_methods(client, token):
    response = client.open("/api/v1/tokens", method="TRACE", headers=bearer(token))
    assert response.status_code == 405 and response.get_json()["error"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/documents?page=147830856798955241472",
        "/api/v1/files?offset=373782974440212862992023289856",
    ],
)
def test_numbers_beyond_an_integer_column_are_400(client, token, path):
    response = client.get(path, headers=bearer(token))
    assert response.status_code == 400 and response.get_json()["error"] == "validation_error"


def test_ids_beyond_an_integer_column_find_nothing(client, token):
    response = client.get("/api/v1/documents/99999999999999999999", headers=bearer(token))
    assert response.status_code == 404 and response.get_json()["status"] == "error"


def test_a_huge_token_lifetime_is_400(client, token):
    body = {"name": "forever", "expires_in_days": 10**9}
    response = client.post("/api/v1/tokens", headers=bearer(token), json=body)
    assert response.status_code == 400 and "expires_in_days" in response.get_json()["errors"]


def test_a_huge_poller_remote_id_is_400(client, admin_token):
    body = {"name": "x", "remote_id": -119139684774519941103616}
    response = client.post("/api/v1/cordiax/pollers", headers=bearer(admin_token), json=body)
    assert response.status_code == 400 and "remote_id" in response.get_json()["errors"]


def test_json_booleans_are_true_or_false(app, client, admin_token):
    make_user(app, "bob@example.com")
    users = client.get("/api/v1/users", headers=bearer(admin_token)).get_json()
    bob = next(user["id"] for user in users if user["email"] == "bob@example.com")
    for value in (0, "false", None):
        response = client.patch(
            f"/api/v1/users/{bob}", headers=bearer(admin_token), json={"active": value}
        )
        assert response.status_code == 400, (value, response.get_json())
    still = client.get(f"/api/v1/users/{bob}", headers=bearer(admin_token)).get_json()
    assert still["active"] is True
    ok = client.patch(f"/api/v1/users/{bob}", headers=bearer(admin_token), json={"active": False})
    assert ok.status_code == 200 and ok.get_json()["active"] is False


def test_a_garbled_form_flag_is_400_and_keeps_no_document(client, token):
    form = {"file": (io.BytesIO(b"%PDF"), "a.pdf"), "type": "invoice", "sync_now": "{}"}
    response = client.post(
        "/api/v1/documents", headers=bearer(token), data=form, content_type="multipart/form-data"
    )
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_flag"
    listing = client.get("/api/v1/documents", headers=bearer(token)).get_json()
    assert listing["total"] == 0


def test_asking_for_google_drive_before_connecting_it_is_400(client, token):
    form = {"sync_google": "true", "file": (io.BytesIO(b"data"), "a.txt")}
    response = client.post(
        "/api/v1/upload", headers=bearer(token), data=form, content_type="multipart/form-data"
    )
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"] == "target_not_configured"


def test_an_update_without_a_body_is_documented_as_allowed(client, token):
    spec = client.get("/api/v1/openapi.json", headers=bearer(token)).get_json()
    for path, method in [
        ("/api/v1/users/{user_id}", "patch"),
        ("/api/v1/remotes/{remote_id}", "put"),
        ("/api/v1/cordiax/pollers/{poller_id}", "patch"),
        ("/api/v1/syncs/{job_id}", "put"),
    ]:
        assert spec["paths"][path][method]["requestBody"]["required"] is False, path
