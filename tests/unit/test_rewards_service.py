"""RewardsService.redeem with worker_factory: a real RewardsStore on the in-memory store and a
mocked points service."""
import datetime as dt
from unittest.mock import MagicMock

import pytest
from nameko.testing.services import worker_factory

from services.rewards.service import RewardsService
from services.rewards.storage import RewardsStore
from services.shared import contracts
from services.shared.contracts import load
from services.shared.errors import Conflict, InsufficientPoints, OutOfStock, ServiceUnavailable

VOLUNTEER = {"user_id": "usr_li", "role": "volunteer", "subject_id": "vol_1"}
INITIAL_STOCK = 5


@pytest.fixture
def store(db):
    store = RewardsStore(db)
    store.ensure_indexes()
    store.rewards.insert_one({
        "_id": "rwd_1", "kind": "gift", "title": "Rice, 5 kg", "description": None,
        "cost_points": 30, "community_id": "com_1", "center_id": "ctr_1", "merchant_id": None,
        "tracks_stock": True, "created_by": "usr_staff"})
    store.stock.append("rwd_1", INITIAL_STOCK, key="rwd_1:initial")
    return store


@pytest.fixture
def service(store):
    return worker_factory(RewardsService, store=store, points=MagicMock())


def redeem(service, quantity=2, request_key="idk_1"):
    body = {"reward_id": "rwd_1", "volunteer_id": "vol_1", "quantity": quantity}
    return service.redeem(VOLUNTEER, body, request_key=request_key)


def test_success_takes_stock_and_debits_once(service, store):
    out = redeem(service)
    assert out["status"] == "confirmed" and out["points"] == 60
    assert len(out["pickup_code"]) == 6
    assert store.stock.total("rwd_1") == INITIAL_STOCK - 2
    service.points.debit.assert_called_once()
    (sent,), _ = service.points.debit.call_args
    assert sent["key"] == f"redemption:{out['id']}"
    assert (sent["account"], sent["points"]) == ("vol_1", 60)
    load(contracts.PointsMovementSchema(), sent)  # the points service will accept it


def test_refused_debit_gives_the_stock_back(service, store):
    service.points.debit.side_effect = InsufficientPoints("balance 10 does not cover 60 points")
    with pytest.raises(InsufficientPoints):
        redeem(service)
    assert store.stock.total("rwd_1") == INITIAL_STOCK
    assert store.stock.verify("rwd_1")
    (rid,) = list(store.redemptions.docs)
    failed = store.redemption(rid)
    assert (failed["status"], failed["failure"]) == ("failed", "insufficient_points")


def test_out_of_stock_never_debits(service, store):
    with pytest.raises(OutOfStock):
        redeem(service, quantity=INITIAL_STOCK + 1)
    service.points.debit.assert_not_called()
    assert store.stock.total("rwd_1") == INITIAL_STOCK


def test_retried_request_returns_the_same_redemption(service, store):
    first = redeem(service)
    again = redeem(service)
    assert again["id"] == first["id"]
    assert again["pickup_code"] == first["pickup_code"]
    service.points.debit.assert_called_once()
    assert store.stock.total("rwd_1") == INITIAL_STOCK - 2


def test_retried_failure_fails_the_same_way_without_new_calls(service, store):
    service.points.debit.side_effect = InsufficientPoints("no")
    for _ in range(2):
        with pytest.raises(InsufficientPoints):
            redeem(service)
    service.points.debit.assert_called_once()
    assert store.stock.total("rwd_1") == INITIAL_STOCK


@pytest.mark.parametrize("quantity", [2, INITIAL_STOCK])
def test_a_saga_left_pending_resumes_without_taking_stock_twice(service, store, quantity):
    service.points.debit.side_effect = ConnectionError("points unreachable")
    with pytest.raises(ConnectionError):
        redeem(service, quantity)
    assert store.stock.total("rwd_1") == INITIAL_STOCK - quantity  # held for the retry
    service.points.debit.side_effect = None
    out = redeem(service, quantity)
    assert out["status"] == "confirmed"
    assert store.stock.total("rwd_1") == INITIAL_STOCK - quantity
    keys = {call.args[0]["key"] for call in service.points.debit.call_args_list}
    assert keys == {f"redemption:{out['id']}"}


def test_the_recovery_timer_finishes_a_saga_stalled_by_an_unreachable_points_service(
        service, store):
    service.points.debit.side_effect = ServiceUnavailable("points did not answer")
    with pytest.raises(ServiceUnavailable):
        redeem(service, quantity=1, request_key="idk_stalled")
    [marker] = store.pending.collection.find({})
    assert store.redemption(marker["_id"])["status"] == "pending"
    assert store.stock.total("rwd_1") == INITIAL_STOCK - 1  # held while the saga is open

    service.resume_stalled_redemptions()  # too recent: left alone
    assert store.redemption(marker["_id"])["status"] == "pending"

    store.pending.collection.replace_one({"_id": marker["_id"]},
                              {"since": marker["since"] - dt.timedelta(minutes=5)})
    service.points.debit.side_effect = None
    service.resume_stalled_redemptions()
    assert store.redemption(marker["_id"])["status"] == "confirmed"
    assert store.stock.total("rwd_1") == INITIAL_STOCK - 1  # taken once, not twice
    keys = {call.args[0]["key"] for call in service.points.debit.call_args_list}
    assert keys == {f"redemption:{marker['_id']}"}
    assert list(store.pending.collection.find({})) == []


def test_recovery_gives_the_stock_back_when_the_debit_is_refused(service, store):
    service.points.debit.side_effect = ServiceUnavailable("points did not answer")
    with pytest.raises(ServiceUnavailable):
        redeem(service, quantity=2, request_key="idk_refused")
    [marker] = store.pending.collection.find({})
    store.pending.collection.replace_one({"_id": marker["_id"]},
                              {"since": marker["since"] - dt.timedelta(minutes=5)})
    service.points.debit.side_effect = InsufficientPoints("balance 0")
    service.resume_stalled_redemptions()
    assert store.redemption(marker["_id"])["status"] == "failed"
    assert store.stock.total("rwd_1") == INITIAL_STOCK
    assert list(store.pending.collection.find({})) == []


def test_a_crash_between_marking_and_storing_a_redemption_is_cleared_by_recovery(
        service, store, monkeypatch):
    """The marker is written first; if the request dies before its redemption exists, recovery
    decides (by inserting a tombstone under the redemption's id) that it never will."""
    def die(doc):
        raise ConnectionError("killed before the redemption was stored")
    monkeypatch.setattr(store.redemptions, "insert_one", die)
    with pytest.raises(ConnectionError):
        redeem(service, request_key="idk_dead")
    monkeypatch.undo()
    [marker] = store.pending.collection.find({})
    store.pending.collection.replace_one({"_id": marker["_id"]},
                                         {"since": marker["since"] - dt.timedelta(minutes=5)})
    service.resume_stalled_redemptions()
    assert list(store.pending.collection.find({})) == []
    assert store.redemption(marker["_id"]) is None
    assert store.stock.total("rwd_1") == INITIAL_STOCK
    service.points.debit.assert_not_called()
    with pytest.raises(Conflict) as late:  # the same request again cannot revive it
        redeem(service, request_key="idk_dead")
    assert late.value.code == "request_abandoned"


def test_a_retry_with_another_body_is_refused_not_run_on_the_stored_redemption(service, store):
    first = redeem(service, quantity=1, request_key="idk_same")
    with pytest.raises(Conflict) as reused:
        redeem(service, quantity=2, request_key="idk_same")
    assert reused.value.code == "idempotency_key_reused"
    assert "quantity" in reused.value.fields
    assert store.stock.total("rwd_1") == INITIAL_STOCK - 1
    assert store.redemption(first["id"])["quantity"] == 1


def test_redemptions_finished_before_outcomes_were_documents_keep_their_status(db):
    store = RewardsStore(db)
    db.redemptions.insert_one({
        "_id": "rdm_old", "reward_id": "rwd_1", "volunteer_id": "vol_1", "quantity": 1,
        "points": 30, "status": "confirmed", "failure": None, "by": "usr_li",
        "pickup_code": "123456"})
    store.ensure_indexes()
    assert store.redemption("rdm_old")["status"] == "confirmed"
    assert store.pending.collection.find_one({}) is None


def test_a_saga_stored_half_way_by_the_earlier_code_is_finished_by_recovery(service, store):
    """What the saga before rewards/saga.py left at a crash (its marker, the redemption, the
    stock taken under ``<rid>:take``, no outcome) is finished under the same keys, once."""
    store.pending.collection.insert_one({"_id": "rdm_old", "since": None})
    store.redemptions.insert_one({
        "_id": "rdm_old", "reward_id": "rwd_1", "volunteer_id": "vol_1", "quantity": 2,
        "points": 60, "created_at": dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc),
        "pickup_day": None, "pickup_code": "123456", "by": "usr_li"})
    store.stock.append("rwd_1", -2, key="rdm_old:take", fields={"reason": "redeemed",
                                                                "by": "usr_li"})
    service.resume_stalled_redemptions()
    assert store.redemption("rdm_old")["status"] == "confirmed"
    assert store.stock.total("rwd_1") == INITIAL_STOCK - 2  # not taken again
    [(sent,)] = [call.args for call in service.points.debit.call_args_list]
    assert (sent["key"], sent["points"]) == ("redemption:rdm_old", 60)
    assert store.pending.collection.find_one({}) is None
