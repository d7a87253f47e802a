"""The rewards service's database: merchants, the catalog, shelf stock and redemptions.

Stock is an append-only log per reward (``shared.appendlog``): taking stock is an entry that may
not bring the total below zero, giving it back is another entry, each keyed by its redemption.
"""
from services.rewards.bookings import BookingStore
from services.rewards.catalog import Catalog
from services.rewards.domain import CANCELLED, CONFIRMED, FAILED, FULFILLED, with_outcome
from services.rewards.gifts import GiftStore
from services.rewards.merchants import MerchantStore
from services.shared.appendlog import AppendLog
from services.shared.clock import now
from services.shared.inflight import InFlight
from services.shared.storage import get_or_404, insert_or_replay


class RewardsStore:
    def __init__(self, db):
        self.merchants = db.merchants
        self.rewards = db.rewards
        self.redemptions = db.redemptions  # what was asked: never changed once stored
        self.outcomes = db.redemption_outcomes  # _id = redemption id: decided once
        self.migrations = db.migrations  # one-off backfills done, by name
        self.pending = InFlight(db.pending_redemptions)  # sagas under way
        self.stock = AppendLog(db, "stock")
        self.catalog = Catalog(db)  # which rewards a catalog page lists
        self.gifts = GiftStore(db)  # how redemptions end, limits, listings (rewards/gifts.py)
        self.merchant = MerchantStore(db)  # codes, counter redemptions (rewards/merchants.py)
        self.bookings = BookingStore(db)  # how services end (rewards/bookings.py)

    def ensure_indexes(self):
        self.stock.ensure_indexes()
        self.catalog.ensure_indexes()
        self.gifts.ensure_indexes()
        self.merchant.ensure_indexes()
        self.catalog.backfill(self.rewards)
        self.backfill_outcomes()

    def backfill_outcomes(self):
        """Redemptions finished before outcomes were documents kept their status on
        themselves: give each its outcome, once per database (else they would read as pending
        and a retry would run their saga again)."""
        if self.migrations.find_one({"_id": "redemption_outcomes"}) is not None:
            return
        for redemption in self.redemptions.find({}):
            if redemption.get("status") in (CONFIRMED, FAILED, FULFILLED, CANCELLED):
                self.insert_or_replay(self.outcomes, {
                    "_id": redemption["_id"], "status": redemption["status"],
                    "failure": redemption.get("failure"),
                    "at": redemption.get("finished_at") or redemption.get("created_at")})
        self.insert_or_replay(self.migrations, {"_id": "redemption_outcomes", "at": now()})

    def redemption(self, rid):
        """The stored redemption with its status (from its outcome), or None."""
        redemption = self.redemptions.find_one({"_id": rid})
        if redemption is None or redemption.get("abandoned"):
            return None
        return self.gifts.with_end(
            with_outcome(redemption, self.outcomes.find_one({"_id": rid})))

    get = staticmethod(get_or_404)
    insert_or_replay = staticmethod(insert_or_replay)
