"""Two-sided movements of points: gifts (转赠), donations to a community fund, grants from it,
and what a storage cap sends to the fund (overflow).

A movement M of N points from account A to account B is four store steps, each idempotent:

1. an in-flight marker carrying the whole movement, then the movement record (``_id`` M);
2. debit A under ``move:<M>:out`` — decided once: a refusal is the movement's end, for good;
3. credit B under ``move:<M>:in`` with the expiry dates the debit took, so gifted points keep
   their expiry;
4. clear the marker.

There are no multi-document transactions, so "atomic in effect" means: whatever step a process
dies before, the points service's recovery timer (or a retry, which derives the same M from its
Idempotency-Key) runs the steps again; each finds what was already done under its unique key and
does the rest. The marker carries the movement, so even a crash between the marker and the
record is finished, never abandoned. A movement's status is derived from its two entries.
"""
import datetime as dt

from pymongo.errors import DuplicateKeyError

from services.points.ledger import fund_account, is_fund
from services.shared.appendlog import refusal_id
from services.shared.clock import now
from services.shared.errors import Conflict, Forbidden, InsufficientPoints
from services.shared.inflight import InFlight, resume_each
from services.shared.storage import insert_or_replay

COMPLETED, REFUSED, IN_PROGRESS = "completed", "refused", "in_progress"

# movement kind -> (entry kind of the source side, of the target side, ref type)
KINDS = {
    "gift": ("gift_out", "gift_in", "transfer"),
    "donation": ("donate", "donate", "donation"),
    "grant": ("grant", "grant", "grant"),
    "overflow": ("overflow", "overflow", "overflow"),
}
# What a retry must repeat exactly to be the same movement.
IDENTITY = ("kind", "from_account", "to_account", "points", "reason")


# How the points service asks the volunteer service about a volunteer of any community: the
# tenancy of the request was checked here, against the caller's own actor.
SERVICE_ACTOR = {"user_id": "service:points", "role": "admin"}


def require_self(actor, volunteer_id, field):
    """Only the volunteer themself moves their points."""
    if actor["role"] != "volunteer" or actor.get("subject_id") != volunteer_id:
        raise Forbidden("only the volunteer themself may give their points",
                        fields={field: ["not you"]})


def out_key(movement_id):
    return f"move:{movement_id}:out"


def in_key(movement_id):
    return f"move:{movement_id}:in"


def overflow_id(credit_key):
    """The overflow of one credit: derived from the credit's key, so a redelivered credit
    finds the same movement instead of sending the excess twice."""
    return f"overflow:{credit_key}"


def lots_taken(out_entry, points):
    """The expiry dates the debit took, as credit lots ({date: points}); None when it took no
    dated points (a fund's do not expire): the receiver's points then count as earned today."""
    lots = {date: -taken for date, taken in (out_entry.get("lots_delta") or {}).items() if taken}
    return lots if lots and sum(lots.values()) == points else None


def movement_fields(entry):
    """What a statement or fund page adds to a movement's entry: the movement, the other side,
    who caused it and who approved it."""
    return {field: entry[field] for field in ("movement", "counterparty", "by", "approved_by")
            if entry.get(field) is not None}


class MovementStore:
    """The points service's movement records and in-flight markers."""

    def __init__(self, db):
        self.records = db.movements  # _id = movement id: what was asked, never changed
        self.pending = InFlight(db.pending_movements)  # movements under way

    def ensure_indexes(self):
        pass  # looked up by _id only


class Movements:
    def __init__(self, ledger, store, metrics=None):
        self.ledger = ledger
        self.store = store
        self.metrics = metrics

    # --- the kinds --------------------------------------------------------------------------

    def gift(self, movement_id, from_volunteer, to_volunteer, points, by, note=None):
        return self.move(self.movement(movement_id, "gift", from_volunteer, to_volunteer, points,
                                       note or "gift of points", by))

    def donate(self, movement_id, volunteer_id, community_id, points, by):
        return self.move(self.movement(movement_id, "donation", volunteer_id,
                                       fund_account(community_id), points,
                                       "donation to the community fund", by,
                                       community_id=community_id))

    def grant(self, movement_id, community_id, to_volunteer, points, reason, approved_by):
        return self.move(self.movement(movement_id, "grant", fund_account(community_id),
                                       to_volunteer, points, reason, approved_by,
                                       community_id=community_id, approved_by=approved_by))

    def overflow(self, volunteer_id, community_id, points, credit_key, by):
        """Send what a credit brought above the storage cap to the community fund. For the
        credit path: returns the movement's answer; a refusal (the volunteer spent the points
        meanwhile) is an answer too, never an error, so a redelivered credit settles."""
        movement = self.movement(overflow_id(credit_key), "overflow", volunteer_id,
                                 fund_account(community_id), points,
                                 f"above the storage cap: {credit_key}", by,
                                 community_id=community_id, cause=credit_key)
        try:
            return self.move(movement)
        except InsufficientPoints:
            return self.answer(self.record(movement["_id"]))

    @staticmethod
    def movement(movement_id, kind, source, target, points, reason, by, **extra):
        if source == target:
            raise ValueError("a movement needs two accounts")
        return dict(extra, _id=movement_id, kind=kind, from_account=source, to_account=target,
                    points=points, reason=reason, by=by)

    # --- running one ------------------------------------------------------------------------

    def move(self, movement):
        """Run ``movement`` (or the stored one of the same id) to its end; returns its answer.
        InsufficientPoints when the source refused it (now or at its first run)."""
        record = self.store.records.find_one({"_id": movement["_id"]})
        if record is None:
            movement = dict(movement, created_at=now())
            # The marker carries the movement, so recovery can finish it from the marker alone.
            self._mark(movement)
            record, _ = insert_or_replay(self.store.records, movement)
        if any(record.get(field) != movement.get(field) for field in IDENTITY):
            raise Conflict(f"movement {movement['_id']} was asked with other terms",
                           code="idempotency_key_reused",
                           fields={"points": ["the key names another movement"]})
        return self.run(record)

    def run(self, record):
        movement_id, points = record["_id"], record["points"]
        out_kind, in_kind, ref_type = KINDS[record["kind"]]
        common = {"reason": record["reason"], "by": record["by"], "movement": movement_id,
                  "ref": {"type": ref_type, "id": movement_id}}
        if record.get("approved_by"):
            common["approved_by"] = record["approved_by"]
        try:
            out_entry, _ = self.ledger.debit(
                record["from_account"], points, out_key(movement_id), kind=out_kind,
                pair=in_key(movement_id), counterparty=record["to_account"], **common)
        except InsufficientPoints:
            self.store.pending.done(movement_id)
            self._count(f"movement_{REFUSED}")
            raise
        _, created = self.ledger.credit(
            record["to_account"], points, in_key(movement_id), kind=in_kind,
            lots=lots_taken(out_entry, points), pair=out_key(movement_id),
            counterparty=record["from_account"], **common)
        self.store.pending.done(movement_id)
        if created:
            self._count(f"movement_{COMPLETED}")
        return self.answer(record)

    def resume_stalled(self, log):
        resume_each(self.store.pending.stalled(), self.resume, log, self.metrics)

    def resume(self, movement_id):
        """Finish a movement a crash (or an unreachable store) left half-way."""
        marker = self.store.pending.collection.find_one({"_id": movement_id})
        record = self.store.records.find_one({"_id": movement_id})
        if record is None:
            if marker is None or "movement" not in marker:
                self.store.pending.done(movement_id)  # finished meanwhile, or nothing to finish
                return
            record, _ = insert_or_replay(self.store.records, marker["movement"])
        try:
            self.run(record)
        except InsufficientPoints:
            pass  # refused for good: nothing more to do

    def _mark(self, movement):
        try:
            self.store.pending.collection.insert_one(
                {"_id": movement["_id"], "since": now(), "movement": movement})
        except DuplicateKeyError:
            pass  # a retry of a movement under way

    # --- reading one ------------------------------------------------------------------------

    def record(self, movement_id):
        return self.store.records.find_one({"_id": movement_id})

    def status(self, record):
        """(status, failure) derived from the entries: both sides exist -> completed; the debit
        was refused -> refused; else still in progress (recovery will finish it)."""
        movement_id = record["_id"]
        if self.ledger.find(in_key(movement_id)) is not None:
            return COMPLETED, None
        if self._refused(out_key(movement_id)):
            return REFUSED, "insufficient_points"
        return IN_PROGRESS, None

    def _refused(self, key):
        # The append-only log records a refused key as a document of its own (see appendlog).
        return self.ledger.accounts.entries.find_one({"_id": refusal_id(key)}) is not None

    def answer(self, record):
        status, failure = self.status(record)
        out = {"id": record["_id"], "kind": record["kind"], "status": status,
               "points": record["points"], "reason": record["reason"], "by": record["by"],
               "created_at": record.get("created_at")}
        if failure:
            out["failure"] = failure
        if record.get("approved_by"):
            out["approved_by"] = record["approved_by"]
        if record.get("community_id"):
            out["community_id"] = record["community_id"]
        if not is_fund(record["from_account"]):
            out["from_volunteer_id"] = record["from_account"]
        if not is_fund(record["to_account"]):
            out["to_volunteer_id"] = record["to_account"]
        if isinstance(out["created_at"], dt.datetime):
            out["created_at"] = out["created_at"].isoformat()
        return out

    def _count(self, fact):
        if self.metrics is not None:
            self.metrics.count(fact)
