"""Gift-shelf flows for the crash-point explorer (tests/unit/test_crash_points.py): how a gift's
redemption ends (fulfil, cancel, expiry) and a per-volunteer limit, with the rules they must
leave intact after recovery."""
import datetime as dt

from services.rewards import gifts
from services.shared.ids import id_for_request

HOLDING = ("confirmed", "fulfilled")  # redemptions that keep the points and the stock
GIVEN_BACK = ("cancelled", "expired")  # debited, then given back by a refund
DEBITED = HOLDING + GIVEN_BACK

LI = {"user_id": "usr_li", "role": "volunteer", "subject_id": "vol_1", "community_id": "com_1"}
STAFF = {"user_id": "wang", "role": "center_staff", "center_id": "ctr_1", "community_id": "com_1"}
GIFT = {"reward_id": "rwd_rice", "volunteer_id": "vol_1", "quantity": 1}
# Redeemed on a Friday morning in Shanghai, to be collected by the end of Saturday; the pickup
# period is over on Monday.
REDEEMED_AT = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.timezone.utc)
PICKUP_OVER = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.timezone.utc)
RID = id_for_request("rdm", "idk_gift")


def with_terms(world, limit=1):
    """Rice becomes a gift with a pickup period of a day and a limit per volunteer."""
    rice = world.shop.rewards.find_one({"_id": "rwd_rice"})
    world.shop.rewards.replace_one({"_id": "rwd_rice"},
                                   dict(rice, pickup_days=1, per_volunteer_limit=limit))


def at(world, moment):
    world.rewards.clock = lambda: moment


def redeemed(world):
    world.credit(30, "start")
    with_terms(world)
    at(world, REDEEMED_AT)
    world.rewards.redeem(LI, GIFT, request_key="idk_gift")


def cancel(world, actor=LI):
    at(world, REDEEMED_AT)  # before the pickup period is over
    return world.rewards.cancel_redemption(actor, RID)


def fulfil(world):
    at(world, REDEEMED_AT)
    return world.rewards.fulfill_redemption(STAFF, RID)


def expire(world):
    at(world, PICKUP_OVER)
    return world.rewards.expire_uncollected_gifts()


def expire_on_another_replica(world):
    """The expiry timer of a replica whose clock says the pickup period is over, while this
    one (the cancel) still says it is not."""
    return gifts.GiftShelf(world.shop, world.rewards.points, clock=lambda: PICKUP_OVER) \
        .expire_uncollected()


def redeem_within_limit(world, key):
    at(world, REDEEMED_AT)
    return world.rewards.redeem(LI, GIFT, request_key=key)


def two_items_of_budget(world):
    world.credit(60, "start")
    with_terms(world, limit=1)


FLOWS = {
    "cancel of a gift": (redeemed, cancel, cancel),
    "cancel of a gift by staff": (redeemed, lambda w: cancel(w, STAFF),
                                  lambda w: cancel(w, STAFF)),
    "expiry of an uncollected gift": (redeemed, expire, expire),
}

INTERLEAVINGS = {
    "a cancel racing the fulfilment": (redeemed, cancel, fulfil, False),
    "the expiry timer racing a cancel": (redeemed, cancel, expire_on_another_replica, False),
    "two expiry timers on two replicas": (redeemed, expire, expire_on_another_replica, False),
    "a cancel and the recovery timer": (
        redeemed, cancel, lambda w: w.rewards.finish_stalled_endings(), True),
    "two redemptions of a gift limited to one per volunteer": (
        two_items_of_budget, lambda w: redeem_within_limit(w, "idk_a"),
        lambda w: redeem_within_limit(w, "idk_b"), True),
}


def check(world, holding, broken):
    """Every cancelled or expired redemption was refunded (once: the balance check counts only
    ``holding``), the allowance holds what live redemptions took, no end is left half-done."""
    accounts = world.ledger.accounts
    for r in world.redemptions():
        refund = accounts.find_by_key(gifts.refund_key(r["_id"]))
        if (r["status"] in GIVEN_BACK) != (refund is not None):
            broken.append(f"redemption {r['_id']} is {r['status']} but its refund "
                          f"{'exists' if refund else 'does not exist'}")
    if world.shop.gifts.closing.collection.find_one({}) is not None:
        broken.append("an ending (cancel, fulfil, expiry) is left half-done after recovery")
    for reward in world.shop.rewards.docs.values():
        limit = reward.get("per_volunteer_limit")
        if not limit:
            continue
        held = sum(r["quantity"] for r in holding if r["reward_id"] == reward["_id"])
        total = world.shop.gifts.allowances.total(gifts.allowance_stream(reward["_id"], "vol_1"))
        if total != -held or held > limit:
            broken.append(f"allowance of {reward['_id']} at {total} with {held} held "
                          f"(limit {limit})")
