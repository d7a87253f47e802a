"""The login throttle and token generations on the real store, under concurrent writers: counts
rest on unique inserts only, so racing failures lose none and lock once, and racing guesses get
no more password checks than the budget (issue 5, items 12, 14)."""
from types import SimpleNamespace
from unittest.mock import MagicMock

import eventlet
import pytest
from eventlet import tpool
from nameko.testing.services import worker_factory

from services.gateway.auth import Sessions
from services.shared.clock import now
from services.shared.errors import TooManyAttempts, Unauthenticated
from services.shared.sequence import last_number
from services.volunteer import domain
from services.volunteer import service as volunteer_service
from services.volunteer.service import VolunteerService
from services.volunteer.storage import VolunteerStore
from services.volunteer.throttle import Budget, Throttle


def test_racing_failures_are_all_counted_and_lock_once(store):
    attempts = store("volunteer").login_attempts
    throttle = Throttle(attempts)
    budget = Budget(limit=5, window_seconds=900, lock_seconds=900)
    at = now()
    window = int(at.timestamp()) // budget.window_seconds
    pool = eventlet.GreenPool(12)
    for _ in range(12):
        pool.spawn(throttle.record_failure, "account:racer", budget, 0, window, at)
    pool.waitall()
    window = [doc["_id"] for doc in attempts.find({}) if doc["_id"].startswith("fail:")]
    assert sorted(int(doc_id.rsplit(":", 1)[1]) for doc_id in window) == list(range(1, 13))
    assert last_number(attempts, "lock:account:racer") == 1


def test_racing_wrong_passwords_get_at_most_the_budget_of_checks(store, monkeypatch):
    """40 wrong passwords at once, each held at its bcrypt check until every attempt has either
    reached its check or been refused: the race that let 11 of 40 through the lock on the
    running stack, forced. Only the budget's places reach bcrypt; the rest are 429 unchecked."""
    attempts, budget = 40, 5
    volunteer = VolunteerStore(store("volunteer"))
    volunteer.ensure_indexes()
    volunteer.users.insert_one({"_id": "li", "role": "admin", "created_at": now(),
                                "password_hash": domain.hash_password("li-pass-123", 4)})
    service = worker_factory(VolunteerService, store=volunteer, outbox=MagicMock(),
                             config={"BCRYPT_ROUNDS": 4, "LOGIN_FAILURES_PER_ACCOUNT": budget})
    checked, refused, all_in = [], [], eventlet.Event()

    def settled():
        if len(checked) + len(refused) == attempts and not all_in.ready():
            all_in.send()

    def held_check(function, *args):
        checked.append(args[0])
        settled()
        all_in.wait()
        return tpool.execute(function, *args)
    monkeypatch.setattr(volunteer_service, "tpool", SimpleNamespace(execute=held_check))

    def attempt(_):
        try:
            service.authenticate("li", "wrong-password", "10.0.0.2")
        except Unauthenticated as error:
            return error.status
        except TooManyAttempts as error:
            refused.append(error)
            settled()
            return error.status

    with eventlet.Timeout(30):
        statuses = list(eventlet.GreenPool(attempts).imap(attempt, range(attempts)))
    assert len(checked) == statuses.count(401) == budget
    assert statuses.count(429) == attempts - budget
    assert last_number(volunteer.login_attempts, "lock:account:li") == 1
    with pytest.raises(TooManyAttempts):
        service.authenticate("li", "li-pass-123", "10.0.0.3")


def test_racing_token_endings_each_take_a_generation(store):
    sessions = Sessions(store("gateway"))
    pool = eventlet.GreenPool(8)
    generations = list(pool.imap(lambda _: sessions.end_all("li", "password_changed"), range(8)))
    assert sorted(generations) == list(range(1, 9))
    assert sessions.generation("li") == 8
    assert sessions.ended("any-jti", "li", 7) and not sessions.ended("any-jti", "li", 8)
