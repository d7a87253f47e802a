"""Points expire at the end of the second calendar year after they were earned.

The ledger keeps each account's points by expiry date (``lots_after``) and a roster per date
of the accounts that ever held points of it (Ledger.roster). This job, run by a timer in every
points replica, walks the rosters by ``_id``:
- 30 days before a date, each account still holding points of it gets one ``points_expiring``
  event through the outbox (event id = account and date, so once per volunteer and date);
- after the date, each account's remaining points of it are expired by one ``expire`` entry
  keyed by account and date.
Both are decided by a unique key, so running twice, or on several replicas at once, changes
nothing the second time. A date's roster is walked to its end once per kind of work; a marker
insert then says it is done, so later runs cost one lookup per date.
"""
import datetime as dt
import logging

from pymongo.errors import DuplicateKeyError

from services.points.ledger import NothingToExpire, expires_at, local_today
from services.shared import contracts
from services.shared.clock import now as clock_now

log = logging.getLogger(__name__)

FIRST_YEAR = 2024  # no points were earned before: the first possible expiry date is 2026-12-31
WARN_BEFORE = dt.timedelta(days=30)
EXPIRY_ACTOR = "points-expiry"  # who expires points: the scheme, not a person
PAGE = 500


def expiry_dates(today):
    """Every expiry date that exists by ``today`` (a lot's date is a year's last day)."""
    return [dt.date(year, 12, 31) for year in range(FIRST_YEAR + 2, today.year + 3)]


class ExpiryJob:
    def __init__(self, ledger, outbox, metrics, done_markers):
        self.ledger = ledger
        self.outbox = outbox
        self.metrics = metrics
        self.done = done_markers  # _id "warned:<date>" / "expired:<date>": a roster walked

    def run(self, now=None):
        """One pass at ``now`` (injected by tests); returns what it did."""
        now = now or clock_now()
        today = local_today(now)
        did = {"warned": 0, "expired": 0}
        for date in expiry_dates(today):
            if date < today:
                did["expired"] += self._walk(date, "expired", self._expire, now)
            elif today >= date - WARN_BEFORE:
                did["warned"] += self._walk(date, "warned", self._warn, now)
        return did

    def _walk(self, date, work, step, now):
        marker = f"{work}:{date.isoformat()}"
        if self.done.find_one({"_id": marker}) is not None:
            return 0
        count, after = 0, 0
        while True:
            page = self.ledger.roster(date.isoformat(), after_seq=after, limit=PAGE)
            for seq, account in page:
                count += step(account, date.isoformat(), now)
                after = seq
            if len(page) < PAGE:
                break
        try:
            self.done.insert_one({"_id": marker, "at": now, "accounts": after})
        except DuplicateKeyError:
            pass  # another replica finished the same walk
        return count

    def _expire(self, account, date, now):
        try:
            _, created = self.ledger.expire(account, date, by=EXPIRY_ACTOR, now=now)
        except NothingToExpire:
            return 0
        if created:
            self.metrics.count("points_expired")
        return int(created)

    def _warn(self, account, date, now):
        points = self.ledger.state(account)["lots"].get(date, 0)
        if not points:
            return 0
        event_id = f"points_expiring:{account}:{date}"
        self.outbox.add(event_id, contracts.POINTS_EXPIRING[1],
                        contracts.PointsExpiringSchema().dump({
                            "event_id": event_id, "volunteer_id": account, "points": points,
                            "expires_at": expires_at(dt.date.fromisoformat(date)),
                            "warned_at": now}))
        self.metrics.count("points_expiring_warned")
        return 1
