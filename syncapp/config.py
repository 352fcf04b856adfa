"""Settings: built-in defaults < config.yaml < environment variables < create_app overrides.

Every setting is declared once in SPEC with its type and default, so a typo or a wrong type in
config.yaml stops start-up with the key's name instead of being silently ignored.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml


class ConfigError(Exception):
    """The configuration cannot be used; the message names the offending key."""


class Size(int):
    """A byte count written as 1048576, "10MB", "1.5 GiB" ..."""


class Seconds(float):
    """A duration in seconds (plain numbers only, to keep config files unambiguous)."""


_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "kib": 1024,
    "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
    "g": 1000**3, "gb": 1000**3, "gib": 1024**3,
    "t": 1000**4, "tb": 1000**4, "tib": 1024**4,
}  # fmt: skip

#: section -> key -> (type, default). `None` as default means "not set".
SPEC: dict[str, dict[str, tuple[Any, Any]]] = {
    "server": {
        "host": (str, "127.0.0.1"),
        "port": (int, 5000),
        "workers": (int, 1),
        "threads": (int, 512),
        "public_url": (str, None),
        # How many proxies (nginx) in front set X-Forwarded-For/-Proto/-Host; 0 = trust none.
        "trusted_proxies": (int, 0),
        # Seconds a client has to send a request's line and headers (nginx's
        # client_header_timeout); until then it waits in the event loop, not in a thread.
        "header_timeout": (Seconds, Seconds(10)),
        # Open connections per process (gunicorn's worker_connections): idle and half-sent ones
        # cost a file descriptor each, not a thread. Beyond it the process stops accepting.
        "max_connections": (int, 10000),
    },
    "database": {
        "url": (str, None),  # default: SQLite in the instance folder
        "echo": (bool, False),
        # PostgreSQL connections per process: a request holds one while it runs (uploads
        # release theirs while the body streams); waiting longer than pool_timeout answers 503.
        "pool_size": (int, 10),
        "max_overflow": (int, 20),
        "pool_timeout": (Seconds, Seconds(30)),
    },
    "logging": {
        "level": (str, "INFO"),
        "file": (str, None),  # default: <instance>/syncapp.log; "" disables the file
        "max_size": (Size, Size(10 * 1000**2)),
        "backup_count": (int, 5),
        "json": (bool, True),
    },
    "sync": {
        "default_interval": (int, 5),
        "max_retries": (int, 3),
        "retry_delay": (Seconds, Seconds(10)),
        "batch_size": (int, 100),  # files per database commit during a run
        # Folders sync jobs may use. An entry with {user_id} is a personal root (each user
        # gets their own); one without is shared by administrators only. Empty: <instance>/sync
        # (shared) and <instance>/sync/users/{user_id}. Admins grant more per user (sync_roots).
        "allowed_roots": (list, []),
        "default_workers": (int, 8),  # parallel copies per job unless the job says otherwise
        "max_concurrent_jobs": (int, 4),
        "dispatch_interval": (Seconds, Seconds(1)),  # how often due jobs are looked for
        "realtime_debounce": (Seconds, Seconds(0.5)),  # quiet time after a change before a run
        "max_destination_backoff": (Seconds, Seconds(300)),
        # Runs kept in each job's history; older ones are deleted, their counts kept in the
        # job's totals. 0 keeps every run. Runs that did nothing keep one row per stretch.
        "keep_runs": (int, 1000),
    },
    "monitoring": {
        "enable_metrics": (bool, True),
        "enable_health": (bool, True),
        "log_buffer_size": (int, 2000),  # records kept in memory for GET /api/v1/logs
        # Sync destinations are probed in the background this often; health shows the result.
        "destination_check_interval": (Seconds, Seconds(60)),
    },
    "security": {
        # seed 000's key; only true is accepted (false stops start-up with the reason)
        "enable_auth": (bool, True),
        "api_key": (str, None),
        "secret_key": (str, None),
        "registration_enabled": (bool, False),
        "login_rate_limit": (str, "10 per minute"),
        "token_rate_limit": (str, "30 per minute"),
        "login_token_hours": (int, 24),
        "session_cookie_secure": (bool, False),
    },
    "cors": {
        # Sites (scheme://host[:port]) whose scripts may call the API with a token; none by
        # default. Cookies never count cross-origin (syncapp/cors.py). Seed 004: CORS_ORIGINS.
        "origins": (list, []),
    },
    "socketio": {
        "message_queue": (str, None),
        # Redis pub/sub ignores database numbers: deployments sharing a Redis need their own.
        "channel": (str, "flask-socketio"),
        "max_http_buffer_size": (Size, Size(210 * 1024**2)),
        "cors_allowed_origins": (list, []),
        # engine.io pings every 25 s; a PONG later than this closes the session. A client's
        # PONG travels behind the push it is sending, and the python-socketio client gives up
        # after max(25, ping_timeout) + 5 s without a PING to answer, so the slack for a busy
        # server is ping_timeout - 20 s; with 30, 200 simultaneous pushes on 2 busy cores
        # dropped clients (bench/load.py: "packet queue is empty, aborting" in the client).
        # Bytes still arriving count as an answer (socket_guard.ClientHeard).
        "ping_timeout": (int, 60),
        # Sessions opened without credentials (a token sent only in the CONNECT packet) wait
        # this long to authenticate, this many at once, with messages up to this size
        # (syncapp/socket_guard.py): anonymous clients cannot hold the threads. The number is
        # also held to a quarter of server.threads.
        "auth_timeout": (Seconds, Seconds(5)),
        "unauthenticated_sessions": (int, 32),
        "unauthenticated_max_message": (Size, Size(64 * 1024)),
    },
    "restic": {
        # where the repositories' objects live (a stored remote's name wins over the folder);
        # a repository may name its own stored remote (admins set it through the API)
        "root": (str, None),  # default: <instance>/restic
        "remote": (str, None),
        # `restic init` (POST /restic/<repo>/?create=true) creates a repository the caller
        # does not have yet; off: only the API or an administrator creates them
        "create_on_init": (bool, True),
        "append_only_default": (bool, False),
        "repository_quota": (Size, None),  # default quota of a new repository; None: none
    },
    "transfer": {
        "attempts": (int, 5),
        "base_delay": (Seconds, Seconds(0.5)),
        "max_delay": (Seconds, Seconds(30)),
        "chunk_size": (Size, Size(1024**2)),
    },
    "backups": {
        "root": (str, None),  # default: remote_backups/ beside app.py
        "remote": (str, None),  # name of a stored remote to use instead of the folder
        "max_size": (Size, Size(500 * 1024**2)),
        "allow_anonymous": (bool, False),
        "anonymous_networks": (list, ["127.0.0.1/32", "::1/128"]),
        # whose namespace anonymous uploads and reads use (an email); None: the install owner
        "anonymous_owner": (str, None),
        "append_only": (bool, False),
        "profile_quota": (Size, None),
        # retention per profile; nothing is deleted while all of these are unset
        "retention_full_chains": (int, None),  # keep the last N FULL archives and their chains
        "retention_daily": (int, None),  # keep the newest FULL of each of the last N days
        "retention_weekly": (int, None),
        "retention_monthly": (int, None),
        "retention_interval": (int, 3600),  # seconds between retention runs
    },
    "cordiax": {
        "root": (str, None),  # default: <instance>/cordiax
        "remote": (str, None),  # name of a stored remote to use instead of the folder
        "max_snapshot_size": (Size, Size(100 * 1024**2)),
        # pushes decoded and stored at once per process; the others wait their turn
        "max_concurrent_pushes": (int, 8),
        # the waiting is bounded (cordiax/push_gate.py): by the hex bytes that waiting pushes
        # hold and by seconds; a push beyond either gets sync_error `busy` and the client is
        # asked again (sync_request) after about `busy_retry_after` seconds
        "max_waiting_push_bytes": (Size, Size(256 * 1024**2)),
        "push_wait": (int, 30),
        "busy_retry_after": (int, 30),
        "allow_plaintext": (bool, True),
        "allow_anonymous": (bool, False),
        "anonymous_networks": (list, ["127.0.0.1/32", "::1/128"]),
        "keep_last": (int, 10),
        "keep_daily_days": (int, 30),
        "retention_interval": (int, 3600),
        "poll_check_interval": (int, 30),
        # seconds between the server's `sync_request`s to each connected client: the desktop
        # client has no timer of its own in Socket.IO mode, so this is how often changes arrive
        "sync_request_interval": (int, 300),
    },
    "documents": {
        "root": (str, None),  # default: <instance>/documents
        "remote": (str, None),  # name of a stored remote to use instead of the folder
        "max_size": (Size, Size(50 * 1024**2)),
        "nas_mount_path": (str, None),  # a mounted NAS folder (seed 001's NAS_MOUNT_PATH)
        "nas_remote": (str, None),  # or the name of a stored remote, e.g. an SMB share
        "nas_folder_names": (str, "en"),  # "en": receipts/invoices/...; "fr": tickets/factures/...
        "auto_sync_interval": (int, None),  # seconds between automatic NAS syncs; None: off
    },
    "cloud": {
        "root": (str, None),  # the local copies (every version): default <instance>/cloud
        "remote": (str, None),  # or a stored remote instead of that folder
        "max_size": (Size, Size(500 * 1024**2)),
        "keep_versions": (int, 10),  # per file; the oldest beyond this are removed
        "azure_remote": (str, None),  # stored remote names of the clouds (chosen by an admin)
        "s3_remote": (str, None),
        "folder": (str, "syncapp"),  # where files go in each cloud: <folder>/<user id>/<name>
        "replication_interval": (Seconds, Seconds(2)),  # how often pending copies are looked for
        "max_attempts": (int, 5),  # per copy, before it is marked failed
        "retry_delay": (Seconds, Seconds(5)),  # doubled per failed attempt
        "max_retry_delay": (Seconds, Seconds(600)),
        # a copy claimed by a process that died is taken up again once this has passed
        "replication_lease": (Seconds, Seconds(60)),
        "download_url_ttl": (int, 300),  # seconds a from_storage=<cloud> download link lives
    },
    "notifications": {
        # seconds between two looks for alert transitions to send (None: off); the alerts
        # evaluator may also ask for a delivery right away (notifications/wiring.deliver_due)
        "delivery_interval": (Seconds, Seconds(15)),
        "max_attempts": (int, 8),  # per delivery, before it is recorded as failed
        "retry_delay": (Seconds, Seconds(30)),  # doubled per failed attempt
        "max_retry_delay": (Seconds, Seconds(3600)),
        "timeout": (Seconds, Seconds(10)),  # per HTTP request / SMTP session of a delivery
        # a delivery claimed by a process that died is sent again once this has passed
        "lease": (Seconds, Seconds(120)),
        # transitions older than this are not sent (a server down for a month does not replay it)
        "max_age": (Seconds, Seconds(7 * 86400)),
        # Apprise URL schemes users may choose (e.g. [mailto, mailtos, ntfys]); empty: any
        "allowed_schemes": (list, []),
        # let targets of users who are not administrators reach loopback, private, link-local
        # addresses (a LAN's ntfy, Gotify or mail relay); off: public addresses only, so that
        # a user cannot make the server reach its own network (docs/security.md, SSRF)
        "allow_private_networks": (bool, False),
        # targets one user may have: each alert change is sent to every one of them
        "max_targets": (int, 50),
    },
    "google": {
        "client_id": (str, None),
        "client_secret": (str, None),
        "redirect_uri": (str, None),  # default: <this server>/auth/google/callback
        "auth_uri": (str, "https://accounts.google.com/o/oauth2/v2/auth"),
        "token_uri": (str, "https://oauth2.googleapis.com/token"),
        "scopes": (list, ["https://www.googleapis.com/auth/drive.file"]),
        "drive_api_endpoint": (str, None),  # default: Google's; tests point it at a fake
        "ca_certs": (str, None),  # a CA bundle for that endpoint (the tests' fake)
        "success_redirect": (str, "/cloud"),  # where the browser goes after connecting
    },
    "scheduler": {
        "enabled": (bool, True),
        "lock_file": (str, None),  # default: <instance>/scheduler.lock
        # Seconds between a follower's attempts to lead (and a PostgreSQL leader's lock checks).
        "leader_retry": (Seconds, Seconds(5)),
        "keep_runs": (int, 100),  # recorded runs kept per scheduled job (scheduled_runs table)
    },
    "debris": {
        # What a killed process left (docs/architecture.md, "Debris"): swept by the leader every
        # `interval` seconds (None: off); nothing younger than `min_age` seconds is touched, so
        # that a write still in progress on another process or host is never taken for debris.
        "interval": (Seconds, Seconds(3600)),
        "min_age": (Seconds, Seconds(3600)),
    },
    "scrub": {
        # Reading every stored object back against its recorded checksums (syncapp/scrub/).
        # A full pass starts this long after the last one finished; None: only on demand
        # (POST /api/v1/scrub, `flask scrub run`).
        "interval": (Seconds, Seconds(7 * 24 * 3600)),
        # Bytes per second the scrub reads, across its workers; None or 0: unlimited. 50 MiB/s
        # keeps a 1 TB store's pass under 6 h and leaves the disks and a core to uploads.
        "max_rate": (Size, Size(50 * 1024**2)),
        # How often the leader looks for scrub work (a pass due, requested or unfinished);
        # None switches the scrub's background job off.
        "tick": (Seconds, Seconds(60)),
        # The longest one tick reads before it records its place and hands back (a new
        # leader, or the next tick, continues from there).
        "slice": (Seconds, Seconds(300)),
        # Objects read at once; each worker hashes on its own core (hashlib and zlib release
        # the GIL). 1 leaves the other core to uploads.
        "workers": (int, 1),
    },
    "alerts": {
        # seconds between two evaluations of every condition (the leader's alerts.evaluate
        # job); None: off (the alerts then only change when something calls the evaluator)
        "interval": (Seconds, Seconds(60)),
        # expectations one user may set: each is watched at every evaluation and may become an
        # alert and its notifications (a user must not make the evaluator's work unbounded)
        "max_expectations": (int, 1000),
        # defaults of the expectations, overridden per subject through
        # PUT /api/v1/alerts/expectations/<kind>/<subject>; None switches the check off
        "backup_any_every": (Seconds, Seconds(26 * 3600)),  # any archive of a profile
        "backup_full_every": (Seconds, Seconds(7 * 86400)),  # a FULL archive of a profile
        "cordiax_max_silence": (Seconds, Seconds(48 * 3600)),  # since a device's last snapshot
        "sync_max_failed_runs": (int, 3),  # failed runs in a row of a sync job
        "restic_snapshot_every": (Seconds, Seconds(26 * 3600)),  # a restic repository's snapshot
        # store-wide: a local store folder (backups, cordiax, documents, cloud, the instance)
        # with less free space than either of these fires
        "min_free_space": (Size, Size(1024**3)),
        "min_free_percent": (int, 5),
        "nas_unmounted": (bool, True),  # fire while the documents' NAS is configured but absent
        "cloud_conflicts": (bool, True),  # fire while a user has open cloud conflicts
        "scrub_findings": (bool, True),  # fire while the scrub's results hold corrupt/missing
        # fire when no scheduled job (of any process) started for this long: nobody leads
        "leader_silence": (Seconds, Seconds(15 * 60)),
    },
    "quota": {
        "per_user": (Size, None),  # bytes each user may keep across features; None: no limit
    },
    "ratelimit": {
        # this process only (syncapp/ratelimit_storage.py); several processes: redis://…
        "storage_uri": (str, "process-memory://"),
        "enabled": (bool, True),
        "syncs": (str, "600 per minute"),  # /api/v1/syncs, per user (per address if anonymous)
        # "send a test" of a notification target, per user: each one makes the server connect out
        "notification_tests": (str, "10 per minute"),
        # /restic/ (restic's REST protocol) and /api/v1/restic, per user: a backup of many
        # small files makes a few requests per pack, a restore one per blob range
        "restic": (str, "6000 per minute"),
    },
}

#: Environment names the seeds define themselves, mapped to their setting.
ENV_ALIASES: dict[str, tuple[str, str]] = {
    "DATABASE_URL": ("database", "url"),
    "SECRET_KEY": ("security", "secret_key"),
    "LOG_LEVEL": ("logging", "level"),
    "SOCKETIO_MESSAGE_QUEUE": ("socketio", "message_queue"),
    "HOST": ("server", "host"),
    "PORT": ("server", "port"),
    "NAS_MOUNT_PATH": ("documents", "nas_mount_path"),
    "NAS_REMOTE": ("documents", "nas_remote"),
    "NAS_FOLDER_NAMES": ("documents", "nas_folder_names"),
    "GOOGLE_CLIENT_ID": ("google", "client_id"),  # seed 004's names
    "GOOGLE_CLIENT_SECRET": ("google", "client_secret"),
    "GOOGLE_REDIRECT_URI": ("google", "redirect_uri"),
    "CORS_ORIGINS": ("cors", "origins"),
}


#: in a `sync.allowed_roots` entry: replaced by the user's id, making the entry a personal root
SYNC_ROOT_PLACEHOLDER = "{user_id}"


def _check_authentication(security: dict[str, Any]) -> None:
    """Seed 000's `security.enable_auth: false` is refused rather than obeyed or ignored: every
    user's data is theirs alone, so a request nobody can be told apart on would act for no one
    (or, worse, for everyone)."""
    if not security["enable_auth"]:
        raise ConfigError(
            "'security.enable_auth: false' is not supported: syncapp always authenticates, "
            "because each user's backups, documents, sync jobs and files are theirs alone. "
            "Remove the key (or set it to true). For seed 000's single shared key, set "
            "'security.api_key' and send it as 'X-API-Key'; for unmodified backup scripts on a "
            "closed network, see 'backups.allow_anonymous' and 'backups.anonymous_networks'."
        )


def _check_sync_roots(entries: list) -> None:
    for entry in entries:
        if not isinstance(entry, str) or not entry.strip():
            raise ConfigError(f"'sync.allowed_roots' entries must be folder paths, got {entry!r}")
        rest = entry.replace(SYNC_ROOT_PLACEHOLDER, "")
        if "{" in rest or "}" in rest:
            raise ConfigError(
                f"'sync.allowed_roots': {entry!r} may hold no placeholder but "
                f"{SYNC_ROOT_PLACEHOLDER} (e.g. /srv/sync/users/{SYNC_ROOT_PLACEHOLDER})"
            )
        if ".." in Path(entry).parts:
            raise ConfigError(f"'sync.allowed_roots': {entry!r} may not contain '..'")


def _check_cors_origins(origins: list) -> list[str]:
    """Each entry is scheme://host[:port], as browsers send Origin; '*' is refused because
    listing the sites is the whole protection."""
    cleaned = []
    for origin in origins:
        text = str(origin).strip().rstrip("/")
        parts = urlsplit(text)
        if (
            text == "*"
            or parts.scheme not in ("http", "https")
            or not parts.netloc
            or parts.path
            or parts.query
            or parts.fragment
            or "@" in parts.netloc
        ):
            raise ConfigError(
                f"'cors.origins' (CORS_ORIGINS): {origin!r} is not an origin; list each site "
                "as scheme://host[:port], e.g. http://localhost:3000 ('*' is not accepted)"
            )
        cleaned.append(text.lower())
    return cleaned


def parse_size(value: Any) -> Size:
    if isinstance(value, bool):
        raise ValueError("a size, not a boolean")
    if isinstance(value, int | float):
        return Size(int(value))
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"not a size: {value!r} (use bytes or e.g. '10MB', '1GiB')")
    return Size(int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]))


def _coerce(kind: Any, value: Any, *, from_env: bool) -> Any:
    """Convert `value` to `kind`; strings from the environment are parsed, YAML must match."""
    if value is None:
        return None
    if kind is Size:
        return parse_size(value)
    if kind is Seconds:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError("a number of seconds")
        return Seconds(float(value))
    if kind is bool:
        if isinstance(value, bool):
            return value
        if from_env and str(value).lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return str(value).lower() in ("1", "true", "yes", "on")
        raise ValueError("true or false")
    if kind is int:
        if isinstance(value, bool):
            raise ValueError("an integer")
        if isinstance(value, int):
            return value
        if from_env and re.fullmatch(r"-?\d+", str(value).strip()):
            return int(value)
        raise ValueError("an integer")
    if kind is list:
        if isinstance(value, list):
            return value
        if from_env:
            return [item.strip() for item in str(value).split(",") if item.strip()]
        raise ValueError("a list")
    if kind is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise ValueError("a string")
    raise TypeError(f"unsupported setting type {kind!r}")


def defaults() -> dict[str, dict[str, Any]]:
    return {
        section: {key: copy.deepcopy(d) for key, (_, d) in keys.items()}
        for section, keys in SPEC.items()
    }


def _merge(settings: dict, values: Mapping, source: str, *, from_env: bool = False) -> None:
    for section, keys in values.items():
        if section not in SPEC:
            raise ConfigError(
                f"{source}: unknown section {section!r} (known: {', '.join(sorted(SPEC))})"
            )
        if keys is None:
            continue
        if not isinstance(keys, Mapping):
            raise ConfigError(f"{source}: section {section!r} must be a mapping of keys")
        for key, value in keys.items():
            if key not in SPEC[section]:
                raise ConfigError(
                    f"{source}: unknown key '{section}.{key}' "
                    f"(known: {', '.join(sorted(SPEC[section]))})"
                )
            kind = SPEC[section][key][0]
            try:
                settings[section][key] = _coerce(kind, value, from_env=from_env)
            except ValueError as exc:
                raise ConfigError(
                    f"{source}: '{section}.{key}' must be {exc}, got {value!r}"
                ) from None


def config_path(environ: Mapping[str, str]) -> Path | None:
    explicit = environ.get("SYNCAPP_CONFIG") or environ.get("CONFIG_FILE")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"SYNCAPP_CONFIG points to a missing file: {path}")
        return path
    local = Path("config.yaml")
    return local if local.is_file() else None


def environment_values(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    values: dict[str, dict[str, str]] = {}
    for name, (section, key) in ENV_ALIASES.items():
        if environ.get(name):
            values.setdefault(section, {})[key] = environ[name]
    for section, keys in SPEC.items():
        for key in keys:
            name = f"SYNCAPP_{section}_{key}".upper()
            if name in environ:
                values.setdefault(section, {})[key] = environ[name]
    return values


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    environ = os.environ if environ is None else environ
    settings = defaults()
    path = config_path(environ)
    if path is not None:
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
        _merge(settings, data, str(path))
    _merge(settings, environment_values(environ), "environment", from_env=True)
    if overrides:
        # Lower-case keys are settings sections; upper-case ones are raw Flask config (create_app).
        sections = {k: v for k, v in overrides.items() if not k.isupper()}
        _merge(settings, sections, "overrides")
    _check_sync_roots(settings["sync"]["allowed_roots"])
    _check_authentication(settings["security"])
    settings["cors"]["origins"] = _check_cors_origins(settings["cors"]["origins"])
    return settings
