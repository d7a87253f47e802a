"""The append-only log on the real store: the guarantees the ledger and stock rest on."""
import eventlet
import pytest
from pymongo.errors import DuplicateKeyError

from services.shared.appendlog import AppendLog, FloorBreached


@pytest.fixture
def log(store):
    log = AppendLog(store("points"), "ledger")
    log.ensure_indexes()
    return log


def test_the_same_key_appends_once(log):
    results = [log.append("acct", 25, key="hours:r1:credit", floor=None) for _ in range(3)]
    assert [created for _, created in results] == [True, False, False]
    assert {entry["_id"] for entry, _ in results} == {"acct:1"}
    assert log.total("acct") == 25


class CountingConflicts:
    """Wraps the entries collection to count lost insert races (DuplicateKeyError)."""

    def __init__(self, collection):
        self.collection = collection
        self.conflicts = 0

    def __getattr__(self, name):
        return getattr(self.collection, name)

    def insert_one(self, doc):
        try:
            return self.collection.insert_one(doc)
        except DuplicateKeyError:
            self.conflicts += 1
            raise


def test_concurrent_debits_never_overdraw(log):
    log.append("acct", 25, key="seed", floor=None)
    log.entries = counting = CountingConflicts(log.entries)
    pool = eventlet.GreenPool(20)

    def debit(i):
        try:
            log.append("acct", -5, key=f"debit:{i}", floor=0)
            return True
        except FloorBreached:
            return False

    outcomes = list(pool.imap(debit, range(20)))
    assert outcomes.count(True) == 5
    assert log.total("acct") == 0
    entries = log.entries_of("acct", newest_first=False)
    assert [e["seq"] for e in entries] == list(range(1, 7))
    assert sum(e["delta"] for e in entries) == 0
    assert log.verify("acct")
    assert counting.conflicts > 0, "the debits did not race; the test proved nothing"


def test_a_stale_head_hint_costs_a_probe_not_a_wrong_total(log, store):
    for i in range(3):
        log.append("acct", 10, key=f"c{i}", floor=None)
    store("points")["ledger_heads"].replace_one({"_id": "acct"}, {"seq": 1, "total_after": 10})
    assert log.head("acct") == (3, 30)
    entry, _ = log.append("acct", -30, key="spend", floor=0)
    assert (entry["seq"], entry["total_after"]) == (4, 0)
