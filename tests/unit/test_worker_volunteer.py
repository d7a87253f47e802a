"""The volunteer service's entrypoints with worker_factory, on the in-memory fake store."""
from datetime import timedelta
from unittest.mock import MagicMock

import pytest
from nameko.testing.services import worker_factory

from services.shared.clock import now
from services.shared.errors import Conflict, Forbidden
from services.volunteer.service import VolunteerService
from services.volunteer.storage import VolunteerStore
from tests.unit.fakes import FakeDatabase

ADMIN = {"user_id": "admin", "role": "admin"}
STAFF = {"user_id": "wang", "role": "center_staff", "center_id": "ctr_1", "community_id": "com_1"}
OTHER_STAFF = dict(STAFF, user_id="zhao", center_id="ctr_2")


@pytest.fixture
def service():
    store = VolunteerStore(FakeDatabase())
    store.ensure_indexes()
    service = worker_factory(VolunteerService, store=store, outbox=MagicMock(),
                             config={"BCRYPT_ROUNDS": 4})
    store.hours.insert_one({
        "_id": "hrs_1", "activity_id": "act_1", "center_id": "ctr_1", "community_id": "com_1",
        "category": "elder_care", "activity_starts_at": now(), "volunteer_id": "vol_1",
        "minutes": 150, "logged_by": "wang", "logged_at": now()})
    return service


def published(service):
    return [call.args for call in service.outbox.add.call_args_list]


def test_approval_queues_one_event_and_adds_the_minutes(service):
    assert service.approve_hours(STAFF, "hrs_1") == {"id": "hrs_1", "status": "approved"}
    service.approve_hours(STAFF, "hrs_1")  # retried: completes, adds nothing
    assert service.store.service_minutes.total("vol_1") == 150
    event_ids = {event_id for event_id, _, _ in published(service)}
    assert event_ids == {"hours_approved:hrs_1"}
    _, event_type, payload = published(service)[0]
    assert event_type == "hours_approved"
    assert (payload["record_id"], payload["minutes"], payload["approved_by"]) == \
        ("hrs_1", 150, "wang")


def test_a_rejected_record_cannot_be_approved(service):
    service.reject_hours(STAFF, "hrs_1", {"reason": "not present"})
    with pytest.raises(Conflict) as error:
        service.approve_hours(STAFF, "hrs_1")
    assert error.value.code == "invalid_status"
    service.outbox.add.assert_not_called()


def test_revocation_takes_the_minutes_back_and_queues_its_event(service):
    service.approve_hours(STAFF, "hrs_1")
    result = service.revoke_hours(ADMIN, "hrs_1", {"reason": "signed in twice"})
    assert result["status"] == "revoked"
    assert service.store.service_minutes.total("vol_1") == 0
    assert [event_type for _, event_type, _ in published(service)] == \
        ["hours_approved", "hours_revoked"]


def test_only_staff_of_the_center_decide(service):
    with pytest.raises(Forbidden):
        service.approve_hours(OTHER_STAFF, "hrs_1")
    with pytest.raises(Forbidden):  # the recorder certifies; an admin may only revoke
        service.approve_hours(ADMIN, "hrs_1")
    assert service.store.status_of("hrs_1")[0] == "pending"


def test_a_taken_username_is_409_and_leaves_no_volunteer(service):
    service.store.communities.insert_one({"_id": "com_1", "name": "x", "code": "x"})
    body = {"community_id": "com_1", "name": "Li", "phone": "13800000000", "username": "liwei",
            "password": "li-pass-123"}
    first = service.register_volunteer(None, body)
    with pytest.raises(Conflict) as error:
        service.register_volunteer(None, dict(body, name="Another Li"))
    assert error.value.code == "username_taken"
    assert [v["_id"] for v in service.store.volunteers.docs.values()] == [first["id"]]


def test_a_login_names_its_role_and_subject(service):
    service.store.communities.insert_one({"_id": "com_1", "name": "x", "code": "x"})
    volunteer = service.register_volunteer(None, {
        "community_id": "com_1", "name": "Li", "phone": "13800000000", "username": "liwei",
        "password": "li-pass-123"})
    principal = service.authenticate("liwei", "li-pass-123")
    assert (principal["role"], principal["subject_id"], principal["community_id"]) == \
        ("volunteer", volunteer["id"], "com_1")


def test_the_recovery_timer_publishes_what_a_crash_left_out(service):
    service.outbox.add.side_effect = ConnectionError("store went away")
    with pytest.raises(ConnectionError):
        service.approve_hours(STAFF, "hrs_1")
    assert service.store.status_of("hrs_1")[0] == "approved"  # decided, but no event yet
    service.outbox.add.side_effect = None
    service.outbox.add.reset_mock()

    service.finish_stalled_decisions()  # too recent: the request may still be running
    service.outbox.add.assert_not_called()

    markers = service.store.in_flight.collection
    [marker] = markers.find({})
    markers.replace_one({"_id": marker["_id"]}, {"since": marker["since"] - timedelta(minutes=5)})
    service.finish_stalled_decisions()
    assert [args[1] for args in published(service)] == ["hours_approved"]
    assert service.store.service_minutes.total("vol_1") == 150  # once, not twice
    assert list(markers.find({})) == []
