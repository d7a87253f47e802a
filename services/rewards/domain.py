"""Redemption rules as plain functions."""
import secrets

from services.shared.errors import Conflict, Forbidden, InvalidInput, RuleViolation

# A redemption's life. It is created "pending"; the saga ends it "confirmed" (points and stock
# taken, waiting for pickup or delivery) or "failed" (everything given back).
PENDING, CONFIRMED, FAILED, FULFILLED, CANCELLED = (
    "pending", "confirmed", "failed", "fulfilled", "cancelled")

SHELF_KINDS = ("gift", "service")


def check_new_reward(actor, data):
    """Who may put what in the catalog; returns the center or merchant it belongs to."""
    kind = data["kind"]
    if kind in SHELF_KINDS:
        if actor["role"] == "center_staff":
            if data["center_id"] not in (None, actor["center_id"]):
                raise Forbidden("staff stock their own center's shelf")
            return {"center_id": actor["center_id"]}
        if actor["role"] == "admin":
            if not data["center_id"]:
                raise InvalidInput("a gift or service belongs to a center",
                                   fields={"center_id": ["required"]})
            return {"center_id": data["center_id"]}
        raise Forbidden("only center staff or an admin add gifts and services")
    # merchant_offer
    if actor["role"] == "merchant":
        return {"merchant_id": actor["merchant_id"]}
    if actor["role"] == "admin":
        if not data["merchant_id"]:
            raise InvalidInput("an offer belongs to a merchant",
                               fields={"merchant_id": ["required"]})
        return {"merchant_id": data["merchant_id"]}
    raise Forbidden("only a merchant or an admin add merchant offers")


def check_stock_field(data):
    if data["kind"] == "gift" and data["stock"] is None:
        raise InvalidInput("a gift has a stock", fields={"stock": ["required for a gift"]})


def check_redeemable(actor, reward, volunteer_id):
    if actor["role"] != "volunteer" or actor.get("subject_id") != volunteer_id:
        raise Forbidden("volunteers redeem for themselves")
    if reward["kind"] not in SHELF_KINDS:
        raise RuleViolation("merchant offers are redeemed at the merchant with a one-time code",
                            code="use_redeem_code")


def check_same_request(redemption, data):
    """A stored redemption answers a retry only for the same request: the same Idempotency-Key
    with another reward, volunteer or quantity is refused, never run against the stored one."""
    if redemption.get("abandoned"):
        return
    differs = [f for f in ("reward_id", "volunteer_id", "quantity", "slot")
               if redemption.get(f) != data.get(f)]
    if differs:
        raise Conflict("this Idempotency-Key was used for another redemption",
                       code="idempotency_key_reused",
                       fields={f: ["differs from the first request with this key"]
                               for f in differs})


def with_outcome(redemption, outcome):
    """The redemption as answered: its status is its stored outcome, pending until there is one."""
    outcome = outcome or {}
    return dict(redemption, status=outcome.get("status", PENDING),
                failure=outcome.get("failure"))


def redemption_cost(reward, quantity):
    return reward["cost_points"] * quantity


def pickup_code():
    return f"{secrets.randbelow(10**6):06d}"
