"""Seed 004's endpoints: /api/v1/upload, /status, /files, /conflicts."""

from __future__ import annotations

from flask_smorest import Blueprint

from . import models  # noqa: F401  (the tables exist once the blueprint is registered)

bp = Blueprint("cloud", __name__, url_prefix="/api/v1", description="Cloud files (seed 004)")
