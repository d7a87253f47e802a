"""Issue 8 races on the real store: two registrations of one number, two sheets for overlapping
activities. Each test holds both requests at the point where they have checked and not yet
written, so the race surely happened; the unique insert must then let exactly one through."""
import uuid
from datetime import timedelta

from services.shared.clock import now
from services.shared.errors import Conflict, RuleViolation
from services.volunteer.service import VolunteerService
from tests.integration.races import HeldRace, outcomes, service_store
from tests.integration.test_hours_sheets import add_volunteers, setup_center


def test_two_registrations_of_one_number_at_once_make_one_volunteer(start, rpc, store):
    container = start(VolunteerService)
    community_id, _, staff = setup_center(rpc)
    service_store(container).directory.pause_before_claim = race = HeldRace(2)
    phone = "139" + str(uuid.uuid4().int)[:8]
    calls = [rpc.volunteer.register_volunteer.call_async(staff, {
        "community_id": community_id, "name": name, "phone": phone,
        "username": f"{name}{uuid.uuid4().hex[:8]}", "password": "li-pass-123"})
        for name in ("li", "wang")]
    registered, refused = sorted(outcomes(calls, Conflict), key=lambda o: isinstance(o, Conflict))
    assert race.all_met, "the two registrations never met before claiming the number"
    assert isinstance(refused, Conflict), "both registrations of one number passed"
    assert (refused.code, refused.fields["volunteer_id"]) == ("phone_taken", [registered["id"]])
    db = store("volunteer")
    assert [v["_id"] for v in db.volunteers.find({"phone": phone})] == [registered["id"]]
    assert db.volunteer_phones.find_one({"_id": f"phone:{community_id}:{phone}"})[
        "volunteer_id"] == registered["id"]


def test_two_sheets_for_overlapping_activities_at_once_log_a_volunteer_once(start, rpc, store):
    container = start(VolunteerService)
    community_id, _, staff = setup_center(rpc)
    [volunteer_id] = add_volunteers(store("volunteer"), community_id, 1, "o")
    starts = now() - timedelta(days=1)
    activities = [rpc.volunteer.create_activity(staff, {
        "center_id": staff["center_id"], "title": title, "category": "elder_care",
        "starts_at": (starts + offset).isoformat(),
        "ends_at": (starts + offset + timedelta(hours=3)).isoformat()})["id"]
        for title, offset in (("morning", timedelta(0)), ("noon", timedelta(hours=2)))]
    service_store(container).occupancy.pause_before_insert = race = HeldRace(2)
    calls = [rpc.volunteer.log_hours.call_async(staff, activity_id, {"entries": [
        {"volunteer_id": volunteer_id, "minutes": 60}]}) for activity_id in activities]
    logged, refused = sorted(outcomes(calls, RuleViolation),
                             key=lambda o: isinstance(o, RuleViolation))
    assert race.all_met, "the two sheets never met before occupying the volunteer's time"
    assert isinstance(refused, RuleViolation), "two overlapping records were both logged"
    [record] = logged["records"]
    assert refused.code == "overlapping_hours"
    assert record["id"] in refused.fields["entries"]["0"]["volunteer_id"][0]
    # the refused sheet's record was stored, then voided: it holds no time
    db = store("volunteer")
    records = list(db.hours.find({"volunteer_id": volunteer_id}))
    assert len(records) == 2
    statuses = {r["_id"]: (db.hours_decisions.find_one({"_id": f"{r['_id']}:1"}) or {}).get(
        "status", "pending") for r in records}
    assert sorted(statuses.values()) == ["pending", "voided"]
    assert statuses[record["id"]] == "pending"
