"""The gift shelf (爱心超市): what a gift's terms allow, and how a redemption ends.

A gift may carry a per-volunteer limit, a validity window and a pickup period. A confirmed
redemption ends once, in one of three ways: staff hand the gift over (fulfilled), the volunteer
or staff cancel it (cancelled), or nobody collects it within the pickup period (expired).
Cancel and expiry give the points back (a ``refund`` credit naming the debit, so they return
with the expiry dates they left with), the stock back and the volunteer's allowance back, each
as a new entry under a key of its own.

Why this shape (the store's only atomic guard is an insert under a unique key):
- The end is decided by one insert into ``redemption_closures`` with ``_id`` = the redemption:
  fulfil, cancel and expiry race for it, and whoever loses reads the winner's decision.
- Before deciding, a runner marks the redemption in flight (``closing_redemptions``, with what it
  asks for); after deciding, every runner (the loser too) gives back what the decision says,
  idempotently, and only then unmarks it. A crash anywhere leaves the marker; the recovery timer
  decides what the marker asked for (unless already decided) and finishes the give-back.
- The per-volunteer limit is an append-only log per (gift, volunteer) with a floor: a redemption
  appends ``-quantity`` with floor ``-limit``, an end that gives back appends ``+quantity``.
  Two concurrent redemptions race for the same next entry, so they cannot both pass the limit.
- Redemptions awaiting pickup are listed per pickup day (``pickup:<date>``), a center's gift
  redemptions per center (``center_gifts:<center>``, its waiting pickups) and under their
  pickup code (``pickup_code:<center>:<code>``, how staff find one by the code a volunteer
  shows), and each volunteer's redemptions in a log of their own, both written before the redemption is stored
  (an entry whose redemption never got stored is skipped). The expiry timer walks only the days
  that ended since its last complete walk, from where it stopped, by ``_id``: its cost follows
  what is due, never everything ever redeemed.
"""
import datetime as dt
import logging
import re
import zoneinfo

from pymongo.errors import DuplicateKeyError

from services.rewards import domain, merchants, saga, schemas
from services.shared.appendlog import AppendLog, entry_id
from services.shared.clock import now as wall_clock
from services.shared.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolation
from services.shared.inflight import InFlight
from services.shared.migrations import PagedMigration

log = logging.getLogger(__name__)

FULFILLED, CANCELLED, EXPIRED = domain.FULFILLED, domain.CANCELLED, "expired"
GIVES_BACK = (CANCELLED, EXPIRED)
PICKUP_ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")  # a pickup day ends at local midnight
MAX_PAGE = 200
SEQ_CURSOR = re.compile(r"[1-9][0-9]{0,17}")
LIMIT_REACHED = "limit_reached"


# --- a gift's terms ------------------------------------------------------------------------

def check_terms(data):
    """The gift-only terms of a new reward; 400 naming the field at fault."""
    if data.get("pickup_days") is not None and data["kind"] != "gift":
        raise InvalidInput("only a gift has a pickup period",
                           fields={"pickup_days": ["only for kind gift"]})
    if data.get("daily_quota") is not None and data["kind"] != "merchant_offer":
        # Stored but never applied would promise a limit nobody enforces.
        raise InvalidInput("only a merchant offer has a daily quota",
                           fields={"daily_quota": ["only for kind merchant_offer"]})
    window = data.get("valid_from"), data.get("valid_until")
    if None not in window and window[0] >= window[1]:
        raise InvalidInput("the validity window ends before it starts",
                           fields={"valid_until": ["after valid_from"]})


def terms_of(data):
    """The terms stored on the reward."""
    return {name: data.get(name) for name in
            ("per_volunteer_limit", "valid_from", "valid_until", "pickup_days")}


def check_window(reward, moment):
    """422 outside the gift's validity window."""
    starts, ends = reward.get("valid_from"), reward.get("valid_until")
    if starts is not None and moment < _aware(starts):
        raise RuleViolation(f"this gift can be redeemed from {_aware(starts).isoformat()}",
                            code="not_yet_valid", fields={"reward_id": ["not yet valid"]})
    if ends is not None and moment >= _aware(ends):
        raise RuleViolation(f"this gift could be redeemed until {_aware(ends).isoformat()}",
                            code="no_longer_valid", fields={"reward_id": ["no longer valid"]})


def pickup_day(reward, created_at):
    """The last local day to collect a redemption made at ``created_at``; None: no period."""
    days = reward.get("pickup_days")
    if not days:
        return None
    return (created_at.astimezone(PICKUP_ZONE).date() + dt.timedelta(days=days)).isoformat()


def day_end(day):
    """The instant a pickup day ends (its next local midnight)."""
    date = dt.date.fromisoformat(day) + dt.timedelta(days=1)
    return dt.datetime.combine(date, dt.time(), PICKUP_ZONE)


def _aware(moment):
    # The store hands back UTC; a store without tz_aware would hand back naive UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def allowance_stream(reward_id, volunteer_id):
    return f"{reward_id}/{volunteer_id}"


def pickup_stream(day):
    return f"pickup:{day}"


def center_gifts_stream(center_id):
    return f"center_gifts:{center_id}"


def pickup_code_stream(center_id, code):
    return f"pickup_code:{center_id}:{code}"


# A six-digit code is shared by two live gifts of one center about once in a million pairs: the
# staff's lookup reads the few redemptions listed under it and picks the one still waiting.
CODE_LOOKUPS = 20


def refund_key(rid):
    return f"refund:redemption:{rid}"


def check_center_staff(actor, center_id):
    """A center's pickups are its staff's: another role is refused, another center's staff
    do not see that the center exists."""
    if actor["role"] != "center_staff":
        raise Forbidden("only the center's staff hand gifts over")
    if actor.get("center_id") != center_id:
        raise NotFound(f"center {center_id} not found")


# --- the store's part ----------------------------------------------------------------------

class GiftStore:
    """The shelf's own collections, beside RewardsStore's."""

    def __init__(self, db):
        self.closures = db.redemption_closures       # _id = redemption: its end, decided once
        self.closing = InFlight(db.closing_redemptions)  # ends being given back
        self.allowances = AppendLog(db, "gift_allowances")  # per (gift, volunteer), floor -limit
        self.listings = AppendLog(db, "redemption_listings")  # per volunteer and per pickup day
        self.expiry_walks = db.pickup_expiry_walks   # how far the expiry timer has walked

    def ensure_indexes(self):
        self.allowances.ensure_indexes()
        self.listings.ensure_indexes()

    def with_end(self, redemption):
        """The redemption with its end's status when it has one (else its saga's outcome)."""
        closure = self.closures.find_one({"_id": redemption["_id"]})
        if closure is None:
            return redemption
        return dict(redemption, status=closure["status"], closed_at=closure["at"])

    def open_expiry_from(self, day):
        """The expiry walk starts no later than the first pickup day ever listed."""
        if self.expiry_walks.find_one({"_id": "first_open_day"}) is None:
            try:
                self.expiry_walks.insert_one({"_id": "first_open_day", "day": day})
            except DuplicateKeyError:
                pass  # another redemption set it first


class GiftShelf:
    """The shelf's rules over the rewards store; ``points`` is the points service's RPC proxy
    and ``clock`` the time (injected by tests)."""

    def __init__(self, store, points, metrics=None, clock=wall_clock):
        self.store = store
        self.gifts = store.gifts
        self.points = points
        self.metrics = metrics
        self.clock = clock

    # --- while redeeming -------------------------------------------------------------------

    def list_new(self, redemption):
        """List a redemption about to be stored: in its volunteer's log and, when the gift has a
        pickup period, under its last pickup day. Keys are per redemption (and day), so a rerun
        lists it once; listed before stored, so a crash in between leaves only a skipped entry."""
        rid = redemption["_id"]
        self.gifts.listings.append(redemption["volunteer_id"], 1, key=f"{rid}:listed",
                                   floor=None, fields={"redemption_id": rid})
        day = redemption.get("pickup_day")
        if day is not None:
            self.gifts.open_expiry_from(day)
            self.gifts.listings.append(pickup_stream(day), 1, key=f"{rid}:awaiting:{day}",
                                       floor=None, fields={"redemption_id": rid})
        self.list_at_center(redemption)

    def list_at_center(self, redemption):
        """List a gift's redemption among its center's and under its pickup code (how staff
        find the gifts waiting and the one a volunteer's code names); once per redemption."""
        rid = redemption["_id"]
        reward = self.store.rewards.find_one({"_id": redemption["reward_id"]}) or {}
        if reward.get("kind") == "gift" and reward.get("center_id") and \
                redemption.get("pickup_code"):
            for stream, key in ((center_gifts_stream(reward["center_id"]), f"{rid}:center"),
                                (pickup_code_stream(reward["center_id"],
                                                    redemption["pickup_code"]), f"{rid}:code")):
                self.gifts.listings.append(stream, 1, key=key, floor=None,
                                           fields={"redemption_id": rid})

    def earlier_pickups(self, page_size=None):
        """Gifts redeemed before the centers' pickup lists existed, and still waiting, join
        them once per database: the redemptions walked a page a tick, keyed as above."""
        def waiting(page):
            for stored in page:  # a stored redemption's status is in its outcome and end
                redemption = self.store.redemption(stored["_id"])
                if redemption is not None and redemption["status"] == domain.CONFIRMED:
                    self.list_at_center(redemption)
            return True
        return PagedMigration(self.gifts.listings.migrations, "earlier_pickups",
                              [("redemptions", self.store.redemptions, waiting)],
                              **({"page_size": page_size} if page_size else {}))

    def allowance_step(self, reward, redemption):
        """The per-volunteer limit's step of the saga (rewards/saga.py), for a gift with a
        limit: fails ``limit_reached`` past it, gives back as ``return_allowance`` does."""
        rid = redemption["_id"]
        return saga.log_step(
            self.gifts.allowances, allowance_stream(reward["_id"], redemption["volunteer_id"]),
            redemption["quantity"], key=f"{rid}:allowance", floor=-reward["per_volunteer_limit"],
            failure=LIMIT_REACHED, fields={"redemption_id": rid},
            back_key=f"{rid}:allowance_back",
            back_fields={"redemption_id": rid, "reason": "redemption failed"})

    def return_allowance(self, reward, redemption, why):
        """Give the allowance back (a failed or ended redemption): once, when it was taken."""
        rid = redemption["_id"]
        if not reward.get("per_volunteer_limit") or \
                self.gifts.allowances.find_by_key(f"{rid}:allowance") is None:
            return
        self.gifts.allowances.append(
            allowance_stream(reward["_id"], redemption["volunteer_id"]),
            redemption["quantity"], key=f"{rid}:allowance_back", floor=None,
            fields={"redemption_id": rid, "reason": why})

    # --- how a redemption ends -------------------------------------------------------------

    def fulfill(self, actor, redemption, reward):
        """Staff of the gift's center hand it over. Twice: the same answer."""
        if actor["role"] != "center_staff" or actor.get("center_id") != reward.get("center_id"):
            raise NotFound(f"redemption {redemption['_id']} not found")
        return self._end(actor, redemption, reward, FULFILLED)

    def hand_over(self, actor, center_id, pickup_code):
        """Staff of the center hand over the gift a volunteer's pickup code names: the
        redemption listed under the code that still waits (else the newest), fulfilled."""
        check_center_staff(actor, center_id)
        found = None
        for entry in self.gifts.listings.entries_of(pickup_code_stream(center_id, pickup_code),
                                                    limit=CODE_LOOKUPS):
            redemption = self.store.redemption(entry["redemption_id"])
            if redemption is None:
                continue  # listed, never stored
            found = found or redemption
            if redemption["status"] == domain.CONFIRMED:
                found = redemption
                break
        if found is None:
            raise NotFound(f"no gift of center {center_id} has pickup code {pickup_code}",
                           code="unknown_pickup_code",
                           fields={"pickup_code": ["no gift of this center has this code"]})
        return self.fulfill(actor, found, self.store.get(self.store.rewards,
                                                         found["reward_id"], "reward"))

    def waiting(self, actor, center_id, limit=50, cursor=None):
        """The center's gifts redeemed and waiting for pickup, newest first: one page of the
        center's gift log (limit + 1 entries, a few lookups each), the ended ones left out, so
        a page may hold fewer than ``limit``; next_cursor goes on."""
        check_center_staff(actor, center_id)
        if cursor is not None and not SEQ_CURSOR.fullmatch(str(cursor)):
            raise InvalidInput("bad cursor", fields={"cursor": ["as returned in next_cursor"]})
        limit = max(1, min(int(limit), MAX_PAGE))
        entries = self.gifts.listings.entries_of(
            center_gifts_stream(center_id),
            before_seq=int(cursor) if cursor is not None else None, limit=limit + 1)
        items = []
        for entry in entries[:limit]:
            redemption = self.store.redemption(entry["redemption_id"])
            if redemption is None or redemption["status"] != domain.CONFIRMED:
                continue
            reward = self.store.get(self.store.rewards, redemption["reward_id"], "reward")
            items.append(self.answer(redemption, reward, to_volunteer=False))
        next_cursor = entries[limit - 1]["seq"] if len(entries) > limit else None
        return {"items": items, "next_cursor": str(next_cursor) if next_cursor else None}

    def cancel(self, actor, redemption, reward):
        """The volunteer (before pickup), staff of the center, or an admin cancel it."""
        own = actor["role"] == "volunteer" and actor.get("subject_id") == redemption[
            "volunteer_id"]
        staff = actor["role"] == "center_staff" and actor.get("center_id") == reward.get(
            "center_id")
        if not (own or staff or actor["role"] == "admin"):
            raise NotFound(f"redemption {redemption['_id']} not found")
        return self._end(actor, redemption, reward, CANCELLED)

    def _end(self, actor, redemption, reward, asked):
        rid, wanted = redemption["_id"], asked
        closure = self.gifts.closures.find_one({"_id": rid})
        if closure is None:
            if redemption["status"] != domain.CONFIRMED:
                raise Conflict(f"a {redemption['status']} redemption cannot be {wanted}",
                               code=f"redemption_{redemption['status']}")
            if self._overdue(redemption):
                wanted = EXPIRED  # the pickup period is over: it expires, whoever asks
            closure = self.close(rid, wanted, actor["user_id"])
        # A cancel finds an expired redemption given back already: that is what it asked for.
        if closure["status"] != asked and (asked, closure["status"]) != (CANCELLED, EXPIRED):
            raise Conflict(f"this redemption was {closure['status']} already",
                           code=f"already_{closure['status']}")
        return self.answer(dict(redemption, status=closure["status"]), reward,
                           to_volunteer=actor.get("subject_id") == redemption["volunteer_id"])

    def _overdue(self, redemption):
        day = redemption.get("pickup_day")
        return day is not None and self.clock() >= day_end(day)

    def close(self, rid, status, by):
        """Decide the redemption's end (unless decided), give back what it says, unmark."""
        self.gifts.closing.mark(rid, status=status, by=by)
        closure, created = self.store.insert_or_replay(self.gifts.closures, {
            "_id": rid, "status": status, "by": by, "at": self.clock()})
        if created and self.metrics is not None:
            self.metrics.count(f"redemption_{status}")
        self._give_back(rid, closure)
        self.gifts.closing.done(rid)
        return closure

    def _give_back(self, rid, closure):
        """What an end returns, each step once by its key: points, stock, allowance."""
        if closure["status"] not in GIVES_BACK:
            return
        redemption = self.store.redemptions.find_one({"_id": rid})
        reward = self.store.get(self.store.rewards, redemption["reward_id"], "reward")
        why = f"redemption {closure['status']}"
        self.points.credit_back({
            "account": redemption["volunteer_id"], "points": redemption["points"],
            "key": refund_key(rid), "refund_of": f"redemption:{rid}", "kind": "refund",
            "ref_type": "redemption", "ref_id": rid, "by": closure["by"],
            "reason": f"{why}: {redemption['quantity']} × {reward['title']}"})
        if reward["tracks_stock"]:
            self.store.stock.append(reward["_id"], redemption["quantity"], key=f"{rid}:restock",
                                    floor=None, fields={"reason": why, "by": closure["by"]})
        self.return_allowance(reward, redemption, why)

    def resume_closing(self, rid):
        """Recovery: an end a crash interrupted is decided as its marker asked (unless decided
        already) and given back."""
        marker = self.gifts.closing.details(rid)
        if marker is not None:
            self.close(rid, marker["status"], marker["by"])

    # --- expiry ----------------------------------------------------------------------------

    def expire_uncollected(self, max_days=31):
        """Expire every confirmed redemption whose pickup day has ended. Walks the ended days
        from the first one not walked completely, each from where the last walk stopped; a
        redemption still pending holds its day open until its saga ends. Safe on several
        replicas at once: an end is decided by its insert, a lagging progress costs a re-read."""
        expired = 0
        walks = self.gifts.expiry_walks
        first = (walks.find_one({"_id": "first_open_day"}) or {}).get("day")
        moment = self.clock()
        today = moment.astimezone(PICKUP_ZONE).date()
        day = dt.date.fromisoformat(first) if first else today - dt.timedelta(days=1)
        first_open = None
        for _ in range(max_days):
            if day_end(day.isoformat()) > moment:
                break
            done, count = self._walk_day(day.isoformat())
            expired += count
            if not done and first_open is None:
                first_open = day
            day += dt.timedelta(days=1)
        first_open = first_open or day
        if first_open.isoformat() != first:
            walks.replace_one({"_id": "first_open_day"}, {"day": first_open.isoformat()},
                              upsert=True)
        return expired

    def _walk_day(self, day):
        """Expire what is due under one ended day; (whether the day is done, how many)."""
        stream = pickup_stream(day)
        progress = self.gifts.expiry_walks.find_one({"_id": stream}) or {}
        seq, walked, expired, done = progress.get("seq", 0), progress.get("seq", 0), 0, True
        while True:
            entry = self.gifts.listings.entries.find_one({"_id": entry_id(stream, seq + 1)})
            if entry is None:
                break
            seq += 1
            try:
                verdict = self._expire_if_due(entry["redemption_id"], day)
            except Exception:  # noqa: BLE001 - e.g. points down: its marker is left for recovery
                log.exception("could not expire redemption %s; will try again",
                              entry["redemption_id"])
                verdict = "wait"
            if verdict == "wait":
                done = False
            elif verdict == "expired":
                expired += 1
            if done:
                walked = seq
        if walked != progress.get("seq", 0):
            self.gifts.expiry_walks.replace_one({"_id": stream}, {"seq": walked}, upsert=True)
        return done, expired

    def _expire_if_due(self, rid, day):
        redemption = self.store.redemptions.find_one({"_id": rid})
        if redemption is None:
            # Listed, not stored: the request is under way, or died and recovery will abandon it.
            return "wait"
        if redemption.get("abandoned") or redemption.get("pickup_day") != day:
            return "skip"  # never stored, or listed under another day by a retried request
        if self.gifts.closures.find_one({"_id": rid}) is not None:
            return "skip"
        outcome = self.store.outcomes.find_one({"_id": rid})
        if outcome is None:
            return "wait"  # its saga has not ended: wait for it
        if outcome["status"] != domain.CONFIRMED:
            return "skip"
        closure = self.close(rid, EXPIRED, "pickup-expiry")
        return "expired" if closure["status"] == EXPIRED else "skip"

    # --- reading ---------------------------------------------------------------------------

    def answer(self, redemption, reward, to_volunteer):
        out = schemas.RedemptionOut().dump(dict(
            redemption, reward_title=reward["title"], reward_kind=reward["kind"]))
        if not to_volunteer:
            out["pickup_code"] = None  # the code collects the gift: only its volunteer sees it
        return out

    def page(self, actor, volunteer_id, limit=50, cursor=None):
        """A volunteer's redemptions newest first, off their log: limit + 1 entries and a few
        lookups per item, however many redemptions are stored."""
        if cursor is not None and not SEQ_CURSOR.fullmatch(str(cursor)):
            raise InvalidInput("bad cursor", fields={"cursor": ["as returned in next_cursor"]})
        limit = max(1, min(int(limit), MAX_PAGE))
        entries = self.gifts.listings.entries_of(
            volunteer_id, before_seq=int(cursor) if cursor is not None else None,
            limit=limit + 1)
        to_volunteer = actor["role"] == "volunteer" and actor.get("subject_id") == volunteer_id
        items = []
        for entry in entries[:limit]:
            if entry.get("source") == merchants.MERCHANT_SOURCE:  # redeemed at a merchant
                listed = merchants.as_listed(self.store, entry["redemption_id"])
                if listed is not None:
                    items.append(schemas.RedemptionOut().dump(listed))
                continue
            redemption = self.store.redemption(entry["redemption_id"])
            if redemption is None:
                continue  # listed, never stored
            reward = self.store.rewards.find_one({"_id": redemption["reward_id"]}) or {
                "title": None, "kind": None}
            items.append(self.answer(redemption, reward, to_volunteer))
        next_cursor = entries[limit - 1]["seq"] if len(entries) > limit else None
        return {"items": items, "next_cursor": str(next_cursor) if next_cursor else None}
