"""A call whose caller gave up never runs later (issue 5, item 1c), on the real broker.

nameko's RPC requests carried no expiration: a `points.debit` still queued when its caller's
deadline passed (the points service down or busy) ran whenever a worker got to it, possibly long
after the caller had answered "unavailable". Requests now expire in the broker at the caller's
deadline.
"""
import uuid

import pytest
from nameko.rpc import rpc

from services.points.service import PointsService
from services.shared.errors import ServiceUnavailable
from services.shared.rpc import TimedRpcProxy
from tests.support import wait_until


class Caller:
    """Stands in for the rewards service: calls points.debit with the services' deadline."""
    name = "deadline_caller"
    points = TimedRpcProxy("points")

    @rpc
    def debit(self, movement):
        try:
            return self.points.debit(movement)
        except ServiceUnavailable:
            return "gave up"


def movement(account, key, points=5):
    return {"account": account, "points": points, "key": key, "kind": "redeem",
            "reason": "a gift", "ref_type": "redemption", "ref_id": key, "by": "usr_1"}


def test_a_debit_whose_caller_gave_up_is_dropped_not_run_later(start, rpc, store):
    account = f"vol_{uuid.uuid4().hex}"
    points = start(PointsService)  # declares its durable request queue
    rpc.points.credit_back(dict(movement(account, "seed", 20), kind="grant"))
    points.stop()  # the queue stays; nobody consumes it

    start(Caller, RPC_TIMEOUT_SECONDS=1)
    assert rpc.deadline_caller.debit(movement(account, "late")) == "gave up"
    ledger = store("points")["ledger_keys"]
    assert ledger.find_one({"_id": "late"}) is None

    start(PointsService)
    wait_until(lambda: rpc.points.get_balance(account)["balance"] == 20, timeout=20,
               message="points service back")
    # The queue is first in, first out: a debit sent now is served after the stale one would be.
    rpc.points.debit(movement(account, "fresh"))
    assert ledger.find_one({"_id": "fresh"}) is not None
    assert ledger.find_one({"_id": "late"}) is None, "the stale request ran after its deadline"
    assert rpc.points.get_balance(account)["balance"] == 15
