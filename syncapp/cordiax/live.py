"""Live events of Cordiax on /events, to the device owner's sessions: clients connecting and
leaving, snapshots stored or refused, and share pollers' results."""

from __future__ import annotations

import logging
from typing import Any

from ..events import publish
from .models import CordiaxPoller

log = logging.getLogger(__name__)


def connected(user_id: int, device: str) -> None:
    publish("cordiax_connected", {"device": device}, user_id=user_id)


def disconnected(user_id: int, device: str) -> None:
    publish("cordiax_disconnected", {"device": device}, user_id=user_id)


def snapshot_stored(user_id: int, device: str, ack: dict[str, Any]) -> None:
    """A push was stored (or was identical to a stored version): the ack the client got."""
    publish("cordiax_snapshot", {"device": device, **ack}, user_id=user_id)


def push_failed(user_id: int, device: str, code: str, message: str) -> None:
    """A push was not stored: the sync_error code and message the client got."""
    publish("cordiax_error", {"device": device, "error": code, "message": message}, user_id=user_id)


def poll_result(poller: CordiaxPoller, version: str | None) -> None:
    """A share poller's poll, whatever its result; never fails the poll."""
    payload = {
        "poller_id": poller.id,
        "name": poller.name,
        "device": poller.device,
        "result": poller.last_result,
        "error": poller.last_error,
        "version": version,
    }
    try:
        publish("cordiax_poll", payload, user_id=poller.user_id)
    except Exception:  # the live log is a convenience: a broken queue must not fail the poll
        log.warning("could not publish the result of poller %s", poller.id, exc_info=True)
