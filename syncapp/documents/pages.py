"""The Documents page (`web.documents_page`); its NAS settings page is `web/settings.py`'s."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from ..extensions import db
from ..scrub import results as scrub_results
from ..web.blueprint import bp
from .models import DOCUMENT_TYPES
from .wiring import document_store, nas_sync

#: the page's filter of the NAS sync state: `?sync=` → the API's `synced`
SYNC_STATES = {"synced": True, "pending": False}
TYPE_LABELS = {"receipt": "Receipt", "invoice": "Invoice", "payslip": "Payslip", "other": "Other"}


def _filters() -> dict:
    """`?type=` and `?sync=` as the page shows them; an unknown value is ignored, and said."""
    kind, sync = request.args.get("type") or None, request.args.get("sync") or None
    error = None
    if kind is not None and kind not in DOCUMENT_TYPES:
        error, kind = f"Unknown document type {kind!r}: showing every type.", None
    if sync is not None and sync not in SYNC_STATES:
        error, sync = f"Unknown sync state {sync!r}: showing every state.", None
    return {"type": kind, "sync": sync, "error": error}


@bp.route("/documents")
def documents_page():
    """The user's documents (every user's for admins), upload form and the NAS sync panel;
    `?type=` and `?sync=synced|pending` filter the list on the server."""
    store = document_store()
    owner = None if current_user.is_admin else current_user.id
    filters = _filters()
    documents, total = store.search(
        owner_id=owner,
        kind=filters["type"],
        synced=SYNC_STATES.get(filters["sync"] or ""),
        per_page=200,
    )
    with nas_sync() as service:
        nas = service.config()
        status = service.status(owner)
    damaged = scrub_results.damaged(db.session, "document", owner)
    return render_template(
        "documents/index.html",
        documents=documents,
        total=total,
        nas=nas,
        status=status,
        damaged=damaged,
        filters=filters,
        type_labels=[(t, TYPE_LABELS.get(t, t.title())) for t in DOCUMENT_TYPES],
    )
