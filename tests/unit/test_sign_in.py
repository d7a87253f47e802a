"""On-site sign-in and imported sheets in the volunteer service, with worker_factory on the
in-memory store (services/volunteer/sign_in.py, hours_import.py)."""
from datetime import timedelta

import pytest

from services.shared.errors import Conflict, Forbidden, InvalidInput, RuleViolation
from services.volunteer import sign_in
from tests.unit.test_worker_volunteer import STAFF, STARTS, VOLUNTEER, service  # noqa: F401

ENDS = STARTS + timedelta(hours=3)
# vol_2: the fixture already logged vol_1 on act_1 (under an id of its own).
FANG = dict(VOLUNTEER, user_id="fang", subject_id="vol_2")
ACTIVITY = {"_id": "act_1", "starts_at": STARTS, "ends_at": ENDS}


# --- the rules as plain functions ------------------------------------------------------------

def test_codes_are_short_random_and_free_of_look_alike_characters():
    codes = {sign_in.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(code) == 6 and set(code) <= set(sign_in.CODE_ALPHABET) for code in codes)
    assert not set("01OIL") & set(sign_in.CODE_ALPHABET)


def test_a_typed_code_matches_in_any_case_with_spaces_and_dashes():
    assert sign_in.code_matches("AB3-", "ab3") is False
    assert sign_in.code_matches("AB34CD", " ab3-4cd ")
    assert not sign_in.code_matches("AB34CD", "AB34CE")
    assert not sign_in.code_matches("AB34CD", "\ud800")


@pytest.mark.parametrize("check_in, check_out, minutes", [
    (STARTS + timedelta(minutes=10), STARTS + timedelta(minutes=100, seconds=59), 90),
    (STARTS - timedelta(minutes=50), STARTS + timedelta(minutes=30), 30),   # early arrival
    (STARTS + timedelta(hours=2), ENDS + timedelta(minutes=90), 60),        # late check-out
    (STARTS - timedelta(minutes=50), ENDS + timedelta(hours=2), 180),       # both
    (STARTS - timedelta(minutes=50), STARTS - timedelta(minutes=5), 0),     # before it began
])
def test_served_minutes_are_bounded_by_the_activity_at_both_ends(check_in, check_out, minutes):
    assert sign_in.served_minutes(ACTIVITY, check_in, check_out) == minutes


def test_the_code_works_from_an_hour_before_until_the_end_or_two_hours_after():
    sign_in.check_window(ACTIVITY, sign_in.CHECK_IN, STARTS - timedelta(minutes=60))
    sign_in.check_window(ACTIVITY, sign_in.CHECK_IN, ENDS)
    sign_in.check_window(ACTIVITY, sign_in.CHECK_OUT, ENDS + timedelta(hours=2))
    for step, at, code in [
            (sign_in.CHECK_IN, STARTS - timedelta(minutes=61), "sign_in_not_open"),
            (sign_in.CHECK_IN, ENDS + timedelta(seconds=1), "sign_in_closed"),
            (sign_in.CHECK_OUT, ENDS + timedelta(hours=2, seconds=1), "sign_in_closed")]:
        with pytest.raises(RuleViolation) as refused:
            sign_in.check_window(ACTIVITY, step, at)
        assert refused.value.code == code


# --- the entrypoints ---------------------------------------------------------------------------

def at(service, moment):
    service.clock = lambda: moment


def current_code(service):
    return service.sign_in_code(STAFF, "act_1")["code"]


def test_staff_get_one_code_until_they_rotate_it_and_the_old_one_then_fails(service):
    at(service, STARTS)
    first = service.sign_in_code(STAFF, "act_1")
    assert first["code"] == current_code(service) and first["number"] == 1
    rotated = service.rotate_sign_in_code(STAFF, "act_1")
    assert rotated["number"] == 2 and rotated["code"] != first["code"]
    with pytest.raises(RuleViolation) as refused:
        service.check_in(VOLUNTEER, "act_1", {"code": first["code"]})
    assert refused.value.code == "wrong_code"
    service.metrics.count.assert_any_call("sign_in_wrong_code")
    assert service.check_in(VOLUNTEER, "act_1", {"code": rotated["code"].lower()})[
        "volunteer_id"] == "vol_1"


def test_a_replayed_rotation_rotates_once(service):
    first = service.rotate_sign_in_code(STAFF, "act_1", "key-1")
    assert service.rotate_sign_in_code(STAFF, "act_1", "key-1") == first
    assert current_code(service) == first["code"]


def test_only_the_centers_staff_see_the_code_and_only_volunteers_check_in(service):
    with pytest.raises(Forbidden):
        service.sign_in_code(VOLUNTEER, "act_1")
    with pytest.raises(Forbidden):
        service.sign_in_code(dict(STAFF, center_id="ctr_2"), "act_1")
    at(service, STARTS)
    with pytest.raises(Forbidden):
        service.check_in(STAFF, "act_1", {"code": current_code(service)})


def test_check_out_logs_the_pending_record_of_the_minutes_within_the_activity(service):
    at(service, STARTS - timedelta(minutes=30))
    code = current_code(service)
    service.check_in(VOLUNTEER, "act_1", {"code": code})
    at(service, ENDS + timedelta(minutes=45))
    out = service.check_out(VOLUNTEER, "act_1", {"code": code})
    assert out["minutes"] == 180
    assert out["record"]["minutes"] == 180 and out["record"]["status"] == "pending"
    stored = service.store.hours.find_one({"_id": out["record"]["id"]})
    assert stored["volunteer_id"] == "vol_1" and stored["logged_by"] == "liwei"


def test_a_second_check_in_a_check_out_without_check_in_and_a_late_code_are_refused(service):
    at(service, STARTS)
    code = current_code(service)
    with pytest.raises(RuleViolation) as refused:
        service.check_out(VOLUNTEER, "act_1", {"code": code})
    assert refused.value.code == "not_checked_in"
    service.check_in(VOLUNTEER, "act_1", {"code": code})
    with pytest.raises(Conflict) as again:
        service.check_in(VOLUNTEER, "act_1", {"code": code})
    assert again.value.code == "already_checked_in"
    at(service, ENDS + sign_in.CHECK_OUT_GRACE + timedelta(seconds=1))
    with pytest.raises(RuleViolation) as late:
        service.check_out(VOLUNTEER, "act_1", {"code": code})
    assert late.value.code == "sign_in_closed"


def test_a_check_out_before_the_activity_began_records_nothing(service):
    at(service, STARTS - timedelta(minutes=40))
    code = current_code(service)
    service.check_in(VOLUNTEER, "act_1", {"code": code})
    at(service, STARTS - timedelta(minutes=10))
    with pytest.raises(RuleViolation) as refused:
        service.check_out(VOLUNTEER, "act_1", {"code": code})
    assert refused.value.code == "no_minutes_served"
    assert service.store.db.check_outs.count_documents({}) == 0


def test_a_retried_check_out_replays_and_another_one_is_409_with_one_record(service):
    at(service, STARTS)
    code = current_code(service)
    service.check_in(FANG, "act_1", {"code": code}, "k-in")
    assert service.check_in(FANG, "act_1", {"code": code}, "k-in")["volunteer_id"] == "vol_2"
    at(service, STARTS + timedelta(minutes=75))
    first = service.check_out(FANG, "act_1", {"code": code}, "k-out")
    service.rotate_sign_in_code(STAFF, "act_1")  # a replay needs no current code
    assert service.check_out(FANG, "act_1", {"code": code}, "k-out") == first
    with pytest.raises(Conflict) as again:
        service.check_out(FANG, "act_1", {"code": current_code(service)}, "k-other")
    assert again.value.code == "already_checked_out"
    assert first["record"]["id"] in again.value.message
    assert service.store.hours.count_documents({"activity_id": "act_1", "volunteer_id": "vol_2"}) == 1


def test_a_check_out_whose_record_a_crash_left_out_is_finished_by_the_next(service):
    at(service, STARTS)
    code = current_code(service)
    service.check_in(FANG, "act_1", {"code": code})
    at(service, STARTS + timedelta(minutes=75))
    logged = service._log_entries
    service._log_entries = lambda *a, **k: (_ for _ in ()).throw(ConnectionError("crash"))
    with pytest.raises(ConnectionError):
        service.check_out(FANG, "act_1", {"code": code})
    service._log_entries = logged
    with pytest.raises(Conflict):
        service.check_out(FANG, "act_1", {"code": code})
    records = service.store.hours.find({"activity_id": "act_1", "volunteer_id": "vol_2"})
    assert [r["minutes"] for r in records] == [75]


# --- imported sheets -------------------------------------------------------------------------

def rows(*specs):
    return {"rows": [dict({"volunteer_id": None, "phone": None}, line=line, **spec)
                     for line, spec in specs]}


def _claimed_phone(service, community_id, phone, volunteer_id):
    """A registered volunteer's number: its claim, as registration stores it."""
    service.store.directory.claim_phone(community_id, phone, volunteer_id, lambda _: True)


def test_the_check_names_each_bad_line_and_writes_nothing(service):
    _claimed_phone(service, "com_1", "13800000002", "vol_2")
    _claimed_phone(service, "com_b", "13800000003", "vol_b")
    _claimed_phone(service, "com_1", "13800000004", "vol_gone")  # a registration that crashed
    answer = service.import_hours(STAFF, "act_1", dict(rows(
        (2, {"volunteer_id": "vol_1", "minutes": 60}),
        (3, {"volunteer_id": "vol_b", "minutes": 60}),      # another community
        (4, {"phone": "13800000002", "minutes": 999}),      # longer than the activity
        (5, {"phone": "13900000000", "minutes": 60}),       # nobody's phone
        (6, {"phone": "13800000003", "minutes": 60}),       # another community's number
        (7, {"phone": "13800000004", "minutes": 60}),       # a claim naming nobody stored
    ), dry_run=True))
    assert [(p["line"], p["reason"].split()[0]) for p in answer["problems"]] == [
        (3, "no"), (4, "999"), (5, "no"), (6, "no"), (7, "no")]
    assert answer["volunteers"] == {"2": "vol_1"}


def test_a_row_by_phone_is_found_by_its_claim_without_reading_the_communitys_volunteers(
        service):
    _claimed_phone(service, "com_1", "13800000002", "vol_2")

    def scan(*args, **kwargs):
        raise AssertionError(f"volunteers read by a filter: {args}")
    service.store.volunteers.find = scan
    answer = service.import_hours(STAFF, "act_1", dict(rows(
        (2, {"phone": "13800000002", "minutes": 60})), dry_run=True))
    assert (answer["problems"], answer["volunteers"]) == ([], {"2": "vol_2"})
    with pytest.raises(InvalidInput) as refused:
        service.import_hours(STAFF, "act_1", rows((2, {"volunteer_id": "vol_1", "minutes": 60}),
                                                  (5, {"phone": "13900000000", "minutes": 60})))
    assert list(refused.value.fields) == ["line 5"]
    assert service.store.hours.count_documents({"activity_id": "act_1"}) == 1  # the fixture's


def test_importing_the_same_rows_again_adds_nothing_and_other_minutes_are_a_bad_row(service):
    sheet = rows((2, {"volunteer_id": "vol_1", "minutes": 60}),
                 (3, {"volunteer_id": "vol_2", "minutes": 90}))
    assert service.import_hours(STAFF, "act_1", sheet)["added"] == 2
    again = service.import_hours(STAFF, "act_1", sheet)
    assert (again["added"], again["already_logged"]) == (0, 2)
    assert service.store.hours.count_documents({"activity_id": "act_1"}) == 3
    changed = service.import_hours(STAFF, "act_1", dict(
        rows((3, {"volunteer_id": "vol_2", "minutes": 45})), dry_run=True))
    assert "already logged on this activity with 90 minutes" in changed["problems"][0]["reason"]
