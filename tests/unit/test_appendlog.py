import pytest
from pymongo.errors import DuplicateKeyError

from services.shared.appendlog import AppendLog, FloorBreached, entry_hash
from tests.unit.fakes import FakeCollection, FakeDatabase


def new_log(db):
    log = AppendLog(db, "log")
    log.ensure_indexes()
    return log


@pytest.fixture
def log(db):
    return new_log(db)


def test_append_credits_and_advances_the_total(log):
    entry, created = log.append("acct", 100, key="k1", fields={"reason": "earned"})
    assert created
    assert (entry["_id"], entry["seq"], entry["delta"], entry["total_after"]) == (
        "acct:1", 1, 100, 100)
    assert entry["reason"] == "earned"
    log.append("acct", -30, key="k2")
    assert log.head("acct") == (2, 70)
    assert log.total("acct") == 70
    assert log.total("other") == 0


def test_replaying_a_key_returns_the_entry_and_changes_nothing(log):
    first, _ = log.append("acct", 100, key="k1")
    again, created = log.append("acct", 100, key="k1")
    assert created is False
    assert again["_id"] == first["_id"] == "acct:1"
    assert log.head("acct") == (1, 100)


def test_replaying_a_debit_that_would_now_breach_the_floor(log):
    log.append("acct", 50, key="earn")
    log.append("acct", -50, key="spend")
    again, created = log.append("acct", -50, key="spend")
    assert (created, again["_id"]) == (False, "acct:2")
    assert log.total("acct") == 0


def test_floor_refuses_an_overdraft_with_the_total(log):
    log.append("acct", 20, key="k1")
    with pytest.raises(FloorBreached) as caught:
        log.append("acct", -21, key="k2")
    assert caught.value.total == 20
    assert log.head("acct") == (1, 20)
    log.append("acct", -20, key="k3")  # down to the floor exactly is fine
    assert log.total("acct") == 0


def test_no_floor_allows_a_negative_total(log):
    entry, _ = log.append("acct", -5, key="k1", floor=None)
    assert entry["total_after"] == -5 and log.total("acct") == -5


@pytest.mark.parametrize("delta", [1.5, "5", True])
def test_delta_must_be_an_int(log, delta):
    with pytest.raises(TypeError):
        log.append("acct", delta, key="k")


def test_verify_and_entries_of(log):
    for i, delta in enumerate([10, -3, 7, -4], start=1):
        log.append("acct", delta, key=f"k{i}")
    assert log.verify("acct")
    assert [e["seq"] for e in log.entries_of("acct")] == [4, 3, 2, 1]
    assert [e["seq"] for e in log.entries_of("acct", newest_first=False)] == [1, 2, 3, 4]
    assert [e["seq"] for e in log.entries_of("acct", limit=2)] == [4, 3]
    assert [e["seq"] for e in log.entries_of("acct", before_seq=3)] == [2, 1]


def test_verify_detects_a_wrong_total(log):
    log.append("acct", 10, key="k1")
    log.append("acct", 5, key="k2")
    bad = log.entries.find_one({"_id": "acct:2"})
    bad["total_after"] = 16
    log.entries.replace_one({"_id": "acct:2"}, bad)
    assert not log.verify("acct")


def test_head_probes_past_a_stale_hint(log):
    for i in range(1, 4):
        log.append("acct", 10, key=f"k{i}")
    log.heads.replace_one({"_id": "acct"}, {"seq": 1, "total_after": 10})
    assert log.head("acct") == (3, 30)
    entry, _ = log.append("acct", 5, key="k4")
    assert entry["_id"] == "acct:4" and entry["total_after"] == 35


class RacingCollection(FakeCollection):
    """Another writer takes entry ``acct:2`` just before our first insert of it."""

    def __init__(self):
        super().__init__()
        self.raced = False

    def insert_one(self, doc):
        if doc["_id"] == "acct:2" and not self.raced:
            self.raced = True
            competitor = {"_id": "acct:2", "stream": "acct", "seq": 2, "delta": -50,
                          "total_after": 50, "key": "competitor"}
            competitor["hash"] = entry_hash(competitor, self.find_one({"_id": "acct:1"})["hash"])
            super().insert_one(competitor)
        return super().insert_one(doc)


def test_a_lost_race_retries_on_the_new_total():
    log = new_log(FakeDatabase(log=RacingCollection()))
    log.append("acct", 100, key="earn")
    entry, created = log.append("acct", -30, key="mine")
    assert created
    assert (entry["_id"], entry["total_after"]) == ("acct:3", 20)
    assert log.head("acct") == (3, 20)
    assert log.verify("acct")


def test_a_lost_race_rechecks_the_floor():
    log = new_log(FakeDatabase(log=RacingCollection()))
    log.append("acct", 100, key="earn")
    with pytest.raises(FloorBreached) as caught:
        log.append("acct", -60, key="mine")
    assert caught.value.total == 50
    assert log.head("acct") == (2, 50)


# --- a key's outcome is decided once (issue 5, items 1, 2 and 8) ----------------------------

def test_a_refusal_is_final_for_its_key(log):
    log.append("acct", 10, key="earn")
    with pytest.raises(FloorBreached):
        log.append("acct", -20, key="spend")
    log.append("acct", 50, key="earn-more")
    # The balance would now cover it, but "spend" was decided: refused, whoever asks again.
    with pytest.raises(FloorBreached) as caught:
        log.append("acct", -20, key="spend")
    assert caught.value.total == 10  # the total it was refused against
    assert log.total("acct") == 60
    assert log.find_by_key("spend") is None


def test_an_entry_and_a_refusal_cannot_both_decide_a_key(log):
    log.append("acct", 30, key="earn")
    log.append("acct", -20, key="spend")
    # A runner that saw an older, lower total tries to record a refusal for the same key.
    claim = log.keys.find_one({"_id": "spend"})
    with pytest.raises(DuplicateKeyError):
        log.entries.insert_one({"_id": "~refused:spend", "key": "spend", "refused": True,
                                "total": 0})
    outcome = log._refuse("acct", "spend", -20, 0, claim)
    assert outcome["_id"] == "acct:2" and not outcome.get("refused")


@pytest.mark.parametrize("stream, delta", [("other", -5), ("acct", -6), ("acct", 5)])
def test_a_key_reused_for_another_stream_or_amount_is_refused(log, stream, delta):
    from services.shared.errors import KeyReused
    log.append("acct", 50, key="earn")
    log.append("acct", -5, key="take")
    with pytest.raises(KeyReused):
        log.append(stream, delta, key="take", floor=None)
    assert log.total("acct") == 45 and log.total("other") == 0


def test_find_by_key_uses_id_lookups_only(log, db):
    log.append("acct", 50, key="earn")
    log.append("acct", -5, key="take")
    seen = []
    for collection in (log.entries, log.keys, log.heads):
        original = collection.find_one

        def spy(query=None, projection=None, _original=original):
            seen.append(query)
            return _original(query, projection)
        collection.find_one = spy
    assert log.find_by_key("take")["_id"] == "acct:2"
    assert log.find_by_key("never") is None
    assert seen and all(set(q) == {"_id"} and isinstance(q["_id"], str) for q in seen)


def test_a_key_claimed_by_a_crashed_writer_is_placed_by_the_next(log):
    log.append("acct", 50, key="earn")
    log._claim("acct", "spend", -20, head_seq=1)  # claimed, then the writer died
    assert log.find_by_key("spend") is None
    entry, created = log.append("acct", -20, key="spend")
    assert created and entry["_id"] == "acct:2" and log.find_by_key("spend") == entry


def test_a_hot_stream_backs_off_then_answers_busy(db):
    from services.shared.errors import Busy
    waits = []
    log = AppendLog(db, "log", sleep=waits.append)
    log.ensure_indexes()
    log.append("acct", 5, key="k0")
    real_insert = log.entries.insert_one

    def always_taken(doc):  # every attempt finds its entry taken by another writer
        if doc["_id"].startswith("acct:"):
            real_insert(dict(doc, key=f"other-{len(waits)}-{doc['_id']}"))
        return real_insert(doc)
    log.entries.insert_one = always_taken
    with pytest.raises(Busy):
        log.append("acct", 1, key="k1")
    assert len(waits) == AppendLog.MAX_ATTEMPTS - 1
    assert all(0 <= w <= AppendLog.BACKOFF_CAP for w in waits)
    assert max(waits) > AppendLog.BACKOFF_BASE  # it did back off, not spin


def test_an_undecided_claim_on_a_busy_stream_is_walked_once(log):
    log._claim("acct", "spend", -20, head_seq=0)  # claimed, then the writer died
    for i in range(40):
        log.append("acct", 1, key=f"earn{i}", floor=None)
    assert log.find_by_key("spend") is None
    assert log.keys.find_one({"_id": "spend"})["from_seq"] == 40
    entry, created = log.append("acct", -20, key="spend")
    assert created and entry["seq"] == 41 and log.find_by_key("spend") == entry


def test_entries_from_before_claims_are_claimed_once_at_start(db):
    """Data written by the earlier code (entries with a key, no claim) keeps working."""
    legacy = db["log"]
    legacy.insert_one({"_id": "acct:1", "stream": "acct", "seq": 1, "delta": 25,
                       "total_after": 25, "key": "hours:r1:credit"})
    legacy.insert_one({"_id": "acct:2", "stream": "acct", "seq": 2, "delta": -5,
                       "total_after": 20, "key": "hours:r1:reversal"})
    log = new_log(db)  # ensure_indexes backfills
    assert log.find_by_key("hours:r1:credit")["_id"] == "acct:1"
    assert log.append("acct", 25, key="hours:r1:credit", floor=None) == (
        log.find_by_key("hours:r1:credit"), False)  # a redelivered approval: a replay
    replay, created = log.append_planned("acct", "hours:r1:reversal",
                                         lambda total, previous: (-total, {}))
    assert (replay["_id"], created) == ("acct:2", False)
    assert log.total("acct") == 20
    db["log_keys"].docs.clear()  # marked done: a second start does not read everything again
    new_log(db)
    assert log.find_by_key("hours:r1:credit") is None


def test_verify_finds_an_edited_entry_by_its_hash(db, log):
    log.append("acct", 100, key="k1")
    log.append("acct", -30, key="k2")
    assert log.verify("acct")
    db["log"].docs["acct:1"]["reason"] = "edited"  # the totals still add up
    assert not log.verify("acct")
