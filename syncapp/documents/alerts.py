"""The documents' watched condition (syncapp/alerts/registry.py gathers it): the NAS the
documents are copied to is configured but not there: a mount path that is not mounted (an
unmount leaves the local disk's empty folder: storage/mounts.py), or a stored remote that does not
answer. Store-wide: administrators see it."""

from __future__ import annotations

from collections.abc import Iterator

from ..alerts.conditions import Condition, Context, Finding
from .nas import NoTarget
from .wiring import nas_options, nas_target

KIND = "nas_unmounted"


def find_missing_nas(ctx: Context) -> Iterator[Finding]:
    if not ctx.options.nas_unmounted:
        return
    target = nas_target(nas_options())
    if isinstance(target, NoTarget):
        return
    try:
        target.prepare()  # a stored remote's settings come from the database: read them first
        ctx.end_reads()  # then reach the NAS holding no database connection (issue 18)
        state = target.check()
    finally:
        target.close()
    if state.message is None:
        return
    yield Finding(
        key=f"{KIND}:documents",
        owner_id=None,
        title="The documents' NAS is not mounted"
        if state.path_exists
        else "The documents' NAS is not reachable",
        detail=state.message,
        link="/settings/nas",
    )


CONDITIONS = [Condition(KIND, find_missing_nas)]
