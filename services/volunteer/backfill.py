"""Data written before the lists and rules of indexes.py joins them, once per database.

Volunteers, activities and hours records stored by earlier code are in no list and decide no
rule: an older volunteer is not found by a search, an older number is not claimed, an older
activity is not listed nor approved at once, an older record occupies no time. A timer walks
those collections in the background, a page a tick (shared.migrations.PagedMigration), and adds
each document the way a request does now. Every addition is an insert under a unique key, so
a page handled twice (a crash before its progress was saved, two replicas) adds nothing twice.
"""
import logging
import weakref

from nameko.timer import timer

from services.shared import identity
from services.shared.clock import now
from services.shared.errors import Busy
from services.shared import migrations
from services.shared.migrations import PagedMigration
from services.volunteer import domain
from services.volunteer.indexes import insert_each

log = logging.getLogger(__name__)

MIGRATION = "lists"
BACKFILL_INTERVAL_SECONDS = 1  # a tick that takes longer is followed at once by the next
LIVE = (domain.PENDING, domain.APPROVED)


class ListsBackfill:
    def __init__(self, store, count=lambda fact, n=1: None, page_size=None):
        self.store = store
        self.count = count  # metrics.count: duplicate numbers are counted for operators
        self.migration = PagedMigration(store.db.migrations, MIGRATION, [
            ("volunteers", store.volunteers, self.volunteers),
            ("activities", store.activities, self.activities),
            ("hours", store.hours, self.hours),
        ], page_size or migrations.PAGE_SIZE)

    def _by_group(self, docs, field, handle_group):
        """``handle_group`` over the groups of ``docs`` sharing ``field``, side by side (a
        group shares a stream: its appends in order, as they would only race each other).
        False when a stream was too busy: the page is handled again next tick."""
        groups = {}
        for doc in docs:
            groups.setdefault(doc[field], []).append(doc)

        try:
            self.store._each(handle_group, list(groups.values()))
        except Busy as busy:
            log.warning("backfill of %s waits for a busy stream: %s", self.migration.name, busy)
            return False
        return True

    # --- volunteers: their number's claim, and the community's and names' lists -----------

    def volunteers(self, page):
        self._claim_phones(page)
        return self._by_group(page, "community_id", each(self.store.directory.add))

    def _claim_phones(self, volunteers):
        """Claim each older volunteer's number in its community. A number held by another
        volunteer (registered since, or earlier in ``_id`` order) stays with that one: the
        other is recorded once in volunteer_phone_duplicates for an operator."""
        claims = []
        for volunteer in volunteers:
            phone = identity.mainland_mobile(volunteer.get("phone"))
            if phone is None:  # earlier code took any 6 to 20 digits
                self._unclaimed(volunteer, None, "not a mainland mobile number",
                                "backfill_phone_invalid")
                continue
            claims.append({"_id": domain.phone_claim_id(volunteer["community_id"], phone),
                           "volunteer_id": volunteer["_id"], "at": now(), "backfilled": True})
        claimed = {claim["_id"] for claim in insert_each(self.store.directory.phones, claims)}
        for claim in claims:
            if claim["_id"] in claimed:
                continue
            holder = self.store.directory.phones.find_one({"_id": claim["_id"]})
            if holder is not None and holder["volunteer_id"] != claim["volunteer_id"]:
                volunteer = next(v for v in volunteers if v["_id"] == claim["volunteer_id"])
                self._unclaimed(volunteer, holder["volunteer_id"], "number held by another",
                                "backfill_phone_duplicate")

    def _unclaimed(self, volunteer, holder, reason, fact):
        stored, created = self.store.insert_or_replay(self.store.db.volunteer_phone_duplicates, {
            "_id": volunteer["_id"], "community_id": volunteer["community_id"],
            "phone": volunteer.get("phone"), "held_by": holder, "reason": reason, "at": now()})
        if created:
            log.warning("volunteer %s keeps no claim on phone %s in community %s: %s %s",
                        volunteer["_id"], volunteer.get("phone"), volunteer["community_id"],
                        reason, holder or "")
            self.count(fact)

    # --- activities: their center's list ---------------------------------------------------

    def activities(self, page):
        return self._by_group(page, "center_id", each(self.store.center_activities.add))

    # --- hours records: their activity's roster, and the time a live one occupies ----------

    def hours(self, page):
        # Records logged since the rosters existed carry on_roster and are on them already.
        older = [record for record in page if not record.get("on_roster")]
        statuses = self.store._each(lambda record: self.store.status_of(record["_id"])[0],
                                    older)
        listed = [dict(record, status=status) for record, status in zip(older, statuses)
                  if status != domain.VOIDED]  # a refused sheet's records were never logged
        activities = self.store.lookup_each(self.store.activities,
                                            [record["activity_id"] for record in listed])
        for record in listed:
            if record["activity_id"] not in activities:
                log.error("hours record %s names no stored activity %s: not backfilled",
                          record["_id"], record["activity_id"])
        listed = [record for record in listed if record["activity_id"] in activities]
        rostered = self._by_group(listed, "activity_id", each(lambda record: (
            self.store.rosters.list_earlier(record["activity_id"], record["_id"],
                                            holds_place=record["status"] in LIVE))))
        # Earlier records were logged without the overlap rule: each occupies its time as it
        # stands (nothing is taken as live to refuse it); later sheets are checked against it.
        # By volunteer, side by side: one volunteer's entries would only race each other.
        return rostered and self._by_group(
            [record for record in listed if record["status"] in LIVE], "volunteer_id",
            each(lambda record: self.store.occupancy.occupy_all(
                [record], activities[record["activity_id"]], lambda _: False, self.store._each)))


def each(handle_one):
    def handle_group(group):
        for doc in group:
            handle_one(doc)
    return handle_group


# One backfill per store (per container): once finished, a tick costs nothing.
_BACKFILLS = weakref.WeakKeyDictionary()


class BackfillEntrypoints:
    """Mixed into VolunteerService: the timer that runs the backfill in the background."""

    @timer(interval=BACKFILL_INTERVAL_SECONDS, eager=True)
    def backfill_lists(self):
        backfill = _BACKFILLS.get(self.store)
        if backfill is None:
            backfill = _BACKFILLS[self.store] = ListsBackfill(self.store, self.metrics.count)
        if backfill.migration.finished():
            return
        if backfill.migration.tick():
            log.info("earlier volunteers, activities and hours are in the lists now")
