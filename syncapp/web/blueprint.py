"""The `web` blueprint of the Jinja pages. Defined apart so that each feature's `pages.py` adds
its page to it (endpoints stay `web.<view>`, which templates' `url_for` name) and
`syncapp/web/routes.py` adds sign-in, sign-out, the dashboard and `/docs`; the app factory
imports every pages module before registering it."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("web", __name__)
