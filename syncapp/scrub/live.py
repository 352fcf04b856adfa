"""The scrub's live events on /events ."""

from __future__ import annotations

from ..events import publish


def pass_finished(pass_id: int) -> None:
    """A pass ended. Only its id: the findings are store-wide, and an event without a user goes
    to every page; an administrator's page asks GET /api/v1/scrub for the rest."""
    publish("scrub_finished", {"pass_id": pass_id})
