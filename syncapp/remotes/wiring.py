"""Where each feature keeps its files, from the app's settings: the one place of the stored
remotes that reads `current_app` (its cache of opened stores in `app.extensions`)."""

from __future__ import annotations

from flask import current_app

from ..failures import Misconfigured
from ..settings import settings
from ..storage import Remote, open_remote
from .catalog import find_remote, open_stored


def feature_remote(section: str, default_root: str) -> Remote:
    """Where a feature keeps its files: the stored remote named by `<section>.remote`, else the
    local folder `<section>.root` (default `default_root`). Opened once per app and reused."""
    cache = current_app.extensions.setdefault("syncapp.feature_remotes", {})
    if section not in cache:
        options = getattr(settings(), section)
        if options.remote:
            stored = find_remote(options.remote)
            if stored is None:
                raise Misconfigured(
                    f"{section}.remote names an unknown stored remote {options.remote!r}."
                )
            cache[section] = open_stored(stored)
        else:
            cache[section] = open_remote("local", root=options.root or default_root)
    return cache[section]
