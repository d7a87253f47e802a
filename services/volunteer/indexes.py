"""What the volunteer service decides or finds through ``_id`` alone, on append-only logs.

FerretDB serves only ``_id`` equality from an index, and its updates are read-modify-write
without a lock; so every rule here is decided by one insert under a unique ``_id`` and every
list is walked by ``_id`` lookups whose number is bounded by a page, a community, an activity or
a volunteer, never by the whole store's history:

- VolunteerDirectory: one mobile number is one volunteer per community (the claim's ``_id``),
  and staff find volunteers by exact number (that claim), by name or its first characters
  (per-community, per-prefix lists) or list a community's volunteers (its own list).
- Occupancy: a volunteer never holds two records whose activities overlap (a per-volunteer log
  of occupied times: the insert of entry n decides).
- Rosters: an activity's records, one entry per sheet, and its capacity (the floor of the
  activity's log: the insert of entry n decides whether a sheet's volunteers fit).
- CenterActivities: a center's activities, newest first.
"""
import datetime as dt

from pymongo.errors import BulkWriteError

from services.shared.appendlog import AppendLog, FloorBreached
from services.shared.errors import Busy
from services.shared.clock import now
from services.shared.storage import insert_or_replay
from services.volunteer import domain

# A phone claim whose volunteer was never stored (its registration crashed in between) frees
# the number after this long; a registration stores its volunteer within moments of the claim.
ORPHANED_CLAIM_AFTER = dt.timedelta(minutes=2)
CHUNK = 50  # log entries read per step of a walk


def insert_each(collection, docs):
    """Insert every document whose ``_id`` is free, in one batch; returns those inserted (a
    document whose ``_id`` was taken already is left as it is)."""
    if not docs:
        return []
    try:
        collection.insert_many(docs, ordered=False)
        return list(docs)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != 11000 for error in errors):
            raise
        taken = {error["index"] for error in errors}
        return [doc for index, doc in enumerate(docs) if index not in taken]


class VolunteerDirectory:
    def __init__(self, db):
        self.phones = db.volunteer_phones  # _id = domain.phone_claim_id: {volunteer_id, at}
        self.lists = AppendLog(db, "volunteer_lists")
        self.pause_before_claim = None  # integration tests hold racing registrations here

    def ensure_indexes(self):
        self.lists.ensure_indexes()

    def claim_phone(self, community_id, phone, volunteer_id, volunteer_exists):
        """The id of the volunteer ``phone`` belongs to in the community: ``volunteer_id`` when
        this claim's insert won (or a retry of the same registration finds its own claim)."""
        claim_id = domain.phone_claim_id(community_id, phone)
        if self.pause_before_claim is not None:
            self.pause_before_claim()
        stored, _ = insert_or_replay(self.phones, {"_id": claim_id, "volunteer_id": volunteer_id,
                                                   "at": now()})
        holder = stored["volunteer_id"]
        if holder != volunteer_id and not volunteer_exists(holder) and \
                stored["at"] < now() - ORPHANED_CLAIM_AFTER:
            # Left by a crashed registration: freed, then decided by the insert again.
            self.release_phone(community_id, phone, holder)
            stored, _ = insert_or_replay(self.phones, {"_id": claim_id,
                                                       "volunteer_id": volunteer_id, "at": now()})
            holder = stored["volunteer_id"]
        return holder

    def holder_of(self, community_id, phone):
        claim = self.phones.find_one({"_id": domain.phone_claim_id(community_id, phone)})
        return claim["volunteer_id"] if claim else None

    def release_phone(self, community_id, phone, volunteer_id):
        """Free a number this volunteer's registration claimed but did not complete."""
        self.phones.delete_one({"_id": domain.phone_claim_id(community_id, phone),
                                "volunteer_id": volunteer_id})

    def add(self, volunteer):
        """List a volunteer in its community and under each prefix of its name; each entry
        once (keyed by stream and volunteer), so a retried registration adds nothing."""
        community_id = volunteer["community_id"]
        streams = [domain.community_stream(community_id)] + [
            domain.name_stream(community_id, prefix)
            for prefix in domain.name_prefixes(volunteer["name"])]
        for stream in streams:
            self.lists.append(stream, 1, key=f"{stream}|{volunteer['_id']}", floor=None,
                              fields={"volunteer_id": volunteer["_id"]})

    def page(self, stream, limit, before_seq=None):
        """Up to ``limit`` (seq, volunteer id) of a list, newest first, before ``before_seq``."""
        return [(entry["seq"], entry["volunteer_id"])
                for entry in self.lists.entries_of(stream, before_seq=before_seq, limit=limit)]


class Overlap(Exception):
    """The volunteer holds a live record whose activity overlaps: ``other`` is its entry."""

    def __init__(self, other):
        super().__init__(other["record_id"])
        self.other = other


class Occupancy:
    """Per volunteer, the times their records occupy: entry n is the document
    ``_id = "busy:<volunteer>:<n>"`` naming a record and its activity's times.

    A record occupies its time by inserting the next entry after checking every earlier one:
    two sheets racing for one volunteer both try to insert entry n; the loser re-reads, sees the
    winner's time and is refused. An entry is never edited: a record that is rejected, revoked or
    voided stops occupying its time because its status is read (only for entries that overlap).
    A check costs the volunteer's own history, never the store's; a sheet inserts the entries of
    all its volunteers in one batch, and only those that lost a race go round again.
    """
    MAX_ATTEMPTS = 25

    def __init__(self, db):
        self.entries = db.occupied_times
        self.pause_before_insert = None  # integration tests hold racing sheets here

    def ensure_indexes(self):
        pass  # _id only

    @staticmethod
    def entry_id(volunteer_id, seq):
        return f"busy:{volunteer_id}:{seq}"

    def occupy_all(self, records, activity, is_live, each):
        """Occupy the activity's time for each record (one per volunteer); returns, in order,
        None or the entry of the live record whose time overlaps (the record is then refused).
        A record that occupies already (a retried sheet) is None again."""
        outcomes = [None] * len(records)
        undecided = list(range(len(records)))
        for _ in range(self.MAX_ATTEMPTS):
            plans = each(lambda index: self._plan(records[index], activity, is_live), undecided)
            inserts = []
            for index, plan in zip(undecided, plans):
                if isinstance(plan, Overlap):
                    outcomes[index] = plan.other
                elif plan is not None:
                    inserts.append((index, plan))
            if self.pause_before_insert is not None and inserts:
                self.pause_before_insert()
            undecided = [inserts[position][0] for position in self._insert(
                [doc for _, doc in inserts])]
            if not undecided:
                return outcomes
        raise Busy("a volunteer's hours are changing too fast: try again shortly")

    def _plan(self, record, activity, is_live):
        """The next entry for ``record``, None when it has one, or Overlap."""
        seq = 1
        while True:
            entry = self.entries.find_one({"_id": self.entry_id(record["volunteer_id"], seq)})
            if entry is None:
                break
            if entry["record_id"] == record["_id"]:
                return None
            if domain.overlaps(activity["starts_at"], activity["ends_at"], entry["starts_at"],
                               entry["ends_at"]) and is_live(entry["record_id"]):
                return Overlap(entry)
            seq += 1
        return {"_id": self.entry_id(record["volunteer_id"], seq), "seq": seq,
                "volunteer_id": record["volunteer_id"], "record_id": record["_id"],
                "activity_id": activity["_id"], "starts_at": activity["starts_at"],
                "ends_at": activity["ends_at"], "at": now()}

    def _insert(self, docs):
        """Insert the entries; returns the positions of those another writer took first."""
        inserted = {id(doc) for doc in insert_each(self.entries, docs)}
        return [position for position, doc in enumerate(docs) if id(doc) not in inserted]


class CapacityFull(Exception):
    def __init__(self, placed):
        super().__init__(placed)
        self.placed = placed


class Rosters:
    """Per activity (stream ``roster:<activity>``), its records: one entry per sheet that
    takes places (delta -k, ``record_ids``), one per release (+k: a refused sheet, a rejected
    or revoked record). With a capacity the log's floor is -capacity: the insert of entry n
    decides whether a sheet's volunteers fit, so two sheets at once cannot both take the last
    places. A walk costs the activity's own sheets."""

    def __init__(self, db):
        self.log = AppendLog(db, "activity_rosters")

    def ensure_indexes(self):
        self.log.ensure_indexes()

    @staticmethod
    def stream(activity_id):
        return f"roster:{activity_id}"

    def take_places(self, activity, record_ids, key):
        capacity = activity.get("capacity")
        try:
            self.log.append(self.stream(activity["_id"]), -len(record_ids), key=key,
                            floor=-capacity if capacity else None,
                            fields={"kind": "places", "record_ids": list(record_ids)})
        except FloorBreached as full:
            raise CapacityFull(placed=-full.total) from None

    def list_earlier(self, activity_id, record_id, holds_place):
        """Put a record logged before rosters existed on its activity's roster, once (see
        backfill.py); such activities have no capacity, so no floor applies."""
        self.log.append(self.stream(activity_id), -1 if holds_place else 0,
                        key=f"earlier:{record_id}", floor=None,
                        fields={"kind": "places", "record_ids": [record_id]})

    def release(self, activity_id, count, key, reason):
        self.log.append(self.stream(activity_id), count, key=key, floor=None,
                        fields={"kind": "release", "reason": reason})

    def records(self, activity_id, before=None):
        """(seq, index, record id) newest first, strictly before position ``before``."""
        stream = self.stream(activity_id)
        start_seq, start_index = before if before else (self.log.head(stream)[0], None)
        seq = start_seq
        while seq >= 1:
            batch = self.log.entries_of(stream, before_seq=seq + 1, limit=CHUNK)
            if not batch:
                return
            for entry in batch:
                ids = entry.get("record_ids") or []
                top = start_index if entry["seq"] == start_seq and start_index is not None \
                    else len(ids)
                for index in range(min(top, len(ids)) - 1, -1, -1):
                    yield entry["seq"], index, ids[index]
            seq = batch[-1]["seq"] - 1


class CenterActivities:
    """Per center (stream ``center:<center>``), its activities in the order they were published.
    A page is walked newest first by ``_id``: its cost is bounded by the center's activities."""

    def __init__(self, db):
        self.log = AppendLog(db, "center_activities")

    def ensure_indexes(self):
        self.log.ensure_indexes()

    def add(self, activity):
        stream = f"center:{activity['center_id']}"
        self.log.append(stream, 1, key=f"{stream}|{activity['_id']}", floor=None,
                        fields={"activity_id": activity["_id"]})

    def walk(self, center_id, before_seq=None):
        """(seq, activity id) newest first, before ``before_seq``."""
        stream = f"center:{center_id}"
        seq = before_seq
        while True:
            batch = self.log.entries_of(stream, before_seq=seq, limit=CHUNK)
            if not batch:
                return
            for entry in batch:
                yield entry["seq"], entry["activity_id"]
            seq = batch[-1]["seq"]
