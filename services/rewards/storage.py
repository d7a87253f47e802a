"""The rewards service's database: merchants, the catalog, shelf stock and redemptions.

Stock is an append-only log per reward (``shared.appendlog``): taking stock is an entry that may
not bring the total below zero, giving it back is another entry, each keyed by its redemption.
"""
from services.shared.appendlog import AppendLog
from services.shared.inflight import InFlight
from services.shared.storage import get_or_404, insert_or_replay


class RewardsStore:
    def __init__(self, db):
        self.merchants = db.merchants
        self.rewards = db.rewards
        self.redemptions = db.redemptions
        self.pending = InFlight(db.pending_redemptions)  # sagas under way
        self.stock = AppendLog(db, "stock")

    def ensure_indexes(self):
        self.stock.ensure_indexes()

    get = staticmethod(get_or_404)
    insert_or_replay = staticmethod(insert_or_replay)
