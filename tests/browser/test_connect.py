"""Issue 22, finding 7: a new user connects a machine by following the "Connect a machine" page
only. Each test signs in, opens the page from the dashboard, makes the token there, reads the
lines the page shows and runs them as the machine would: bash with a HOME of its own (the cron
entry's variables, then its command), the Cordiax client replica with the page's two settings,
restic with the page's environment."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import new_page, screenshot, sign_in
from tests.clients.test_cordiax_client import CLIENT_PYTHON, Replica, data_dir
from tests.cordiax.payloads import sqlite_database
from tests.peers.process import peer_missing, wait_until

pytestmark = pytest.mark.browser

CRON_JOB = re.compile(r"^(?:\S+\s+){5}(?P<command>.+)$")
CRON_VARIABLE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$")


def machine_env(home: Path, **extra: str) -> dict[str, str]:
    """A machine's login environment: its own HOME, nothing of syncapp's from this process."""
    return {"HOME": str(home), "PATH": os.environ["PATH"], "LANG": "C.UTF-8", **extra}


def bash(lines: str, env: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(
        ["bash", "-e", "-c", lines],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{lines}\n---\n{result.stdout}{result.stderr}"
    return result.stdout


def crontab(text: str) -> tuple[dict[str, str], list[str]]:
    """The variables and the commands of crontab lines, as cron reads them."""
    variables: dict[str, str] = {}
    commands: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if (job := CRON_JOB.match(line)) and not CRON_VARIABLE.match(line.split()[0]):
            # cron turns an unescaped % into a newline; the page escapes them
            commands.append(job["command"].replace("\\%", "%"))
            continue
        variable = CRON_VARIABLE.match(line)
        assert variable, f"not a crontab line: {line!r}"
        variables[variable["name"]] = variable["value"]
    return variables, commands


def choose(page, kind_label: str, name: str, folder: str | None = None) -> None:
    """From the dashboard to the lines: the path a new user takes."""
    page.goto("/dashboard")
    page.locator(".dash-connect").get_by_role("link", name="Connect a machine").click()
    expect(page.get_by_role("heading", name="Connect a machine")).to_be_visible()
    page.get_by_label(kind_label).check()
    page.get_by_label("Machine name").fill(name)
    if folder is not None:
        page.get_by_label("Folder to back up").fill(folder)
    page.get_by_role("button", name="Create the token and show the lines").click()
    expect(page.locator("#connect-result")).to_be_visible()


def lines(page, block: str) -> str:
    text = page.locator(f"#lines-{block}").text_content() or ""
    assert not re.search(r"@[A-Z]+@", text), f"a placeholder left in {block}: {text}"
    return text


def test_a_first_backup_follows_the_connect_page_only(page, browser_server, tmp_path):
    """finding 7: a new user's first backup, from the dashboard to an archive listed, follows
    the Connect page's lines only (cron's backup.sh + upload.sh, run in bash)."""
    home = tmp_path / "home"
    documents = home / "My Documents"
    (documents / "sub").mkdir(parents=True)
    (documents / "notes.txt").write_text("first words\n")
    (documents / "sub" / "data.bin").write_bytes(bytes(range(256)) * 40)
    profile = f"laptop-{uuid.uuid4().hex[:8]}"

    choose(page, "backups of a folder", profile, "~/My Documents")
    install, cron, restore = (
        lines(page, b) for b in ("backups-install", "backups-cron", "backups-restore")
    )
    screenshot(page, "connect-backups")
    token = re.search(r"SYNCAPP_TOKEN=(\S+)", cron)[1]
    # the token is the machine's: its profile's backups and nothing else
    other = requests.get(
        f"{browser_server.url}/api/v1/tokens",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert other.status_code == 403 and "token_scope" in other.text

    env = machine_env(home)
    bash(install, env, home)
    variables, commands = crontab(cron)
    assert set(variables) == {"SERVER_URL", "SYNCAPP_TOKEN"} and len(commands) == 2
    assert "FULL" in commands[0]
    out = bash(commands[0], {**env, **variables}, home)  # cron runs it in HOME
    assert "1 uploaded, 0 already on the server, 0 failed" in out, out
    archives = sorted((home / "syncapp-backups" / "FULL").glob("full_*.tar.gz"))
    assert len(archives) == 1  # outside any checkout, where the page says

    page.get_by_role("link", name="Backups", exact=True).first.click()
    section = page.locator(f'section[data-profile="{profile}"]')
    expect(section.locator("tbody tr")).to_have_count(1)
    expect(section).to_contain_text(archives[0].name)

    # the restore lines give the folder back as it was
    bash(restore, env, home)
    restored = home / f"restored-{profile}"
    assert (restored / "notes.txt").read_text() == "first words\n"
    assert (restored / "sub" / "data.bin").read_bytes() == bytes(range(256)) * 40


def test_cordiax_settings_from_the_page_work_in_the_client(page, browser_server, tmp_path):
    """finding 7: the Cordiax client settings the Connect page shows work in the client."""
    if not CLIENT_PYTHON.exists():
        peer_missing("the Cordiax client's python-socketio is missing: run scripts/install_peers")
    device = f"office-{uuid.uuid4().hex[:8]}"
    choose(page, "Cordiax snapshots", device)
    url, namespace = lines(page, "cordiax-url"), lines(page, "cordiax-namespace")
    screenshot(page, "connect-cordiax")
    assert namespace == "/cordiax-sync/"
    replica = Replica(url, data_dir(tmp_path / "cordiax", sqlite_database(4096)), device)
    try:
        assert replica.wait_for(lambda: replica.count("sync_ack") >= 1, 60), replica.events

        def stored() -> bool:
            answer = requests.get(
                f"{browser_server.url}/api/v1/cordiax/devices/{device}/snapshots",
                headers=browser_server.headers,
                timeout=30,
            )
            return answer.status_code == 200 and len(answer.json()) >= 1

        wait_until(stored, 30, "the snapshot")
    finally:
        replica.close()
    page.goto("/cordiax")
    expect(page.locator("main")).to_contain_text(device)


def test_restic_lines_from_the_page_make_a_repository(page, browser_server, tmp_path):
    """finding 7: the restic lines the Connect page shows make a repository and a snapshot."""
    restic = shutil.which("restic")
    page.goto("/connect")
    if restic is None:
        peer_missing("restic is missing: run scripts/install_peers")
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    (home / "Documents" / "a.txt").write_text("restic words\n")
    repo = f"repo-{uuid.uuid4().hex[:8]}"
    choose(page, "a restic repository", repo, "~/Documents")
    text = lines(page, "restic")
    screenshot(page, "connect-restic")
    env = machine_env(home, RESTIC_CACHE_DIR=str(tmp_path / "cache"))
    bash(text, env, home)
    exports = "\n".join(line for line in text.splitlines() if line.startswith("export "))
    out = bash(exports + "\nrestic snapshots --json", env, home)
    assert '"paths"' in out, out


def test_the_navigation_and_every_empty_state_lead_to_the_connect_page(
    browser, browser_server, browser_log
):
    """finding 7: a new user finds "Connect a machine" in the navigation, and the empty
    backups, Cordiax and restic pages send them there with their use chosen."""
    email, password = f"new-{uuid.uuid4().hex[:8]}@example.com", "new-user-password"
    browser_server.create_user(email, password)
    with new_page(browser, browser_server, browser_log) as page:
        sign_in(page, email, password)
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        page.locator("#main-nav").get_by_role("link", name="Connect", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Connect")
        expect(page.get_by_role("radio", name=re.compile("backups of a folder"))).to_be_checked()
        for path, empty, kind in (
            ("/backups", "#backups-empty", "backups of a folder"),
            ("/cordiax", "#cordiax-empty", "Cordiax snapshots"),
            ("/restic", "#restic-empty", "a restic"),
        ):
            page.goto(path)
            page.locator(empty).get_by_role("link", name="Connect a machine").click()
            expect(page).to_have_url(re.compile(r"/connect\?use="))
            expect(page.get_by_role("radio", name=re.compile(kind))).to_be_checked()
