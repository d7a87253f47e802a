"""Two redemptions by one volunteer of a gift limited to one per volunteer, at the same moment, on
the real broker and store: both read the (gift, volunteer) allowance log before either writes,
both insert its next entry, the unique ``_id`` lets exactly one in; the other is refused
(limit_reached) and takes neither points nor stock."""
import uuid

from services.points.ledger import Ledger
from services.points.service import PointsService
from services.rewards.service import RewardsService
from services.shared.errors import RuleViolation
from tests.integration.races import HeldInserts, outcomes, service_store

COST, STOCK, START = 20, 5, 100


def test_two_redemptions_at_once_do_not_both_pass_a_limit_of_one(start, rpc, store):
    start(PointsService)
    shelf = service_store(start(RewardsService))
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

    # Held: the inserts taking from the allowance (a negative delta) of the gift's log.
    allowances = shelf.gifts.allowances
    allowances.entries = held = HeldInserts(allowances.entries, lambda doc: doc.get("delta", 0) < 0)
    results = outcomes([rpc.rewards.redeem.call_async(li, {
        "reward_id": "rwd_rice", "volunteer_id": volunteer, "quantity": 1}, f"idk_{n}")
        for n in range(2)], RuleViolation)

    assert held.race.all_met and held.refused >= 1, \
        "the two redemptions never raced for the allowance's entry"
    confirmed = [o for o in results if isinstance(o, dict)]
    refused = [o for o in results if isinstance(o, RuleViolation)]
    assert len(confirmed) == 1 and confirmed[0]["status"] == "confirmed", results
    assert len(refused) == 1 and refused[0].code == "limit_reached"
    assert rpc.points.get_balance(volunteer)["balance"] == START - COST
    assert rpc.rewards.get_reward("rwd_rice")["stock"] == STOCK - 1
    assert shelf.gifts.allowances.total(f"rwd_rice/{volunteer}") == -1
