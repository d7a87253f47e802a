from datetime import datetime, timedelta, timezone

import pytest

from services.shared.errors import Conflict, Forbidden, NotFound, RuleViolation
from services.volunteer.domain import (
    APPROVED, PENDING, REJECTED, REVOKED, activity_minutes, check_activity_started,
    check_decision, decision_answer, hash_password, may_read_volunteer, next_generation,
    password_matches, record_id, require_in_tenant, require_staff_of_center,
    require_staff_of_community, sheet_entry_problems, star_level,
)

ADMIN = {"role": "admin"}
STAFF = {"role": "center_staff", "center_id": "ctr_1", "community_id": "com_1"}
OTHER_STAFF = {"role": "center_staff", "center_id": "ctr_2", "community_id": "com_2"}
MERCHANT = {"role": "merchant", "merchant_id": "mer_1", "community_id": "com_1"}
VOLUNTEER = {"role": "volunteer", "subject_id": "vol_1", "community_id": "com_1"}
OTHER_VOLUNTEER = {"role": "volunteer", "subject_id": "vol_2", "community_id": "com_1"}


@pytest.mark.parametrize("minutes, stars", [
    (0, 0), (99 * 60 + 59, 0), (100 * 60, 1), (300 * 60 - 1, 1), (300 * 60, 2),
    (600 * 60, 3), (1000 * 60, 4), (1500 * 60 - 1, 4), (1500 * 60, 5), (5000 * 60, 5),
])
def test_star_level_thresholds(minutes, stars):
    assert star_level(minutes) == stars


@pytest.mark.parametrize("current, wanted", [
    (PENDING, APPROVED), (PENDING, REJECTED), (APPROVED, REVOKED),
])
def test_allowed_decisions(current, wanted):
    assert check_decision(current, wanted) is None


@pytest.mark.parametrize("current, wanted", [
    (REJECTED, APPROVED), (REVOKED, APPROVED), (PENDING, REVOKED), (APPROVED, APPROVED),
    (APPROVED, REJECTED), (REVOKED, REVOKED), (REJECTED, REVOKED),
])
def test_forbidden_decisions_conflict(current, wanted):
    with pytest.raises(Conflict) as caught:
        check_decision(current, wanted)
    assert caught.value.code == "invalid_status"
    assert caught.value.status == 409


def test_staff_of_center_allows_own_staff():
    assert require_staff_of_center(STAFF, "ctr_1") is None


def test_staff_of_center_allows_admin_only_where_asked():
    assert require_staff_of_center(ADMIN, "ctr_1", admin_too=True) is None
    with pytest.raises(Forbidden):
        require_staff_of_center(ADMIN, "ctr_1")


@pytest.mark.parametrize("actor", [OTHER_STAFF, MERCHANT, VOLUNTEER,
                                   {"role": "merchant", "center_id": "ctr_1"}])
def test_staff_of_center_refuses_everyone_else(actor):
    with pytest.raises(Forbidden):
        require_staff_of_center(actor, "ctr_1")


@pytest.mark.parametrize("actor", [ADMIN, STAFF])
def test_staff_of_community_allows_admin_and_own_staff(actor):
    assert require_staff_of_community(actor, "com_1") is None


@pytest.mark.parametrize("actor", [OTHER_STAFF, MERCHANT, VOLUNTEER])
def test_staff_of_community_refuses_everyone_else(actor):
    with pytest.raises(Forbidden):
        require_staff_of_community(actor, "com_1")


@pytest.mark.parametrize("actor, allowed", [
    (ADMIN, True), (STAFF, True), (VOLUNTEER, True),
    (OTHER_STAFF, False), (OTHER_VOLUNTEER, False), (MERCHANT, False),
])
def test_may_read_volunteer(actor, allowed):
    volunteer = {"_id": "vol_1", "community_id": "com_1"}
    assert may_read_volunteer(actor, volunteer) is allowed


def test_password_hash_matches_only_its_password():
    hashed = hash_password("correct horse", rounds=4)
    assert hashed != "correct horse"
    assert hashed.startswith("$2b$04$")
    assert password_matches("correct horse", hashed)
    assert not password_matches("correct horsE", hashed)
    assert hash_password("correct horse", rounds=4) != hashed  # salted


@pytest.mark.parametrize("actor", [ADMIN, STAFF, MERCHANT, VOLUNTEER])
def test_in_tenant_allows_admin_and_any_role_of_the_community(actor):
    assert require_in_tenant(actor, "com_1", "activity", "act_1") is None


def test_another_community_is_not_found_like_an_unknown_id():
    with pytest.raises(NotFound) as caught:
        require_in_tenant(OTHER_STAFF, "com_1", "activity", "act_1")
    assert (caught.value.status, caught.value.message) == (404, "activity act_1 not found")


START = datetime(2026, 11, 21, 1, 0, tzinfo=timezone.utc)
ACTIVITY = {"_id": "act_1", "starts_at": START,
            "ends_at": START + timedelta(minutes=90, seconds=59)}


def test_an_activitys_length_is_in_whole_minutes():
    assert activity_minutes(ACTIVITY) == 90


def test_an_activity_has_started_at_its_start():
    assert check_activity_started(ACTIVITY, START) is None
    with pytest.raises(RuleViolation) as caught:
        check_activity_started(ACTIVITY, START - timedelta(microseconds=1))
    assert (caught.value.status, caught.value.code) == (422, "activity_not_started")


def test_sheet_entry_problems_name_long_entries_and_repeated_volunteers():
    entries = [{"volunteer_id": "vol_1", "minutes": 90}, {"volunteer_id": "vol_2", "minutes": 91},
               {"volunteer_id": "vol_1", "minutes": 30}]
    assert sheet_entry_problems(entries, ACTIVITY) == {
        "1": {"minutes": ["at most 90: the activity's length in minutes"]},
        "2": {"volunteer_id": ["already in entry 0: one entry per volunteer"]},
    }
    assert sheet_entry_problems(entries[:2], dict(ACTIVITY, ends_at=START + timedelta(hours=2))) \
        == {}


def test_a_record_id_is_one_per_activity_volunteer_and_generation():
    first = {"_id": record_id("act_1", "vol_1", 1), "generation": 1, "activity_id": "act_1",
             "volunteer_id": "vol_1", "minutes": 30}
    assert first["_id"] == record_id("act_1", "vol_1", 1)
    assert first["_id"] not in {record_id("act_1", "vol_2", 1), record_id("act_2", "vol_1", 1)}
    again = next_generation(first)
    assert (again["_id"], again["generation"], again["minutes"]) == \
        (record_id("act_1", "vol_1", 2), 2, 30)


def test_a_decision_answers_as_stored():
    assert decision_answer("hrs_1", {"status": APPROVED, "reason": None}) == \
        {"id": "hrs_1", "status": "approved"}
    assert decision_answer("hrs_1", {"status": REJECTED, "reason": "first"}) == \
        {"id": "hrs_1", "status": "rejected", "reason": "first"}
