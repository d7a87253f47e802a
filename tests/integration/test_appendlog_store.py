"""The append-only log on the real store: the guarantees the ledger and stock rest on."""
import eventlet
import pymongo
import pytest
from pymongo import monitoring
from pymongo.errors import DuplicateKeyError

from services.shared.appendlog import GENESIS_HASH, AppendLog, FloorBreached, entry_hash
from tests.support import mongo_url


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


def test_the_hash_chain_holds_for_entries_as_the_store_gives_them_back(log):
    """The hash is over what a reader gets back: times at the store's millisecond precision,
    returned without a zone; nested documents in the order they went in."""
    log.append("acct", 25, key="k1", fields={"reason": "积分", "ref": {"type": "hours", "id": "r"}})
    log.append("acct", -5, key="k2", fields={"lots_after": {"2028-12-31": 20}})
    previous = GENESIS_HASH
    for entry in log.entries_of("acct", newest_first=False):
        assert entry["hash"] == entry_hash(entry, previous)
        previous = entry["hash"]
    assert log.verify("acct")


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


# --- one outcome per key, decided by one insert (issue 5, items 1, 2 and 8) ------------------

def test_an_entry_and_a_refusal_exclude_each_other_on_the_store(log):
    """The store's unique index on ``key`` is what makes a refusal final: a runner that saw an
    older total cannot record a refusal for a key whose entry exists, nor the reverse."""
    log.append("acct", 30, key="earn", floor=None)
    log.append("acct", -20, key="spend")
    with pytest.raises(DuplicateKeyError):
        log.entries.insert_one({"_id": "~refused:spend", "key": "spend", "refused": True})
    with pytest.raises(FloorBreached):
        log.append("acct", -50, key="too-much")
    with pytest.raises(DuplicateKeyError):
        log.entries.insert_one({"_id": "acct:3", "key": "too-much", "delta": -50})


def test_runners_of_one_debit_racing_a_credit_all_see_one_outcome(log):
    log.append("acct", 10, key="earn", floor=None)
    log.keys = counting = CountingConflicts(log.keys)  # runners racing to claim the key
    pool = eventlet.GreenPool(12)

    def spend(_):
        try:
            return log.append("acct", -20, key="spend")[0]["_id"]
        except FloorBreached:
            return "refused"

    credit = pool.spawn(lambda: log.append("acct", 50, key="late-credit", floor=None))
    outcomes = set(pool.imap(spend, range(10)))
    credit.wait()
    assert len(outcomes) == 1, outcomes  # one decision, whoever asked and whenever
    assert log.total("acct") == (40 if outcomes != {"refused"} else 60)
    assert log.verify("acct")
    assert counting.conflicts > 0, "the runners did not race; the test proved nothing"


def test_a_key_reused_for_another_stream_is_refused_on_the_store(log):
    from services.shared.errors import KeyReused
    log.append("rwd_a", 5, key="rwd_a:initial", floor=None)
    log.append("rwd_a", -2, key="rdm_1:take")
    with pytest.raises(KeyReused):
        log.append("rwd_b", 2, key="rdm_1:take", floor=None)
    assert (log.total("rwd_a"), log.total("rwd_b")) == (3, 0)


class CommandCounter(monitoring.CommandListener):
    def __init__(self):
        self.commands = []

    def started(self, event):
        if event.command_name in ("find", "insert", "update", "delete"):
            self.commands.append((event.command_name, event.command.get("filter")))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def test_lookups_by_key_cost_the_same_on_a_short_and_a_long_ledger(db_prefix):
    """find_by_key, a replayed credit and a replayed refusal cost the same number of store
    commands, each filtering on _id alone (the only filter FerretDB serves from an index),
    whether the collection holds 10 entries or 5,000."""
    counter = CommandCounter()
    client = pymongo.MongoClient(mongo_url(), tz_aware=True, event_listeners=[counter])
    try:
        costs = {}
        for size in (10, 5000):
            log = AppendLog(client[f"{db_prefix}_points"], f"ledger{size}")
            log.ensure_indexes()
            log.entries.insert_many([{"_id": f"other{i}:1", "stream": f"other{i}", "seq": 1,
                                      "delta": 1, "total_after": 1, "key": f"bulk{i}"}
                                     for i in range(size)])
            log.append("acct", 10, key="earn", floor=None)
            with pytest.raises(FloorBreached):
                log.append("acct", -20, key="spend")
            counter.commands.clear()
            assert log.find_by_key("earn")["delta"] == 10
            assert log.append("acct", 10, key="earn", floor=None)[1] is False
            with pytest.raises(FloorBreached):
                log.append("acct", -20, key="spend")
            costs[size] = list(counter.commands)
        assert len(costs[10]) == len(costs[5000])
        finds = [f for name, f in costs[5000] if name == "find"]
        assert finds and all(set(f) == {"_id"} and isinstance(f["_id"], str) for f in finds)
    finally:
        client.close()
