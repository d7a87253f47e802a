"""Logging hours: the one path every way of creating hours records takes (a sheet through the
API, on-site check-out, a CSV import), so each keeps the same rules.

``log_records`` stores pending records all or none, in steps that each decide once by a unique
insert: the records (one live record per volunteer and activity), the activity's places (its
capacity), then each volunteer's occupied time (no overlapping records). A step that refuses
voids the records stored before it (a step-1 decision: records are never edited or deleted) and
gives back the places taken, so a refused sheet leaves no live record and holds no place.
"""
from services.shared.clock import now
from services.shared.errors import Conflict, RuleViolation
from services.shared.ids import derived_id
from services.volunteer import domain, pending
from services.volunteer.indexes import CapacityFull
from services.volunteer.storage import CREATED, REPLAYED, TAKEN

CAPACITY_VOID_REASON = "its sheet was refused: more volunteers than the activity's capacity"
OVERLAP_VOID_REASON = "its sheet was refused: a volunteer holds hours at an overlapping time"


def new_record(activity, volunteer_id, minutes, logged_by, logged_at, sheet_id, **extra):
    """A pending record of ``minutes`` for a volunteer on an activity (generation 1; the store
    moves to a later generation when an earlier one was rejected, revoked or voided)."""
    return dict(extra, **{
        "_id": domain.record_id(activity["_id"], volunteer_id, 1), "generation": 1,
        "sheet_id": sheet_id, "activity_id": activity["_id"],
        "center_id": activity["center_id"], "community_id": activity["community_id"],
        "category": activity["category"], "activity_starts_at": activity["starts_at"],
        "volunteer_id": volunteer_id, "minutes": minutes,
        "logged_by": logged_by, "logged_at": logged_at, "on_roster": True,
    })


def log_records(store, activity, records):
    """Store ``records`` (from new_record, one per volunteer, validated: see
    domain.sheet_entry_problems) all or none; returns [(record as stored, CREATED | REPLAYED)].

    Raises Conflict already_logged (a volunteer holds a live record on this activity),
    RuleViolation capacity_exceeded (fields.capacity) or overlapping_hours (fields.entries.<i>
    naming the other record). A retry of the same sheet (same ``sheet_id``) replays.

    A marker carrying the records is stored first and removed once the sheet is settled
    (logged, or refused and voided): a crash between the steps would otherwise leave pending
    records that hold no place and no time, so a later sheet could overlap them. The recovery
    timer settles a marked sheet by running these steps again (settle_stalled_sheet).
    """
    marker = sheet_marker(records)
    store.sheets_in_flight.mark(marker, activity_id=activity["_id"], records=records)
    try:
        placed = _log_records(store, activity, records)
    except (Conflict, RuleViolation):
        store.sheets_in_flight.done(marker)  # refused and voided: settled
        raise
    store.sheets_in_flight.done(marker)
    return placed


def sheet_marker(records):
    return f"sheet:{records[0]['sheet_id']}:{records[0]['activity_id']}"


def settle_stalled_sheet(store, marker_id):
    """Finish a sheet a crash left half-logged: its records get their places and times, or
    are voided when the activity or a volunteer's time was taken meanwhile."""
    marker = store.sheets_in_flight.details(marker_id)
    if marker is None:
        return  # settled meanwhile
    activity = store.activities.find_one({"_id": marker["activity_id"]})
    try:
        _log_records(store, activity, marker["records"])
    except (Conflict, RuleViolation):
        pass  # refused: its records are voided, as the live request would have done
    store.sheets_in_flight.done(marker_id)


def _log_records(store, activity, records):
    placed = store.insert_sheet(records)
    taken = {str(i): {"volunteer_id": [f"already logged on this activity: hours record "
                                       f"{record['_id']}"]}
             for i, (record, how) in enumerate(placed) if how == TAKEN}
    if taken:
        raise Conflict("volunteers already logged on this activity", code="already_logged",
                       fields={"entries": taken})
    ours = [record for record, _ in placed]
    places_key = derived_id("places", *sorted(record["_id"] for record in ours))
    try:
        store.rosters.take_places(activity, [record["_id"] for record in ours], places_key)
    except CapacityFull as full:
        _void(store, ours, CAPACITY_VOID_REASON)
        message = domain.capacity_message(activity, full.placed)
        raise RuleViolation(message, code="capacity_exceeded",
                            fields={"capacity": [message]}) from None

    overlapping = store.occupancy.occupy_all(
        ours, activity, lambda record_id: store.status_of(record_id)[0] not in
        domain.REOPENED_BY, store._each)
    clashes = {str(i): {"volunteer_id": [domain.overlap_message(other)]}
               for i, other in enumerate(overlapping) if other is not None}
    if clashes:
        _void(store, ours, OVERLAP_VOID_REASON)
        store.rosters.release(activity["_id"], len(ours), key=f"release:{places_key}",
                              reason=OVERLAP_VOID_REASON)
        raise RuleViolation("volunteers hold hours at overlapping times",
                            code="overlapping_hours", fields={"entries": clashes})
    logged = [(record, how) for record, how in placed if how in (CREATED, REPLAYED)]
    # Each logged record joins its center's pending count (keyed by record) while the sheet is
    # still marked: a crash before it is counted is finished by the recovery timer.
    pending.count_logged(store, [record for record, _ in logged])
    return logged


def _void(store, records, reason):
    store._each(lambda record: store.record_decision(
        record["_id"], domain.DECISION_STEP[domain.VOIDED],
        domain.void_decision(record, reason, now())), records)
