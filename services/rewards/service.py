"""The rewards service: partner merchants, the catalog, and redemptions as sagas.

A redemption takes stock, then debits points through the points service; when the debit is
refused it gives the stock back. Every step is keyed by the redemption, so running the saga
again for the same redemption (a retried request, or the recovery timer after a crash or a
timeout) finishes it without doing anything twice. The runner is rewards/saga.py, the same for
a merchant's counter (merchants.py); this module gives the shelf's steps.
"""
import functools
import logging
import re

from nameko.rpc import rpc
from nameko.timer import timer

from services.rewards import bookings, domain, gifts, saga, schemas
from services.rewards.merchant_days import MerchantDays
from services.rewards.merchants import MerchantRedemptions
from services.rewards.storage import RewardsStore
from services.shared import contracts
from services.shared.listings import EarlierListings, Listings, MerchantListArgs, merchants_of
from services.shared.access import require_role
from services.shared.clock import now
from services.shared.contracts import load
from services.shared.errors import Conflict, InsufficientPoints, InvalidInput, NotFound, \
    OutOfStock, RuleViolation
from services.shared.ids import id_for_request
from services.shared.inflight import RECOVERY_INTERVAL_SECONDS, resume_each
from services.shared.metrics import ExposesMetrics
from services.shared.rpc import TimedRpcProxy
from services.shared.storage import MongoStore

log = logging.getLogger(__name__)

MAX_PAGE = 200
SEQ_CURSOR = re.compile(r"[1-9][0-9]{0,17}")  # a catalog cursor: an entry's seq


EARLIER_LISTINGS_INTERVAL_SECONDS = 1  # a page a tick, in the background


class RewardsService(MerchantRedemptions, MerchantDays, ExposesMetrics):
    name = "rewards"

    store = MongoStore("rewards", RewardsStore)
    listings = MongoStore("rewards", Listings)
    points = TimedRpcProxy("points")
    volunteer = TimedRpcProxy("volunteer")
    clock = staticmethod(now)  # what time it is for the gift shelf; tests set their own

    # --- merchants ---------------------------------------------------------------------------

    @rpc
    def create_merchant(self, actor, body, request_key=None):
        actor = load(contracts.ActorSchema(), actor)
        require_role(actor, "admin")
        data = load(contracts.MerchantIn(), body)
        self.volunteer.get_community(data["community_id"])
        doc = dict(data, _id=id_for_request("mer", request_key), created_at=now())
        doc, _ = self.store.insert_or_replay(self.store.merchants, doc)
        self.listings.add(merchants_of(doc["community_id"]), doc["_id"])
        return schemas.MerchantOut().dump(doc)

    @rpc
    def list_merchants(self, actor, args):
        """A community's merchants, newest first (admin): a stream of shared.listings."""
        require_role(load(contracts.ActorSchema(), actor), "admin")
        args = load(MerchantListArgs(), args)
        self.volunteer.get_community(args["community_id"])
        ids, next_cursor = self.listings.page(merchants_of(args["community_id"]),
                                              args["limit"], args["cursor"])
        found = (self.store.merchants.find_one({"_id": merchant_id}) for merchant_id in ids)
        return {"items": [schemas.MerchantOut().dump(m) for m in found if m is not None],
                "next_cursor": next_cursor}

    @timer(interval=EARLIER_LISTINGS_INTERVAL_SECONDS)
    def list_earlier_merchants(self):
        """Merchants stored before their community's list existed join it, once per database."""
        EarlierListings(self.listings, [
            ("merchants", self.store.merchants, lambda doc: [merchants_of(doc["community_id"])]),
        ]).tick()

    @timer(interval=EARLIER_LISTINGS_INTERVAL_SECONDS)
    def list_earlier_pickups(self):
        """Gifts still waiting that were redeemed before the pickup lists, once per database."""
        self._gift_shelf().earlier_pickups().tick()

    @rpc
    def get_merchant(self, merchant_id):
        return schemas.MerchantOut().dump(
            self.store.get(self.store.merchants, merchant_id, "merchant"))

    # --- catalog -----------------------------------------------------------------------------

    @rpc
    def create_reward(self, actor, body, request_key=None):
        actor = load(contracts.ActorSchema(), actor)
        data = load(contracts.RewardIn(), body)
        if data["kind"] == bookings.KIND:  # offered by a center or by a volunteer
            return bookings.offer(self, actor, data, request_key)
        owner = domain.check_new_reward(actor, data)
        domain.check_stock_field(data)
        gifts.check_terms(data)
        if "center_id" in owner:
            community_id = self.volunteer.get_center(owner["center_id"])["community_id"]
        else:
            community_id = self.get_merchant(owner["merchant_id"])["community_id"]
        reward = {
            "_id": id_for_request("rwd", request_key), "kind": data["kind"],
            "title": data["title"], "description": data["description"],
            "cost_points": data["cost_points"], "community_id": community_id,
            "center_id": owner.get("center_id"), "merchant_id": owner.get("merchant_id"),
            "tracks_stock": data["stock"] is not None, **gifts.terms_of(data),
            "daily_quota": data["daily_quota"],
            "created_by": actor["user_id"], "created_at": now(),
        }
        # Listed before it is stored: a crash in between leaves an entry that pages skip, never
        # a stored reward that no catalog page shows.
        self.store.catalog.add(reward)
        reward, _ = self.store.insert_or_replay(self.store.rewards, reward)
        if data["stock"]:
            self.store.stock.append(reward["_id"], data["stock"], key=f"{reward['_id']}:initial",
                                    fields={"reason": "initial stock", "by": actor["user_id"]})
        return self._reward_out(reward)

    def _reward_out(self, reward):
        if reward["kind"] == bookings.KIND:
            return bookings.offer_out(self.store, reward)
        stock = self.store.stock.total(reward["_id"]) if reward["tracks_stock"] else None
        return schemas.RewardOut().dump(dict(reward, stock=stock))

    @rpc
    def get_reward(self, reward_id):
        return self._reward_out(self.store.get(self.store.rewards, reward_id, "reward"))

    @rpc
    def list_rewards(self, community_id=None, kind=None, limit=50, cursor=None, actor=None):
        """A page of the catalog, newest first; without ``community_id`` the caller's community
        (everything for an admin, who belongs to none). About 4 × limit _id lookups: the index
        page (limit + 3), then per item the reward (1) and its stock's head (2)."""
        if kind is not None and kind not in contracts.REWARD_KINDS:
            raise InvalidInput("unknown kind", fields={"kind": [
                f"one of {', '.join(contracts.REWARD_KINDS)}"]})
        if cursor is not None and not SEQ_CURSOR.fullmatch(str(cursor)):
            raise InvalidInput("bad cursor", fields={"cursor": ["as returned in next_cursor"]})
        if not community_id and actor is not None:
            community_id = load(contracts.ActorSchema(), actor)["community_id"]
        limit = max(1, min(int(limit), MAX_PAGE))
        reward_ids, next_cursor = self.store.catalog.page(
            community_id, kind, limit, before_seq=int(cursor) if cursor is not None else None)
        rewards = (self.store.rewards.find_one({"_id": rid}) for rid in reward_ids)
        return {"items": [self._reward_out(r) for r in rewards if r is not None],
                "next_cursor": str(next_cursor) if next_cursor else None}

    # --- redemptions -------------------------------------------------------------------------

    @rpc
    def redeem(self, actor, body, request_key=None):
        actor = load(contracts.ActorSchema(), actor)
        data = load(contracts.RedemptionIn(), body)
        rid = id_for_request("rdm", request_key)
        runner = self._shelf_saga()
        redemption = runner.begin(rid, lambda: self._new_redemption(actor, data, rid),
                                self._gift_shelf().list_new)
        domain.check_same_request(redemption, data)
        outcome = runner.outcome(redemption)
        if outcome["status"] == domain.FAILED:
            error = {"out_of_stock": OutOfStock, "insufficient_points": InsufficientPoints,
                     gifts.LIMIT_REACHED: lambda message: RuleViolation(
                         message, code=gifts.LIMIT_REACHED,
                         fields={"quantity": ["over this gift's limit per volunteer"]})}
            raise error[outcome["failure"]](
                f"redemption failed: {outcome['failure'].replace('_', ' ')}")
        return schemas.RedemptionOut().dump(domain.with_outcome(redemption, outcome))

    def _new_redemption(self, actor, data, rid):
        """The redemption a new request asks for, after its checks; nothing stored yet."""
        reward = self.store.get(self.store.rewards, data["reward_id"], "reward")
        domain.check_redeemable(actor, reward, data["volunteer_id"])
        created_at = self.clock()
        gifts.check_window(reward, created_at)
        return {
            "_id": rid, "reward_id": reward["_id"],
            "volunteer_id": data["volunteer_id"], "quantity": data["quantity"],
            "points": domain.redemption_cost(reward, data["quantity"]),
            "created_at": created_at,
            "pickup_day": gifts.pickup_day(reward, created_at),
            # Chosen now, shown once confirmed: whoever finishes the saga shows the same code.
            "pickup_code": domain.pickup_code(), "by": actor["user_id"],
            **bookings.booking_terms(reward, data),  # a service's slot, its stock stream
        }

    @timer(interval=RECOVERY_INTERVAL_SECONDS)
    def resume_stalled_redemptions(self):
        """Finish sagas that stopped half-way (a crash, the points service unreachable)."""
        resume_each(self.store.pending.stalled(), self._shelf_saga().resume, log, self.metrics)

    def _shelf_saga(self):
        """Gifts and booked services: the allowance, the stock (a service's slot), the debit."""
        return saga.Saga(self.store.redemptions, self.store.outcomes, self.store.pending,
                         self._shelf_steps, domain.CONFIRMED, "redemption_", self.metrics)

    def _shelf_steps(self, redemption):
        """The reward comes from the stored redemption, never from a retried request's body."""
        rid, quantity, by = redemption["_id"], redemption["quantity"], redemption["by"]
        reward = self.store.get(self.store.rewards, redemption["reward_id"], "reward")
        steps = []
        if reward.get("per_volunteer_limit"):
            steps.append(self._gift_shelf().allowance_step(reward, redemption))
        if reward["tracks_stock"]:
            steps.append(saga.log_step(
                self.store.stock, redemption.get("stock_stream", reward["_id"]), quantity,
                key=f"{rid}:take", floor=0, failure="out_of_stock",
                fields={"reason": "redeemed", "by": by}, back_key=f"{rid}:return",
                back_fields={"reason": "redemption failed", "by": by}))
        steps.append(saga.debit_step(self.points, {
            "account": redemption["volunteer_id"], "points": redemption["points"],
            "key": f"redemption:{rid}", "ref_type": "redemption", "ref_id": rid,
            "by": by, "kind": "redeem", "reason": f"redeemed {quantity} × {reward['title']}"}))
        return steps

    # --- how a redemption ends: fulfil, cancel, expiry (by the reward's kind) -------------------

    def _gift_shelf(self):
        return gifts.GiftShelf(self.store, self.points, self.metrics, clock=self.clock)

    def _ending_for(self, reward):
        """Who ends a redemption of this kind of reward: ``(fulfill, cancel)`` callables taking
        (actor, redemption, reward). Other kinds plug theirs in here."""
        shelf = self._gift_shelf()
        return {"gift": (shelf.fulfill, shelf.cancel),
                bookings.KIND: (functools.partial(bookings.fulfill, self),
                                functools.partial(bookings.cancel, self))}.get(reward["kind"])

    def _end_redemption(self, actor, redemption_id, which):
        actor = load(contracts.ActorSchema(), actor)
        redemption = self.store.redemption(redemption_id)
        if redemption is None:
            raise NotFound(f"redemption {redemption_id} not found")
        reward = self.store.get(self.store.rewards, redemption["reward_id"], "reward")
        ending = self._ending_for(reward)
        if ending is None:
            raise Conflict(f"a {reward['kind']} redemption cannot be ended this way",
                           code="not_endable")
        return ending[which](actor, redemption, reward)

    @rpc
    def fulfill_redemption(self, actor, redemption_id):
        return self._end_redemption(actor, redemption_id, 0)

    @rpc
    def hand_over_gift(self, actor, center_id, pickup_code):
        """Staff hand over the gift a volunteer's pickup code names (POST /centers/{id}/pickups)."""
        return self._gift_shelf().hand_over(load(contracts.ActorSchema(), actor), center_id,
                                            pickup_code)

    @rpc
    def center_pickups(self, actor, center_id, limit=50, cursor=None):
        """A center's gifts waiting for pickup, newest first (GET /centers/{id}/pickups)."""
        return self._gift_shelf().waiting(load(contracts.ActorSchema(), actor), center_id,
                                          limit, cursor)

    @rpc
    def cancel_redemption(self, actor, redemption_id):
        if self.is_merchant_redemption(redemption_id):  # a void at the counter: merchants.py
            return self.void_merchant_redemption(actor, redemption_id)
        return self._end_redemption(actor, redemption_id, 1)

    @rpc
    def volunteer_redemptions(self, actor, volunteer_id, limit=50, cursor=None):
        """A volunteer's redemptions, newest first; the gateway has checked who may see them."""
        return self._gift_shelf().page(load(contracts.ActorSchema(), actor), volunteer_id,
                                       limit, cursor)

    @timer(interval=RECOVERY_INTERVAL_SECONDS)
    def finish_stalled_endings(self):
        """Ends (fulfil, cancel, expiry) a crash interrupted are decided and given back."""
        shelf = self._gift_shelf()
        resume_each(shelf.gifts.closing.stalled(), shelf.resume_closing, log, self.metrics)

    @timer(interval=RECOVERY_INTERVAL_SECONDS)
    def finish_stalled_bookings(self):
        """Deliveries and cancellations of services a crash interrupted are carried out."""
        bookings.resume_stalled(self)

    @timer(interval=RECOVERY_INTERVAL_SECONDS)
    def expire_uncollected_gifts(self):
        """Gifts not collected within their pickup period expire: points and stock go back."""
        expired = self._gift_shelf().expire_uncollected()
        if expired:
            log.info("%s uncollected gift redemptions expired", expired)
