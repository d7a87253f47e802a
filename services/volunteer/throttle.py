"""Throttles for failed logins and self-registration, counted with numbered inserts.

Failed logins count per account (the casefolded username, whether it exists or not, so a lock
tells nothing about existence) and per client address, in fixed windows. The failure that
reaches a budget locks its scope; a lock that follows the previous one within LOCK_MEMORY lasts
twice as long (up to MAX_LOCK). While a scope is locked every attempt is refused with 429 and
Retry-After, the right password included, and the password is not even checked.

All counting is by inserting numbered documents (services.shared.sequence) into one collection:
  fail:<scope>:<lock count>:<window>:<n>   the n-th failure in a window since the last lock
  lock:<scope>:<k>                         the k-th lock, {until, seconds}
  slot:<scope>:<window>:<n>                the n-th self-registration in a window
so concurrent attempts never lose a count, and everything is looked up by ``_id``.
"""
import datetime as dt
import math
from dataclasses import dataclass

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


def budgets(config):
    """The budgets of config/nameko.yml, with the production defaults when a value is unset."""
    def setting(name, default):
        value = config.get(name)
        return int(value) if value not in (None, "") else default

    window = setting("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60)
    lock = setting("LOGIN_LOCK_SECONDS", 15 * 60)
    return {
        "account": Budget(setting("LOGIN_FAILURES_PER_ACCOUNT", 5), window, lock),
        "address": Budget(setting("LOGIN_FAILURES_PER_ADDRESS", 50), window, lock),
        "registration": Budget(setting("SELF_REGISTRATIONS_PER_ADDRESS", 20), 3600),
    }


def account_scope(username_key):
    return f"account:{username_key}"


def address_scope(address):
    return f"address:{address or 'unknown'}"


def next_lock_seconds(previous_lock, budget, at):
    """The length of a new lock: doubled while the previous one ended within LOCK_MEMORY."""
    if previous_lock is not None and at - previous_lock["until"] < LOCK_MEMORY:
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

    def refuse_if_locked(self, *scopes):
        """429 with the longest remaining wait when any scope is locked."""
        at = self.clock()
        ends = [lock["until"] for lock in (self._last_lock(scope)[1] for scope in scopes)
                if lock is not None and lock["until"] > at]
        if ends:
            raise TooManyAttempts("too many failed attempts: try again later",
                                  retry_after=_seconds_until(max(ends), at))

    def record_failure(self, scope, budget):
        """Count one failure; the one that reaches the budget locks the scope."""
        at = self.clock()
        locks, last_lock = self._last_lock(scope)
        window = int(at.timestamp()) // budget.window_seconds
        n = insert_next(self.attempts, f"fail:{scope}:{locks}:{window}", {"at": at})
        if n != budget.limit:
            return
        seconds = next_lock_seconds(last_lock, budget, at)
        try:
            self.attempts.insert_one({"_id": numbered_id(f"lock:{scope}", locks + 1), "at": at,
                                      "until": at + dt.timedelta(seconds=seconds),
                                      "seconds": seconds})
        except DuplicateKeyError:
            pass  # locked already by a failure counted under a later lock number

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
