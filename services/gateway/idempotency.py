"""Idempotency-Key for every POST that creates records or moves points or stock.

The same key with the same body runs the request at most once at a time and replays its
outcome; the same key with another body is 409. The key (scoped by caller and path) is also
handed to the service as ``request_key``: services derive their record ids from it, so running
a request again after an unknown outcome finds and finishes the first run's work instead of
adding to it.

Every decision is one insert under a unique ``_id`` (the only atomic write FerretDB offers, and
the only lookup it indexes); nothing is ever updated or deleted:

- ``<scoped>#<n>``: attempt *n* runs the request. Attempt 0 is the first request; attempt n+1
  may start only when attempt n has ended without an outcome or is stale, and of two retries
  racing for it the one whose insert lands runs, the other answers 409 request_in_progress.
- ``<scoped>#<n>/ended``: attempt n got an answer that decided nothing (a 5xx reply): a retry
  may run at once.
- ``<scoped>``: the outcome (status and body), written once by whichever attempt finishes first;
  a later writer reads it and answers it.
"""
import dataclasses
import datetime as dt
import hashlib
import json
import math

from pymongo.errors import DuplicateKeyError

from services.shared.clock import now
from services.shared.config import DEFAULT_RPC_TIMEOUT_SECONDS, HANDLER_MARGIN_SECONDS, \
    gateway_rpc_timeout
from services.shared.errors import Conflict
from services.shared.storage import MongoStore

MAX_KEY_LENGTH = 200
IN_PROGRESS_POLL_SECONDS = 1


def claim_lifetime(gateway_deadline):
    """How long an attempt that never heard back may still be running somewhere.

    A request waits in its queue at most ``gateway_deadline`` (it expires there: see
    services/shared/rpc.py) and its handler, once started, ends within ``gateway_deadline``
    (the handler's one downstream call gives up first). After twice that the first run is surely
    over, so a retry may run with the same request key without running beside it.
    """
    return dt.timedelta(seconds=2 * gateway_deadline)


# With the default deadlines (services 10 s, gateway 12 s) a claim goes stale after 24 s. That
# fits the recovery timers (services/shared/inflight.py): a redemption or decision the first run
# left half-way is marked in flight and resumed by a timer once the marker is 30 s old
# (STALLED_AFTER, checked every RECOVERY_INTERVAL_SECONDS = 10 s). A retrying client's takeover
# (from 24 s) thus comes after the first run surely ended and no later than the timer would step
# in, so the client gets its outcome from its own retry instead of 409s until ~50 s.
STALE_CLAIM = claim_lifetime(DEFAULT_RPC_TIMEOUT_SECONDS + HANDLER_MARGIN_SECONDS)


def body_fingerprint(body):
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def caller_scope(actor, body):
    """Whose keys these are: the signed-in user, or for self-registration the username it asks for.

    An anonymous caller has no identity but the account it is creating. The username stays the
    same across a client's retries (a client address does not: a phone's retry often comes from
    another network, and many callers share one address behind NAT), and two people cannot both
    own it, so their keys never meet; the same username under the same key with another body is
    409 like any reused key.
    """
    if actor:
        return actor["user_id"]
    # \x1e never occurs in a username, so this cannot equal a signed-in user's scope.
    return "\x1eanonymous\x1e" + str(body.get("username", ""))


@dataclasses.dataclass(frozen=True)
class Outcome:
    """A request's answer; ``replayed`` when it was stored by an earlier request."""
    status: int
    body: dict
    replayed: bool = True


@dataclasses.dataclass(frozen=True)
class Attempt:
    """The right to run the request once; ``request_key`` goes to the service."""
    request_key: str
    number: int
    fingerprint: str
    stale_at: dt.datetime

    @property
    def id(self):
        return attempt_id(self.request_key, self.number)

    def seconds_until_stale(self):
        return seconds_until(self.stale_at)


def attempt_id(scoped_key, number):
    return f"{scoped_key}#{number}"


def seconds_until(moment):
    return max(1, math.ceil((moment - now()).total_seconds()))


def reused_key():
    return Conflict("this Idempotency-Key was used with another request body",
                    code="idempotency_key_reused")


def in_progress(stale_at):
    # Most runs end within a second; a client polls that often, not until the claim is stale.
    return Conflict("a request with this Idempotency-Key is still in progress",
                    code="request_in_progress",
                    retry_after=min(IN_PROGRESS_POLL_SECONDS, seconds_until(stale_at)))


class IdempotencyStore:
    def __init__(self, db, stale_after=STALE_CLAIM):
        self.requests = db.idempotent_requests
        self.stale_after = stale_after

    def ensure_indexes(self):
        pass  # looked up by _id only

    @staticmethod
    def scope(subject, method, path, key):
        return "idk_" + hashlib.sha256(
            "\x1f".join([subject or "-", method, path, key]).encode()).hexdigest()[:40]

    def claim(self, scoped_key, fingerprint):
        """The stored Outcome, or the Attempt to run now; 409 when neither."""
        stored = self._outcome(scoped_key, fingerprint)
        if stored is not None:
            return stored
        number, latest = self._latest_attempt(scoped_key)
        if latest is not None:
            self._check_fingerprint(latest, fingerprint)
            if now() < latest["stale_at"] and not self._ended(attempt_id(scoped_key, number)):
                raise in_progress(latest["stale_at"])
        attempt = Attempt(scoped_key, number + 1, fingerprint, now() + self.stale_after)
        try:
            self.requests.insert_one({"_id": attempt.id, "fingerprint": fingerprint,
                                      "started_at": now(), "stale_at": attempt.stale_at})
        except DuplicateKeyError:  # another request took this turn first: it runs, not us
            taken = self.requests.find_one({"_id": attempt.id}) or {}
            self._check_fingerprint(taken, fingerprint)
            raise in_progress(taken.get("stale_at", attempt.stale_at))
        # The previous attempt may have finished between our reads and our insert.
        return self._outcome(scoped_key, fingerprint) or attempt

    def complete(self, attempt, status, body):
        """Store this outcome unless one is stored already; the Outcome that is stored."""
        outcome = {"_id": attempt.request_key, "fingerprint": attempt.fingerprint,
                   "status": status, "body": json.dumps(body, ensure_ascii=False),
                   "attempt": attempt.number, "at": now()}
        try:
            self.requests.insert_one(outcome)
        except DuplicateKeyError:  # an earlier attempt finished first: its answer stands
            stored = self._outcome(attempt.request_key, attempt.fingerprint)
            if stored is not None:
                return stored
        return Outcome(status, body, replayed=False)

    def ended_without_outcome(self, attempt):
        """The attempt's run answered but decided nothing (a 5xx reply): a retry may run now."""
        try:
            self.requests.insert_one({"_id": attempt.id + "/ended", "at": now()})
        except DuplicateKeyError:
            pass

    def _outcome(self, scoped_key, fingerprint):
        stored = self.requests.find_one({"_id": scoped_key})
        if stored is None or "status" not in stored:
            return None
        self._check_fingerprint(stored, fingerprint)
        return Outcome(stored["status"], json.loads(stored["body"]))

    def _latest_attempt(self, scoped_key):
        """(n, document) of the newest attempt; (-1, None) before the first."""
        number, latest = -1, None
        # Attempts are few (a new one needs the last to be over), so probing by _id is cheap.
        while (found := self.requests.find_one({"_id": attempt_id(scoped_key, number + 1)})):
            number, latest = number + 1, found
        return number, latest

    def _ended(self, attempt_doc_id):
        return self.requests.find_one({"_id": attempt_doc_id + "/ended"}) is not None

    @staticmethod
    def _check_fingerprint(stored, fingerprint):
        if stored.get("fingerprint", fingerprint) != fingerprint:
            raise reused_key()


class IdempotencyRecords(MongoStore):
    """The gateway's IdempotencyStore, with claims living as long as its RPC deadline implies."""

    def __init__(self):
        super().__init__("gateway", IdempotencyStore)

    def setup(self):
        super().setup()
        self.store.stale_after = claim_lifetime(gateway_rpc_timeout(self.container.config))
