"""The points ledger's running state: debt paid by later credits, points by expiry date spent
oldest first, expiry, and the hash chain; on the in-memory store."""
import datetime as dt

import pytest

from services.points.ledger import NothingToExpire, expiry_date_for, fund_account
from services.shared.appendlog import GENESIS_HASH, entry_hash
from services.shared.errors import InsufficientPoints

UTC = dt.timezone.utc
IN_2026 = dt.datetime(2026, 3, 1, 4, tzinfo=UTC)
IN_2027 = dt.datetime(2027, 6, 1, 4, tzinfo=UTC)
IN_2028 = dt.datetime(2028, 6, 1, 4, tzinfo=UTC)
IN_2029 = dt.datetime(2029, 1, 2, 4, tzinfo=UTC)
WHO = {"reason": "test", "ref": {"type": "test", "id": "t"}, "by": "usr_1"}


def earn(ledger, points, key, now=IN_2026, account="vol_1"):
    return ledger.credit(account, points, key, kind="earn", now=now, **WHO)[0]


def spend(ledger, points, key, now=IN_2028, account="vol_1"):
    return ledger.debit(account, points, key, kind="redeem", now=now, **WHO)[0]


def test_points_expire_at_the_end_of_the_second_year_after_they_were_earned():
    assert expiry_date_for(dt.date(2026, 1, 1)) == dt.date(2028, 12, 31)
    assert expiry_date_for(dt.date(2026, 12, 31)) == dt.date(2028, 12, 31)


def test_the_local_date_decides_the_year_of_a_lot(ledger):
    # 2026-12-31 17:00 UTC is already 2027-01-01 in Shanghai.
    entry = earn(ledger, 10, "k", now=dt.datetime(2026, 12, 31, 17, tzinfo=UTC))
    assert entry["lots_after"] == {"2029-12-31": 10}


def test_spending_takes_the_oldest_points_first(ledger):
    earn(ledger, 30, "a", now=IN_2026)
    earn(ledger, 50, "b", now=IN_2027)
    entry = spend(ledger, 40, "s")
    assert entry["lots_delta"] == {"2028-12-31": -30, "2029-12-31": -10}
    assert ledger.state("vol_1") == {"balance": 40, "owed": 0, "lots": {"2029-12-31": 40}}


def test_a_refund_gives_back_the_dates_it_took_and_a_past_date_becomes_this_year(ledger):
    earn(ledger, 30, "a", now=IN_2026)
    taken = spend(ledger, 30, "s", now=IN_2028)
    back = {d: -p for d, p in taken["lots_delta"].items()}
    ledger.credit("vol_1", 30, "s:refund", lots=back, kind="refund", now=IN_2028, **WHO)
    assert ledger.state("vol_1")["lots"] == {"2028-12-31": 30}
    # The same refund after that date: spendable until the end of the year it comes back in.
    ledger.credit("vol_1", 5, "late", lots={"2028-12-31": 5}, kind="refund", now=IN_2029, **WHO)
    assert ledger.state("vol_1")["lots"] == {"2028-12-31": 30, "2029-12-31": 5}


def test_a_revocation_after_spending_leaves_a_debt_the_next_credit_pays_first(ledger):
    credit = earn(ledger, 25, "hours:r1:credit")
    spend(ledger, 20, "s")
    reversal, _ = ledger.reverse("vol_1", "hours:r1:reversal", credit, kind="reversal",
                                 now=IN_2028, **WHO)
    assert (reversal["delta"], reversal["owed"], reversal["owed_after"]) == (-5, 20, 20)
    assert ledger.state("vol_1") == {"balance": 0, "owed": 20, "lots": {}}
    paid = earn(ledger, 12, "next", now=IN_2028)
    assert (paid["delta"], paid["gross"], paid["debt_paid"], paid["owed_after"]) == (0, 12, 12, 8)
    assert "12 of 12 points paid back points owed" in paid["reason"]
    paid = earn(ledger, 30, "after", now=IN_2028)
    assert (paid["delta"], paid["debt_paid"], paid["owed_after"]) == (22, 8, 0)
    assert ledger.state("vol_1") == {"balance": 22, "owed": 0, "lots": {"2030-12-31": 22}}


def test_a_reversal_takes_from_the_credits_own_date_first(ledger):
    earn(ledger, 10, "old", now=IN_2026)
    credit = earn(ledger, 10, "hours:r1:credit", now=IN_2027)
    reversal, _ = ledger.reverse("vol_1", "rev", credit, kind="reversal", now=IN_2027, **WHO)
    assert reversal["lots_delta"] == {"2029-12-31": -10}
    assert ledger.state("vol_1")["lots"] == {"2028-12-31": 10}


def test_expiry_takes_what_is_left_of_a_lot_once(ledger):
    earn(ledger, 30, "a", now=IN_2026)
    earn(ledger, 50, "b", now=IN_2027)
    spend(ledger, 10, "s")
    entry, created = ledger.expire("vol_1", "2028-12-31", by="system", now=IN_2029)
    assert (entry["kind"], entry["delta"], created) == ("expire", -20, True)
    again, created = ledger.expire("vol_1", "2028-12-31", by="system", now=IN_2029)
    assert (again["_id"], created) == (entry["_id"], False)
    assert ledger.state("vol_1") == {"balance": 50, "owed": 0, "lots": {"2029-12-31": 50}}
    with pytest.raises(NothingToExpire):
        ledger.expire("vol_1", "2027-12-31", by="system", now=IN_2029)
    assert ledger.balance("vol_1") == 50


def test_accounts_are_enrolled_on_the_roster_of_each_new_expiry_date_once(ledger):
    earn(ledger, 1, "a", now=IN_2026)
    earn(ledger, 1, "b", now=IN_2026)
    earn(ledger, 1, "c", now=IN_2026, account="vol_2")
    earn(ledger, 1, "d", now=IN_2027)
    assert ledger.roster("2028-12-31") == [(1, "vol_1"), (2, "vol_2")]
    assert ledger.roster("2029-12-31") == [(1, "vol_1")]
    assert ledger.roster("2028-12-31", after_seq=1) == [(2, "vol_2")]


def test_a_fund_has_no_expiry_dates(ledger):
    fund = fund_account("com_1")
    entry = earn(ledger, 40, "donation", account=fund)
    assert "lots_after" not in entry
    spend(ledger, 15, "grant", account=fund)
    assert ledger.state(fund) == {"balance": 25, "owed": 0, "lots": {}}


def test_a_debit_beyond_the_balance_is_refused_and_changes_nothing(ledger):
    earn(ledger, 10, "a")
    with pytest.raises(InsufficientPoints):
        spend(ledger, 11, "s")
    assert ledger.state("vol_1")["balance"] == 10


def test_every_entry_chains_to_the_previous_ones_hash(ledger):
    earn(ledger, 10, "a")
    spend(ledger, 3, "s")
    earn(ledger, 4, "b", now=IN_2028)
    entries = ledger.statement("vol_1")[::-1]
    previous = GENESIS_HASH
    for entry in entries:
        assert entry["hash"] == entry_hash(entry, previous)
        previous = entry["hash"]
    edited = dict(entries[1], delta=-2)
    assert entry_hash(edited, entries[0]["hash"]) != entries[1]["hash"]


def test_an_entry_from_before_lots_counts_as_earned_on_its_date(db, ledger):
    db["ledger"].insert_one({"_id": "vol_9:1", "stream": "vol_9", "seq": 1, "delta": 25,
                             "total_after": 25, "key": "legacy", "at": IN_2026})
    assert ledger.state("vol_9")["lots"] == {"2028-12-31": 25}
    entry = spend(ledger, 5, "s", account="vol_9")
    assert entry["lots_after"] == {"2028-12-31": 20}


def test_a_refunded_debit_returns_with_the_expiry_dates_it_left_with(ledger, monkeypatch):
    from nameko.testing.services import worker_factory

    from services.points.service import PointsService
    earn(ledger, 30, "a", now=IN_2026)
    earn(ledger, 30, "b", now=IN_2027)
    service = worker_factory(PointsService, ledger=ledger)
    move = {"account": "vol_1", "points": 40, "key": "redemption:r1", "kind": "redeem",
            "reason": "a gift", "ref_type": "redemption", "ref_id": "rdm_1", "by": "vol_1"}
    service.debit(move)
    service.credit_back(dict(move, key="redemption:r1:refund", kind="refund",
                             refund_of="redemption:r1"))
    assert ledger.state("vol_1")["lots"] == {"2028-12-31": 30, "2029-12-31": 30}
