"""The settings as one typed, read-only object: `settings().sync.dispatch_interval`.

`config.SPEC` stays the only place a setting is declared: each section's frozen dataclass is
made from it (field names, types, defaults), so a key exists here exactly when it exists there.
`create_app` builds the object once from `config.load_settings`' result and keeps it in
`app.extensions`; code reads it through `settings()` (the current app) or `settings(app)` (a
thread holding its app). Lists become tuples, so nothing can change a setting after start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import make_dataclass
from typing import Any

from flask import Flask, current_app

from .config import SPEC, Seconds, Size

EXTENSION_KEY = "syncapp.settings"


def _annotation(kind: Any, default: Any) -> Any:
    """The field's type: what config._coerce produces (a Size is an int, Seconds a float)."""
    base = {Size: int, Seconds: float, list: tuple[str, ...]}.get(kind, kind)
    return base | None if default is None else base


def _section_class(section: str, keys: Mapping[str, tuple[Any, Any]]) -> type:
    fields = [(key, _annotation(kind, default)) for key, (kind, default) in keys.items()]
    name = "".join(part.title() for part in section.split("_")) + "Settings"
    cls = make_dataclass(name, fields, frozen=True, slots=True)
    cls.__module__ = __name__
    return cls


#: section name -> its dataclass, in SPEC's order
SECTIONS: dict[str, type] = {name: _section_class(name, keys) for name, keys in SPEC.items()}

Settings = make_dataclass("Settings", list(SECTIONS.items()), frozen=True, slots=True)
Settings.__module__ = __name__
Settings.__doc__ = "Every section of config.SPEC as an attribute (`settings().backups.max_size`)."


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def build_settings(values: Mapping[str, Mapping[str, Any]]) -> Any:
    """The typed object for `config.load_settings`' result (which checked every key and type)."""
    return Settings(
        **{
            section: cls(**{key: _frozen(values[section][key]) for key in SPEC[section]})
            for section, cls in SECTIONS.items()
        }
    )


def install_settings(app: Flask, values: Mapping[str, Mapping[str, Any]]) -> Any:
    app.extensions[EXTENSION_KEY] = build_settings(values)
    return app.extensions[EXTENSION_KEY]


def settings(app: Flask | None = None) -> Any:
    """This app's settings (the current app's without `app`)."""
    return (app or current_app).extensions[EXTENSION_KEY]
