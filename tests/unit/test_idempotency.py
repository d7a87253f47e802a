"""The gateway's Idempotency-Key records: one run at a time, one outcome, takeovers by one insert."""
import datetime as dt

import pytest

from services.gateway.idempotency import STALE_CLAIM, Attempt, IdempotencyStore, Outcome, \
    body_fingerprint, caller_scope, claim_lifetime
from services.shared.config import gateway_rpc_timeout, rpc_timeout
from services.shared.errors import Conflict
from services.shared.inflight import RECOVERY_INTERVAL_SECONDS, STALLED_AFTER
from tests.unit.fakes import FakeCollection, FakeDatabase
from tests.unit.test_gateway_outages import clock  # noqa: F401 - a fixture

KEY = IdempotencyStore.scope("usr_1", "POST", "/api/v1/redemptions", "k-1")
BODY = body_fingerprint({"reward_id": "rwd_1", "quantity": 1})


class CutInCollection(FakeCollection):
    """Runs ``cut_in`` once, just before the first write that follows a read: another request
    that read the same state as this one writes first (the race of two retries)."""

    def __init__(self):
        super().__init__()
        self.cut_in = None
        self.has_read = False

    def find_one(self, query=None, projection=None):
        self.has_read = True
        return super().find_one(query, projection)

    def _before_write(self):
        if self.cut_in is not None and self.has_read:
            cut_in, self.cut_in = self.cut_in, None
            cut_in()

    def insert_one(self, doc):
        self._before_write()
        return super().insert_one(doc)

    def replace_one(self, query, replacement, upsert=False):
        self._before_write()
        return super().replace_one(query, replacement, upsert)

    def delete_one(self, query):
        self._before_write()
        return super().delete_one(query)


@pytest.fixture
def requests():
    return CutInCollection()


@pytest.fixture
def store(requests, clock):
    return IdempotencyStore(FakeDatabase(idempotent_requests=requests))


def runs(claimed):
    return isinstance(claimed, Attempt)


def conflict_code(store, fingerprint=BODY):
    with pytest.raises(Conflict) as caught:
        store.claim(KEY, fingerprint)
    return caught.value.code


def test_first_claim_runs_the_request_under_its_key(store):
    attempt = store.claim(KEY, BODY)
    assert runs(attempt) and attempt.request_key == KEY and attempt.number == 0


def test_completed_request_is_replayed(store):
    attempt = store.claim(KEY, BODY)
    assert store.complete(attempt, 201, {"id": "rdm_1", "名": "爱心"}) == Outcome(
        201, {"id": "rdm_1", "名": "爱心"}, replayed=False)
    for _ in range(2):
        assert store.claim(KEY, BODY) == Outcome(201, {"id": "rdm_1", "名": "爱心"})


@pytest.mark.parametrize("complete_first", [False, True])
def test_same_key_other_body_conflicts(store, complete_first):
    attempt = store.claim(KEY, BODY)
    if complete_first:
        store.complete(attempt, 201, {"id": "rdm_1"})
    assert conflict_code(store, body_fingerprint({"reward_id": "rwd_1", "quantity": 2})) == \
        "idempotency_key_reused"


def test_a_running_claim_is_in_progress_with_retry_after(store, clock):
    store.claim(KEY, BODY)
    clock.advance(STALE_CLAIM - dt.timedelta(seconds=5))
    with pytest.raises(Conflict) as caught:
        store.claim(KEY, BODY)
    assert caught.value.code == "request_in_progress"
    assert caught.value.retry_after == 1  # poll: most runs end within a second


def test_a_stale_claim_is_taken_over_under_the_same_key(store, clock):
    store.claim(KEY, BODY)
    clock.advance(STALE_CLAIM)
    retry = store.claim(KEY, BODY)
    assert runs(retry) and retry.request_key == KEY and retry.number == 1


def test_two_retries_racing_for_a_stale_claim_run_once(store, requests, clock):
    """Both read the stale claim; the one whose insert lands runs, the other is in progress."""
    store.claim(KEY, BODY)
    clock.advance(STALE_CLAIM)
    competitor = []
    requests.has_read = False
    requests.cut_in = lambda: competitor.append(store.claim(KEY, BODY))
    try:
        mine = store.claim(KEY, BODY)
    except Conflict as exc:
        mine = exc.code
    assert runs(competitor[0])
    assert mine == "request_in_progress"


def test_an_outcome_is_written_once_and_a_late_writer_gets_it(store, clock):
    original = store.claim(KEY, BODY)
    clock.advance(STALE_CLAIM)
    retry = store.claim(KEY, BODY)
    assert store.complete(retry, 201, {"id": "rdm_1", "status": "confirmed"}).replayed is False
    late = store.complete(original, 409, {"error": {"code": "insufficient_points"}})
    assert late == Outcome(201, {"id": "rdm_1", "status": "confirmed"})
    assert store.claim(KEY, BODY) == Outcome(201, {"id": "rdm_1", "status": "confirmed"})


def test_a_late_failure_of_the_original_leaves_the_new_owner_running(store, clock):
    original = store.claim(KEY, BODY)
    clock.advance(STALE_CLAIM)
    store.claim(KEY, BODY)
    store.ended_without_outcome(original)
    assert conflict_code(store) == "request_in_progress"


def test_an_attempt_that_ended_without_outcome_may_be_retried_at_once(store):
    original = store.claim(KEY, BODY)
    store.ended_without_outcome(original)
    retry = store.claim(KEY, BODY)
    assert runs(retry) and retry.number == 1
    assert conflict_code(store) == "request_in_progress"


def test_nothing_is_ever_updated_or_deleted(store, requests, clock):
    """Every decision is an insert: no read-modify-write for FerretDB to lose."""
    writes = []
    for name in ("replace_one", "update_one", "delete_one"):
        setattr(requests, name, lambda *a, _name=name, **k: writes.append(_name))
    original = store.claim(KEY, BODY)
    store.ended_without_outcome(original)
    retry = store.claim(KEY, BODY)
    clock.advance(STALE_CLAIM)
    store.complete(store.claim(KEY, BODY), 201, {"id": "x"})
    store.complete(retry, 201, {"id": "y"})
    assert writes == []
    assert all("_id" in d for d in requests.docs.values())


def test_records_are_looked_up_by_id_only(store, requests):
    queries = []
    real_find_one = requests.find_one
    requests.find_one = lambda query=None, projection=None: (
        queries.append(query) or real_find_one(query, projection))
    requests.find = lambda *a, **k: pytest.fail("a scan: FerretDB pushes nothing down")
    store.ended_without_outcome(store.claim(KEY, BODY))
    store.complete(store.claim(KEY, BODY), 201, {"id": "x"})
    store.claim(KEY, BODY)
    assert queries and all(set(q) == {"_id"} and isinstance(q["_id"], str) for q in queries)


def test_claims_outlive_every_run_and_fit_the_recovery_timers():
    """The numbers of services/gateway/idempotency.py's comment, from the shipped defaults."""
    config = {}
    downstream, gateway = rpc_timeout(config), gateway_rpc_timeout(config)
    assert gateway > downstream  # the gateway does not give up before the work it waits for
    # a queued request expires after `gateway`, a started handler ends within `gateway`
    assert claim_lifetime(gateway) >= dt.timedelta(seconds=2 * gateway)
    assert STALE_CLAIM == claim_lifetime(gateway)
    # a retry takes over no later than the recovery timer would resume the same work
    assert STALE_CLAIM <= STALLED_AFTER
    assert RECOVERY_INTERVAL_SECONDS < STALLED_AFTER.total_seconds()


def test_a_gateway_deadline_not_above_the_services_is_refused():
    with pytest.raises(ValueError):
        gateway_rpc_timeout({"RPC_TIMEOUT_SECONDS": 10, "GATEWAY_RPC_TIMEOUT_SECONDS": 10})
    assert gateway_rpc_timeout({"RPC_TIMEOUT_SECONDS": 1, "GATEWAY_RPC_TIMEOUT_SECONDS": ""}) == 3


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


def test_anonymous_callers_are_scoped_by_the_username_they_register():
    signed_in = caller_scope({"user_id": "wang"}, {"username": "wang"})
    wang = caller_scope(None, {"username": "wang", "password": "one"})
    assert wang == caller_scope(None, {"username": "wang", "password": "other"})
    assert len({signed_in, wang, caller_scope(None, {"username": "li"})}) == 3
