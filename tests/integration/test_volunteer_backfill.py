"""The backfill of issue 8's lists on the real store: two runners at once (two replicas) walk
the same pages side by side and each entry is added once; the service's timer runs it to its
end in the background."""
import collections
import threading

from services.volunteer import domain
from services.volunteer.backfill import ListsBackfill
from services.volunteer.service import VolunteerService
from services.volunteer.storage import VolunteerStore
from tests.support import wait_until
from tests.unit.test_volunteer_backfill import STAFF, write_earlier_data

MORE = 30  # volunteers with a pending record each on act_a3, beyond the unit tier's few


def write_more_earlier_data(db):
    write_earlier_data(VolunteerStore(db))
    activity = db.activities.find_one({"_id": "act_a3"})
    for index in range(MORE):
        volunteer_id = f"vol_g{index:02d}"
        db.volunteers.insert_one({"_id": volunteer_id, "name": f"孙{index}",
                                  "phone": f"1370000{index:04d}", "community_id": "com_1",
                                  "username": volunteer_id, "created_at": activity["created_at"]})
        db.hours.insert_one({
            "_id": domain.record_id("act_a3", volunteer_id, 1), "generation": 1,
            "sheet_id": "sht_old", "activity_id": "act_a3", "center_id": "ctr_1",
            "community_id": "com_1", "category": "elder_care",
            "activity_starts_at": activity["starts_at"], "volunteer_id": volunteer_id,
            "minutes": 60, "logged_by": "wang", "logged_at": activity["created_at"]})


def test_two_runners_at_once_add_each_entry_once(store):
    db = store("volunteer")
    VolunteerStore(db).ensure_indexes()
    write_more_earlier_data(db)
    # Both runners read each page before either writes it: the same page handled twice at once.
    side_by_side = threading.Barrier(2, timeout=30)
    runners = [ListsBackfill(VolunteerStore(db), page_size=8) for _ in range(2)]
    for runner in runners:
        runner.migration.pause_after_read = side_by_side.wait
    failures = []

    def run(runner):
        try:
            runner.migration.run_to_end()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)
            side_by_side.abort()
    threads = [threading.Thread(target=run, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == [] and not any(thread.is_alive() for thread in threads)

    volunteers = list(db.volunteers.find({}))
    per_stream_and_volunteer = collections.Counter(
        (entry["stream"], entry["volunteer_id"]) for entry in db.volunteer_lists.find({}))
    assert set(per_stream_and_volunteer.values()) == {1}
    assert len(per_stream_and_volunteer) == sum(
        1 + len(domain.name_prefixes(v["name"])) for v in volunteers)
    claims = list(db.volunteer_phones.find({}))
    assert len(claims) == len(volunteers) - 2  # vol_a3 shares vol_a1's number, vol_a4 no mobile
    assert sorted(d["_id"] for d in db.volunteer_phone_duplicates.find({})) == \
        ["vol_a3", "vol_a4"]
    assert sorted(e["activity_id"] for e in db.center_activities.find({})) == \
        ["act_a1", "act_a2", "act_a3"]
    rostered = collections.Counter(record_id for entry in db.activity_rosters.find({})
                                   for record_id in entry.get("record_ids", []))
    assert set(rostered.values()) == {1} and len(rostered) == 4 + MORE
    occupied = collections.Counter(entry["record_id"] for entry in db.occupied_times.find({}))
    assert set(occupied.values()) == {1} and len(occupied) == 3 + MORE  # not the rejected one
    assert db.migrations.find_one({"_id": "lists:done"}) is not None


def test_the_service_backfills_in_the_background_until_older_data_is_found(start, rpc, store):
    db = store("volunteer")
    VolunteerStore(db).ensure_indexes()
    db.communities.insert_one({"_id": "com_1", "name": "新华", "code": "xinhua-backfill"})
    db.centers.insert_one({"_id": "ctr_1", "community_id": "com_1", "name": "中心"})
    write_more_earlier_data(db)
    start(VolunteerService)
    wait_until(lambda: db.migrations.find_one({"_id": "lists:done"}), timeout=60,
               message="the backfill finished")
    found = rpc.volunteer.search_volunteers(STAFF, {"community_id": "com_1", "q": "孙1"})
    assert sorted(v["id"] for v in found["items"]) == \
        ["vol_g01"] + [f"vol_g{index}" for index in range(10, 20)]
    listed = rpc.volunteer.list_activities(STAFF, {"center_id": "ctr_1"})
    assert sorted(a["id"] for a in listed["items"]) == ["act_a1", "act_a2", "act_a3"]
    assert rpc.volunteer.approve_activity(STAFF, "act_a3") == {"approved": MORE}
    # the approvals are followed after the answer: done when their markers are gone
    wait_until(lambda: db.decisions_in_flight.count_documents({}) == 0,
               message="every approval followed")
    assert rpc.volunteer.get_volunteer(STAFF, "vol_g00")["approved_minutes"] == 60
