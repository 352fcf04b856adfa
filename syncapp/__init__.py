"""syncapp: a self-hosted backup and sync hub. `create_app()` builds the Flask application."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import asdict
from importlib import import_module
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from .project import PROJECT_ROOT, __version__
from .settings import settings

__all__ = ["PROJECT_ROOT", "__version__", "create_app", "run_startup_tasks"]

#: the features whose `<feature>/pages.py` adds its page to the `web` blueprint
FEATURE_PAGES = ("backups", "cordiax", "documents", "syncs", "cloud", "scrub", "alerts", "restic")


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. `overrides`: lower-case keys are settings sections (as in config.yaml),
    upper-case keys go straight into Flask's config (tests use both)."""
    from .config import load_settings
    from .cors import init_cors
    from .headers import init_headers
    from .logs import configure_logging, register_owner_lookup
    from .settings import install_settings
    from .syncs.log_owners import job_owner

    overrides = dict(overrides or {})
    instance_path = overrides.pop("instance_path", None) or os.environ.get(
        "SYNCAPP_INSTANCE_PATH", str(PROJECT_ROOT / "instance")
    )
    app = Flask(
        __name__,
        instance_path=str(Path(instance_path).absolute()),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    from .extensions import UntrustedJSONProvider

    app.json = UntrustedJSONProvider(app)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    values = load_settings(overrides)
    app.config["SYNCAPP"] = values  # the checked mapping; code reads settings() (settings.py)
    configured = install_settings(app, values)
    configure_flask(app, configured)
    app.config.update({k: v for k, v in overrides.items() if k.isupper()})

    configure_logging(app)
    register_owner_lookup("job", job_owner)  # log records naming a sync job are its owner's
    init_cors(app)  # before authentication: preflights come without credentials
    register_extensions(app)
    init_headers(app)  # security headers; Secure cookies over HTTPS (syncapp/headers.py)
    register_blueprints(app)
    register_namespaces(app)
    register_errorhandlers(app)
    register_commands(app)
    trust_proxies(app, configured.server.trusted_proxies)
    return app


def trust_proxies(app: Flask, count: int) -> None:
    """Behind nginx, take the client's address, scheme and host from the X-Forwarded-* headers
    the last `count` proxies set (rate limits and anonymous_networks need the real address).
    Wraps the outermost WSGI layer, so Socket.IO connections see the same address. With 0,
    the headers are ignored: anyone could send them."""
    if count > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]


def run_startup_tasks(app: Flask) -> None:
    """When a server process starts (not a CLI command): recover what a crash left, then start
    the scheduler. Skipped before the first migration has created the tables."""
    from sqlalchemy import inspect

    from .backups.wiring import startup as backups_startup
    from .extensions import db
    from .scheduler import start_scheduler

    with app.app_context():
        if not inspect(db.engine).has_table("backup_archives"):
            return
    backups_startup(app)
    start_scheduler(app)


def load_secret_key(app: Flask, configured: str | None) -> str:
    """The configured SECRET_KEY, else one generated once into the instance folder (0600)."""
    if configured:
        return configured
    path = Path(app.instance_path) / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
        handle.flush()
        os.fsync(handle.fileno())
    return path.read_text().strip()


def engine_options(database_url: str, database: Mapping[str, Any]) -> dict[str, Any]:
    """`database`: the database settings as a mapping (`asdict(settings().database)`)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        # A file: no server can drop a connection, so no ping before each use; and a pool as
        # large as a busy process needs, since a connection past the pool is opened, given its
        # pragmas and closed again for a single request (bench/api_rate.py).
        return {
            "pool_size": database["pool_size"] + database["max_overflow"],
            "max_overflow": 0,
            "pool_timeout": float(database["pool_timeout"]),
        }
    if url.get_backend_name() != "postgresql":  # an in-memory SQLite takes no pool options
        return {"pool_pre_ping": True}
    return {
        "pool_pre_ping": True,
        "pool_size": database["pool_size"],
        "max_overflow": database["max_overflow"],
        "pool_timeout": float(database["pool_timeout"]),
    }


def configure_flask(app: Flask, configured: Any) -> None:
    from .fields import IdConverter

    # Before any route exists: every <int:...> is bounded to what an INTEGER column holds.
    app.url_map.converters["int"] = IdConverter
    database_url = configured.database.url or (
        f"sqlite:///{Path(app.instance_path) / 'syncapp.db'}"
    )
    if database_url.startswith("postgres://"):  # the form Heroku-style URLs use
        database_url = "postgresql://" + database_url[len("postgres://") :]
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
    security = configured.security
    app.config.update(
        SECRET_KEY=load_secret_key(app, security.secret_key),
        SQLALCHEMY_DATABASE_URI=database_url,
        SQLALCHEMY_ECHO=configured.database.echo,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(database_url, asdict(configured.database)),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=security.session_cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=security.session_cookie_secure,
        WTF_CSRF_CHECK_DEFAULT=False,  # security.enforce_csrf decides, see there
        WTF_CSRF_TIME_LIMIT=None,
        RATELIMIT_STORAGE_URI=configured.ratelimit.storage_uri,
        RATELIMIT_ENABLED=configured.ratelimit.enabled,
        RATELIMIT_HEADERS_ENABLED=True,
        API_TITLE="syncapp",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
    )


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """WAL lets readers work while a writer commits; busy_timeout waits instead of failing."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def register_extensions(app: Flask) -> None:
    from . import security
    from .extensions import api, csrf, db, limiter, login_manager, migrate, socketio

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    limiter.init_app(app)
    api.init_app(app)
    options = settings(app).socketio
    # A Cordiax push is hex: twice the snapshot limit, plus framing. A larger push is answered
    # `sync_error` too_large by the namespace (cordiax/transport.py), not dropped by engine.io.
    cordiax_hex = 2 * settings(app).cordiax.max_snapshot_size + 1024**2
    # Flask-SocketIO keeps server_options from one init_app to the next: a second app in the
    # same process (the tests build hundreds) kept the first one's message queue, and a test
    # client then refused to run ("cannot be used with a message queue").
    socketio.server_options.pop("client_manager", None)
    socketio.init_app(
        app,
        async_mode="threading",
        message_queue=options.message_queue,
        channel=options.channel,
        max_http_buffer_size=max(options.max_http_buffer_size, cordiax_hex),
        cors_allowed_origins=options.cors_allowed_origins or None,
        ping_timeout=options.ping_timeout,
        # Accept first, then run the connect handler: a refusal then reaches the client as a
        # `sync_error` on an established connection (cordiax/requester.py on `sync_request`).
        always_connect=True,
    )
    from .cordiax.anonymous import anonymous_user as cordiax_anonymous_user
    from .cordiax.transport import answer_oversize_pushes
    from .socket_guard import install as guard_sockets

    guard_sockets(app, socketio, anonymous=cordiax_anonymous_user)
    answer_oversize_pushes(socketio.server.eio)  # over the guard's WebSocket adapter
    app.before_request(security.enforce_authentication)
    app.before_request(security.enforce_csrf)


def register_blueprints(app: Flask) -> None:
    from .alerts.routes import bp as alerts
    from .auth.routes import bp as auth_api
    from .auth.users_routes import bp as users_api
    from .backups.restore_routes import bp as backup_restore
    from .backups.routes import bp as backups
    from .cloud.conflict_routes import bp as cloud_conflicts
    from .cloud.oauth import bp as google_oauth
    from .cloud.routes import bp as cloud
    from .cordiax.pollers_routes import bp as cordiax_pollers
    from .cordiax.routes import bp as cordiax
    from .documents.routes import bp as documents
    from .documents.routes import sync_bp as nas_sync
    from .extensions import api
    from .monitoring.prometheus import bp as prometheus
    from .monitoring.routes import bp as monitoring
    from .monitoring.status_routes import bp as service
    from .monitoring.websocket import bp as events_ws
    from .notifications.routes import bp as notifications
    from .quota_routes import bp as quota
    from .remotes.routes import bp as remotes
    from .restic.protocol_routes import bp as restic_protocol
    from .restic.routes import bp as restic_api
    from .scrub.routes import bp as scrub
    from .syncs.routes import bp as syncs
    from .web.dashboard_api import bp as dashboard
    from .web.routes import bp as web
    from .web.seed_paths import bp as seed_paths
    from .web.settings import bp as settings_pages

    # issue 20's tables; the alerts' routes come with the alerts feature
    import_module(".alerts.models", __name__)

    api.register_blueprint(auth_api)
    api.register_blueprint(users_api)
    api.register_blueprint(monitoring)
    api.register_blueprint(service)
    api.register_blueprint(remotes)
    api.register_blueprint(backups)
    api.register_blueprint(backup_restore)
    api.register_blueprint(cordiax)
    api.register_blueprint(cordiax_pollers)
    api.register_blueprint(documents)
    api.register_blueprint(nas_sync)
    api.register_blueprint(syncs)
    api.register_blueprint(cloud)
    api.register_blueprint(cloud_conflicts)
    api.register_blueprint(notifications)
    api.register_blueprint(google_oauth)
    api.register_blueprint(dashboard)
    api.register_blueprint(quota)
    api.register_blueprint(restic_api)
    api.register_blueprint(scrub)
    api.register_blueprint(alerts)
    for feature in FEATURE_PAGES:  # each adds its page to `web`, which is then registered
        import_module(f".{feature}.pages", __name__)
    app.register_blueprint(web)
    app.register_blueprint(seed_paths)
    app.register_blueprint(settings_pages)
    app.register_blueprint(prometheus)
    app.register_blueprint(events_ws)
    app.register_blueprint(restic_protocol)  # restic's REST protocol, outside the OpenAPI


def register_namespaces(app: Flask) -> None:
    from .cordiax.namespace import NAMESPACE as CORDIAX_NAMESPACE
    from .cordiax.namespace import CordiaxNamespace, cordiax_socket_error
    from .events import NAMESPACE
    from .events_namespace import EventsNamespace
    from .extensions import socketio
    from .sockets import socket_error

    socketio.on_namespace(EventsNamespace(NAMESPACE))
    socketio.on_namespace(CordiaxNamespace())
    # Handlers that raise answer an error (and sync_error on /cordiax-sync/) instead of no ack.
    socketio.on_error_default(socket_error)
    socketio.on_error(CORDIAX_NAMESPACE)(cordiax_socket_error)


def register_errorhandlers(app: Flask) -> None:
    from .errors import register_error_handlers

    register_error_handlers(app)


def register_commands(app: Flask) -> None:
    from .cli import register_cli
    from .remotes.cli import remotes

    app.cli.add_command(remotes)
    register_cli(app)
