"""Two neighbours book one slot of a service at the same moment, on the real broker and store:
both read the slot's stock stream before either writes, both insert its next entry, the unique
``_id`` lets exactly one in; the other booking fails out of stock and pays nothing."""
import uuid

from nameko.standalone.events import event_dispatcher

from services.points.service import PointsService
from services.rewards.service import RewardsService
from services.shared.errors import OutOfStock
from tests.integration.races import HeldInserts, outcomes, service_store
from tests.integration.test_points_service import approval
from tests.support import wait_until

SLOT = "2030-03-02T09:00:00+08:00"


def test_two_bookings_of_one_slot_at_once_leave_exactly_one_booked(start, rpc, service_config):
    start(PointsService)
    store = service_store(start(RewardsService))
    community = f"com_{uuid.uuid4().hex[:8]}"
    provider = {"user_id": "usr_zhao", "role": "volunteer", "subject_id": "vol_zhao",
                "community_id": community}
    neighbours = [{"user_id": f"usr_{n}", "role": "volunteer", "subject_id": f"vol_{n}",
                   "community_id": community} for n in ("li", "wu")]
    dispatch = event_dispatcher(service_config())
    for neighbour in neighbours:  # 25 points each
        dispatch("volunteer", "hours_approved", approval(neighbour["subject_id"], 150))
    wait_until(lambda: all(rpc.points.get_balance(n["subject_id"])["balance"] == 25
                           for n in neighbours))
    service = rpc.rewards.create_reward(provider, {
        "kind": "service", "title": "Haircut", "cost_points": 20, "location": "Room 3",
        "duration_minutes": 30, "slots": [SLOT]})

    # Held: the inserts taking a session (its stream is "<service>@<slot>") off the stock log.
    store.stock.entries = held = HeldInserts(
        store.stock.entries, lambda doc: "@" in doc["stream"] and doc["delta"] < 0)
    results = outcomes([rpc.rewards.redeem.call_async(n, {
        "reward_id": service["id"], "volunteer_id": n["subject_id"], "slot": SLOT})
        for n in neighbours], OutOfStock)

    assert held.race.all_met and held.refused >= 1, \
        "the two bookings never raced for the slot's entry"
    booked = [o for o in results if isinstance(o, dict)]
    assert len(booked) == 1 and booked[0]["status"] == "confirmed", results
    assert sum(isinstance(o, OutOfStock) for o in results) == 1
    winner = booked[0]["volunteer_id"]
    for n in neighbours:
        expected = 5 if n["subject_id"] == winner else 25
        assert rpc.points.get_balance(n["subject_id"])["balance"] == expected
    assert rpc.rewards.get_reward(service["id"])["sessions"] == [
        {"starts_at": "2030-03-02T01:00:00+00:00", "free": False}]
