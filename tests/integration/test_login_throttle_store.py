"""The login throttle and token generations on the real store, under concurrent writers: counts
rest on unique inserts only, so racing failures lose none and lock once (issue 5, items 12, 14)."""
import eventlet

from services.gateway.auth import Sessions
from services.shared.sequence import last_number
from services.volunteer.throttle import Budget, Throttle


def test_racing_failures_are_all_counted_and_lock_once(store):
    attempts = store("volunteer").login_attempts
    throttle = Throttle(attempts)
    budget = Budget(limit=5, window_seconds=900, lock_seconds=900)
    pool = eventlet.GreenPool(12)
    for _ in range(12):
        pool.spawn(throttle.record_failure, "account:racer", budget)
    pool.waitall()
    window = [doc["_id"] for doc in attempts.find({}) if doc["_id"].startswith("fail:")]
    assert sorted(int(doc_id.rsplit(":", 1)[1]) for doc_id in window) == list(range(1, 13))
    assert last_number(attempts, "lock:account:racer") == 1


def test_racing_token_endings_each_take_a_generation(store):
    sessions = Sessions(store("gateway"))
    pool = eventlet.GreenPool(8)
    generations = list(pool.imap(lambda _: sessions.end_all("li", "password_changed"), range(8)))
    assert sorted(generations) == list(range(1, 9))
    assert sessions.generation("li") == 8
    assert sessions.ended("any-jti", "li", 7) and not sessions.ended("any-jti", "li", 8)
