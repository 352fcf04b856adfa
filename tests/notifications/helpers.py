"""Writing what the alerts evaluator writes (an Alert and its AlertTransition rows), and calling
the notifications API, for the notification tests."""

from __future__ import annotations

import uuid
from datetime import datetime

from syncapp.alerts.models import Alert, AlertTransition
from syncapp.extensions import db
from syncapp.timeutil import utcnow
from tests.conftest import bearer
from tests.secret_scan import register_secret

#: a webhook secret and an SMTP password the logs must never show (tests/secret_scan.py)
WEBHOOK_SECRET = "whsec-7c1e0b5d9a4f4e2b8f3a"
MAIL_PASSWORD = "mail-pass-0d9e8c7b"
register_secret(WEBHOOK_SECRET)
register_secret(MAIL_PASSWORD)


def transition(
    app,
    owner_id: int | None,
    state: str = "firing",
    *,
    alert_id: int | None = None,
    title: str = "Backup profile web01: no FULL for 8 days",
    at: datetime | None = None,
) -> tuple[int, int]:
    """(alert id, transition id): the alert moved to `state` (created when alert_id is None)."""
    with app.app_context():
        alert = db.session.get(Alert, alert_id) if alert_id else None
        if alert is None:
            alert = Alert(
                key=f"backup_rhythm:{uuid.uuid4().hex}",
                kind="backup_rhythm",
                owner_id=owner_id,
                title=title,
                detail="The last FULL archive is from 8 days ago; the rhythm asks for 7.",
                link="/backups?profile=web01",
            )
            db.session.add(alert)
            db.session.flush()
        moment = at or utcnow()
        alert.state = state
        alert.changed_at = moment
        row = AlertTransition(
            alert_id=alert.id,
            owner_id=owner_id,
            state=state,
            title=alert.title,
            detail=alert.detail,
            link=alert.link,
            at=moment,
        )
        db.session.add(row)
        db.session.commit()
        return alert.id, row.id


def add_target(client, token: str, **body):
    return client.post("/api/v1/notifications/targets", headers=bearer(token), json=body)


def target_id(client, token: str, **body) -> int:
    response = add_target(client, token, **body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]
