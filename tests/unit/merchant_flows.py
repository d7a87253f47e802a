"""Partner-merchant flows for the crash-point explorer (tests/unit/test_crash_points.py): a
redemption at the counter and its void, with the rules they must leave intact after recovery."""
import datetime as dt

from services.rewards.merchants import COMPLETED, quota_stream
from services.shared.clock import now
from services.shared.ids import id_for_request

SHOP = {"user_id": "usr_shop", "role": "merchant", "merchant_id": "mer_1",
        "community_id": "com_1"}
CODE, OFFER, COST, QUOTA = "ABCD234", "rwd_noodles", 30, 5


def rid_of(key):
    return id_for_request("mrd", key, SHOP["merchant_id"])


def with_offer_and_code(world):
    world.credit(COST, "start")
    world.shop.rewards.insert_one({
        "_id": OFFER, "kind": "merchant_offer", "title": "Noodles", "cost_points": COST,
        "community_id": "com_1", "merchant_id": "mer_1", "center_id": None,
        "tracks_stock": False, "daily_quota": QUOTA})
    issued = now()
    world.shop.merchant.codes.insert_one({
        "_id": CODE, "code": CODE, "volunteer_id": "vol_1", "community_id": "com_1",
        "approved_minutes": 600, "issued_at": issued,
        # Past any explorer run: expiry is not what these flows are about.
        "expires_at": issued + dt.timedelta(days=1)})


def redeem(world, key="idk_m1"):
    return world.rewards.redeem_at_merchant(SHOP, {"code": CODE, "reward_id": OFFER},
                                            request_key=key)


def redeemed(world):
    with_offer_and_code(world)
    redeem(world)


def void(world):
    return world.rewards.cancel_redemption(SHOP, rid_of("idk_m1"))


FLOWS = {
    "merchant redemption": (with_offer_and_code, redeem, redeem),
    "void of a merchant redemption": (redeemed, void, void),
}

INTERLEAVINGS = {
    "a live merchant redemption and the recovery timer": (
        with_offer_and_code, redeem, lambda w: w.rewards.resume_merchant_sagas(), True),
    "two merchant redemptions of one code": (
        with_offer_and_code, lambda w: redeem(w, "idk_a"), lambda w: redeem(w, "idk_b"), True),
    "a void and the recovery timer": (
        redeemed, void, lambda w: w.rewards.resume_merchant_sagas(), False),
    "two voids of one redemption": (redeemed, void, void, False),
}


def check(world, broken):
    """Every merchant redemption ended: completed with its debit (and, voided, its refund) or
    failed without; the code used by at most one; what the merchant is owed and the day's quota
    agree. Returns the points spent at merchants (completed and not voided)."""
    m, accounts = world.shop.merchant, world.ledger.accounts
    spent, owed, completed_by_day = 0, 0, {}
    redemptions = [r for r in m.redemptions._collection.docs.values() if not r.get("abandoned")]
    for r in redemptions:
        rid = r["_id"]
        outcome = m.outcomes.find_one({"_id": rid})
        debit = accounts.find_by_key(f"redemption:{rid}")
        refund = accounts.find_by_key(f"redemption:{rid}:void")
        voided = m.voids.find_one({"_id": rid}) is not None
        if outcome is None:
            broken.append(f"merchant redemption {rid} still pending after recovery")
            continue
        if (outcome["status"] == COMPLETED) != (debit is not None):
            broken.append(f"merchant redemption {rid} is {outcome['status']} but its debit "
                          f"{'exists' if debit else 'does not exist'}")
        if voided != (refund is not None):
            broken.append(f"merchant redemption {rid}: voided {voided}, refund {refund}")
        if outcome["status"] == COMPLETED:
            if m.code_fate(r["code"]).get("redemption_id") != rid:
                broken.append(f"merchant redemption {rid} completed without its code")
            completed_by_day[r["day"]] = completed_by_day.get(r["day"], 0) + 1
            owed += 0 if voided else r["points"]
            spent += 0 if voided else r["points"]
    if m.owed.total("mer_1") != owed or not m.owed.verify("mer_1"):
        broken.append(f"mer_1 is owed {m.owed.total('mer_1')}, expected {owed}")
    for day, count in completed_by_day.items():
        if m.quota.total(quota_stream(OFFER, day)) != -count:
            broken.append(f"quota of {day}: {m.quota.total(quota_stream(OFFER, day))}, "
                          f"{count} completed")
    for markers in (m.pending, m.pending_voids):
        if markers.collection.find_one({}) is not None:
            broken.append("a merchant marker is left after recovery")
    return spent
