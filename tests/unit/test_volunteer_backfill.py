"""The backfill of issue 8's lists and rules, with worker_factory on the in-memory store:
volunteers, activities and hours records written by earlier code (straight into their
collections, in the shape that code wrote) are found, listed, approved at once, claim their
number and occupy their time once the backfill timer has ticked to its end."""
import uuid
from datetime import datetime, timedelta, timezone
from unittest.mock import MagicMock

import pytest
from nameko.testing.services import worker_factory

from services.shared.errors import Conflict, RuleViolation
from services.volunteer import backfill, domain
from services.volunteer.service import VolunteerService
from services.volunteer.storage import VolunteerStore
from tests.unit.fakes import FakeCollection, FakeCursor, FakeDatabase

STAFF = {"user_id": "wang", "role": "center_staff", "center_id": "ctr_1", "community_id": "com_1"}
STARTS = datetime(2026, 10, 3, 1, 0, tzinfo=timezone.utc)  # the older activity, 3 hours
INDEXES = ("volunteer_lists", "volunteer_lists_keys", "volunteer_phones", "center_activities",
           "center_activities_keys", "activity_rosters", "activity_rosters_keys",
           "occupied_times", "volunteer_phone_duplicates")


class PagedCollection(FakeCollection):
    """find() with the sort and limit a migration's page asks for."""

    def find(self, query=None, projection=None, sort=None, limit=0):
        docs = super().find(query)
        for field, direction in reversed(sort or []):
            docs.sort(key=lambda doc: doc[field], reverse=direction < 0)
        return FakeCursor(docs).limit(limit)


@pytest.fixture
def service(monkeypatch):
    monkeypatch.setattr(backfill.migrations, "PAGE_SIZE", 2)  # several pages of each kind
    store = VolunteerStore(FakeDatabase(
        volunteers=PagedCollection(), activities=PagedCollection(), hours=PagedCollection()))
    store.ensure_indexes()
    service = worker_factory(VolunteerService, store=store, outbox=MagicMock(),
                             config={"BCRYPT_ROUNDS": 4})
    service.clock = lambda: STARTS + timedelta(days=30)
    service.run_after_answer = lambda function, *args: function(*args)
    store.communities.insert_one({"_id": "com_1", "name": "新华", "code": "xinhua"})
    store.centers.insert_one({"_id": "ctr_1", "community_id": "com_1", "name": "中心"})
    write_earlier_data(store)
    return service


def write_earlier_data(store):
    """What the code before the lists wrote (git show 179c15e:services/volunteer/service.py):
    volunteers without a number's claim, activities without capacity, records without
    on_roster; its phone check took any 6 to 20 digits, so two volunteers may share one."""
    at = STARTS - timedelta(days=60)
    for volunteer_id, name, phone in (("vol_a1", "张老三", "+86 139-0000-0001"),
                                      ("vol_a2", "张小梅", "13900000002"),
                                      ("vol_a3", "王五", "13900000001"),  # vol_a1's number
                                      ("vol_a4", "赵六", "010-1234567"),  # not a mobile
                                      ("vol_a5", "钱七", "13900000005")):
        store.volunteers.insert_one({"_id": volunteer_id, "name": name, "phone": phone,
                                     "community_id": "com_1", "username": volunteer_id,
                                     "created_at": at})
    for activity_id, starts in (("act_a1", STARTS), ("act_a2", STARTS + timedelta(days=1)),
                                ("act_a3", STARTS + timedelta(days=2))):
        store.activities.insert_one({
            "_id": activity_id, "center_id": "ctr_1", "title": "探访独居老人",
            "category": "elder_care", "starts_at": starts, "ends_at": starts + timedelta(hours=3),
            "community_id": "com_1", "created_by": "wang", "created_at": at})
    for activity_id, volunteer_id in (("act_a1", "vol_a1"), ("act_a1", "vol_a2"),
                                      ("act_a1", "vol_a3"), ("act_a2", "vol_a1")):
        activity = store.activities.find_one({"_id": activity_id})
        record_id = domain.record_id(activity_id, volunteer_id, 1)
        store.hours.insert_one({
            "_id": record_id, "generation": 1, "sheet_id": "sht_old", "activity_id": activity_id,
            "center_id": "ctr_1", "community_id": "com_1", "category": "elder_care",
            "activity_starts_at": activity["starts_at"], "volunteer_id": volunteer_id,
            "minutes": 120, "logged_by": "wang", "logged_at": at})
    # vol_a3's record on act_a1 was rejected back then: listed, but it holds no time.
    rejected = domain.record_id("act_a1", "vol_a3", 1)
    store.decisions.insert_one({"_id": f"{rejected}:1", "record_id": rejected,
                                "status": domain.REJECTED, "reason": "not there", "by": "wang",
                                "at": at})


def run_backfill(service):
    for _ in range(100):
        service.backfill_lists()
        if backfill._BACKFILLS[service.store].migration.finished():
            return
    raise AssertionError("the backfill did not finish")


def register(service, phone, name="新人"):
    return service.register_volunteer(STAFF, {
        "community_id": "com_1", "name": name, "phone": phone,
        "username": f"u{uuid.uuid4().hex[:12]}", "password": "li-pass-123"})


def found(service, query):
    return [v["id"] for v in service.search_volunteers(
        STAFF, {"community_id": "com_1", "q": query})["items"]]


def test_earlier_volunteers_are_found_and_their_numbers_claimed(service):
    run_backfill(service)
    assert sorted(found(service, "张")) == ["vol_a1", "vol_a2"]
    assert found(service, "张老") == ["vol_a1"]
    assert found(service, "13900000001") == ["vol_a1"]  # its claim, spelled as stored now
    assert sorted(found(service, "")) == ["vol_a1", "vol_a2", "vol_a3", "vol_a4", "vol_a5"]
    with pytest.raises(Conflict) as taken:
        register(service, "13900000002")
    assert (taken.value.status, taken.value.code) == (409, "phone_taken")
    assert taken.value.fields["volunteer_id"] == ["vol_a2"]
    # the first volunteer in _id order keeps a shared number; the other is left to an operator
    duplicates = {d["_id"]: d for d in service.store.db.volunteer_phone_duplicates.find({})}
    assert (duplicates["vol_a3"]["held_by"], duplicates["vol_a4"]["held_by"]) == \
        ("vol_a1", None)
    counted = [call.args for call in service.metrics.count.call_args_list]
    assert ("backfill_phone_duplicate",) in counted and ("backfill_phone_invalid",) in counted


def test_earlier_activities_are_listed_and_their_pending_records_approved_at_once(service):
    run_backfill(service)
    listed = [a["id"] for a in service.list_activities(STAFF, {"center_id": "ctr_1"})["items"]]
    assert sorted(listed) == ["act_a1", "act_a2", "act_a3"]
    hours = service.activity_hours(STAFF, "act_a1", {})["items"]
    assert sorted((h["volunteer_id"], h["status"]) for h in hours) == [
        ("vol_a1", "pending"), ("vol_a2", "pending"), ("vol_a3", "rejected")]
    assert service.approve_activity(STAFF, "act_a1") == {"approved": 2}
    assert service.approve_activity(STAFF, "act_a1") == {"approved": 0}
    assert service.store.service_minutes.total("vol_a1") == 120


def test_earlier_live_records_occupy_their_time(service):
    run_backfill(service)
    overlapping = service.create_activity(STAFF, {
        "center_id": "ctr_1", "title": "午餐", "category": "elder_care",
        "starts_at": (STARTS + timedelta(hours=2)).isoformat(),
        "ends_at": (STARTS + timedelta(hours=4)).isoformat()})["id"]
    with pytest.raises(RuleViolation) as refused:
        service.log_hours(STAFF, overlapping, {"entries": [
            {"volunteer_id": "vol_a1", "minutes": 60}]})
    assert refused.value.code == "overlapping_hours"
    # vol_a3's earlier record was rejected: it holds no time
    logged = service.log_hours(STAFF, overlapping, {"entries": [
        {"volunteer_id": "vol_a3", "minutes": 60}]})
    assert [r["volunteer_id"] for r in logged["records"]] == ["vol_a3"]


def index_state(store):
    return {name: sorted(map(str, (doc["_id"] for doc in store.db[name].find({}))))
            for name in INDEXES}


def test_a_second_run_and_a_run_after_a_crash_add_nothing(service):
    store = service.store
    for _ in range(4):  # part-way, then "crashed": progress lost, started again from the top
        service.backfill_lists()
    store.db.migrations.delete_one({"_id": "lists"})
    del backfill._BACKFILLS[store]
    run_backfill(service)
    once = index_state(store)
    assert len(once["volunteer_phones"]) == 3 and len(once["occupied_times"]) == 3
    store.db.migrations.delete_one({"_id": "lists"})
    store.db.migrations.delete_one({"_id": "lists:done"})
    del backfill._BACKFILLS[store]
    run_backfill(service)
    assert index_state(store) == once
    assert service.metrics.count.call_count == 2  # each unclaimed number counted once


def test_once_finished_a_tick_reads_nothing(service):
    run_backfill(service)
    service.store.volunteers.find = MagicMock(side_effect=AssertionError("walked again"))
    service.store.db.migrations.find_one = MagicMock(side_effect=AssertionError("looked up"))
    service.backfill_lists()
