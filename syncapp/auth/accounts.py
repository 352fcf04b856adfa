"""Creating and authenticating users: shared by the API, the login page and the CLI."""

from __future__ import annotations

from sqlalchemy import func, select

from ..extensions import db
from ..failures import Conflict
from .models import User

# Checked against a real hash when the email is unknown, so timing does not reveal which
# addresses have accounts.
_DUMMY = User(password_hash="scrypt:32768:8:1$8Kq3yQ2hGQ0wqK4l$" + "0" * 128)


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def create_user(email: str, password: str, *, role: str = "user", full_name: str = "") -> User:
    if find_user(email) is not None:
        raise Conflict(f"A user with the email {email} already exists.", code="user_exists")
    user = User(email=email.strip().lower(), full_name=full_name, role=role)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    user = find_user(email)
    if user is None:
        _DUMMY.check_password(password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    return user


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User)) or 0
