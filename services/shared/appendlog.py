"""An append-only, sequenced log of signed amounts per stream: the ledger's core.

Used for points accounts, shelf stock and volunteers' service minutes. Entry n of stream s is the
document ``_id = "s:n"`` carrying ``delta`` and ``total_after``; the running total is therefore
read off the last entry and can be re-derived by summing the deltas.

Why this shape:
- The store's only atomic guard we rely on is an insert under a unique key (FerretDB v1 does
  read-modify-write updates without a lock; MongoDB needs no more either). Two writers racing for
  entry n both try to insert ``s:n``; one wins, the other re-reads and retries against the new
  total. So a floor (no balance or stock below zero) holds under any concurrency.
- Each entry has a unique ``key`` naming its cause (an approval, a redemption step...). A
  redelivered event or a retried request finds its entry instead of appending a second one.
- ``_id`` is the key we look entries up by, which FerretDB serves from its primary key; a head
  hint ``{_id: s, seq, total_after}`` in a side collection saves scanning for the end. The hint
  may lag (it is written after the entry, without a lock); readers probe forward from it, so a
  stale hint costs a lookup, never a wrong total.
"""
from pymongo.errors import DuplicateKeyError

from services.shared import clock


class FloorBreached(Exception):
    """The append would take the stream's total below its floor."""

    def __init__(self, total):
        super().__init__(total)
        self.total = total


class Contended(Exception):
    """Too many concurrent writers on one stream; the caller may retry."""


def entry_id(stream, seq):
    return f"{stream}:{seq}"


class AppendLog:
    MAX_ATTEMPTS = 200

    def __init__(self, db, name):
        self.entries = db[name]
        self.heads = db[f"{name}_heads"]

    def ensure_indexes(self):
        self.entries.create_index("key", unique=True, name="key_unique")

    def head(self, stream):
        """(seq, total) of the last entry of ``stream``; (0, 0) when it has none."""
        hint = self.heads.find_one({"_id": stream}) or {}
        seq, total = hint.get("seq", 0), hint.get("total_after", 0)
        while True:
            nxt = self.entries.find_one({"_id": entry_id(stream, seq + 1)}, {"total_after": 1})
            if nxt is None:
                return seq, total
            seq, total = seq + 1, nxt["total_after"]

    def total(self, stream):
        return self.head(stream)[1]

    def find_by_key(self, key):
        return self.entries.find_one({"key": key})

    def append(self, stream, delta, key, floor=0, fields=None, now=None):
        """Append ``delta`` to ``stream`` once for ``key``.

        Returns ``(entry, created)``: ``created`` is False when an entry with this key already
        existed (a replay), and that entry is returned unchanged. Raises FloorBreached when the
        new total would be below ``floor`` (``None``: no floor).
        """
        if not isinstance(delta, int) or isinstance(delta, bool):
            raise TypeError("delta must be an int")
        for _ in range(self.MAX_ATTEMPTS):
            seq, total = self.head(stream)
            new_total = total + delta
            if floor is not None and new_total < floor:
                existing = self.find_by_key(key)
                if existing is not None:
                    return existing, False
                raise FloorBreached(total)
            doc = dict(fields or {})
            doc.update(
                _id=entry_id(stream, seq + 1), stream=stream, seq=seq + 1, delta=delta,
                total_after=new_total, key=key,
                at=now or clock.now(),
            )
            try:
                self.entries.insert_one(doc)
            except DuplicateKeyError:
                taken = self.entries.find_one({"_id": doc["_id"]})
                if taken is not None and taken["key"] != key:
                    continue  # another writer took entry seq+1: re-read the head and retry
                # The _id was free (or holds our own entry), so the key collided: a replay.
                return (taken if taken is not None else self.find_by_key(key)), False
            self._advance_hint(stream, seq + 1, new_total)
            return doc, True
        raise Contended(stream)

    def _advance_hint(self, stream, seq, total):
        # A filter on _id alone is what FerretDB serves from its primary key. A racing writer may
        # leave an older hint behind; head() probes forward from it, so that costs a lookup only.
        try:
            self.heads.replace_one({"_id": stream}, {"seq": seq, "total_after": total}, upsert=True)
        except DuplicateKeyError:
            pass  # two first appends upserted at once; either hint is fine

    def entries_of(self, stream, newest_first=True, before_seq=None, limit=None,
                   since=None, until=None):
        """Entries of one stream by ``_id`` lookups, newest first from ``before_seq``.

        ``since``/``until`` bound ``at``; entries are appended in time order, so the walk stops
        at the first entry older than ``since``.
        """
        seq = self.head(stream)[0] if before_seq is None else before_seq - 1
        out = []
        while seq >= 1 and (limit is None or len(out) < limit):
            doc = self.entries.find_one({"_id": entry_id(stream, seq)})
            seq -= 1
            if doc is None or (until is not None and doc["at"] > until):
                continue
            if since is not None and doc["at"] < since:
                break
            out.append(doc)
        return out if newest_first else out[::-1]

    def verify(self, stream):
        """Check the stream's invariants: contiguous seqs and totals equal to the running sum."""
        running = 0
        entries = self.entries_of(stream, newest_first=False)
        for expected_seq, doc in enumerate(entries, start=1):
            running += doc["delta"]
            if doc["seq"] != expected_seq or doc["total_after"] != running:
                return False
        return True
