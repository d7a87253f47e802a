"""The points ledger: one append-only account per volunteer, one per community fund.

A balance is the ``total_after`` of the account's last entry and equals the sum of its entries.
Entries are never edited or deleted; a credit is undone by a reversal entry. Each entry has a
``key`` naming its cause, so the same approval, debit or refund never lands twice.

Each entry also carries the account's state after it, so that state is read off the last
entry, never summed over history, and re-derivable by anyone walking the entries:
- ``owed_after``: points a revocation could not take back because they were already spent.
  The next credits pay it first (``debt_paid`` on the credit); the balance never goes below 0.
- ``lots_after``: the balance split by expiry date ({"YYYY-MM-DD": points}, summing to
  ``total_after``). Points expire at the end of the second calendar year after the year they
  were earned; spending takes the oldest first. ``lots_delta`` says what the entry changed, so
  a refund or a gift of points can carry the same dates along. A fund's points do not expire.
Because the plan runs against the entry it is appended after (AppendLog.append_planned), these
running states stay exact under any number of concurrent writers.
"""
import datetime as dt
from zoneinfo import ZoneInfo

from pymongo.errors import DuplicateKeyError

from services.shared import clock
from services.shared.appendlog import AppendLog, FloorBreached
from services.shared.errors import InsufficientPoints

FUND_PREFIX = "fund:"
LEDGER_TIMEZONE = ZoneInfo("Asia/Shanghai")  # the local date that decides a lot's year


def fund_account(community_id):
    return f"{FUND_PREFIX}{community_id}"


def is_fund(account):
    return account.startswith(FUND_PREFIX)


def local_today(now):
    return now.astimezone(LEDGER_TIMEZONE).date()


def expiry_date_for(earned_on):
    """Points earned on ``earned_on`` expire at the end of the second calendar year after."""
    return dt.date(earned_on.year + 2, 12, 31)


def expires_at(expiry_date):
    """The last moment points of that lot can be spent, local time."""
    return dt.datetime.combine(expiry_date, dt.time(23, 59, 59), LEDGER_TIMEZONE)


class NothingToExpire(Exception):
    """The lot asked to expire holds no points (spent, or expired already)."""


def lots_of(previous):
    """The lots after ``previous`` ({} for a new account). An entry written before lots were
    tracked: its whole total counts as earned on that entry's date."""
    if "lots_after" in previous:
        return {d: p for d, p in (previous["lots_after"] or {}).items() if p}
    total = previous.get("total_after", 0)
    if total <= 0:
        return {}
    at = previous.get("at") or clock.now()
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    return {expiry_date_for(local_today(at)).isoformat(): total}


def take_oldest(lots, points, first=()):
    """Take ``points`` from ``lots`` (mutated), the dates in ``first`` before the oldest.
    Returns {date: -taken}."""
    taken = {}
    order = [d for d in first if d in lots] + sorted(d for d in lots if d not in first)
    for date in order:
        if points <= 0:
            break
        part = min(points, lots[date])
        lots[date] -= part
        points -= part
        taken[date] = taken.get(date, 0) - part
        if not lots[date]:
            del lots[date]
    return taken


def _add(lots, delta):
    for date, points in delta.items():
        lots[date] = lots.get(date, 0) + points
        if not lots[date]:
            del lots[date]


class Ledger:
    def __init__(self, db):
        self.accounts = AppendLog(db, "ledger")
        self.parked = db.parked_events  # events that failed validation, kept for inspection
        # Revocations that arrived before their approval's credit: _id = the hours record.
        self.waiting_revocations = db.waiting_revocations
        # Which accounts hold a lot of each expiry date: stream = the date, one entry per
        # account, so the expiry job walks the accounts concerned by _id, never the ledger.
        self.expiry_rosters = AppendLog(db, "expiry_rosters")
        self.expiry_runs = db.expiry_runs  # rosters the expiry job has walked to their end

    def ensure_indexes(self):
        self.accounts.ensure_indexes()
        self.expiry_rosters.ensure_indexes()

    def balance(self, account):
        return self.accounts.total(account)

    def state(self, account):
        """{balance, owed, lots} of an account, read off its last entry."""
        _, last = self.accounts.last_entry(account)
        return {"balance": last.get("total_after", 0), "owed": last.get("owed_after", 0),
                "lots": {} if is_fund(account) else lots_of(last)}

    def credit(self, account, points, key, lots=None, now=None, **entry):
        """Add ``points`` (>= 0) once for ``key``; returns (entry, created).

        Points owed from an earlier revocation are paid first: the entry's ``delta`` is what
        reaches the balance and ``debt_paid`` what went to the debt. ``lots`` ({date: points})
        restores given expiry dates (a refund, a gift received); by default the points are
        earned today. A date already past becomes the end of this year: points given back are
        spendable, not lost the moment they return."""
        now = now or clock.now()
        today = local_today(now)
        if lots is None:
            lots = {expiry_date_for(today).isoformat(): points}
        if sum(lots.values()) != points:
            raise ValueError(f"lots {lots} do not add up to {points}")
        this_year_end = dt.date(today.year, 12, 31).isoformat()
        incoming = {}
        for date, part in lots.items():
            date = this_year_end if date < today.isoformat() else date
            incoming[date] = incoming.get(date, 0) + part

        def plan(total, previous):
            owed = previous.get("owed_after", 0)
            paid = min(points, owed)
            fields = dict(entry, gross=points, owed_after=owed - paid)
            if paid:
                fields["debt_paid"] = paid
                fields["reason"] = (f"{entry.get('reason', '')}; {paid} of {points} points "
                                    f"paid back points owed").lstrip("; ")
            if not is_fund(account):
                held = lots_of(previous)
                arriving = dict(incoming)
                take_oldest(arriving, paid)  # the debt takes from what arrives
                fields["new_lots"] = sorted(d for d in arriving if d not in held)
                _add(held, arriving)
                fields.update(lots_after=held, lots_delta=arriving)
            return points - paid, fields

        created_entry, created = self.accounts.append_planned(
            account, key, plan, floor=None, claimed_delta=points, now=now)
        self._enrol(account, created_entry.get("new_lots") or ())
        return created_entry, created

    def debit(self, account, points, key, now=None, **entry):
        """Take ``points`` once for ``key`` unless the balance would go below zero; the oldest
        points go first."""
        def plan(total, previous):
            fields = dict(entry, owed_after=previous.get("owed_after", 0))
            if not is_fund(account):
                held = lots_of(previous)
                fields["lots_delta"] = take_oldest(held, points)
                fields["lots_after"] = held
            return -points, fields

        try:
            return self.accounts.append_planned(account, key, plan, floor=0,
                                                claimed_delta=-points, now=now)
        except FloorBreached as exc:
            raise InsufficientPoints(
                f"balance {exc.total} does not cover {points} points",
                fields={"points": [f"available {exc.total}"]})

    def reverse(self, account, key, credit, now=None, **entry):
        """Take back once for ``key`` what ``credit`` (an entry) added. What was already spent
        cannot be taken: the balance stops at zero and the rest is owed, to be paid by the
        next credits. The entry says both (``delta`` and ``owed``)."""
        earned = credit.get("gross", credit["delta"])

        def plan(total, previous):
            reversible = min(earned, total)
            shortfall = earned - reversible
            fields = dict(entry, owed=shortfall,
                          owed_after=previous.get("owed_after", 0) + shortfall)
            if shortfall:
                fields["reason"] = (f"{entry.get('reason', '')} ({shortfall} of {earned} points "
                                    f"were already spent and are owed)")
            if not is_fund(account):
                held = lots_of(previous)
                credited_dates = [d for d, p in sorted((credit.get("lots_delta") or {}).items())
                                  if p > 0]
                fields["lots_delta"] = take_oldest(held, reversible, first=credited_dates)
                fields["lots_after"] = held
            return -reversible, fields

        return self.accounts.append_planned(account, key, plan, floor=0, now=now)

    def expire(self, account, expiry_date, by, now=None):
        """Expire once what remains of the lot ``expiry_date`` (a date string). Raises
        NothingToExpire when the lot is empty: nothing is written then."""
        def plan(total, previous):
            held = lots_of(previous)
            points = held.pop(expiry_date, 0)
            if not points:
                raise NothingToExpire(expiry_date)
            return -points, {"kind": "expire", "by": by, "ref": {"type": "expiry",
                                                                  "id": expiry_date},
                             "reason": f"points earned for {int(expiry_date[:4]) - 2} expired "
                                       f"at the end of {expiry_date[:4]}",
                             "owed_after": previous.get("owed_after", 0),
                             "lots_after": held, "lots_delta": {expiry_date: -points}}

        return self.accounts.append_planned(account, f"expire:{account}:{expiry_date}", plan,
                                            floor=0, now=now)

    def _enrol(self, account, dates):
        """Put the account on the roster of each expiry date it newly holds. Runs again on a
        replayed credit, so a crash between the credit and this is finished by the retry."""
        for date in dates:
            self.expiry_rosters.append(date, 1, key=f"roster:{date}:{account}", floor=None,
                                       fields={"account": account})

    def roster(self, expiry_date, after_seq=0, limit=500):
        """Accounts on the roster of ``expiry_date`` after roster entry ``after_seq``, as
        (seq, account) pairs in roster order; costs one _id lookup each."""
        out = []
        seq = after_seq
        while len(out) < limit:
            seq += 1
            doc = self.expiry_rosters.entries.find_one({"_id": f"{expiry_date}:{seq}"})
            if doc is None:
                break
            out.append((seq, doc["account"]))
        return out

    def wait_for_credit(self, record_id, revocation_payload):
        try:
            self.waiting_revocations.insert_one({"_id": record_id,
                                                 "payload": revocation_payload})
        except DuplicateKeyError:
            pass  # a redelivery of the same revocation

    def waiting_revocation(self, record_id):
        return self.waiting_revocations.find_one({"_id": record_id})

    def find(self, key):
        return self.accounts.find_by_key(key)

    def statement(self, account, limit=None, before_seq=None, since=None, until=None):
        return self.accounts.entries_of(account, before_seq=before_seq, limit=limit,
                                        since=since, until=until)
