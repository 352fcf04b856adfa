"""API tokens bound to scopes (syncapp/tenancy.py), made as the token routes will make them."""

from __future__ import annotations

from syncapp.auth.accounts import find_user
from syncapp.extensions import db
from syncapp.security import issue_token
from syncapp.tenancy import parse_scopes


def scoped_token(app, email: str, scopes: list[str], name: str = "scoped") -> str:
    with app.app_context():
        token, raw = issue_token(find_user(email), name)
        token.scopes = parse_scopes(scopes)
        db.session.commit()
        return raw
