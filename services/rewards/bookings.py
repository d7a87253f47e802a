"""Services between neighbours (以服务换服务): offers, bookings, delivery and cancellation.

A service is offered by a volunteer (for themselves: they are its provider) or by a center's
staff (the center provides it). It says what, where, how long a session is, the points a session
costs, and its sessions: either ``slots``, start times each bookable once, or a ``stock`` of
sessions booked without a time.

Why this shape (the store's only atomic guard is an insert under a unique key):
- A slot is a stock stream of one item in the rewards' stock log (stream ``<reward>@<start>``).
  A booking is the redemption saga of service.py with that stream as its stock: the slot is
  taken like stock, then the receiver's points are debited. Two bookings of one slot race for
  the insert of the stream's next entry, so exactly one takes it; the other fails out of stock
  and debits nothing.
- A confirmed booking ends once, delivered (``fulfilled``) or ``cancelled``: the end is decided
  by one insert into ``redemption_closures`` under ``_id`` = the booking (the collection the gift
  shelf ends its redemptions in, so one redemption has one end whatever its kind). A runner
  marks the booking in flight (``closing_bookings``, with the end it asks for) before deciding;
  after deciding, every runner (the loser too) carries out what the decision says, each step
  under its own key, and only then unmarks it. A crash anywhere leaves the marker, and the
  recovery timer decides what the marker asked for (unless decided already) and finishes.
- Delivered: the provider earns the booking's points as an ``earn`` entry whose ref is
  ``{type: booking, id: <booking>}``, keyed ``booking:<id>:earn``, under the community's
  storage cap (what it brings above the cap goes to the community fund, as for hours). A
  center's service earns for its community's fund (``fund:<community>``): a center holds no
  points account of its own, and the fund is where the community's shared points live.
- Cancelled: the receiver's points come back as a ``refund`` naming the debit (so they return
  with the expiry dates they left with), and the slot (or the session) is stocked again.
"""
import datetime as dt
import logging

from services.points.ledger import fund_account
from services.rewards import domain, schemas
from services.shared.clock import now
from services.shared.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolation
from services.shared.ids import id_for_request
from services.shared.inflight import InFlight, resume_each

log = logging.getLogger(__name__)

KIND = "service"
GIFT_TERMS = ("per_volunteer_limit", "valid_from", "valid_until", "pickup_days")


def slot_stream(reward_id, slot):
    """The stock stream of one session: one item, taken by the booking that wins it."""
    return f"{reward_id}@{slot}"


def earn_key(rid):
    return f"booking:{rid}:earn"


def refund_key(rid):
    return f"refund:redemption:{rid}"  # as a gift's refund: one refund per redemption


class BookingStore:
    """The bookings' own collections beside RewardsStore's."""

    def __init__(self, db):
        self.closures = db.redemption_closures  # _id = redemption: its end, decided once
        self.closing = InFlight(db.closing_bookings)  # ends being carried out


# --- offering --------------------------------------------------------------------------------

def provider_of(actor, data):
    """Who provides a new service: the volunteer offering it, or a center (its staff's own, or
    the one an admin names)."""
    if actor["role"] == "volunteer":
        if data.get("center_id") or data.get("merchant_id"):
            raise InvalidInput("a volunteer offers a service of their own",
                               fields={"center_id": ["not for a volunteer's service"]})
        return {"provider_volunteer_id": actor["subject_id"], "center_id": None,
                "community_id": actor["community_id"]}
    if actor["role"] == "center_staff":
        if data.get("center_id") not in (None, actor["center_id"]):
            raise Forbidden("staff offer their own center's services")
        return {"provider_volunteer_id": None, "center_id": actor["center_id"]}
    if actor["role"] == "admin":
        if not data.get("center_id"):
            raise InvalidInput("a service belongs to a center or a volunteer",
                               fields={"center_id": ["required"]})
        return {"provider_volunteer_id": None, "center_id": data["center_id"]}
    raise Forbidden("volunteers, center staff or an admin offer services")


def check_terms(data):
    """400 for terms a service cannot have; returns its sessions sorted (None: a stock)."""
    gift_terms = [t for t in GIFT_TERMS if data.get(t) is not None]
    if gift_terms:
        raise InvalidInput("terms of a gift, not of a service",
                           fields={t: ["only for kind gift"] for t in gift_terms})
    slots = data.get("slots")
    if slots is None:
        return None
    if data.get("stock") is not None:
        raise InvalidInput("a service has slots or a stock of sessions, not both",
                           fields={"stock": ["leave out when slots are given"]})
    if len(set(slots)) != len(slots):
        raise InvalidInput("each session once", fields={"slots": ["a start time twice"]})
    if dt.datetime.fromisoformat(min(slots)) <= now():
        raise InvalidInput("sessions lie ahead", fields={"slots": ["a start time in the past"]})
    return sorted(slots)


def offer(svc, actor, data, request_key=None):
    """Create a service reward: listed, stored, then each slot stocked with its one session
    (keyed by the slot, so a retried request stocks each once)."""
    provider = provider_of(actor, data)
    slots = check_terms(data)
    community_id = provider.pop("community_id", None) or \
        svc.volunteer.get_center(provider["center_id"])["community_id"]
    reward = dict(
        provider, _id=id_for_request("rwd", request_key), kind=KIND, title=data["title"],
        description=data["description"], cost_points=data["cost_points"],
        community_id=community_id, merchant_id=None, location=data.get("location"),
        duration_minutes=data.get("duration_minutes"), slots=slots,
        tracks_stock=slots is not None or data["stock"] is not None,
        created_by=actor["user_id"], created_at=now())
    svc.store.catalog.add(reward)
    reward, _ = svc.store.insert_or_replay(svc.store.rewards, reward)
    for slot in reward["slots"] or ():
        stream = slot_stream(reward["_id"], slot)
        svc.store.stock.append(stream, 1, key=f"{stream}:initial",
                               fields={"reason": "session offered", "by": actor["user_id"]})
    if slots is None and data["stock"]:
        svc.store.stock.append(reward["_id"], data["stock"], key=f"{reward['_id']}:initial",
                               fields={"reason": "sessions offered", "by": actor["user_id"]})
    return offer_out(svc.store, reward)


def offer_out(store, reward):
    """A service as the catalog shows it: with slots, each with whether it is free, and the
    free ones counted as its stock."""
    slots = reward.get("slots")
    if slots is None:
        stock = store.stock.total(reward["_id"]) if reward["tracks_stock"] else None
        return schemas.RewardOut().dump(dict(reward, stock=stock))
    sessions = [{"starts_at": s, "free": store.stock.total(slot_stream(reward["_id"], s)) > 0}
                for s in slots]
    return schemas.RewardOut().dump(dict(reward, sessions=sessions,
                                         stock=sum(s["free"] for s in sessions)))


# --- booking ---------------------------------------------------------------------------------

def booking_terms(reward, data):
    """What a redemption of ``reward`` stores beside the usual: for a service with slots, the
    slot and its stock stream. 422 for the provider booking their own service; 400 for a slot
    that is missing, not offered, or on a reward without slots."""
    slot = data.get("slot")
    if reward["kind"] != KIND:
        if slot is not None:
            raise InvalidInput("only a service has slots", fields={"slot": ["leave out"]})
        return {}
    if reward.get("provider_volunteer_id") == data["volunteer_id"]:
        raise RuleViolation("a provider cannot book their own service",
                            code="own_service", fields={"reward_id": ["your own service"]})
    if reward.get("slots") is None:
        if slot is not None:
            raise InvalidInput("this service has no slots", fields={"slot": ["leave out"]})
        return {}
    if slot is None:
        raise InvalidInput("which session?", fields={"slot": ["required: one of the slots"]})
    if slot not in reward["slots"]:
        raise InvalidInput("not a session of this service",
                           fields={"slot": ["one of the service's slots"]})
    if data["quantity"] != 1:
        raise InvalidInput("a booking is one session", fields={"quantity": ["must be 1"]})
    if dt.datetime.fromisoformat(slot) <= now():
        raise RuleViolation("this session has already begun", code="slot_passed",
                            fields={"slot": ["a session that lies ahead"]})
    return {"slot": slot, "stock_stream": slot_stream(reward["_id"], slot)}


# --- the end of a booking: delivered or cancelled -------------------------------------------

def provides(actor, reward):
    """Whether ``actor`` provides the service: its volunteer, or staff of its center."""
    if reward.get("provider_volunteer_id"):
        return actor["role"] == "volunteer" and actor.get("subject_id") == reward[
            "provider_volunteer_id"]
    return actor["role"] == "center_staff" and actor.get("center_id") == reward["center_id"]


def receives(actor, redemption):
    return actor["role"] == "volunteer" and actor.get("subject_id") == redemption["volunteer_id"]


def staff_of(actor, reward):
    """Staff over the service: of its center, or (a volunteer's service) of its community."""
    if actor["role"] == "admin":
        return True
    if actor["role"] != "center_staff":
        return False
    if reward.get("center_id"):
        return actor.get("center_id") == reward["center_id"]
    return actor.get("community_id") == reward["community_id"]


def fulfill(svc, actor, redemption, reward):
    """The provider (or an admin) marks the session delivered: the provider earns the points."""
    if not (provides(actor, reward) or actor["role"] == "admin"):
        if receives(actor, redemption):
            raise Forbidden("the provider marks a session delivered")
        raise NotFound(f"redemption {redemption['_id']} not found")
    return end(svc, actor, redemption, reward, domain.FULFILLED)


def cancel(svc, actor, redemption, reward):
    """The receiver, the provider or staff cancel before delivery: the points go back."""
    if not (receives(actor, redemption) or provides(actor, reward) or staff_of(actor, reward)):
        raise NotFound(f"redemption {redemption['_id']} not found")
    return end(svc, actor, redemption, reward, domain.CANCELLED)


def end(svc, actor, redemption, reward, wanted):
    """Decide the booking's end (unless decided), carry it out; 409 if it ended otherwise."""
    rid = redemption["_id"]
    closure = svc.store.bookings.closures.find_one({"_id": rid})
    if closure is None:
        if redemption["status"] != domain.CONFIRMED:
            raise Conflict(f"a {redemption['status']} booking cannot be {wanted}",
                           code=f"redemption_{redemption['status']}")
        closure = close(svc, rid, wanted, actor["user_id"])
    if closure["status"] != wanted:
        raise Conflict(f"this booking was {closure['status']} already",
                       code=f"already_{closure['status']}")
    return schemas.RedemptionOut().dump(dict(
        redemption, status=closure["status"], reward_title=reward["title"],
        reward_kind=reward["kind"]))


def close(svc, rid, status, by):
    """Mark, decide once (the first insert wins), carry out what was decided, unmark."""
    bookings = svc.store.bookings
    bookings.closing.mark(rid, status=status, by=by)
    closure, created = svc.store.insert_or_replay(bookings.closures, {
        "_id": rid, "status": status, "by": by, "at": now()})
    if created:
        svc.metrics.count(f"booking_{status}")
    carry_out(svc, rid, closure)
    bookings.closing.done(rid)
    return closure


def carry_out(svc, rid, closure):
    """Move what the end says, each step once by its key: the provider's earning, or the
    receiver's refund and the session back in stock."""
    redemption = svc.store.redemptions.find_one({"_id": rid})
    reward = svc.store.get(svc.store.rewards, redemption["reward_id"], "reward")
    if closure["status"] == domain.FULFILLED:
        provider = reward.get("provider_volunteer_id") or fund_account(reward["community_id"])
        # Under the community's storage cap, as hours earned are: what the earning brings
        # above it goes to the fund (points does that once per key, so a rerun moves nothing).
        svc.points.credit_back({
            "account": provider, "points": redemption["points"], "key": earn_key(rid),
            "kind": "earn", "ref_type": "booking", "ref_id": rid, "by": closure["by"],
            "reason": f"service delivered: {reward['title']}"},
            community_id=reward["community_id"])
        return
    svc.points.credit_back({
        "account": redemption["volunteer_id"], "points": redemption["points"],
        "key": refund_key(rid), "refund_of": f"redemption:{rid}", "kind": "refund",
        "ref_type": "redemption", "ref_id": rid, "by": closure["by"],
        "reason": f"booking cancelled: {reward['title']}"})
    if reward["tracks_stock"]:
        svc.store.stock.append(redemption.get("stock_stream", reward["_id"]),
                               redemption["quantity"], key=f"{rid}:restock", floor=None,
                               fields={"reason": "booking cancelled", "by": closure["by"]})


def resume_stalled(svc):
    """Recovery: an end a crash interrupted is decided as its marker asked (unless decided
    already) and carried out."""
    closing = svc.store.bookings.closing

    def resume(rid):
        marker = closing.details(rid)
        if marker is not None:
            close(svc, rid, marker["status"], marker["by"])
    resume_each(closing.stalled(), resume, log, svc.metrics)
