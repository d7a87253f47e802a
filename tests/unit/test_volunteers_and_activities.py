"""Issue 8, volunteers and activities, on the in-memory store with worker_factory: one number
one volunteer, masked ID cards, finding volunteers, capacity, overlapping hours, lists and
approving an activity at once."""
import uuid
from datetime import timedelta

import pytest

from services.shared.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolation
from services.volunteer import domain
from tests.unit.test_worker_volunteer import (  # noqa: F401 - the service fixture
    ADMIN, STAFF, STAFF_B, STARTS, VOLUNTEER, published, service, sheet)

ID_CARD = "11010519491231002X"  # GB 11643's own example: check digit X


def register(service, phone="13800000001", name="李伟", username=None, community="com_1",
             actor=STAFF, **extra):
    return service.register_volunteer(actor, dict({
        "community_id": community, "name": name, "phone": phone,
        "username": username or f"u{uuid.uuid4().hex[:12]}", "password": "li-pass-123"}, **extra))


def activity(service, hours_from_start=0, length_hours=3, capacity=None, actor=STAFF):
    starts = STARTS + timedelta(hours=hours_from_start)
    return service.create_activity(actor, {
        "center_id": actor["center_id"], "title": "探访", "category": "elder_care",
        "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=length_hours)
                                                     ).isoformat(), "capacity": capacity})["id"]


# --- one mobile number, one volunteer per community --------------------------------------

def test_a_second_registration_of_a_number_is_409_with_the_existing_id(service):
    first = register(service, phone="+86 138-0000-0001")
    assert first["phone"] == "13800000001"  # stored as its 11 digits, whatever the spelling
    with pytest.raises(Conflict) as taken:
        register(service, phone="13800000001", username="another")
    assert (taken.value.status, taken.value.code) == (409, "phone_taken")
    assert taken.value.fields["volunteer_id"] == [first["id"]]
    assert service.store.find_user("another") is None
    # the same number in another community is another volunteer
    assert register(service, phone="13800000001", community="com_b", actor=STAFF_B)["id"] != \
        first["id"]


@pytest.mark.parametrize("phone", ["12345678901", "1380000000", "01012345678", "+1 650 253 0000",
                                   "13800000000\n", "１３８００００００００"])
def test_only_a_mainland_mobile_number_registers(service, phone):
    with pytest.raises(InvalidInput) as bad:
        register(service, phone=phone)
    assert list(bad.value.fields) == ["phone"]


def test_an_id_card_number_is_checked_and_only_answered_masked(service):
    with pytest.raises(InvalidInput) as bad:  # the check digit of this one is X, not 1
        register(service, id_card="110105194912310021")
    assert list(bad.value.fields) == ["id_card"]
    volunteer = register(service, id_card=ID_CARD.lower())
    assert volunteer["id_card"] == "*" * 14 + "002X"
    assert service.get_volunteer(STAFF, volunteer["id"])["id_card"] == "*" * 14 + "002X"
    assert service.store.volunteers.find_one({"_id": volunteer["id"]})["id_card"] == ID_CARD
    assert service.search_volunteers(STAFF, {"community_id": "com_1", "q": "李伟"})[
        "items"][0]["id_card"] == "*" * 14 + "002X"


def test_the_profile_answers_approved_minutes_and_star_level_that_revocation_lowers(service):
    volunteer = register(service)
    store = service.store
    store.service_minutes.append(volunteer["id"], 100 * 60, key="approve:r1", floor=None)
    profile = service.get_volunteer(STAFF, volunteer["id"])
    assert (profile["approved_minutes"], profile["star_level"]) == (6000, 1)
    store.service_minutes.append(volunteer["id"], -60, key="revoke:r1", floor=None)
    profile = service.get_volunteer(STAFF, volunteer["id"])
    assert (profile["approved_minutes"], profile["star_level"]) == (5940, 0)


# --- finding volunteers ----------------------------------------------------------------------

def test_staff_find_volunteers_by_name_prefix_and_phone_page_by_page(service):
    ids = {name: register(service, phone=f"1390000000{n}", name=name)["id"]
           for n, name in enumerate(["李伟", "李娜", "王芳", "Li Wei"])}

    def search(q, **args):
        return service.search_volunteers(STAFF, dict({"community_id": "com_1", "q": q}, **args))

    assert [v["id"] for v in search("李伟")["items"]] == [ids["李伟"]]
    assert [v["id"] for v in search("李")["items"]] == [ids["李娜"], ids["李伟"]]  # newest first
    assert [v["id"] for v in search("li")["items"]] == [ids["Li Wei"]]  # case does not matter
    assert [v["id"] for v in search("13900000002")["items"]] == [ids["王芳"]]
    assert search("赵")["items"] == [] and search("13900000009")["items"] == []
    first = search("", limit="3")
    assert len(first["items"]) == 3 and first["next_cursor"]
    rest = search("", limit="3", cursor=first["next_cursor"])
    assert [v["id"] for v in rest["items"]] == [ids["李伟"]] and rest["next_cursor"] is None


def test_only_staff_of_the_community_and_admins_search(service):
    register(service)
    assert service.search_volunteers(ADMIN, {"community_id": "com_1", "q": "李"})["items"]
    with pytest.raises(NotFound):
        service.search_volunteers(STAFF_B, {"community_id": "com_1", "q": "李"})
    with pytest.raises(Forbidden):
        service.search_volunteers(VOLUNTEER, {"community_id": "com_1", "q": "李"})


# --- capacity --------------------------------------------------------------------------------

def test_more_volunteers_than_the_capacity_is_422_naming_it(service):
    service.store.volunteers.insert_one({"_id": "vol_3", "community_id": "com_1"})
    act = activity(service, capacity=2)
    with pytest.raises(RuleViolation) as full:
        service.log_hours(STAFF, act, sheet("vol_1", "vol_2", "vol_3"))
    assert (full.value.status, full.value.code) == (422, "capacity_exceeded")
    assert "at most 2" in full.value.fields["capacity"][0]
    first = service.log_hours(STAFF, act, sheet("vol_1", "vol_2"))["records"]
    with pytest.raises(RuleViolation):
        service.log_hours(STAFF, act, sheet("vol_3"))
    service.reject_hours(STAFF, first[0]["id"], {"reason": "was not there"})  # frees a place
    assert service.log_hours(STAFF, act, sheet("vol_3"))["records"][0]["status"] == "pending"


# --- honest hours ----------------------------------------------------------------------------

def test_overlapping_activities_cannot_both_hold_a_volunteers_record(service):
    morning = activity(service, 0, 3)
    first = service.log_hours(STAFF, morning, sheet("vol_1"))["records"][0]
    overlapping = activity(service, 2, 2)
    with pytest.raises(RuleViolation) as refused:
        service.log_hours(STAFF, overlapping, sheet("vol_2", "vol_1"))
    assert (refused.value.status, refused.value.code) == (422, "overlapping_hours")
    assert first["id"] in refused.value.fields["entries"]["1"]["volunteer_id"][0]
    assert "0" not in refused.value.fields["entries"]
    # all or none: vol_2's record was voided, and it may be logged there again
    assert service.activity_hours(STAFF, overlapping, {})["items"] == []
    # one ending as the other starts does not overlap
    assert service.log_hours(STAFF, activity(service, -1, 1), sheet("vol_1"))["records"]
    service.reject_hours(STAFF, first["id"], {"reason": "wrong activity"})
    assert service.log_hours(STAFF, overlapping, sheet("vol_2", "vol_1"))["records"]


def test_a_record_is_never_edited_and_every_change_keeps_who_when_why(service):
    act = activity(service)
    record = service.log_hours(STAFF, act, sheet(("vol_1", 90)))["records"][0]
    stored = dict(service.store.hours.find_one({"_id": record["id"]}))
    service.approve_hours(STAFF, record["id"])
    service.revoke_hours(ADMIN, record["id"], {"reason": "signed twice"})
    assert service.store.hours.find_one({"_id": record["id"]}) == stored
    [listed] = service.activity_hours(STAFF, act, {})["items"]
    assert (listed["status"], listed["reason"], listed["decided_by"], listed["logged_by"]) == \
        ("revoked", "signed twice", "admin", "wang")
    assert listed["decided_at"] and listed["logged_at"]


# --- lists -----------------------------------------------------------------------------------

def test_a_centers_activities_newest_first_with_a_cursor_and_bounds(service):
    ids = [activity(service, hours_from_start=24 * day) for day in range(5)]
    first = service.list_activities(VOLUNTEER, {"center_id": "ctr_1", "limit": "2"})
    assert [a["id"] for a in first["items"]] == ids[:2:-1][:2] == [ids[4], ids[3]]
    rest = service.list_activities(VOLUNTEER, {"center_id": "ctr_1", "limit": "10",
                                               "cursor": first["next_cursor"]})
    assert [a["id"] for a in rest["items"]] == [ids[2], ids[1], ids[0]]
    assert rest["next_cursor"] is None
    window = service.list_activities(STAFF, {
        "center_id": "ctr_1", "from": (STARTS + timedelta(days=1)).isoformat(),
        "to": (STARTS + timedelta(days=3)).isoformat()})
    assert [a["id"] for a in window["items"]] == [ids[2], ids[1]]
    with pytest.raises(NotFound):
        service.list_activities(STAFF_B, {"center_id": "ctr_1"})


def test_an_activitys_hours_page_by_page_with_status(service):
    for n in range(3, 6):
        service.store.volunteers.insert_one({"_id": f"vol_{n}", "community_id": "com_1"})
    act = activity(service)
    first = service.log_hours(STAFF, act, sheet("vol_1", "vol_2"))["records"]
    second = service.log_hours(STAFF, act, sheet("vol_3", "vol_4", "vol_5"))["records"]
    service.reject_hours(STAFF, first[0]["id"], {"reason": "absent"})
    page = service.activity_hours(STAFF, act, {"limit": "4"})
    assert [r["id"] for r in page["items"]] == [r["id"] for r in second[::-1]] + [first[1]["id"]]
    rest = service.activity_hours(STAFF, act, {"limit": "4", "cursor": page["next_cursor"]})
    assert [(r["id"], r["status"]) for r in rest["items"]] == [(first[0]["id"], "rejected")]
    with pytest.raises(Forbidden):
        service.activity_hours(dict(STAFF, center_id="ctr_2"), act, {})


# --- approving an activity at once -----------------------------------------------------------

@pytest.fixture(autouse=True)
def follow_inline(service):
    service.run_after_answer = lambda function, *args: function(*args)


def test_approving_an_activity_approves_every_pending_record_once(service):
    act = activity(service)
    records = service.log_hours(STAFF, act, sheet(("vol_1", 100), ("vol_2", 50)))["records"]
    service.reject_hours(STAFF, records[1]["id"], {"reason": "absent"})
    assert service.approve_activity(STAFF, act) == {"approved": 1}
    assert service.approve_activity(STAFF, act) == {"approved": 0}
    assert [(event_type, body["record_id"]) for _, event_type, body in published(service)] == \
        [("hours_approved", records[0]["id"])]
    assert service.store.service_minutes.total("vol_1") == 100
    assert service.store.service_minutes.total("vol_2") == 0
    with pytest.raises(Forbidden):
        service.approve_activity(dict(STAFF, center_id="ctr_2"), act)


def test_an_activity_approval_a_crash_interrupts_is_finished_by_the_recovery_timer(service):
    act = activity(service)
    records = service.log_hours(STAFF, act, sheet("vol_1", "vol_2"))["records"]
    service.outbox.add.side_effect = ConnectionError("store went away")
    assert service.approve_activity(STAFF, act) == {"approved": 2}  # answered, not followed
    service.outbox.add.side_effect = None
    service.outbox.add.reset_mock()
    assert service.approve_activity(STAFF, act) == {"approved": 0}  # decided once already
    markers = service.store.in_flight.collection
    for marker in markers.find():
        markers.replace_one({"_id": marker["_id"]},
                            {"since": marker["since"] - timedelta(minutes=5)})
    service.finish_stalled_decisions()
    assert sorted(body["record_id"] for _, _, body in published(service)) == \
        sorted(r["id"] for r in records)
    assert markers.count_documents({}) == 0
    assert {service.store.status_of(r["id"])[0] for r in records} == {domain.APPROVED}
