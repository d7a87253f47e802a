import datetime as dt

import pytest

from services.gateway.idempotency import STALE_CLAIM, IdempotencyStore, body_fingerprint
from services.shared.errors import Conflict

KEY = IdempotencyStore.scope("usr_1", "POST", "/api/v1/redemptions", "k-1")
BODY = body_fingerprint({"reward_id": "rwd_1", "quantity": 1})


@pytest.fixture
def store(db):
    return IdempotencyStore(db)


def conflict_code(store, fingerprint):
    with pytest.raises(Conflict) as caught:
        store.claim(KEY, fingerprint)
    return caught.value.code


def age_claim(store, by):
    stored = store.requests.find_one({"_id": KEY})
    stored["claimed_at"] -= by
    store.requests.replace_one({"_id": KEY}, stored)


def test_first_claim_runs_the_request(store):
    assert store.claim(KEY, BODY) is None
    assert store.requests.find_one({"_id": KEY})["state"] == "running"


def test_completed_request_is_replayed(store):
    store.claim(KEY, BODY)
    store.complete(KEY, BODY, 201, {"id": "rdm_1", "points": 30, "名": "爱心"})
    assert store.claim(KEY, BODY) == (201, {"id": "rdm_1", "points": 30, "名": "爱心"})
    assert store.claim(KEY, BODY) == (201, {"id": "rdm_1", "points": 30, "名": "爱心"})


@pytest.mark.parametrize("complete_first", [False, True])
def test_same_key_other_body_conflicts(store, complete_first):
    store.claim(KEY, BODY)
    if complete_first:
        store.complete(KEY, BODY, 201, {"id": "rdm_1"})
    other = body_fingerprint({"reward_id": "rwd_1", "quantity": 2})
    assert conflict_code(store, other) == "idempotency_key_reused"


def test_a_running_claim_is_in_progress(store):
    store.claim(KEY, BODY)
    age_claim(store, STALE_CLAIM - dt.timedelta(seconds=5))
    assert conflict_code(store, BODY) == "request_in_progress"


def test_a_stale_claim_is_taken_over(store):
    store.claim(KEY, BODY)
    age_claim(store, STALE_CLAIM + dt.timedelta(seconds=1))
    assert store.claim(KEY, BODY) is None


def test_released_key_runs_again(store):
    store.claim(KEY, BODY)
    store.release(KEY)
    assert store.requests.find_one({"_id": KEY}) is None
    assert store.claim(KEY, BODY) is None


def test_fingerprint_ignores_key_order_only():
    assert body_fingerprint({"a": 1, "b": 2}) == body_fingerprint({"b": 2, "a": 1})
    assert body_fingerprint({"a": 1}) != body_fingerprint({"a": "1"})


def test_scope_differs_by_user_method_path_and_key():
    base = ("usr_1", "POST", "/api/v1/redemptions", "k-1")
    scopes = {IdempotencyStore.scope(*base)}
    for i, other in enumerate(["usr_2", "PUT", "/api/v1/transfers", "k-2"]):
        changed = list(base)
        changed[i] = other
        scopes.add(IdempotencyStore.scope(*changed))
    assert len(scopes) == 5
    assert IdempotencyStore.scope(*base) == KEY
    assert IdempotencyStore.scope(None, "POST", "/p", "k") != IdempotencyStore.scope(
        "usr_1", "POST", "/p", "k")
