"""Records waiting for a decision, counted per center: the header of the center's pages.

Counting them by reading the center's records would grow with its history, so the count is a
tally kept as records come and go (an AppendLog, ``center_pending``): +1 under
``pending:<record>`` once a record is logged (a sheet, an import, a check-out: all pass through
VolunteerService._log_entries), -1 under ``decided:<record>`` once its approval or rejection is
followed (_follow_decision, or followups.py for an activity at once). Each key is decided once,
so a retried sheet, a redelivered decision or the recovery timer counts nothing twice. A record
a refused sheet voided is never counted: it never leaves hours.log_records as logged.

A center's count is spread over SHARDS streams by record (``<center>:<shard>``), as its month
tally is (shared/center_months.py): approving a whole activity takes its records off side by
side, and on one stream they would all race for the next entry. Reading it costs SHARDS heads.

Records logged before this tally existed join it once per database (PendingBackfill).
"""
import logging
import weakref

from nameko.rpc import rpc
from nameko.timer import timer

from services.shared import contracts, migrations
from services.shared.appendlog import AppendLog
from services.shared.center_months import SHARDS, shard_of
from services.shared.contracts import load
from services.shared.errors import Busy
from services.shared.migrations import PagedMigration
from services.volunteer import domain

log = logging.getLogger(__name__)

LEAVE_PENDING = (domain.APPROVED, domain.REJECTED)  # a void happens only at logging
MIGRATION = "center_pending"
BACKFILL_INTERVAL_SECONDS = 1

_LOGS = weakref.WeakKeyDictionary()


def tally(store):
    """The store's pending tally (its indexes are made at start, by the backfill's timer)."""
    log_ = _LOGS.get(store)
    if log_ is None:
        log_ = _LOGS[store] = AppendLog(store.db, "center_pending")
    return log_


def stream(center_id, record_id):
    return f"{center_id}:{shard_of(record_id)}"


def logged_key(record_id):
    return f"pending:{record_id}"


def decided_key(record_id):
    return f"decided:{record_id}"


def count_logged(store, records):
    """+1 for each logged record, once per record (raises Busy on a stream too hot now: the
    sheet's retry replays its records and counts them then)."""
    store._each(lambda record: tally(store).append(
        stream(record["center_id"], record["_id"]), 1, key=logged_key(record["_id"]),
        floor=None), records)


def count_decided(store, record, decision):
    """-1 once the record left pending by ``decision``; True when done or nothing to do,
    False when its stream is too busy now (the decision stays in flight: recovery finishes)."""
    if decision is None or decision["status"] not in LEAVE_PENDING:
        return True
    target = stream(record["center_id"], record["_id"])
    try:
        tally(store).append(target, -1, key=decided_key(record["_id"]), floor=None)
    except Busy:
        log.warning("pending count %s busy; recovery will take %s off", target, record["_id"])
        return False
    return True


def decided_items(records):
    """(stream, delta, key, fields) of records an activity's approval took off, for
    followups.append_each."""
    return [(stream(record["center_id"], record["_id"]), -1, decided_key(record["_id"]), None)
            for record in records]


def pending_count(store, center_id):
    total = sum(store._each(tally(store).total,
                            [f"{center_id}:{shard}" for shard in range(SHARDS)]))
    # Below zero only for a moment: a record logged before this tally, decided before the
    # backfill has counted it in.
    return max(total, 0)


class PendingBackfill:
    """Records logged before the tally: each counted in as it would have been, under the same
    keys (a live sheet or decision racing it, or a page walked twice, counts nothing twice).
    A voided record never counted; any other was logged (+1), and one no longer pending also
    left (-1)."""

    def __init__(self, store, page_size=None):
        self.store = store
        self.migration = PagedMigration(store.db.migrations, MIGRATION, [
            ("hours", store.hours, self.hours)], page_size or migrations.PAGE_SIZE)

    def hours(self, page):
        statuses = self.store._each(lambda record: self.store.status_of(record["_id"])[0], page)
        try:
            for record, status in zip(page, statuses):
                if status == domain.VOIDED:
                    continue
                count_logged(self.store, [record])
                if status != domain.PENDING:
                    tally(self.store).append(stream(record["center_id"], record["_id"]), -1,
                                             key=decided_key(record["_id"]), floor=None)
        except Busy as busy:
            log.warning("pending backfill waits for a busy stream: %s", busy)
            return False
        return True


_BACKFILLS = weakref.WeakKeyDictionary()


class PendingEntrypoints:
    """Mixed into VolunteerService: the center's pending count, and its backfill."""

    @rpc
    def center_pending(self, actor, center_id):
        """{center_id, pending}: staff of that center or an admin; another community's center
        is unknown (404)."""
        actor = load(contracts.ActorSchema(), actor)
        center = self.store.get(self.store.centers, center_id, "center")
        domain.require_in_tenant(actor, center["community_id"], "center", center_id)
        domain.require_staff_of_center(actor, center_id, admin_too=True)
        return {"center_id": center_id, "pending": pending_count(self.store, center_id)}

    @timer(interval=BACKFILL_INTERVAL_SECONDS, eager=True)
    def backfill_pending_counts(self):
        backfill = _BACKFILLS.get(self.store)
        if backfill is None:
            tally(self.store).ensure_indexes()  # eager: at start, before the first request
            backfill = _BACKFILLS[self.store] = PendingBackfill(self.store)
        if backfill.migration.finished():
            return
        if backfill.migration.tick():
            log.info("records logged earlier are in the centers' pending counts now")
