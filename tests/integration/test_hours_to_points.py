"""Volunteer and points services together: approved hours become points through the bus."""
import uuid

from kombu import Connection, Queue

from services.points.service import PointsService
from services.shared.errors import Conflict, InvalidInput, NotFound
from services.volunteer.service import VolunteerService
from tests.integration.conftest import ADMIN
from tests.support import integration_amqp_uri, wait_until

import pytest


def setup_center(rpc):
    """A community, a center, a staff actor, a volunteer and an activity; returns their ids."""
    suffix = uuid.uuid4().hex[:8]
    community = rpc.volunteer.create_community(ADMIN, {"name": "Xinhua", "code": f"xh{suffix}"})
    center = rpc.volunteer.create_center(ADMIN, {"community_id": community["id"],
                                                 "name": "Xinhua Center"})
    rpc.volunteer.create_user(ADMIN, {"username": f"staff{suffix}", "password": "staff-pass-1",
                                      "role": "center_staff", "center_id": center["id"]})
    staff = rpc.volunteer.authenticate(f"staff{suffix}", "staff-pass-1")
    volunteer = rpc.volunteer.register_volunteer(staff, {
        "community_id": community["id"], "name": "Li Wei", "phone": "13800000000",
        "username": f"li{suffix}", "password": "li-pass-123"})
    activity = rpc.volunteer.create_activity(staff, {
        "center_id": center["id"], "title": "Visit elders", "category": "other",
        "starts_at": "2026-11-20T09:00:00+08:00", "ends_at": "2026-11-20T12:00:00+08:00"})
    return staff, volunteer["id"], activity["id"]


def log_one(rpc, staff, activity_id, volunteer_id, minutes):
    sheet = rpc.volunteer.log_hours(staff, activity_id,
                                    {"entries": [{"volunteer_id": volunteer_id,
                                                  "minutes": minutes}]})
    return sheet["records"][0]["id"]


def test_approved_hours_credit_points_once_and_revocation_reverses_them(start, rpc):
    start(VolunteerService)
    start(PointsService)
    staff, volunteer_id, activity_id = setup_center(rpc)
    record_id = log_one(rpc, staff, activity_id, volunteer_id, 150)

    assert rpc.volunteer.approve_hours(staff, record_id)["status"] == "approved"
    assert rpc.volunteer.approve_hours(staff, record_id)["status"] == "approved"  # a retry
    wait_until(lambda: rpc.points.get_balance(volunteer_id)["balance"] == 25,
               message="credit after approval")
    volunteer = rpc.volunteer.get_volunteer(staff, volunteer_id)
    assert volunteer["approved_minutes"] == 150

    rpc.volunteer.revoke_hours(staff, record_id, {"reason": "duplicate sign-in"})
    wait_until(lambda: rpc.points.get_balance(volunteer_id)["balance"] == 0,
               message="reversal after revocation")
    kinds = [(e["kind"], e["points"]) for e in rpc.points.statement({"account": volunteer_id})]
    assert kinds == [("reversal", -25), ("earn", 25)]
    assert rpc.volunteer.get_volunteer(staff, volunteer_id)["approved_minutes"] == 0
    with pytest.raises(Conflict):
        rpc.volunteer.approve_hours(staff, record_id)


def test_an_approval_waits_in_the_outbox_until_its_consumer_exists(start, rpc):
    """No queue bound yet: the event is returned by the broker and kept, never dropped."""
    with Connection(integration_amqp_uri()) as conn:
        Queue("evt-volunteer-hours_approved--points.on_hours_approved").bind(conn).delete()
    volunteer_service = start(VolunteerService)
    staff, volunteer_id, activity_id = setup_center(rpc)
    record_id = log_one(rpc, staff, activity_id, volunteer_id, 60)
    rpc.volunteer.approve_hours(staff, record_id)

    outbox = next(d for d in volunteer_service.extensions if type(d).__name__ == "Outbox")
    wait_until(lambda: outbox.collection.find_one({"_id": f"hours_approved:{record_id}"})
               and outbox.relay_attempts > 0, message="relay tried and kept the event")

    start(PointsService)  # declares and binds its queue
    wait_until(lambda: rpc.points.get_balance(volunteer_id)["balance"] == 10, timeout=20,
               message="credit once the consumer exists")
    assert outbox.collection.count_documents({}) == 0


def test_a_sheet_with_an_unknown_volunteer_writes_nothing(start, rpc, store):
    start(VolunteerService)
    staff, volunteer_id, activity_id = setup_center(rpc)
    with pytest.raises(InvalidInput) as error:
        rpc.volunteer.log_hours(staff, activity_id, {"entries": [
            {"volunteer_id": volunteer_id, "minutes": 60},
            {"volunteer_id": "vol_nobody", "minutes": 60}]})
    assert error.value.fields == {"entries": {"1": {"volunteer_id": ["no such volunteer"]}}}
    assert store("volunteer").hours.count_documents({}) == 0


def test_staff_of_another_center_cannot_approve(start, rpc):
    start(VolunteerService)
    staff, volunteer_id, activity_id = setup_center(rpc)
    other_staff, _, _ = setup_center(rpc)
    record_id = log_one(rpc, staff, activity_id, volunteer_id, 30)
    with pytest.raises(NotFound):  # another community: as if the record did not exist
        rpc.volunteer.approve_hours(other_staff, record_id)
    assert rpc.volunteer.get_hours(staff, record_id)["status"] == "pending"
