"""Flask extensions, created unbound; create_app binds them to an app."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

import flask_smorest
from flask import Request, request
from flask.json.provider import DefaultJSONProvider
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from marshmallow import INCLUDE, Schema, fields
from sqlalchemy import Table, event
from sqlalchemy.orm import DeclarativeBase
from webargs.flaskparser import FlaskParser

from . import ratelimit_storage  # noqa: F401  (registers "process-memory://" with limits)


class Base(DeclarativeBase):
    pass


@event.listens_for(Table, "before_create")
def _never_reuse_ids(table: Table, connection, **kwargs) -> None:
    """SQLite hands a deleted row's id to the next row unless a table says AUTOINCREMENT: a new
    job of user B took the id of A's deleted job and, with it, A's log lines. PostgreSQL's
    sequences never go back. Every table created (create_all, and the copies a batch migration
    makes, which would otherwise lose it) says so; SQLite applies it only where the key is one
    integer. Migration 0011 did the same for databases made before."""
    table.dialect_kwargs["sqlite_autoincrement"] = True


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
# threading mode: every storage SDK works unpatched under gunicorn's gthread worker
# (docs/architecture.md, "Socket.IO and events").
socketio = SocketIO()


class ErrorEnvelope(Schema):
    """What every API error answers (errors.error_body), as the OpenAPI document shows it.

    flask-smorest documents its own {code, status, message, errors} shape with no other keys
    allowed, which no response of this app has. Routes may add fields (DomainError.extra).
    """

    class Meta:
        unknown = INCLUDE

    status = fields.String(required=True, metadata={"enum": ["error"]})
    error = fields.String(
        required=True,
        metadata={
            "description": "A machine-readable code; on seed 003's backup routes (/upload, "
            "/list, /verify, /stats, /download, /backups) the readable sentence, as its "
            "scripts print it, with the code in `code`"
        },
    )
    code = fields.String(metadata={"description": "The machine code, on seed 003's routes"})
    message = fields.String(required=True)
    detail = fields.String(
        required=True, metadata={"description": "The same text as message (seed 004's field)"}
    )
    errors = fields.Dict(metadata={"description": "Messages per field, when input was invalid"})


class _Api(Api):
    """flask-smorest's Api, but a blueprint's routes enter the OpenAPI document when the document
    is first read (/api/v1/openapi.json, `flask openapi`), not when the blueprint is registered:
    documenting ~100 routes was half of create_app's time (~0.15 s of a process's start, and of
    every app the tests build, most of which never read the document). The routes themselves
    are registered at once, as before; the document read is the same."""

    ERROR_SCHEMA = ErrorEnvelope

    def __init__(self, *args, **kwargs) -> None:
        # (blueprint, app, name, parameters) registered since the spec was made, not yet in it
        self._undocumented: list[tuple] = []
        self._documenting = threading.RLock()  # two first requests must not document twice
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def spec(self):
        spec = self.__dict__.get("_spec")
        with self._documenting:  # reentrant: documenting a route may read api.spec
            pending, self._undocumented = self._undocumented, []
            for blp, app, name, parameters in pending:
                blp.register_views_in_doc(self, app, spec, name=name, parameters=parameters)
                spec.tag({"name": name, "description": blp.description})
        return spec

    @spec.setter
    def spec(self, value) -> None:  # a new app's spec (init_app): nothing in it yet
        self._spec = value
        self._undocumented = []

    def register_blueprint(self, blp, *, parameters=None, **options) -> None:
        """As flask-smorest's (0.47) register_blueprint, with the documenting put off."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, self._app, name, parameters))


@contextmanager
def untrusted_json() -> Iterator[None]:
    """Bodies come from anyone: input nested past the recursion limit ('[' * 100000) or holding
    a number too long to convert raises RecursionError or a bare ValueError, which the callers
    (Flask's get_json, webargs) do not catch (500). As JSONDecodeError it is a 400."""
    try:
        yield
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:100]
        raise json.JSONDecodeError(f"Invalid JSON: {reason}", "<body>", 0) from None


class UntrustedJSONProvider(DefaultJSONProvider):
    """request.get_json and every other flask.json.loads of this app."""

    def loads(self, s, **kwargs):
        with untrusted_json():
            return super().loads(s, **kwargs)


class _ArgumentsParser(FlaskParser):
    """webargs parses request bodies with json.loads itself, not through Flask. Invalid input
    answers 400 validation_error (errors.handle_http_exception), not webargs' 422: the OpenAPI
    document says so."""

    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req):
        with untrusted_json():
            return super()._raw_load_json(req)


class _PaginationParser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400


class Blueprint(flask_smorest.Blueprint):
    """The API blueprint every route module uses: flask-smorest's, with this app's argument
    parsers (read when a route is decorated). A subclass rather than flask-smorest's class
    defaults changed on import, so nothing depends on which module was imported first."""

    ARGUMENTS_PARSER = _ArgumentsParser()
    PAGINATION_ARGUMENTS_PARSER = _PaginationParser()

    def fast_arguments(self, schema: type[Schema], read: Callable[[Request], Any]) -> Callable:
        """`arguments(schema)` of a JSON body (documented and answered alike), with a shortcut
        for bodies too large for marshmallow (10,000 archives sent to /verify: 0.8 s):
        `read(request)` gives the body as the schema would load it, or None when it cannot
        tell; then the schema reads it, and answers any error as usual."""

        def decorator(view: Callable) -> Callable:
            checked = self.arguments(schema)(view)

            @wraps(checked)  # its _apidoc too: the document is arguments'
            def wrapper(*args, **kwargs):
                body = read(request)
                if body is None:
                    return checked(*args, **kwargs)
                return view(body, *args, **kwargs)

            return wrapper

        return decorator


# Generates /api/v1/openapi.json from the marshmallow schemas that validate the requests.
api = _Api()
