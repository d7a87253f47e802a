"""Throttles for failed logins, wrong sign-in codes and self-registration, counted with numbered
inserts.

Failed logins count per account (the casefolded username, whether it exists or not, so a lock
tells nothing about existence) and per client address, in fixed windows. The failure that
reaches a budget locks its scope; a lock that follows the previous one within LOCK_MEMORY lasts
twice as long (up to MAX_LOCK). While a scope is locked every attempt is refused with 429 and
Retry-After, the right password included, and the password is not even checked.

A password is checked only while holding a place: each scope has ``limit`` places per window
since its last lock, and an attempt takes a free one by a unique insert BEFORE bcrypt runs. A
wrong password keeps its place (it is a failure), a right one gives it back. So under any
concurrency at most ``limit`` wrong passwords are checked before the lock; an attempt that finds
no free place is refused (429) without a check. (Checking the lock first and counting after
bcrypt let 40 parallel guesses all reach bcrypt before the first failure was counted.)

All counting is by inserting documents with unique ``_id``s into one collection (the volunteer
service's ``login_attempts``; ``sign_in_attempts`` for sign-in codes):
  check:<scope>:<lock count>:<window>:<k>  place k (1..limit) for a password check
  fail:<scope>:<lock count>:<window>:<n>   the n-th failure in a window since the last lock
  lock:<scope>:<k>                         the k-th lock, {until, seconds}
  slot:<scope>:<window>:<n>                the n-th self-registration in a window
so concurrent attempts never lose a count, and everything is looked up by ``_id``.

Wrong on-site sign-in codes (sign_in.py) are throttled the same way, a code checked only in a
place of the volunteer's budget and of the activity's: one volunteer gets a few tries, and a crowd
trying one activity's code together gets more but not unlimited ones. The activity's lock is short
and does not grow (``escalates``): while it lasts it refuses the right code too (letting it pass
would tell a guesser which guess was right), so it must not outlast a moment's nuisance.
"""
import datetime as dt
import functools
import math
import random
from dataclasses import dataclass, field

from pymongo.errors import DuplicateKeyError

from services.shared.clock import now
from services.shared.errors import TooManyAttempts
from services.shared.sequence import insert_next, last_number, numbered_id

LOCK_MEMORY = dt.timedelta(days=1)
MAX_LOCK_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Budget:
    limit: int            # attempts allowed per window
    window_seconds: int
    lock_seconds: int = 0  # the first lock's length (failures); slots just wait for the window
    escalates: bool = True  # a lock soon after the previous one lasts twice as long


def _setting(config, name, default):
    value = config.get(name)
    return int(value) if value not in (None, "") else default


def budgets(config):
    """The budgets of config/nameko.yml, with the production defaults when a value is unset."""
    setting = functools.partial(_setting, config)

    window = setting("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60)
    lock = setting("LOGIN_LOCK_SECONDS", 15 * 60)
    return {
        "account": Budget(setting("LOGIN_FAILURES_PER_ACCOUNT", 5), window, lock),
        "address": Budget(setting("LOGIN_FAILURES_PER_ADDRESS", 50), window, lock),
        "registration": Budget(setting("SELF_REGISTRATIONS_PER_ADDRESS", 20), 3600),
    }


def sign_in_budgets(config, volunteer_id, activity_id):
    """(scope, budget) of one sign-in attempt: wrong codes count per volunteer (on any activity)
    and per activity (by any volunteer)."""
    setting = functools.partial(_setting, config)

    window = setting("SIGN_IN_FAILURE_WINDOW_SECONDS", 15 * 60)
    return [
        # A typo at the door twice over is no guess; five wrong codes wait five minutes.
        (f"sign_in_volunteer:{volunteer_id}",
         Budget(setting("SIGN_IN_FAILURES_PER_VOLUNTEER", 5), window,
                setting("SIGN_IN_LOCK_SECONDS", 5 * 60))),
        # A code has 31^6 values: a crowd held to about 30 guesses a minute has no chance, and
        # a right code waits at most a minute after the crowd's thirtieth wrong one.
        (f"sign_in_activity:{activity_id}",
         Budget(setting("SIGN_IN_FAILURES_PER_ACTIVITY", 30), window,
                setting("SIGN_IN_ACTIVITY_LOCK_SECONDS", 60), escalates=False)),
    ]


def account_scope(username_key):
    return f"account:{username_key}"


def address_scope(address):
    return f"address:{address or 'unknown'}"


def next_lock_seconds(previous_lock, budget, at):
    """The length of a new lock: doubled while the previous one ended within LOCK_MEMORY."""
    if budget.escalates and previous_lock is not None and \
            at - previous_lock["until"] < LOCK_MEMORY:
        return min(previous_lock["seconds"] * 2, MAX_LOCK_SECONDS)
    return budget.lock_seconds


def _seconds_until(moment, at):
    return max(1, math.ceil((moment - at).total_seconds()))


class Throttle:
    def __init__(self, collection, clock=now):
        self.attempts = collection
        self.clock = clock

    def _last_lock(self, scope):
        """(number of locks so far, the last lock or None)."""
        count = last_number(self.attempts, f"lock:{scope}")
        return count, (self.attempts.find_one({"_id": numbered_id(f"lock:{scope}", count)})
                       if count else None)

    def begin_check(self, scoped_budgets):
        """A place for one password check in each (scope, budget); 429 when a scope has none.

        Refused with the longest remaining wait when a scope is locked. Call ``passed`` or
        ``failed`` on the answer once the password is checked.
        """
        at = self.clock()
        counts = [(scope, budget) + self._last_lock(scope) for scope, budget in scoped_budgets]
        ends = [lock["until"] for *_, lock in counts if lock is not None and lock["until"] > at]
        if ends:
            raise TooManyAttempts("too many failed attempts: try again later",
                                  retry_after=_seconds_until(max(ends), at))
        check = PasswordCheck(self, at)
        for scope, budget, locks, _ in counts:
            window = int(at.timestamp()) // budget.window_seconds
            place = self._take_place(f"{scope}:{locks}:{window}", budget.limit, at)
            if place is None:
                check.passed()  # gives back the places taken in the other scopes
                # The places are held by failures about to lock the scope, or by checks still
                # running: either way the answer is known in a moment.
                raise TooManyAttempts("too many failed attempts: try again later",
                                      retry_after=1)
            check.places.append((scope, budget, locks, window, place))
        return check

    def _take_place(self, counted, limit, at):
        """The ``_id`` of a free place among the ``limit`` of ``counted``, taken; None if full."""
        # From a random place on: racing attempts rarely try the same places one after another.
        start = random.randrange(limit)
        for k in range(limit):
            place = numbered_id(f"check:{counted}", (start + k) % limit + 1)
            try:
                self.attempts.insert_one({"_id": place, "at": at})
                return place
            except DuplicateKeyError:
                continue
        return None

    def record_failure(self, scope, budget, locks, window, at):
        """Count one failure in ``window`` since lock ``locks``; the one that reaches the budget
        locks the scope."""
        n = insert_next(self.attempts, f"fail:{scope}:{locks}:{window}", {"at": at})
        if n != budget.limit:
            return
        last_lock = (self.attempts.find_one({"_id": numbered_id(f"lock:{scope}", locks)})
                     if locks else None)
        seconds = next_lock_seconds(last_lock, budget, at)
        try:
            self.attempts.insert_one({"_id": numbered_id(f"lock:{scope}", locks + 1), "at": at,
                                      "until": at + dt.timedelta(seconds=seconds),
                                      "seconds": seconds})
        except DuplicateKeyError:
            pass  # locked already, by the failures of another window since the same lock

    def take_slot(self, scope, budget):
        """Count one attempt; 429 until the window ends once the budget is used up."""
        at = self.clock()
        window = int(at.timestamp()) // budget.window_seconds
        prefix = f"slot:{scope}:{window}"
        used = last_number(self.attempts, prefix)
        if used >= budget.limit or insert_next(self.attempts, prefix, {"at": at},
                                               start=used) > budget.limit:
            window_ends = dt.datetime.fromtimestamp((window + 1) * budget.window_seconds,
                                                    dt.timezone.utc)
            raise TooManyAttempts("too many registrations from this address: try again later",
                                  retry_after=_seconds_until(window_ends, at))


@dataclass
class PasswordCheck:
    """The places one login attempt holds while its password is checked."""
    throttle: Throttle
    at: dt.datetime
    places: list = field(default_factory=list)  # (scope, budget, locks, window, place _id)

    def passed(self):
        """The right password: its places are free again (a success is not a failure)."""
        for *_, place in self.places:
            self.throttle.attempts.delete_one({"_id": place})

    def failed(self):
        """A wrong password keeps its places and counts as a failure in each scope."""
        for scope, budget, locks, window, _ in self.places:
            self.throttle.record_failure(scope, budget, locks, window, self.at)
