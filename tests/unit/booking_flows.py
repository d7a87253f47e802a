"""Services between neighbours in the crash-point explorer (tests/unit/test_crash_points.py):
vol_3 offers a service with one slot, vol_1 books it, vol_3 delivers or someone cancels.

``check`` is what must hold after recovery: each booking ended at most once and its points went
where its end says (to the provider once when delivered, back to the receiver once when
cancelled; what a delivery brings above the community's storage cap on to its fund, once), and
the slot is held exactly while a booking of it is confirmed or delivered.
"""
import datetime as dt
from zoneinfo import ZoneInfo

from services.shared.ids import id_for_request
from tests.unit.test_points_service import ADMIN, scheme_body

PROVIDER = {"user_id": "usr_zhao", "role": "volunteer", "subject_id": "vol_3",
            "community_id": "com_1"}
RECEIVER = {"user_id": "usr_li", "role": "volunteer", "subject_id": "vol_1",
            "community_id": "com_1"}
SLOT, SLOT_UTC = "2030-03-02T09:00:00+08:00", "2030-03-02T01:00:00+00:00"
COST = 20
CAP, PROVIDER_HOLDS = 25, 15  # a delivery takes the provider to 35: 10 above the cap
SERVICE_ID = id_for_request("rwd", "idk_offer")  # the offer's id, derived from its key
SLOT_STREAM = f"{SERVICE_ID}@{SLOT_UTC}"


def offer(world):
    return world.rewards.create_reward(PROVIDER, {
        "kind": "service", "title": "Haircut", "cost_points": COST, "location": "Room 3",
        "duration_minutes": 30, "slots": [SLOT]}, request_key="idk_offer")


def book(world, key="idk_book"):
    return world.rewards.redeem(RECEIVER, {"reward_id": SERVICE_ID, "volunteer_id": "vol_1",
                                           "slot": SLOT}, request_key=key)


def deliver(world, key="idk_book"):
    return world.rewards.fulfill_redemption(PROVIDER, id_for_request("rdm", key))


def cancel(world, key="idk_book"):
    return world.rewards.cancel_redemption(RECEIVER, id_for_request("rdm", key))


def offered(world):
    world.credit(30, "start")
    offer(world)


def offered_under_a_cap(world):
    """The community caps stored points, and the provider is near the cap."""
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    world.points.publish_scheme(ADMIN, "com_1", scheme_body(today, storage_cap_points=CAP))
    world.ledger.credit("vol_3", PROVIDER_HOLDS, key="outside:provider", kind="grant",
                        reason="start", ref={"type": "test", "id": "provider"}, by="test")
    offered(world)


def booked(world):
    offered(world)
    book(world)


def book_then(end):
    def flow(world):
        book(world)
        return end(world)
    return flow


FLOWS = {
    # name: (setup, action, replay)
    "a service booked, then delivered": (offered, book_then(deliver), book_then(deliver)),
    "a service booked, then cancelled": (offered, book_then(cancel), book_then(cancel)),
    "a service delivered above the provider's storage cap": (
        offered_under_a_cap, book_then(deliver), book_then(deliver)),
}

INTERLEAVINGS = {
    # name: (setup, first runner, second runner, a credit lands at the first preemption)
    "a service's delivery racing its cancellation": (booked, deliver, cancel, False),
    "a delivery and the recovery timer": (
        booked, deliver, lambda w: w.rewards.finish_stalled_bookings(), False),
    "two bookings of one slot": (
        offered, lambda w: book(w, "idk_a"), lambda w: book(w, "idk_b"), True),
}


def check(world, broken):
    if world.shop.rewards.find_one({"_id": SERVICE_ID}) is None:
        return
    bookings = [r for r in world.redemptions() if r["reward_id"] == SERVICE_ID]
    earned = 0
    for r in bookings:
        earn = world.ledger.find(f"booking:{r['_id']}:earn")
        refund = world.ledger.find(f"refund:redemption:{r['_id']}")
        if (r["status"] == "fulfilled") != (earn is not None) or \
                (r["status"] == "cancelled") != (refund is not None):
            broken.append(f"booking {r['_id']} is {r['status']} with earn {earn is not None} "
                          f"and refund {refund is not None}")
        if earn is not None:
            if (earn["stream"], earn["kind"], earn["ref"], earn["delta"]) != (
                    "vol_3", "earn", {"type": "booking", "id": r["_id"]}, r["points"]):
                broken.append(f"booking {r['_id']} earned {earn}")
            earned += earn["delta"]
    statement = world.ledger.statement("vol_3")
    held_before = sum(e["delta"] for e in statement if e["kind"] == "grant")
    overflowed = -sum(e["delta"] for e in statement if e["kind"] == "overflow")
    versions = world.points.schemes.versions("com_1")
    cap = versions[-1].storage_cap_points if versions else None
    if cap is not None and overflowed != max(0, min(earned, held_before + earned - cap)):
        broken.append(f"the provider sent {overflowed} above the cap {cap}, earned {earned}")
    if world.ledger.balance("vol_3") != held_before + earned - overflowed or \
            not world.ledger.accounts.verify("vol_3"):
        broken.append(f"the provider holds {world.ledger.balance('vol_3')}, delivered {earned}, "
                      f"sent {overflowed} to the fund")
    held = sum(r["status"] in ("confirmed", "fulfilled") for r in bookings)
    stock = world.shop.stock
    if stock.total(SLOT_STREAM) != 1 - held or not stock.verify(SLOT_STREAM):
        broken.append(f"slot stock {stock.total(SLOT_STREAM)} with {held} bookings holding it")
    if world.shop.bookings.closing.collection.find_one({}) is not None:
        broken.append("an in-flight booking end is left after recovery")
