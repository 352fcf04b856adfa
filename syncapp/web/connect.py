"""The "Connect a machine" page (`web.connect_page`) and the client scripts it installs.

The page creates an API token scoped to one use (a backup profile, a Cordiax device, a restic
repository) through the tokens API (static/js/connect.js) and shows the lines to paste with that
token filled in; the server never renders the token. The scripts a machine needs are served here,
so that a machine without a checkout installs them with the token just made (a `backups:<profile>`
token reaches them: tenancy.VIEW_FEATURES).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, current_app, render_template, request, send_file
from flask_login import current_user

from ..project import PROJECT_ROOT
from .blueprint import bp

#: what a backup machine installs from /connect/scripts/<name>
CLIENT_SCRIPTS = ("backup.sh", "upload.sh", "restore.sh", "verify_sync.sh", "client_lib.sh")
#: where the lines install them on the machine (backup.sh --upload finds upload.sh beside it)
INSTALL_DIR = "$HOME/.local/share/syncapp/scripts"


def restic_available() -> bool:
    """restic's REST endpoints (issue 21) are served when their blueprint is registered."""
    return "restic" in current_app.blueprints


@bp.route("/connect")
def connect_page():
    server = urlsplit(request.host_url)
    return render_template(
        "connect.html",
        server_url=request.host_url.rstrip("/"),
        server_scheme=server.scheme,
        server_netloc=server.netloc,
        email=current_user.email,
        scripts=CLIENT_SCRIPTS,
        install_dir=INSTALL_DIR,
        restic=restic_available(),
    )


@bp.route("/connect/scripts/<name>")
def connect_script(name: str):
    if name not in CLIENT_SCRIPTS:
        abort(404)
    return send_file(
        PROJECT_ROOT / "scripts" / name,
        mimetype="text/x-shellscript",
        as_attachment=True,
        download_name=name,
        max_age=0,
    )
