"""A volunteer's hours records, newest logged first, for their notices (approved, rejected...).

The per-volunteer log of occupied times (indexes.Occupancy: ``busy:<volunteer>:<n>``, one entry
per record, contiguous from 1, never edited) is the volunteer's records stream already: its top
is found by doubling then bisecting (O(log n) ``_id`` lookups, there is no head hint), and a
page reads ``limit`` entries below it plus a few ``_id`` lookups per record.
"""
from nameko.rpc import rpc

from services.shared import contracts
from services.shared.contracts import load
from services.shared.errors import NotFound
from services.volunteer import domain

MAX_PAGE = 100


def top_seq(exists):
    """The highest n with ``exists(n)`` when exists holds for 1..top and not above (0: none)."""
    if not exists(1):
        return 0
    low, high = 1, 2
    while exists(high):
        low, high = high, high * 2
    while high - low > 1:  # exists(low), not exists(high)
        middle = (low + high) // 2
        low, high = (middle, high) if exists(middle) else (low, middle)
    return low


def record_notice(entry, record, status, decision, activity):
    """What a notice says of one record: its status, when it got it, and the facts."""
    decision = decision or {}
    return {"seq": entry["seq"], "record_id": entry["record_id"], "status": status,
            "at": (decision.get("at") or entry["at"]).isoformat(),
            "minutes": record["minutes"], "category": record.get("category"),
            "activity_id": entry["activity_id"],
            "activity_title": (activity or {}).get("title"), "reason": decision.get("reason")}


class NoticeEntrypoints:

    @rpc
    def hours_notices(self, actor, volunteer_id, limit, before_seq=None):
        """{items, more}: the volunteer's records newest logged first, below ``before_seq``,
        with their status (pending ones too: the caller keeps what it tells)."""
        actor = load(contracts.ActorSchema(), actor)
        volunteer = self.store.get(self.store.volunteers, volunteer_id, "volunteer")
        if not domain.may_read_volunteer(actor, volunteer):
            raise NotFound(f"volunteer {volunteer_id} not found")
        occupancy = self.store.occupancy
        find = occupancy.entries.find_one

        def entry_at(seq):
            return find({"_id": occupancy.entry_id(volunteer_id, seq)})

        top = top_seq(lambda seq: entry_at(seq) is not None)
        if before_seq is not None:
            top = min(top, int(before_seq) - 1)
        limit = max(1, min(int(limit), MAX_PAGE))
        seqs = list(range(top, max(top - limit, 0), -1))
        entries = [e for e in self.store._each(entry_at, seqs) if e is not None]
        records = self.store.lookup_each(self.store.hours, [e["record_id"] for e in entries])
        activities = self.store.lookup_each(self.store.activities,
                                            [e["activity_id"] for e in entries])
        entries = [e for e in entries if e["record_id"] in records]
        statuses = self.store._each(lambda e: self.store.status_of(e["record_id"]), entries)
        return {"items": [record_notice(e, records[e["record_id"]], status, decision,
                                        activities.get(e["activity_id"]))
                          for e, (status, decision) in zip(entries, statuses)],
                "more": bool(seqs) and seqs[-1] > 1}
