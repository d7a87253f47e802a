import pytest

from services.shared.errors import Conflict, Forbidden
from services.volunteer.domain import (
    APPROVED, PENDING, REJECTED, REVOKED, check_decision, hash_password, may_read_volunteer,
    password_matches, require_staff_of_center, require_staff_of_community, star_level,
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
