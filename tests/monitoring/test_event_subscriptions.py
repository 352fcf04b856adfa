"""events.subscribe(): who receives what publish() sends, and a slow listener never blocks it."""

from __future__ import annotations

import pytest

from syncapp.events import SUBSCRIBER_BACKLOG, Subscription, publish, subscribe, unsubscribe


@pytest.fixture
def listeners(app):
    made: list[Subscription] = []

    def listen(user_id: int, is_admin: bool = False) -> Subscription:
        made.append(subscribe(user_id, is_admin))
        return made[-1]

    with app.app_context():
        yield listen
    for subscription in made:
        unsubscribe(subscription)


def _drain(subscription: Subscription) -> list[str]:
    names = []
    while (body := subscription.get(timeout=0)) is not None:
        names.append(body["event"])
    return names


def test_events_reach_their_user_admins_when_asked_and_everyone_when_broadcast(listeners):
    ana, bob, admin = listeners(1), listeners(2), listeners(3, is_admin=True)
    publish("for_ana", {"n": 1}, user_id=1)
    publish("for_ana_and_admins", {"n": 2}, user_id=1, admins=True)
    publish("for_everyone", {"n": 3})
    assert _drain(ana) == ["for_ana", "for_ana_and_admins", "for_everyone"]
    assert _drain(bob) == ["for_everyone"]
    assert _drain(admin) == ["for_ana_and_admins", "for_everyone"]


def test_a_body_carries_event_time_and_payload(listeners):
    ana = listeners(1)
    publish("run_started", {"job_id": 4, "run_id": 9}, user_id=1)
    body = ana.get(timeout=0)
    assert body["event"] == "run_started" and body["time"].endswith("Z")
    assert (body["job_id"], body["run_id"]) == (4, 9)


def test_a_lagging_listener_loses_its_oldest_events(listeners):
    slow = listeners(1)
    for number in range(SUBSCRIBER_BACKLOG + 5):
        publish("tick", {"n": number}, user_id=1)  # returns at once although nobody reads
    assert slow.take_dropped() == 5
    assert slow.take_dropped() == 0
    assert slow.get(timeout=0)["n"] == 5


def test_an_unsubscribed_listener_receives_nothing(listeners):
    gone = listeners(1)
    unsubscribe(gone)
    publish("late", {}, user_id=1)
    assert gone.get(timeout=0) is None
