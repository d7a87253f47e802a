"""The expiry job with an injected clock: warnings 30 days before, expiry after the date, once
each however often (and on however many replicas) it runs."""
import collections
import datetime as dt

import pytest

from services.points.expiry import ExpiryJob
from services.points.ledger import Ledger
from services.shared import contracts
from services.shared.outbox import OutboxWriter

UTC = dt.timezone.utc
WHO = {"reason": "test", "ref": {"type": "test", "id": "t"}, "by": "usr_1"}


class Counter:
    def __init__(self):
        self.counts = collections.Counter()

    def count(self, name):
        self.counts[name] += 1


@pytest.fixture
def job(db, ledger):
    outbox = OutboxWriter(db["outbox"], db["outbox_published"], lambda: None)
    return ExpiryJob(ledger, outbox, Counter(), ledger.expiry_runs)


def at(*date):
    return dt.datetime(*date, 12, tzinfo=UTC)


def test_a_volunteer_is_warned_once_30_days_before_and_the_lot_expires_after(db, ledger, job):
    ledger.credit("vol_1", 30, "a", kind="earn", now=at(2026, 3, 1), **WHO)
    ledger.credit("vol_1", 50, "b", kind="earn", now=at(2027, 3, 1), **WHO)
    ledger.credit("vol_2", 5, "c", kind="earn", now=at(2026, 4, 1), **WHO)
    ledger.debit("vol_2", 5, "d", kind="redeem", now=at(2026, 5, 1), **WHO)

    assert job.run(now=at(2028, 11, 30)) == {"warned": 0, "expired": 0}  # 31 days before
    assert job.run(now=at(2028, 12, 1)) == {"warned": 1, "expired": 0}
    [notice] = db["outbox"].find({})
    assert notice["type"] == "points_expiring"
    payload = contracts.PointsExpiringSchema().load(notice["payload"])
    assert (payload["volunteer_id"], payload["points"]) == ("vol_1", 30)
    assert payload["expires_at"].isoformat() == "2028-12-31T23:59:59+08:00"
    assert job.run(now=at(2028, 12, 2)) == {"warned": 0, "expired": 0}  # once per date

    ledger.debit("vol_1", 10, "e", kind="redeem", now=at(2028, 12, 5), **WHO)  # oldest first
    assert job.run(now=at(2028, 12, 31)) == {"warned": 0, "expired": 0}  # the last valid day
    assert job.run(now=at(2029, 1, 1)) == {"warned": 0, "expired": 1}
    assert ledger.state("vol_1") == {"balance": 50, "owed": 0, "lots": {"2029-12-31": 50}}
    [expired] = ledger.statement("vol_1", limit=1)
    assert (expired["kind"], expired["delta"], expired["by"]) == ("expire", -20, "points-expiry")
    assert ledger.state("vol_2")["balance"] == 0


def test_two_replicas_running_at_once_expire_each_lot_once(db, ledger, job, monkeypatch):
    for n in range(3):
        ledger.credit(f"vol_{n}", 10, f"k{n}", kind="earn", now=at(2026, 3, 1), **WHO)
    other_replica = ExpiryJob(Ledger(db), job.outbox, Counter(),
                              ledger.expiry_runs)
    expire = ledger.expire

    def expire_after_the_other_replica_ran(account, *args, **kwargs):
        if account == "vol_1":  # mid-walk: the other replica does its whole pass now
            other_replica.run(now=at(2029, 1, 2))
        return expire(account, *args, **kwargs)
    monkeypatch.setattr(ledger, "expire", expire_after_the_other_replica_ran)

    job.run(now=at(2029, 1, 2))
    for n in range(3):
        assert [e["kind"] for e in ledger.statement(f"vol_{n}")] == ["expire", "earn"]
        assert ledger.balance(f"vol_{n}") == 0
    created = (job.metrics.counts["points_expired"],
               other_replica.metrics.counts["points_expired"])
    assert created == (1, 2)  # the race happened: each expired what the other had not


def test_a_late_run_expires_every_date_that_passed(ledger, job):
    ledger.credit("vol_1", 10, "a", kind="earn", now=at(2026, 3, 1), **WHO)
    ledger.credit("vol_1", 20, "b", kind="earn", now=at(2027, 3, 1), **WHO)
    assert job.run(now=at(2030, 2, 1)) == {"warned": 0, "expired": 2}
    assert ledger.balance("vol_1") == 0
