"""One saga runner for every kind of redemption: the gift shelf, a booked service, a merchant's
counter.

A redemption is a chain of steps that each take something (a day's quota, stock, an allowance,
a code, the points), decided once under a key of the redemption, then its outcome, stored once
by an insert under the redemption's ``_id`` before anything is given back, then what the
outcome asks for: a failed redemption gives back each step taken before the one that failed
(latest first); a successful one settles (e.g. what a merchant is owed).

The runs of one redemption (the request, its retry with the same Idempotency-Key, the recovery
timer, a late RPC) see the same step outcomes and so decide the same outcome; an in-flight
marker is stored before the redemption and removed only once the outcome and what it asks for
are stored, so a crash anywhere leaves a marker for the recovery timer.

Each kind gives its collections and, per redemption, its steps (``Step``); the runner is the
same for all.
"""
import dataclasses
import logging
from typing import Callable, Optional

from services.shared.appendlog import FloorBreached
from services.shared.clock import now
from services.shared.errors import Conflict, InsufficientPoints
from services.shared.storage import insert_or_replay

log = logging.getLogger(__name__)

FAILED = "failed"  # the same word for every kind (domain.FAILED, merchants.FAILED)
INSUFFICIENT_POINTS = "insufficient_points"


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of a saga, bound to its redemption.

    ``take()`` returns None when the step is done (again: it is keyed), or the name of the
    failure that ends the saga (one of ``failures``); anything it raises leaves the saga marked
    for a retry. ``give_back()`` undoes a taken step when a later one failed; ``settle()`` runs
    once the saga succeeded. Both are keyed, so running them again changes nothing."""
    take: Callable[[], Optional[str]]
    failures: tuple = ()
    give_back: Optional[Callable[[], object]] = None
    settle: Optional[Callable[[], object]] = None


def log_step(append_log, stream, amount, key, floor, failure, fields, back_key, back_fields=None):
    """Take ``amount`` from ``stream`` of an append-only log down to ``floor`` (``failure``
    when that would breach it); give back by an entry of its own under ``back_key``."""
    def take():
        try:
            append_log.append(stream, -amount, key=key, floor=floor, fields=fields)
        except FloorBreached:
            return failure
        return None

    def give_back():
        append_log.append(stream, amount, key=back_key, floor=None,
                          fields=fields if back_fields is None else back_fields)
    return Step(take, (failure,), give_back)


def debit_step(points, movement, settle=None):
    """Debit the points through the points service: a refusal (not enough points) is decided
    for good there, so every runner sees the same; any other error (points unreachable)
    propagates and leaves the saga marked."""
    def take():
        try:
            points.debit(movement)
        except InsufficientPoints:
            return INSUFFICIENT_POINTS
        return None
    return Step(take, (INSUFFICIENT_POINTS,), settle=settle)


class Saga:
    """The redemptions of one kind: stored in ``redemptions`` (never changed), decided in
    ``outcomes`` (once), marked in ``pending`` while under way. ``steps_for(redemption)`` gives
    its steps in order; ``succeeded`` is the kind's word for success; ``metric`` prefixes the
    counted outcomes."""

    def __init__(self, redemptions, outcomes, pending, steps_for, succeeded, metric, metrics):
        self.redemptions = redemptions
        self.outcomes = outcomes
        self.pending = pending
        self.steps_for = steps_for
        self.succeeded = succeeded
        self.metric = metric
        self.metrics = metrics

    def begin(self, rid, create, list_it):
        """The redemption ``rid`` as stored, or the new one ``create()`` returns after its
        checks (which store nothing). Marked before it is stored, so a crash between the two
        still leaves a marker; listed (``list_it``, keyed) before it is stored, so a listing
        is never missing."""
        redemption = self.redemptions.find_one({"_id": rid})
        if redemption is None:
            redemption = create()
            self.pending.mark(rid)
            list_it(redemption)
            redemption, _ = insert_or_replay(self.redemptions, redemption)
        if redemption.get("abandoned"):
            raise Conflict("this request was not completed in time and was abandoned; send it "
                           "again with a new Idempotency-Key", code="request_abandoned")
        return redemption

    def outcome(self, redemption):
        """The stored outcome; the saga is run (again) when there is none yet, or when its
        marker says what the outcome asks for may not be done yet."""
        rid = redemption["_id"]
        outcome = self.outcomes.find_one({"_id": rid})
        if outcome is None or self.pending.is_marked(rid):
            outcome = self.run(redemption)
        return outcome

    def run(self, redemption):
        """Take each step until one fails, decide the outcome once, then give back or settle
        as the (stored) outcome says, and unmark."""
        rid = redemption["_id"]
        steps = self.steps_for(redemption)
        outcome = self.outcomes.find_one({"_id": rid})
        for step in steps:
            if outcome is not None:
                break
            failure = step.take()
            if failure is not None:
                outcome = self.decide(rid, FAILED, failure)
        if outcome is None:
            outcome = self.decide(rid, self.succeeded)
        if outcome["status"] == FAILED:
            # Steps before the one that failed were taken; an unknown failure (stored by an
            # older version) counts as the last step's, so everything taken comes back.
            failed_at = next((i for i, step in enumerate(steps)
                              if outcome["failure"] in step.failures), len(steps))
            for step in reversed(steps[:failed_at]):
                if step.give_back is not None:
                    step.give_back()
        elif outcome["status"] == self.succeeded:
            for step in steps:
                if step.settle is not None:
                    step.settle()
        self.pending.done(rid)
        return outcome

    def decide(self, rid, status, failure=None):
        """Store the redemption's outcome once: the first runner's insert decides it."""
        outcome, created = insert_or_replay(self.outcomes, {
            "_id": rid, "status": status, "failure": failure, "at": now()})
        if created:
            self.metrics.count(f"{self.metric}{status}")
        return outcome

    def resume(self, rid):
        """Recovery of a marked redemption: finish its saga, or, when the request died before
        storing it, decide by an insert that it never will be (its late insert then fails) and
        unmark it: nothing was or will be taken."""
        redemption, _ = insert_or_replay(self.redemptions, {
            "_id": rid, "abandoned": True, "at": now()})
        if redemption.get("abandoned"):
            self.pending.done(rid)
            return None
        outcome = self.run(redemption)
        log.info("resumed redemption %s: %s", rid, outcome["status"])
        return outcome
