"""Short-lived download links that point back at syncapp, for clouds with no anonymous URLs.

Google Drive cannot hand out a link that works without the user's OAuth token, so syncapp hands
out its own: `/api/v1/files/<id>/download?token=...`, where the token, signed with the app's
secret, names who asked, which file, which version, which cloud and when. It is the only
credential the URL needs, like an S3 presigned URL; the route streams the copy from the cloud.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from ..failures import Forbidden

SALT = "syncapp.cloud.download-link"


@dataclass(frozen=True)
class Grant:
    user_id: int
    file_id: int
    version: int
    target: str


def _signer_at(issued_at: float) -> type[TimestampSigner]:
    class FixedClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(issued_at)

    return FixedClockSigner


def _serializer(issued_at: float | None = None) -> URLSafeTimedSerializer:
    signer = _signer_at(issued_at) if issued_at is not None else None
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT, signer=signer)


def sign(grant: Grant, *, issued_at: float | None = None) -> str:
    """The token for `grant`; `issued_at` (a Unix time) back-dates it, for tests of expiry."""
    payload = {"u": grant.user_id, "f": grant.file_id, "v": grant.version, "t": grant.target}
    return _serializer(issued_at).dumps(payload)


def verify(token: str, max_age: int) -> Grant:
    """The grant a token carries; 403 when it was altered, made with another key, or is older
    than `max_age` seconds."""
    try:
        payload = _serializer().loads(token, max_age=max_age)
        return Grant(int(payload["u"]), int(payload["f"]), int(payload["v"]), str(payload["t"]))
    except SignatureExpired:
        raise Forbidden(
            "This download link has expired: ask for a new one.", code="link_expired"
        ) from None
    except (BadSignature, KeyError, TypeError, ValueError):
        raise Forbidden("This download link is not valid.", code="link_invalid") from None
