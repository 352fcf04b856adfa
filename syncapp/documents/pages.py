"""The Documents page (`web.documents_page`); its NAS settings page is `web/settings.py`'s."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ..extensions import db
from ..scrub import results as scrub_results
from ..web.blueprint import bp
from ..web.listing import Listing
from .models import Document
from .wiring import document_store, nas_sync

#: the columns the table sorts by (?sort=)
SORTS = {
    "date": Document.document_date,
    "type": Document.type,
    "file": Document.filename,
    "size": Document.size,
    "nas": Document.synced_to_nas,
}


@bp.route("/documents")
def documents_page():
    """The user's documents (every user's for admins), upload form and the NAS sync panel."""
    store = document_store()
    owner = None if current_user.is_admin else current_user.id
    listing = Listing.read(SORTS, "date", descending=True)
    documents, total = store.search(
        owner_id=owner,
        page=listing.page,
        per_page=listing.per_page,
        order=listing.order_by(SORTS, Document.id.desc()),
    )
    with nas_sync() as service:
        nas = service.config()
        status = service.status(owner)
    damaged = scrub_results.damaged(db.session, "document", owner)
    return render_template(
        "documents/index.html",
        documents=listing.of(documents, total),
        total=total,
        nas=nas,
        status=status,
        damaged=damaged,
    )
