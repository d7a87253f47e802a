"""verify-ledger's checks (services/points/verify.py), on the in-memory store.

A history the real Ledger and Movements wrote (every kind of entry, a debt and its payment, a
gift, a donation, a refusal) verifies clean; then each test breaks it one way and the finding
names the account and the entry. Edits a forger could cover by recomputing the hash chain are
made with the chain recomputed, so each check is shown to catch its breakage on its own.
"""
import datetime as dt

import pytest

from services.points import verify
from services.points.ledger import fund_account
from services.points.movements import MovementStore, Movements
from services.shared.appendlog import GENESIS_HASH, entry_hash
from services.shared.errors import InsufficientPoints

UTC = dt.timezone.utc
IN_2026 = dt.datetime(2026, 3, 2, 9, tzinfo=UTC)
ANN, BO, FUND = "vol_ann", "vol_bo", fund_account("com_1")


def hours(record_id):
    return {"reason": "approved service hours", "ref": {"type": "hours", "id": record_id},
            "by": "usr_staff"}


@pytest.fixture
def history(db, ledger):
    """ANN: earn 25, redeem 20, revocation of the 25 (5 back, 20 owed), earn 30 (pays the 20),
    a refused redemption, a gift of 5 to BO; BO: gift in, donation of 3 to the fund."""
    earned = ledger.credit(ANN, 25, "hours:h1:credit", kind="earn", now=IN_2026,
                           **hours("h1"))[0]
    ledger.debit(ANN, 20, "redemption:r1", kind="redeem", reason="rice",
                 ref={"type": "redemption", "id": "r1"}, by=ANN, now=IN_2026)
    ledger.reverse(ANN, "hours:h1:reversal", earned, kind="reversal", now=IN_2026,
                   **hours("h1"))
    ledger.credit(ANN, 30, "hours:h2:credit", kind="earn", now=IN_2026, **hours("h2"))
    with pytest.raises(InsufficientPoints):
        ledger.debit(ANN, 500, "redemption:r2", kind="redeem", reason="a bicycle",
                     ref={"type": "redemption", "id": "r2"}, by=ANN)
    movements = Movements(ledger, MovementStore(db))
    movements.gift("mov_gift", ANN, BO, 5, by=ANN)
    movements.donate("mov_donation", BO, "com_1", 3, by=BO)
    return db


def run(db, ledger, in_flight=lambda movement: False):
    return verify.verify(db.ledger.find({}), heads=db.ledger_heads.find({}),
                         find_by_key=ledger.find, in_flight=in_flight)


def entry(db, entry_id):
    """The stored document itself: edits here are edits of the store."""
    return db.ledger.docs[entry_id]


def rehash(db, account):
    """Recompute the account's chain as a forger who knows the scheme would, from seq 1."""
    previous = GENESIS_HASH
    for seq in range(1, 1000):
        doc = db.ledger.docs.get(f"{account}:{seq}")
        if doc is None:
            break
        doc["hash"] = previous = entry_hash(doc, previous)
        head = db.ledger_heads.docs.get(account)
        if head and head["seq"] == seq:  # the forger tidies the hint too
            head.update(total_after=doc["total_after"],
                        entry={k: v for k, v in doc.items() if k != "_id"})


def problems(report, account):
    return report.by_account().get(account, [])


def test_a_history_of_every_kind_of_entry_verifies_clean(history, ledger):
    report = run(history, ledger)
    assert report.findings == []
    assert (report.accounts, report.entries) == (3, 8)
    kinds = {doc.get("kind") for doc in history.ledger.docs.values()}
    assert {"earn", "redeem", "reversal", "gift_out", "gift_in", "donate"} <= kinds
    assert entry(history, f"{ANN}:3")["owed_after"] == 20  # the debt is really there
    assert entry(history, f"{ANN}:4")["debt_paid"] == 20


def test_an_edited_reason_breaks_the_hash_chain_at_that_entry(history, ledger):
    entry(history, f"{ANN}:2")["reason"] = "nothing"
    assert run(history, ledger).findings == [verify.Finding(
        ANN, f"{ANN}:2 hash does not match its content and the previous entry's hash (edited)")]


def test_an_entry_rehashed_after_an_edit_breaks_the_chain_at_the_next_entry(history, ledger):
    doc = entry(history, f"{ANN}:2")
    doc["reason"] = "nothing"
    doc["hash"] = entry_hash(doc, entry(history, f"{ANN}:1")["hash"])
    assert problems(run(history, ledger), ANN) == [
        f"{ANN}:3 hash does not match its content and the previous entry's hash (edited)"]


def test_an_edited_delta_disagrees_with_the_running_balance(history, ledger):
    entry(history, f"{ANN}:2")["delta"] = -10  # a cheaper redemption, the chain recomputed
    rehash(history, ANN)
    assert problems(run(history, ledger), ANN) == [
        f"{ANN}:2 total_after 5 but 25 + delta -10 = 15"]


def test_a_missing_entry_breaks_the_sequence(history, ledger):
    del history.ledger.docs[f"{ANN}:2"]
    found = problems(run(history, ledger), ANN)
    assert f"sequence broken before {ANN}:3: entries 2..2 are missing" in found


def test_a_seq_field_that_disagrees_with_the_id(history, ledger):
    entry(history, f"{BO}:1")["seq"] = 7
    rehash(history, BO)
    assert problems(run(history, ledger), BO) == [f"{BO}:1 says seq 7"]


def test_entries_removed_from_the_end_are_seen_by_the_head(history, ledger):
    del history.ledger.docs[f"{BO}:2"]  # the chain up to BO:1 is intact
    found = problems(run(history, ledger), BO)
    assert found == ["the head is at seq 2 but the entries end at 1 (entries removed)"]


def test_the_last_entry_edited_and_rehashed_differs_from_its_head_copy(history, ledger):
    last = entry(history, f"{FUND}:1")
    last["by"] = "someone else"
    last["hash"] = entry_hash(last, GENESIS_HASH)
    assert problems(run(history, ledger), FUND) == [
        f"{FUND}:1 differs from the copy its head hint took when it was written"]


def test_an_hours_record_credited_twice_names_every_account_holding_it(history, ledger):
    ledger.credit(BO, 25, "hours:h1:credit-again", kind="earn", **hours("h1"))
    report = run(history, ledger)
    message = f"hours record h1 credited 2 times ({ANN}:1, {BO}:3)"
    assert problems(report, ANN) == [message] and problems(report, BO) == [message]


def test_a_reversal_of_an_hours_record_is_no_second_credit(history, ledger):
    refs = [d["ref"] for d in history.ledger.docs.values() if d.get("kind") == "reversal"]
    assert refs == [{"type": "hours", "id": "h1"}]
    assert verify.check_hours_credits(verify.group_accounts(history.ledger.find({}))[0]) == []


def test_a_movement_without_its_other_side(history, ledger):
    found = verify.check_pairs(
        verify.group_accounts(history.ledger.find({}))[0],
        find_by_key=lambda key: None if key == "move:mov_gift:in" else ledger.find(key),
        in_flight=lambda movement: False)
    assert found == [verify.Finding(ANN, f"{ANN}:5 (movement mov_gift) has no other side "
                                         f"move:mov_gift:in")]


def test_a_movement_under_way_may_miss_its_other_side(history, ledger):
    accounts = verify.group_accounts(history.ledger.find({}))[0]
    assert verify.check_pairs(
        accounts, find_by_key=lambda key: None if key.endswith(":in") else ledger.find(key),
        in_flight={"mov_gift", "mov_donation"}.__contains__) == []


def test_the_two_sides_of_a_movement_must_move_the_same_points(history, ledger):
    gift_in = entry(history, f"{BO}:1")
    gift_in.update(gross=4, delta=4, total_after=4, lots_after={"2028-12-31": 4},
                   lots_delta={"2028-12-31": 4})
    entry(history, f"{BO}:2").update(total_after=1, lots_after={"2028-12-31": 1})
    rehash(history, BO)
    report = run(history, ledger)
    assert problems(report, BO) == [
        f"{BO}:1 (movement mov_gift) moved 4 points but its other side {ANN}:5 5"]
    assert problems(report, ANN) == [
        f"{ANN}:5 (movement mov_gift) moved 5 points but its other side {BO}:1 4"]


def test_the_two_sides_of_a_movement_must_name_each_other(history, ledger):
    entry(history, f"{FUND}:1")["movement"] = "mov_other"
    rehash(history, FUND)
    assert problems(run(history, ledger), BO) == [
        f"{BO}:2 (movement mov_donation) and {FUND}:1 do not name each other"]


def test_a_debt_forgiven_by_an_edit_breaks_the_debt_chain(history, ledger):
    paying = entry(history, f"{ANN}:4")
    del paying["debt_paid"]
    paying["owed_after"] = 0
    rehash(history, ANN)
    assert problems(run(history, ledger), ANN) == [
        f"{ANN}:4 owed_after 0 but 20 owed + 0 - 0 paid = 20",
        f"{ANN}:4 delta 10 but gross 30 - 0 paid to the debt"]


def test_owed_after_below_zero(history, ledger):
    entry(history, f"{ANN}:1")["owed_after"] = -3
    rehash(history, ANN)
    assert f"{ANN}:1 owed_after -3 is not a whole number >= 0" in \
        problems(run(history, ledger), ANN)


def test_lots_that_do_not_sum_to_the_balance(history, ledger):
    entry(history, f"{BO}:2")["lots_after"] = {"2028-12-31": 9}
    rehash(history, BO)
    found = problems(run(history, ledger), BO)
    assert f"{BO}:2 lots_after sum to 9, not total_after 2" in found


def test_points_moved_to_a_later_expiry_date_break_the_lots_chain(history, ledger):
    entry(history, f"{BO}:2")["lots_after"] = {"2030-12-31": 2}  # the sum still agrees
    rehash(history, BO)
    assert problems(run(history, ledger), BO) == [
        f"{BO}:2 lots_after {{'2030-12-31': 2}} but the previous lots and lots_delta give "
        f"{{'2028-12-31': 2}}"]


def test_a_lot_below_zero(history, ledger):
    entry(history, f"{BO}:2")["lots_after"] = {"2028-12-31": 4, "2029-12-31": -2}
    rehash(history, BO)
    assert f"{BO}:2 lots_after {{'2028-12-31': 4, '2029-12-31': -2}} holds a lot below zero" \
        in problems(run(history, ledger), BO)


# --- hand-made entries ---------------------------------------------------------------------

def chain(account, deltas, hashed_from=1, **fields):
    """Consistent entries of ``account``: seq, running total and (from ``hashed_from``) hash."""
    docs, total, previous = [], 0, GENESIS_HASH
    for seq, delta in enumerate(deltas, start=1):
        total += delta
        doc = dict(fields, _id=f"{account}:{seq}", stream=account, seq=seq, delta=delta,
                   total_after=total, key=f"{account}-{seq}", kind="redeem",
                   at=IN_2026 + dt.timedelta(seconds=seq), reason="r",
                   ref={"type": "t", "id": str(seq)}, by="usr_1")
        if seq >= hashed_from:
            doc["hash"] = previous = entry_hash(doc, previous)
        docs.append(doc)
    return docs


def test_a_balance_below_zero_is_named_even_when_the_sums_agree():
    report = verify.verify(chain(ANN, [10, -15, 5]))
    assert problems(report, ANN) == [f"{ANN}:2 total_after -5 is below zero"]


def test_entries_from_before_hashes_may_only_come_first():
    assert verify.verify(chain(ANN, [10, -3, 4, 1], hashed_from=3)).findings == []
    late = chain(ANN, [10, -3, 4], hashed_from=1)
    del late[2]["hash"]
    assert problems(verify.verify(late), ANN) == [f"{ANN}:3 has no hash after hashed entries"]


def test_the_first_hashed_entry_after_legacy_ones_chains_to_genesis():
    docs = chain(ANN, [10, -3, 4], hashed_from=2)
    docs[1]["hash"] = entry_hash(docs[1], "f" * 64)
    docs[2]["hash"] = entry_hash(docs[2], docs[1]["hash"])
    assert problems(verify.verify(docs), ANN) == [
        f"{ANN}:2 hash does not match its content and the previous entry's hash (edited)"]


def test_a_ledger_written_on_legacy_entries_verifies_clean(db, ledger):
    for doc in chain(ANN, [25, -5], hashed_from=99):  # no hash, no lots, no debt
        db.ledger.insert_one(doc)
    ledger.credit(ANN, 10, "later", kind="earn", now=IN_2026, **hours("h9"))
    ledger.debit(ANN, 22, "spend", kind="redeem", reason="r", ref={}, by=ANN, now=IN_2026)
    assert entry(db, f"{ANN}:3")["hash"] == entry_hash(entry(db, f"{ANN}:3"), GENESIS_HASH)
    assert run(db, ledger).findings == []


def test_a_document_that_is_no_entry_is_named_and_refusals_are_not_entries():
    docs = chain(ANN, [10]) + [
        {"_id": "~refused:k", "key": "k", "stream": ANN, "delta": -50, "refused": True},
        {"_id": f"{ANN}:x", "stream": ANN, "delta": 3}]
    report = verify.verify(docs)
    assert report.entries == 1
    assert problems(report, ANN) == [f"document '{ANN}:x' is not an entry <account>:<n>"]


def test_a_non_integer_amount_is_named():
    docs = chain(ANN, [10, -2])
    docs[1]["delta"] = -2.5
    assert problems(verify.verify(docs), ANN) == [
        f"{ANN}:2 has a non-integer delta -2.5 or total_after 8"]


def test_only_markers_younger_than_the_stall_window_count_as_under_way():
    window = dt.timedelta(seconds=30)
    markers = [{"_id": "fresh", "since": IN_2026 - dt.timedelta(seconds=5)},
               {"_id": "stalled", "since": IN_2026 - dt.timedelta(seconds=31)},
               {"_id": "timeless"}]
    assert verify.fresh_markers(markers, IN_2026, window) == {"fresh"}
