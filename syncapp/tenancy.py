"""Who owns what: the tenancy model every feature applies (docs/security.md, "Tenancy").

- Every stored thing belongs to one user (its owner). A user sees and changes only their own;
  an administrator sees everyone's, and the routes that act on another user's things say whose
  (`?owner=<id or email>`), so a name (a backup profile, a device) never resolves across users.
- Another user's thing is answered exactly as a thing that does not exist (404), including
  through names: nobody learns what other users have.
- An API token may be bound to part of what its user may do (`ApiToken.scopes`): `"backups"`
  (all of the user's backups) or `"backups:<profile>"` (one profile), `"cordiax:<device>"`, ...
  A machine's token then reaches only its own corner, whatever its user may do.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import g, request
from flask_login import current_user
from sqlalchemy import func, select

from .auth.models import ApiToken, User
from .extensions import db
from .failures import Forbidden, NotFound, Unauthorized

#: the features a token can be bound to, and what a name after the colon means for each
SCOPE_FEATURES = {
    "backups": "a backup profile",
    "cordiax": "a Cordiax device",
    "documents": None,
    "syncs": None,
    "cloud": None,
    "events": None,
    "restic": "a restic repository",
}


class ScopeError(ValueError):
    """A scope list a token cannot carry; the message says which entry and why."""


def parse_scopes(entries: Iterable[str] | None) -> list[str] | None:
    """Validate `entries` ("feature" or "feature:name"); None means unrestricted. An empty list
    is refused: read as "nothing" by one person and as "everything" by another, it is neither."""
    if entries is None:
        return None
    scopes: list[str] = []
    for entry in entries:
        feature, sep, name = str(entry).partition(":")
        if feature not in SCOPE_FEATURES:
            known = ", ".join(sorted(SCOPE_FEATURES))
            raise ScopeError(f"Unknown scope {entry!r}: features are {known}.")
        if sep and (not name or SCOPE_FEATURES[feature] is None):
            raise ScopeError(f"Scope {entry!r}: {feature} takes no name.")
        if entry not in scopes:
            scopes.append(entry)
    if not scopes:
        raise ScopeError(
            "A scoped token needs at least one scope; leave `scopes` out for a token that may "
            "do everything its user may."
        )
    return scopes


# --- the caller's token ----------------------------------------------------------------------


def token_scopes() -> list[str] | None:
    """The scopes of the token this request came with; None for a session or a full token."""
    token = g.get("api_token")
    return None if token is None else token.scopes


def scope_allows(feature: str, name: str | None = None) -> bool:
    """May the caller's token act on `feature` (and on the thing called `name` in it)?
    With `name` None: on the feature at all (lists are then narrowed by `scoped_names`)."""
    scopes = token_scopes()
    if scopes is None or feature in scopes:
        return True
    if name is None:
        return any(s.startswith(feature + ":") for s in scopes)
    return f"{feature}:{name}" in scopes


def scoped_names(feature: str) -> set[str] | None:
    """The names of `feature` the caller's token is bound to; None when it is not narrowed."""
    scopes = token_scopes()
    if scopes is None or feature in scopes:
        return None
    return {s.split(":", 1)[1] for s in scopes if s.startswith(feature + ":")}


def require_scope(feature: str, name: str | None = None) -> None:
    if not scope_allows(feature, name):
        what = f"{feature} {name!r}" if name else feature
        raise Forbidden(f"This token may not be used for {what}.", code="token_scope")


#: the feature each blueprint's routes belong to. A scoped token reaches only the routes of its
#: features; everything else (tokens, users, remotes, the dashboard and the pages) stays with
#: unrestricted credentials, so a machine's token can neither mint a broader one nor look around
BLUEPRINT_FEATURES = {
    "backups": "backups",
    "backup_restore": "backups",
    "cordiax": "cordiax",
    "cordiax_pollers": "cordiax",
    "documents": "documents",
    "nas_sync": "documents",
    "syncs": "syncs",
    "service": "syncs",  # seed 000's /api/v1/status, /metrics and /logs of sync jobs
    "prometheus": "syncs",
    "cloud": "cloud",
    "cloud_conflicts": "cloud",
    "google_oauth": "cloud",
    "events_ws": "events",
    # restic's REST protocol only: the management API (restic_api) needs a full credential
    "restic": "restic",
}
#: single views whose feature differs from their blueprint's ("<blueprint>.<view>"): a backup
#: machine's token fetches the client scripts the "Connect a machine" page installs
VIEW_FEATURES: dict[str, str] = {"web.connect_script": "backups"}


def route_feature(endpoint: str | None) -> str | None:
    if endpoint is None:
        return None
    if endpoint in VIEW_FEATURES:
        return VIEW_FEATURES[endpoint]
    return BLUEPRINT_FEATURES.get(endpoint.partition(".")[0])


def enforce_token_scope() -> None:
    """before_request (from security.enforce_authentication, once the caller is known): a scoped
    token calls only the routes of the features in its scopes (403 `token_scope`). Names within
    a feature (a profile, a device) are the feature's own check, with `require_scope`."""
    if token_scopes() is None:
        return
    feature = route_feature(request.endpoint)
    if feature is None or not scope_allows(feature):
        raise Forbidden(
            "This token is limited to "
            + ", ".join(token_scopes() or [])
            + ": this route needs another credential.",
            code="token_scope",
        )


def bind_scopes(token: ApiToken, scopes: list[str] | None) -> None:
    """Narrow a token just issued (security.issue_token) to `scopes` (parse_scopes' result).
    Its raw value is handed out only after this: nobody holds it unrestricted meanwhile."""
    if scopes is not None:
        token.scopes = scopes
        db.session.commit()


# --- owners ----------------------------------------------------------------------------------


def caller() -> User:
    if not current_user.is_authenticated:
        raise Unauthorized("Authentication required.")
    return current_user._get_current_object()


def find_user_by_ref(ref: str) -> User | None:
    """A user by id ("7") or email."""
    ref = ref.strip()
    # isdigit() alone takes "²" (int() then fails) and ids past any database integer
    if ref.isascii() and ref.isdigit():
        return db.session.get(User, int(ref)) if len(ref) <= 18 else None
    return db.session.scalar(select(User).where(func.lower(User.email) == ref.lower()))


def requested_owner(what: str, param: str = "owner") -> int:
    """Whose `what` a request acts on: the caller's own, or for an administrator the user named
    by `?owner=` (id or email). A user naming anyone but themselves gets the 404 an unknown
    user gets: the parameter cannot be used to find out who has an account."""
    me = caller()
    ref = request.args.get(param)
    if not ref:
        return me.id
    owner = find_user_by_ref(ref)
    if owner is None or (owner.id != me.id and not me.is_admin):
        raise NotFound(f"No {what} for owner {ref!r}.", code="owner_not_found")
    return owner.id


def install_owner_id() -> int | None:
    """The server's first administrator: the one-user install's owner, whose backups keep the
    seed's layout at the top of the store."""
    return db.session.scalar(
        select(User.id)
        .where(User.role == "admin", User.active.is_(True))
        .order_by(User.id)
        .limit(1)
    )
