"""An append-only, sequenced log of signed amounts per stream: the ledger's core.

Used for points accounts, shelf stock and volunteers' service minutes. Entry n of stream s is the
document ``_id = "s:n"`` carrying ``delta`` and ``total_after``; the running total is therefore
read off the last entry and can be re-derived by summing the deltas.

Why this shape:
- The store's only atomic guard we rely on is an insert under a unique key (FerretDB v1 does
  read-modify-write updates without a lock; MongoDB needs no more either). Two writers racing for
  entry n both try to insert ``s:n``; one wins, the other re-reads and retries against the new
  total. So a floor (no balance or stock below zero) holds under any concurrency.
- Each movement has a unique ``key`` naming its cause (an approval, a redemption step...), and
  its outcome is decided once, by one insert under that key: either the entry, or, when the
  floor refused it, a refusal document carrying the same unique ``key``. A redelivered event, a
  retried request or a second runner of the same saga finds that outcome instead of deciding
  again: a refused debit stays refused even if the balance has grown since.
- A key is first claimed in ``<name>_keys`` (``_id`` = the key) with its stream and delta, so a
  key is looked up by ``_id`` (the only lookup FerretDB serves from an index) and a key reused
  for another stream or amount is refused (KeyReused) instead of being taken as a replay.
  The claim also records the head at claim time: the key's entry, if any, lies after it.
- ``_id`` is the key we look entries up by, which FerretDB serves from its primary key; a head
  hint ``{_id: s, seq, total_after, entry}`` in a side collection saves scanning for the end. The
  hint may lag (it is written after the entry, without a lock); readers probe forward from it, so
  a stale hint costs a lookup, never a wrong total.
- Tamper evidence: entry n carries ``hash`` = SHA-256 over its content and entry n-1's hash.
  Entry n is computed from entry n-1 as read, and only one writer can insert n, so the chain is
  consistent without a lock; editing any stored entry breaks it from there on.
"""
import datetime as dt
import hashlib
import json
import random
import time

from pymongo.errors import DuplicateKeyError

from services.shared import clock
from services.shared.errors import Busy, KeyReused


class FloorBreached(Exception):
    """The movement would take (or took, when first decided) the total below its floor."""

    def __init__(self, total):
        super().__init__(total)
        self.total = total


# How far out of order two writers' clocks may stamp consecutive entries of one stream.
AT_DISORDER = dt.timedelta(seconds=2)


def _pause(seconds):
    time.sleep(seconds)  # eventlet-patched in the services: other greenthreads run meanwhile


GENESIS_HASH = "0" * 64  # what entry 1 (or the first entry written with a hash) chains to


def stored_instant(moment):
    """``moment`` as the store keeps it: BSON dates hold milliseconds, and the hash must be
    over what a reader gets back."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _canonical(value):
    if isinstance(value, dt.datetime):
        if value.utcoffset() is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    raise TypeError(f"cannot hash a {type(value).__name__}")


def entry_hash(doc, prev_hash):
    """SHA-256 hex of an entry: every field but ``_id`` and ``hash``, as JSON with sorted keys
    (datetimes as UTC with milliseconds), followed by the previous entry's hash."""
    content = {k: v for k, v in doc.items() if k not in ("_id", "hash")}
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=_canonical)
    return hashlib.sha256(f"{text}|{prev_hash}".encode()).hexdigest()


def entry_id(stream, seq):
    return f"{stream}:{seq}"


def refusal_id(key):
    # Not of the form "<stream>:<n>", so walks over a stream's entries never meet it.
    return f"~refused:{key}"


class AppendLog:
    # Racing writers on one stream back off with full jitter: attempt n waits up to
    # min(BACKOFF_CAP, BACKOFF_BASE * 2**n). ~25 attempts span about a second; past that the
    # stream is too hot to serve now and the caller gets Busy (503 with Retry-After).
    MAX_ATTEMPTS = 25
    BACKOFF_BASE = 0.002
    BACKOFF_CAP = 0.1
    SKIP_AHEAD_AFTER = 16  # entries walked past an undecided claim before it is moved forward

    def __init__(self, db, name, sleep=None):
        self.name = name
        self.migrations = db[f"{name}_migrations"]
        self.entries = db[name]
        self.heads = db[f"{name}_heads"]
        self.keys = db[f"{name}_keys"]
        self._sleep = sleep or _pause

    def ensure_indexes(self):
        self.entries.create_index("key", unique=True, name="key_unique")
        self.backfill_claims()

    def backfill_claims(self):
        """Claim the keys of entries appended before keys were claimed; once per log.

        Without a claim such a key would look unused: a redelivered approval would clash on
        the unique key, find no outcome and retry until Busy, and a revocation would never find
        the credit it reverses. A one-off full read, at start; a crash part-way only means it
        runs again, and each claim is an insert that a second run finds taken.
        """
        if self.migrations.find_one({"_id": "claims"}) is not None:
            return
        for entry in self.entries.find({}):
            if entry.get("refused") or "seq" not in entry:
                continue
            try:
                self.keys.insert_one({"_id": entry["key"], "stream": entry["stream"],
                                      "delta": entry["delta"], "from_seq": entry["seq"] - 1,
                                      "backfilled": True})
            except DuplicateKeyError:
                pass  # claimed already (by a writer, or an earlier run of this)
        try:
            self.migrations.insert_one({"_id": "claims", "at": clock.now()})
        except DuplicateKeyError:
            pass  # another process finished it too

    def head(self, stream):
        """(seq, total) of the last entry of ``stream``; (0, 0) when it has none."""
        seq, last = self.last_entry(stream)
        return seq, last.get("total_after", 0)

    def last_entry(self, stream):
        """(seq, document) of the last entry of ``stream``; (0, {}) when it has none. The hint
        carries a copy of the entry it points at, so an up-to-date hint costs two lookups."""
        hint = self.heads.find_one({"_id": stream}) or {}
        seq, last = hint.get("seq", 0), hint.get("entry")
        if last is None and seq:  # a hint written before hints carried their entry
            last = self.entries.find_one({"_id": entry_id(stream, seq)})
        last = last or {}
        while True:
            nxt = self.entries.find_one({"_id": entry_id(stream, seq + 1)})
            if nxt is None:
                return seq, last
            seq, last = seq + 1, nxt

    def total(self, stream):
        return self.head(stream)[1]

    def find_by_key(self, key):
        """The entry appended under ``key``; None when it has none (never claimed, refused, or
        not placed yet). Costs _id lookups only."""
        claim = self.keys.find_one({"_id": key})
        if claim is None:
            return None
        outcome = self._outcome(claim)
        return outcome if outcome is not None and not outcome.get("refused") else None

    def append(self, stream, delta, key, floor=0, fields=None, now=None):
        """Append ``delta`` to ``stream`` once for ``key``.

        Returns ``(entry, created)``: ``created`` is False when the key's entry already existed
        (a replay), and that entry is returned unchanged. Raises FloorBreached when the new total
        would be below ``floor`` (``None``: no floor); that refusal is recorded, so the same key
        is refused again later. Raises KeyReused when the key names another stream or delta.
        """
        if not isinstance(delta, int) or isinstance(delta, bool):
            raise TypeError("delta must be an int")
        return self.append_planned(stream, key, lambda total, previous: (delta, fields),
                                   floor=floor, claimed_delta=delta, now=now)

    def append_planned(self, stream, key, plan, floor=0, claimed_delta=None, now=None):
        """Append what ``plan(total, previous) -> (delta, fields)`` decides against the current
        total and the previous entry's document ({} for the first entry).

        For movements whose amount depends on the balance (a reversal takes back what is still
        there) or on state carried from entry to entry (a debt, expiry lots): the plan is re-run
        on every retry, so it always sees the entry it is appended after.
        ``claimed_delta`` None means the key's amount is not fixed in advance.
        """
        head = self.last_entry(stream)
        claim, fresh = self._claim(stream, key, claimed_delta, head[0])
        if not fresh:
            outcome = self._outcome(claim)
            if outcome is not None:
                return self._replay(outcome)
        for attempt in range(self.MAX_ATTEMPTS):
            if attempt:
                self._sleep(random.uniform(0, min(self.BACKOFF_CAP,
                                                  self.BACKOFF_BASE * 2 ** attempt)))
                head = self.last_entry(stream)
            seq, previous = head
            total = previous.get("total_after", 0)
            delta, fields = plan(total, previous)
            if not isinstance(delta, int) or isinstance(delta, bool):
                raise TypeError("delta must be an int")
            new_total = total + delta
            if floor is not None and new_total < floor:
                return self._replay(self._refuse(stream, key, delta, total, claim))
            doc = dict(fields or {})
            doc.update(
                _id=entry_id(stream, seq + 1), stream=stream, seq=seq + 1, delta=delta,
                total_after=new_total, key=key,
                at=stored_instant(now or clock.now()),
            )
            doc["hash"] = entry_hash(doc, previous.get("hash", GENESIS_HASH))
            try:
                self.entries.insert_one(doc)
            except DuplicateKeyError:
                taken = self.entries.find_one({"_id": doc["_id"]})
                if taken is not None and taken["key"] != key:
                    continue  # another writer took entry seq+1: re-read the head and retry
                # Entry seq+1 is free or ours: the key clashed, so its outcome was decided by
                # another runner of the same movement.
                outcome = taken if taken is not None else self._outcome(claim)
                if outcome is None:
                    continue  # the other runner's insert is not visible yet
                return self._replay(outcome)
            self._advance_hint(stream, doc)
            return doc, True
        raise Busy(f"{stream} is busy: too many concurrent changes, try again shortly")

    # --- deciding a key once ---------------------------------------------------------------

    def _claim(self, stream, key, delta, head_seq):
        """Claim ``key`` for this movement; returns (claim, fresh). KeyReused on a mismatch."""
        claim = {"_id": key, "stream": stream, "delta": delta, "from_seq": head_seq}
        try:
            self.keys.insert_one(claim)
            return claim, True
        except DuplicateKeyError:
            stored = self.keys.find_one({"_id": key})
        if stored is None:  # claims are never deleted; only a broken store gets here
            raise RuntimeError(f"key {key} clashed but cannot be read")
        # A backfilled claim recorded its entry's amount, which a planned movement (delta
        # None: decided against the balance) did not fix in advance.
        same_delta = stored.get("delta") == delta or (stored.get("backfilled") and delta is None)
        if stored["stream"] != stream or not same_delta:
            raise KeyReused(f"key {key} already names another movement",
                            fields={"key": ["used for another account or amount"]})
        return stored, False

    def _outcome(self, claim):
        """The entry or refusal decided for a claimed key, or None while undecided.

        The key's entry can only lie after the head seen when it was claimed; entries of one
        key are appended within moments of their claim, so this walk is a step or two.
        """
        refusal = self.entries.find_one({"_id": refusal_id(claim["_id"])})
        if refusal is not None:
            return refusal
        start = seq = claim.get("from_seq", 0)
        while True:
            seq += 1
            doc = self.entries.find_one({"_id": entry_id(claim["stream"], seq)})
            if doc is None:
                break
            if doc["key"] == claim["_id"]:
                return doc
        if seq - start > self.SKIP_AHEAD_AFTER:
            # A claim left undecided by a crash on a busy stream: every entry up to here holds
            # another key, and later ones can only come after, so the next walk starts here.
            # A racing update may leave a lower value: that only costs a longer walk.
            self.keys.update_one({"_id": claim["_id"]}, {"$set": {"from_seq": seq - 1}})
            claim["from_seq"] = seq - 1
        return None

    def _refuse(self, stream, key, delta, total, claim):
        """Decide ``key`` as refused, unless its entry won the race to decide it."""
        refusal = {"_id": refusal_id(key), "key": key, "stream": stream, "delta": delta,
                   "refused": True, "total": total, "at": clock.now()}
        try:
            self.entries.insert_one(refusal)
            return refusal
        except DuplicateKeyError:
            # Same unique key: the refusal was recorded already, or the entry was appended.
            for _ in range(self.MAX_ATTEMPTS):
                outcome = self._outcome(claim)
                if outcome is not None:
                    return outcome
                self._sleep(self.BACKOFF_BASE)  # the winner's insert is not visible yet
            raise Busy(f"{stream} is busy: try again shortly")

    @staticmethod
    def _replay(outcome):
        if outcome.get("refused"):
            raise FloorBreached(outcome["total"])
        return outcome, False

    def _advance_hint(self, stream, doc):
        # A filter on _id alone is what FerretDB serves from its primary key. A racing writer may
        # leave an older hint behind; head() probes forward from it, so that costs a lookup only.
        entry = {k: v for k, v in doc.items() if k != "_id"}
        try:
            self.heads.replace_one({"_id": stream}, {"seq": doc["seq"],
                                                     "total_after": doc["total_after"],
                                                     "entry": entry}, upsert=True)
        except DuplicateKeyError:
            pass  # two first appends upserted at once; either hint is fine

    def entries_of(self, stream, newest_first=True, before_seq=None, limit=None,
                   since=None, until=None):
        """Entries of one stream by ``_id`` lookups, newest first from ``before_seq``.

        ``since``/``until`` bound ``at``. The work is about ``limit`` lookups plus the head and
        O(log n) for ``until``, whatever the arguments: a ``before_seq`` past the head starts at
        the head, and the newest entry at or before ``until`` is found by bisection
        (``at`` grows with ``seq``, up to AT_DISORDER; see last_seq_at_or_before).
        """
        top = self.head(stream)[0]
        if before_seq is not None:
            top = min(top, before_seq - 1)
        if until is not None:
            top = self.last_seq_at_or_before(stream, until + AT_DISORDER, top)
        out = []
        for seq in range(top, 0, -1):
            if limit is not None and len(out) >= limit:
                break
            doc = self.entries.find_one({"_id": entry_id(stream, seq)})
            if doc is None:
                continue  # below the head every seq is taken; only a broken store gets here
            if since is not None and doc["at"] < since:
                if doc["at"] < since - AT_DISORDER:
                    break  # everything further down is older still
                continue
            if until is None or doc["at"] <= until:
                out.append(doc)
        return out if newest_first else out[::-1]

    def last_seq_at_or_before(self, stream, moment, top):
        """The highest seq <= ``top`` whose entry's ``at`` <= ``moment`` (0: none), by bisection.

        Within one process ``at`` never decreases with ``seq``: a writer takes ``at`` after it
        read the head, so after the previous entry was stored with its own earlier ``at``.
        Writers on hosts whose clocks disagree by up to AT_DISORDER may interleave slightly out
        of order; callers widen ``moment`` by AT_DISORDER and filter what they walk, so such
        entries are neither lost nor shown out of range. Costs at most log2(top) + 1 lookups.
        """
        def at(seq):
            return self.entries.find_one({"_id": entry_id(stream, seq)}, {"at": 1})["at"]

        if top < 1 or at(top) <= moment:
            return max(top, 0)
        low, high = 0, top  # at(low) <= moment (seq 0 stands for "before the first"); at(high) >
        while high - low > 1:
            middle = (low + high) // 2
            if at(middle) <= moment:
                low = middle
            else:
                high = middle
        return low

    def verify(self, stream):
        """Check the stream's invariants: contiguous seqs, totals equal to the running sum, and
        the hash chain (entries from before hashes existed may only precede hashed ones)."""
        running, previous_hash = 0, None
        entries = self.entries_of(stream, newest_first=False)
        for expected_seq, doc in enumerate(entries, start=1):
            running += doc["delta"]
            if doc["seq"] != expected_seq or doc["total_after"] != running:
                return False
            if "hash" in doc:
                if doc["hash"] != entry_hash(doc, previous_hash or GENESIS_HASH):
                    return False
                previous_hash = doc["hash"]
            elif previous_hash is not None:
                return False
        return True
