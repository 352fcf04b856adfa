"""What can go wrong, as plain exceptions, and the one table that says how each is answered.

Services raise the `DomainError` classes below; they know nothing of HTTP or Socket.IO.
`failure_for` is the only mapping from an exception (these, a storage outage, a database
outage) to the status, machine code and sentence a client gets: `errors.py` answers HTTP
requests with it, `sockets.socket_error` and the Cordiax namespace answer Socket.IO events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from .storage import RemoteFull, RemoteUnavailable


class DomainError(Exception):
    """A request that cannot be done; `code` is the machine code, `extra` adds fields to the
    answer (seed-defined routes)."""

    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        if "status" in extra:  # it would replace the envelope's "status": "error"
            raise TypeError("a DomainError has no HTTP status: raise the class of that status")
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra


class BadRequest(DomainError):
    code = "bad_request"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class Gone(DomainError):
    """It existed but is no longer what was asked for (a stale download link)."""

    code = "gone"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class UpgradeRequired(DomainError):
    """The address speaks another protocol (a WebSocket)."""

    code = "upgrade_required"


class Misconfigured(DomainError):
    """The server's settings are wrong (an administrator must fix them)."""

    code = "misconfigured"


class PeerFailed(DomainError):
    """A server we depend on (a cloud, Google, the NAS) answered with an error."""

    code = "peer_failed"


class ServiceUnavailable(DomainError):
    code = "service_unavailable"


class InsufficientStorage(DomainError):
    code = "insufficient_storage"


#: the HTTP status of each kind of DomainError (the most specific class listed wins)
STATUS: dict[type[DomainError], int] = {
    DomainError: 400,
    BadRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    PayloadTooLarge: 413,
    UpgradeRequired: 426,
    Misconfigured: 500,
    PeerFailed: 502,
    ServiceUnavailable: 503,
    InsufficientStorage: 507,
}


@dataclass(frozen=True)
class Failure:
    """How one exception is answered. `outage`: what to log it as (None: the client's error);
    `retry_after`: seconds a client should wait, sent as Retry-After."""

    status: int
    code: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)
    outage: str | None = None
    retry_after: int | None = None


STORAGE_FULL = Failure(
    507, "insufficient_storage", "The storage is full; nothing was kept.", outage="storage error"
)
STORAGE_UNAVAILABLE = Failure(
    503,
    "storage_unavailable",
    "The storage cannot be reached; try again.",
    outage="storage error",
    retry_after=30,
)
DATABASE_UNAVAILABLE = Failure(
    503,
    "database_unavailable",
    "The database is unavailable; try again shortly.",
    outage="database unavailable",
    retry_after=5,
)
INVALID_VALUE = Failure(
    400,
    "invalid_value",
    "A value in the request cannot be stored or looked up.",
    outage="database refused a value",
)


def status_of(exc: DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def failure_for(exc: BaseException) -> Failure | None:
    """The answer to `exc`, or None for an exception nobody expected (an internal error)."""
    if isinstance(exc, DomainError):
        return Failure(status_of(exc), exc.code, exc.message, exc.extra)
    if isinstance(exc, RemoteFull):
        return STORAGE_FULL
    if isinstance(exc, RemoteUnavailable):
        return STORAGE_UNAVAILABLE
    if isinstance(exc, OperationalError | PoolTimeoutError):
        # down, unreachable, or its pool exhausted: pool_pre_ping reconnects once it is back
        return DATABASE_UNAVAILABLE
    if isinstance(exc, DataError):
        # PostgreSQL refuses a NUL in text, an integer out of range, a string over its length
        return INVALID_VALUE
    return None


#: the exception classes failure_for answers (errors.register_error_handlers registers these)
ANSWERED: tuple[type[BaseException], ...] = (
    DomainError,
    RemoteFull,
    RemoteUnavailable,
    OperationalError,
    PoolTimeoutError,
    DataError,
)
