"""The rewards service's database: merchants, the catalog, shelf stock and redemptions.

Stock is an append-only log per reward (``shared.appendlog``): taking stock is an entry that may
not bring the total below zero, giving it back is another entry, each keyed by its redemption.
"""
from pymongo.errors import DuplicateKeyError

from services.shared.appendlog import AppendLog
from services.shared.errors import NotFound


class RewardsStore:
    def __init__(self, db):
        self.merchants = db.merchants
        self.rewards = db.rewards
        self.redemptions = db.redemptions
        self.stock = AppendLog(db, "stock")

    def ensure_indexes(self):
        self.stock.ensure_indexes()

    def get(self, collection, doc_id, what):
        doc = collection.find_one({"_id": doc_id})
        if doc is None:
            raise NotFound(f"{what} {doc_id} not found")
        return doc

    def insert_or_replay(self, collection, doc):
        try:
            collection.insert_one(doc)
            return doc, True
        except DuplicateKeyError:
            return collection.find_one({"_id": doc["_id"]}), False
