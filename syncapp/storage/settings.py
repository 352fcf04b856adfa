"""Backend settings turned into the types their constructors declare, by one set of rules.

Settings arrive as text (a `flask remotes create --set`, environment variables, a config file),
as JSON numbers and booleans (the API, the settings form) or as stored in the database. Every
backend coerces them here, so that "30", 30 and 30.0 mean the same timeout everywhere and a
wrong value is a RemoteConfigError naming the setting, whichever backend it was given to.
"""

from __future__ import annotations

from typing import TypeVar

from .base import RemoteConfigError

N = TypeVar("N", int, float)

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def number(name: str, value: object, kind: type[N] = int) -> N:  # type: ignore[assignment]
    try:
        return kind(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RemoteConfigError(f"{name} must be a number, not {value!r}") from None


def positive(name: str, value: object, kind: type[N] = float) -> N:  # type: ignore[assignment]
    result = number(name, value, kind)
    if not result > 0:
        raise RemoteConfigError(f"{name} must be positive, not {value!r}")
    return result


def port(name: str, value: object) -> int:
    result = number(name, value, int)
    if not 0 < result < 65536:
        raise RemoteConfigError(f"{name} must be a port number (1-65535), not {value!r}")
    return result


def flag(name: str, value: object) -> bool:
    """true/false, yes/no, on/off, 1/0; anything else is refused rather than guessed (an empty
    verify_tls must not turn certificate checks off)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise RemoteConfigError(f"{name} must be true or false, not {value!r}")
