import pytest

from services.shared import contracts
from services.shared.contracts import load
from services.shared.errors import InvalidInput

APPROVED_EVENT = {
    "event_id": "evt_1", "record_id": "hrs_1", "volunteer_id": "vol_1", "community_id": "com_1",
    "center_id": "ctr_1", "activity_id": "act_1", "category": "elder_care", "minutes": 90,
    "activity_starts_at": "2024-05-04T09:00:00+08:00",
    "approved_at": "2024-05-04T12:00:00+08:00", "approved_by": "usr_1",
}
MOVEMENT = {"account": "vol_1", "points": 30, "key": "redemption:rdm_1", "kind": "redeem",
            "reason": "a gift", "ref_type": "redemption", "ref_id": "rdm_1", "by": "usr_1"}
REWARD = {"kind": "gift", "title": "Rice, 5 kg", "cost_points": 50, "stock": 10}
REDEMPTION = {"reward_id": "rwd_1", "volunteer_id": "vol_1", "quantity": 2}
ENTRY = {"volunteer_id": "vol_1", "minutes": 60}
ACTIVITY = {"center_id": "ctr_1", "title": "Visit elders", "category": "elder_care",
            "starts_at": "2024-05-04T09:00:00+08:00", "ends_at": "2024-05-04T12:00:00+08:00"}


def invalid_fields(schema, data):
    with pytest.raises(InvalidInput) as caught:
        load(schema, data)
    assert caught.value.status == 400 and caught.value.code == "invalid_input"
    return caught.value.fields


@pytest.mark.parametrize("schema, body", [
    (contracts.HoursApprovedSchema(), APPROVED_EVENT),
    (contracts.PointsMovementSchema(), MOVEMENT),
    (contracts.RewardIn(), REWARD),
    (contracts.RedemptionIn(), REDEMPTION),
    (contracts.HoursEntryIn(), ENTRY),
    (contracts.ActivityIn(), ACTIVITY),
])
def test_valid_bodies_load(schema, body):
    loaded = load(schema, body)
    assert set(body) <= set(loaded)


def test_load_names_the_bad_field():
    fields = invalid_fields(contracts.HoursApprovedSchema(), dict(APPROVED_EVENT, category="x"))
    assert list(fields) == ["category"]


@pytest.mark.parametrize("schema, body, field", [
    (contracts.HoursApprovedSchema(), APPROVED_EVENT, "minutes"),
    (contracts.HoursRevokedSchema(), None, "minutes"),
    (contracts.HoursEntryIn(), ENTRY, "minutes"),
    (contracts.PointsMovementSchema(), MOVEMENT, "points"),
    (contracts.RewardIn(), REWARD, "cost_points"),
    (contracts.RedemptionIn(), REDEMPTION, "quantity"),
])
@pytest.mark.parametrize("bad", [1.5, "5", True])
def test_integer_fields_are_strict(schema, body, field, bad):
    body = body or {"event_id": "e", "record_id": "r", "volunteer_id": "v", "community_id": "c",
                    "minutes": 5, "reason": "fraud", "revoked_at": "2024-05-04T12:00:00Z",
                    "revoked_by": "u"}
    load(schema, body)  # the body is valid as given
    assert field in invalid_fields(schema, dict(body, **{field: bad}))


def test_hours_sheet_takes_up_to_1000_entries():
    loaded = load(contracts.HoursSheetIn(), {"entries": [ENTRY] * 1000})
    assert len(loaded["entries"]) == 1000
    for count in (0, 1001):
        assert "entries" in invalid_fields(contracts.HoursSheetIn(), {"entries": [ENTRY] * count})


def test_hours_sheet_names_the_bad_entry():
    entries = [ENTRY, dict(ENTRY, minutes=0)]
    fields = invalid_fields(contracts.HoursSheetIn(), {"entries": entries})
    assert "minutes" in fields["entries"][1]


@pytest.mark.parametrize("schema, body", [
    (contracts.LoginIn(), {"username": "amy", "password": "secret-pw"}),
    (contracts.RedemptionIn(), REDEMPTION),
    (contracts.HoursApprovedSchema(), APPROVED_EVENT),
])
def test_unknown_fields_are_refused(schema, body):
    assert "is_admin" in invalid_fields(schema, dict(body, is_admin=True))


@pytest.mark.parametrize("field", ["starts_at", "ends_at"])
def test_activity_times_must_carry_an_offset(field):
    naive = dict(ACTIVITY, **{field: "2024-05-04T09:00:00"})
    assert field in invalid_fields(contracts.ActivityIn(), naive)
    assert load(contracts.ActivityIn(), ACTIVITY)[field].utcoffset() is not None


def test_missing_required_fields_are_named():
    fields = invalid_fields(contracts.RedemptionIn(), {"quantity": 1})
    assert set(fields) == {"reward_id", "volunteer_id"}
