"""Flask extensions, created unbound; create_app binds them to an app."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


class _LoginManager(LoginManager):
    """Flask-Login's "strong" protection, applied only to sessions that hold a login.

    Out of the box, a session holding anything at all (a CSRF token from a page an anonymous
    visitor saw) fails the check when it has no login identifier, and the request is then
    treated as anonymous without trying its API token: a script keeping cookies between calls
    was refused after one HTML error page.
    """

    def _session_protection_failed(self) -> bool:
        from flask import session

        if "_user_id" not in session:
            return False
        return super()._session_protection_failed()


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = _LoginManager()
# Checks run from security.enforce_csrf, which knows when a request is token-authenticated.
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
# threading mode: every storage SDK works unpatched under gunicorn's gthread worker (DESIGN.md 5).
socketio = SocketIO()
# Generates /api/v1/openapi.json from the marshmallow schemas that validate the requests.
api = Api()
