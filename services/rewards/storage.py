"""The rewards service's database: merchants, the catalog, shelf stock and redemptions.

Stock is an append-only log per reward (``shared.appendlog``): taking stock is an entry that may
not bring the total below zero, giving it back is another entry, each keyed by its redemption.
"""
from services.rewards.catalog import Catalog
from services.rewards.domain import with_outcome
from services.shared.appendlog import AppendLog
from services.shared.inflight import InFlight
from services.shared.storage import get_or_404, insert_or_replay


class RewardsStore:
    def __init__(self, db):
        self.merchants = db.merchants
        self.rewards = db.rewards
        self.redemptions = db.redemptions  # what was asked: never changed once stored
        self.outcomes = db.redemption_outcomes  # _id = redemption id: decided once
        self.pending = InFlight(db.pending_redemptions)  # sagas under way
        self.stock = AppendLog(db, "stock")
        self.catalog = Catalog(db)  # which rewards a catalog page lists

    def ensure_indexes(self):
        self.stock.ensure_indexes()
        self.catalog.ensure_indexes()
        self.catalog.backfill(self.rewards)

    def redemption(self, rid):
        """The stored redemption with its status (from its outcome), or None."""
        redemption = self.redemptions.find_one({"_id": rid})
        if redemption is None or redemption.get("abandoned"):
            return None
        return with_outcome(redemption, self.outcomes.find_one({"_id": rid}))

    get = staticmethod(get_or_404)
    insert_or_replay = staticmethod(insert_or_replay)
