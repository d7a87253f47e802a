"""Issue 8's timings: an imported sheet's write looks each row up once, and approving an
activity follows its records in batched inserts (followups.py), with the same outcome as one
record at a time, on the in-memory store."""
import collections
from datetime import timedelta

import pytest
from nameko.testing.services import worker_factory

from services.points.ledger import Ledger
from services.points.scheme_store import scheme_store_of
from services.points.service import PointsService
from services.shared.outbox import OutboxWriter
from services.volunteer import domain, reports
from services.volunteer.service import VolunteerService
from services.volunteer.storage import VolunteerStore
from tests.unit.fakes import FakeCollection, FakeDatabase
from tests.unit.test_points_service import approved, credit_of, revoked
from tests.unit.test_worker_volunteer import STAFF, STARTS

VOLUNTEERS = [f"vol_{n:02d}" for n in range(20)]


class CountedDatabase(FakeDatabase):
    """Counts each collection's store commands: {(collection, operation): calls}."""

    def __init__(self):
        super().__init__()
        self.calls = collections.Counter()

    def __getitem__(self, name):
        if name not in self.collections:
            self.collections[name] = CountedCollection(name, self.calls)
            self.collections[name].database = self
        return self.collections[name]


class CountedCollection(FakeCollection):
    """Counts the commands a client sends (the fake's insert_many calls its own insert_one:
    that is not a command of its own)."""

    def __init__(self, name, calls):
        super().__init__()
        self.name, self.calls, self.inside = name, calls, False

    def __getattribute__(self, attribute):
        method = object.__getattribute__(self, attribute)
        if attribute not in ("insert_one", "insert_many", "find_one", "find", "replace_one",
                             "update_one", "delete_one") or self.inside:
            return method

        def command(*args, **kwargs):
            self.calls[(self.name, attribute)] += 1
            self.inside = True
            try:
                return method(*args, **kwargs)
            finally:
                self.inside = False
        return command


@pytest.fixture
def service():
    db = CountedDatabase()
    store = VolunteerStore(db)
    store.ensure_indexes()
    service = worker_factory(VolunteerService, store=store, config={},
                             outbox=OutboxWriter(db.outbox, db.outbox_published, lambda: None))
    service.clock = lambda: STARTS + timedelta(days=1)
    service.run_after_answer = lambda function, *args: function(*args)
    store.communities.insert_one({"_id": "com_1", "name": "c", "code": "c"})
    store.centers.insert_one({"_id": "ctr_1", "community_id": "com_1", "name": "c"})
    store.activities.insert_one({
        "_id": "act_1", "center_id": "ctr_1", "community_id": "com_1", "title": "t",
        "category": "elder_care", "starts_at": STARTS, "ends_at": STARTS + timedelta(hours=3)})
    for volunteer in VOLUNTEERS:
        store.volunteers.insert_one({"_id": volunteer, "community_id": "com_1"})
    return service


def calls(service, *names):
    counted = service.store.db.calls
    return {(name, op): n for (name, op), n in counted.items() if name in names}


def import_rows(service, dry_run):
    return service.import_hours(STAFF, "act_1", {"dry_run": dry_run, "rows": [
        {"line": n + 2, "volunteer_id": v, "phone": None, "minutes": 60 + n}
        for n, v in enumerate(VOLUNTEERS)]})


def test_an_imported_parts_write_looks_each_rows_volunteer_up_once(service):
    import_rows(service, dry_run=True)
    service.store.db.calls.clear()
    assert import_rows(service, dry_run=False)["added"] == len(VOLUNTEERS)
    assert calls(service, "volunteers") == {("volunteers", "find_one"): len(VOLUNTEERS)}
    # A pending record's status is its missing step-1 decision: one lookup.
    service.store.db.calls.clear()
    assert import_rows(service, dry_run=True)["already_logged"] == len(VOLUNTEERS)
    assert calls(service, "hours_decisions") == {("hours_decisions", "find_one"):
                                                 len(VOLUNTEERS)}


def test_approving_an_activity_queues_its_events_and_tallies_in_a_few_inserts(service):
    import_rows(service, dry_run=False)
    service.store.db.calls.clear()
    assert service.approve_activity(STAFF, "act_1") == {"approved": len(VOLUNTEERS)}

    writes = {key: n for key, n in service.store.db.calls.items()
              if key[1] in ("insert_one", "insert_many")}
    for collection in ("outbox", "service_minutes", "service_minutes_keys",
                       "center_minutes_keys"):
        assert (writes.get((collection, "insert_many")), writes.get((collection, "insert_one"))
                ) == (1, None), collection
    # One ordered insert per center stream holding several entries, one for the rest.
    streams = {reports.month_stream("ctr_1", reports.month_of(STARTS), r["_id"])
               for r in service.store.hours.find({})}
    assert writes[("center_minutes", "insert_many")] <= len(streams) + 1
    assert_followed_once(service)


def test_a_record_followed_in_part_before_is_completed_by_the_single_path(service):
    """A key claimed before (a recovery timer's follow-up, a crash after the claim) is not the
    batch's: that record is followed on its own, which replays its tally and adds the rest."""
    import_rows(service, dry_run=False)
    record = service.store.hours.find_one({"_id": domain.record_id("act_1", "vol_03", 1)})
    service.store.service_minutes.append("vol_03", record["minutes"],
                                         key=f"approve:{record['_id']}", floor=None)
    other = service.store.hours.find_one({"_id": domain.record_id("act_1", "vol_07", 1)})
    stream = reports.month_stream("ctr_1", reports.month_of(STARTS), other["_id"])
    service.store.center_minutes.append(stream, 5, key="someone-else", floor=None)
    assert service.approve_activity(STAFF, "act_1") == {"approved": len(VOLUNTEERS)}
    assert_followed_once(service, center_extra=5)


def assert_followed_once(service, center_extra=0):
    store = service.store
    records = list(store.hours.find({}))
    for record in records:
        assert store.service_minutes.total(record["volunteer_id"]) == record["minutes"]
        assert store.service_minutes.verify(record["volunteer_id"])
    events = sorted(m["payload"]["record_id"] for m in store.db.outbox.find({}))
    assert events == sorted(r["_id"] for r in records)
    streams = reports.month_streams("ctr_1", reports.month_of(STARTS))
    assert all(store.center_minutes.verify(stream) for stream in streams)
    assert sum(store.center_minutes.total(stream) for stream in streams) == \
        sum(r["minutes"] for r in records) + center_extra
    assert store.in_flight.collection.count_documents({}) == 0


def test_a_share_of_the_daily_cap_costs_its_claim_its_entry_and_a_lookup_per_entry_of_the_day():
    """The day's log keeps no head hint (a day holds a few entries): no hint read or written;
    racing shares still decide by the insert of entry n (tests/integration/test_daily_cap.py)."""
    db = CountedDatabase()
    ledger = Ledger(db)
    ledger.ensure_indexes()
    scheme_store_of(ledger).ensure_indexes()
    points = worker_factory(PointsService, ledger=ledger)
    points.on_hours_approved(approved("hrs_1", minutes=300))
    db.calls.clear()
    points.on_hours_approved(approved("hrs_2", minutes=300))
    assert {key: n for key, n in db.calls.items() if key[0].startswith("daily_minutes")} == {
        ("daily_minutes", "find_one"): 2,       # entry 1, then entry 2 is free
        ("daily_minutes_keys", "insert_one"): 1, ("daily_minutes", "insert_one"): 1}
    assert credit_of(ledger, "hrs_2")["rule"]["creditable_minutes"] == 180
    points.on_hours_revoked(revoked("hrs_1"))
    points.on_hours_approved(approved("hrs_3", minutes=400))
    daily = scheme_store_of(ledger).daily
    assert daily.head("vol_1/2024-05-07") == (4, 480) and daily.verify("vol_1/2024-05-07")
