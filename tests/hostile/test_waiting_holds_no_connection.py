"""A request that waits for its turn holds no pooled connection (issue 18).

bench/load.py ran the pool dry: uploads queued on the backup store's commit lock each held a
connection, while the upload holding the lock (which ends its transaction before it reaches the
store) needed one again to finish; everyone then waited out pool_timeout (503). The pool is held
at one connection here; while an upload waits for the lock, another request still gets it."""

from __future__ import annotations

import io
import threading

from syncapp.backups import store as backup_store
from tests.backups.helpers import make_archive
from tests.conftest import bearer, make_token, make_user

ONE_CONNECTION = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 2}


class ObservedLock:
    """The commit lock, telling the test when an upload has started waiting for it."""

    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock
        self.waiting = threading.Event()

    def __enter__(self) -> None:
        self.waiting.set()
        self.lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def test_an_upload_waiting_for_the_commit_lock_holds_no_connection(make_app, monkeypatch):
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS=ONE_CONNECTION)
    make_user(app, "root@example.com", role="admin")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = bearer(make_token(app, "root@example.com"))[
        "Authorization"
    ]
    lock = ObservedLock(threading.Lock())
    monkeypatch.setattr(backup_store, "_commit_lock", lock)
    answers: list = []

    def upload() -> None:
        answers.append(
            client.post(
                "/upload",
                data={"file": (io.BytesIO(make_archive(7)), "full_7.tar.gz"), "type": "FULL"},
                content_type="multipart/form-data",
            )
        )

    lock.lock.acquire()  # another upload is committing
    try:
        uploader = threading.Thread(target=upload, daemon=True)
        uploader.start()
        assert lock.waiting.wait(30)  # the upload now waits for the lock
        listed = client.get("/api/v1/documents")
        assert listed.status_code == 200, listed.get_json()
    finally:
        lock.lock.release()
    uploader.join(30)
    assert answers and answers[0].status_code == 201, answers and answers[0].get_json()
