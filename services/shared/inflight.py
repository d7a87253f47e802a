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
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
RECOVERY_INTERVAL_SECONDS = 10


class InFlight:
    def __init__(self, collection):
        self.collection = collection

    def mark(self, work_id, **details):
        """Mark ``work_id`` under way; ``details`` are what recovery needs to redo it."""
        try:
            self.collection.insert_one(dict(details, _id=work_id, since=now()))
        except DuplicateKeyError:
            pass  # already under way (a retry)

    def details(self, work_id):
        """The marker's document, or None when the work is not (or no longer) under way."""
        return self.collection.find_one({"_id": work_id})

    def is_marked(self, work_id):
        return self.collection.find_one({"_id": work_id}) is not None

    def done(self, work_id):
        self.collection.delete_one({"_id": work_id})

    def stalled(self, older_than=STALLED_AFTER, limit=500):
        """Ids of work marked longer ago than ``older_than``, oldest first.

        Every marker is read: the collection holds only work under way, and a page of the first
        N markers could be all fresh ones while an old one waits behind them for ever.
        """
        cutoff = now() - older_than
        stalled = [m for m in self.collection.find({}) if m.get("since") is None
                   or m["since"] <= cutoff]  # a marker without a time is old by definition
        stalled.sort(key=lambda m: m.get("since") or EPOCH)
        return [m["_id"] for m in stalled[:limit]]


def resume_each(work_ids, resume, log, metrics=None):
    """Run ``resume(work_id)`` for each id; one that fails is logged and left for the next tick
    instead of stopping the others behind it."""
    for work_id in work_ids:
        try:
            resume(work_id)
        except Exception:  # noqa: BLE001 - one bad marker must not stall the rest
            log.exception("in-flight work %s could not be resumed; will try again", work_id)
            if metrics is not None:
                metrics.count("recovery_failed")
