"""Markers for multi-step work that must finish even if the process dies half-way.

Without multi-document transactions, a change that spans several documents (a decision, then a
tally entry, then an outbox event; or stock, then points) is done as idempotent steps. A marker
is stored before the first step and removed after the last; a timer finds markers that stayed
too long and runs the steps again, which completes what is missing and repeats nothing.
The marker collection holds only work under way, so scanning it stays cheap.
"""
import datetime as dt

from pymongo.errors import DuplicateKeyError

from services.shared.clock import now

STALLED_AFTER = dt.timedelta(seconds=30)
RECOVERY_INTERVAL_SECONDS = 10


class InFlight:
    def __init__(self, collection):
        self.collection = collection

    def mark(self, work_id):
        try:
            self.collection.insert_one({"_id": work_id, "since": now()})
        except DuplicateKeyError:
            pass  # already under way (a retry)

    def done(self, work_id):
        self.collection.delete_one({"_id": work_id})

    def stalled(self, older_than=STALLED_AFTER, limit=100):
        """Ids of work marked longer ago than ``older_than``."""
        cutoff = now() - older_than
        return [m["_id"] for m in self.collection.find({}).limit(limit) if m["since"] <= cutoff]
