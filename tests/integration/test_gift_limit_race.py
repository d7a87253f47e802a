"""Two redemptions by one volunteer of a gift limited to one per volunteer, at the same moment, on
the real broker and store: both read the (gift, volunteer) allowance log before either writes,
both insert its next entry, the unique ``_id`` lets exactly one in; the other is refused
(limit_reached) and takes neither points nor stock."""
import itertools
import threading
import uuid

from pymongo.errors import DuplicateKeyError

from services.points.ledger import Ledger
from services.points.service import PointsService
from services.rewards.service import RewardsService
from services.shared.errors import RuleViolation
from services.shared.storage import MongoStore

COST, STOCK, START = 20, 5, 100


class HeldAllowanceTakes:
    """The allowance log's entries, holding the first ``parties`` takes until all have arrived
    (so each read the log's head before any wrote), counting the inserts ``_id`` refused."""

    def __init__(self, collection, parties=2):
        self._collection = collection
        self._barrier = threading.Barrier(parties)
        self._calls = itertools.count()
        self._parties = parties
        self.refused = 0

    def __getattr__(self, name):
        return getattr(self._collection, name)

    def insert_one(self, doc, *args, **kwargs):
        if doc.get("delta", 0) < 0 and next(self._calls) < self._parties:
            self._barrier.wait(timeout=20)  # broken (and the test failed) unless both got here
        try:
            return self._collection.insert_one(doc, *args, **kwargs)
        except DuplicateKeyError:
            self.refused += 1
            raise


def test_two_redemptions_at_once_do_not_both_pass_a_limit_of_one(start, rpc, store):
    start(PointsService)
    shelf = next(d for d in start(RewardsService).dependencies
                 if isinstance(d, MongoStore)).store
    volunteer = f"vol_{uuid.uuid4().hex[:8]}"
    li = {"user_id": "usr_li", "role": "volunteer", "subject_id": volunteer,
          "community_id": "com_1"}
    Ledger(store("points")).credit(volunteer, START, f"start:{volunteer}", kind="grant",
                                   reason="test", ref={"type": "test", "id": volunteer},
                                   by="test")
    shelf.rewards.insert_one({
        "_id": "rwd_rice", "kind": "gift", "title": "Rice", "description": None,
        "cost_points": COST, "community_id": "com_1", "center_id": "ctr_1",
        "merchant_id": None, "tracks_stock": True, "per_volunteer_limit": 1,
        "created_by": "wang"})
    shelf.stock.append("rwd_rice", STOCK, key="rwd_rice:initial")

    shelf.gifts.allowances.entries = held = HeldAllowanceTakes(shelf.gifts.allowances.entries)
    calls = [rpc.rewards.redeem.call_async(li, {"reward_id": "rwd_rice",
                                                "volunteer_id": volunteer, "quantity": 1},
                                           f"idk_{n}") for n in range(2)]
    outcomes = []
    for call in calls:
        try:
            outcomes.append(call.result())
        except RuleViolation as refused:
            outcomes.append(refused)

    assert held.refused >= 1, "the two redemptions never raced for the allowance's entry"
    confirmed = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, RuleViolation)]
    assert len(confirmed) == 1 and confirmed[0]["status"] == "confirmed", outcomes
    assert len(refused) == 1 and refused[0].code == "limit_reached"
    assert rpc.points.get_balance(volunteer)["balance"] == START - COST
    assert rpc.rewards.get_reward("rwd_rice")["stock"] == STOCK - 1
    assert shelf.gifts.allowances.total(f"rwd_rice/{volunteer}") == -1
