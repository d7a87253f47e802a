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

from services.shared.appendlog import AppendLog, FloorBreached
from services.shared.clock import now
from services.shared.storage import insert_or_replay
from services.volunteer import domain

# A phone claim whose volunteer was never stored (its registration crashed in between) frees
# the number after this long; a registration stores its volunteer within moments of the claim.
ORPHANED_CLAIM_AFTER = dt.timedelta(minutes=2)
CHUNK = 50  # log entries read per step of a walk


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
    """Per volunteer (stream ``busy:<volunteer>``), the times their records occupy.

    A record occupies its activity's time by appending an entry (key ``occupy:<record>``) after
    checking every earlier entry: two sheets racing for one volunteer both try to insert entry n;
    the loser re-reads, sees the winner's time and is refused. An entry is never edited: a record
    that is rejected, revoked or voided stops occupying its time because its status is read (only
    for entries that overlap). A check costs the volunteer's own history, not the store's.
    """

    def __init__(self, db):
        self.log = AppendLog(db, "occupied_times")
        self.pause_before_insert = None  # integration tests hold racing sheets here

    def ensure_indexes(self):
        self.log.ensure_indexes()

    def occupy(self, record, activity, is_live):
        """Occupy the activity's time for ``record``, or raise Overlap naming the live record
        that holds an overlapping time. Once decided, a retry replays the entry."""
        stream = f"busy:{record['volunteer_id']}"

        def plan(total, previous):
            for entry in self._entries_through(stream, previous.get("seq", 0)):
                if entry["record_id"] != record["_id"] and domain.overlaps(
                        activity["starts_at"], activity["ends_at"],
                        entry["starts_at"], entry["ends_at"]) and is_live(entry["record_id"]):
                    raise Overlap(entry)
            if self.pause_before_insert is not None:
                self.pause_before_insert()
            return 1, {"record_id": record["_id"], "activity_id": activity["_id"],
                       "starts_at": activity["starts_at"], "ends_at": activity["ends_at"]}

        self.log.append_planned(stream, f"occupy:{record['_id']}", plan, floor=None,
                                claimed_delta=1)

    def _entries_through(self, stream, last_seq):
        seq = 1
        while seq <= last_seq:
            entry = self.log.entries.find_one({"_id": f"{stream}:{seq}"})
            if entry is not None:
                yield entry
            seq += 1


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
