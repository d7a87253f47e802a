"""On-site sign-in on the real broker and store: check-outs racing each other, all held where
they have found no check-out and are about to store theirs."""
import uuid
from datetime import timedelta

from services.shared.clock import now
from services.shared.errors import Conflict
from services.volunteer.service import VolunteerService
from tests.integration.races import HeldInserts, outcomes, service_store
from tests.integration.test_hours_sheets import setup_center

RACERS = 8


def volunteer_at_activity(rpc, staff, community_id):
    """A volunteer's actor and an activity under way (started an hour ago, three hours long)."""
    suffix = uuid.uuid4().hex[:8]
    volunteer = rpc.volunteer.register_volunteer(staff, {
        "community_id": community_id, "name": "李伟", "phone": "13800000000",
        "username": f"li{suffix}", "password": "li-pass-123"})
    starts = now() - timedelta(hours=1)
    activity = rpc.volunteer.create_activity(staff, {
        "center_id": staff["center_id"], "title": "探访独居老人", "category": "elder_care",
        "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=3)).isoformat()})
    actor = {"user_id": f"li{suffix}", "role": "volunteer", "subject_id": volunteer["id"],
             "community_id": community_id}
    return actor, activity["id"]


def test_check_outs_at_once_store_one_check_out_and_log_one_record(start, rpc, store,
                                                                  monkeypatch):
    moment = [now() - timedelta(minutes=50)]  # the service's clock: check in 50 minutes ago
    monkeypatch.setattr(VolunteerService, "clock", staticmethod(lambda: moment[0]))
    container = start(VolunteerService)
    community_id, _, staff = setup_center(rpc)
    volunteer, activity_id = volunteer_at_activity(rpc, staff, community_id)
    code = rpc.volunteer.sign_in_code(staff, activity_id)["code"]
    rpc.volunteer.check_in(volunteer, activity_id, {"code": code})
    moment[0] = now()
    service_db = service_store(container).db
    service_db.check_outs = held = HeldInserts(service_db.check_outs, lambda doc: True,
                                               parties=RACERS)

    results = outcomes([rpc.volunteer.check_out.call_async(volunteer, activity_id, {
        "code": code}) for _ in range(RACERS)], Conflict)

    assert held.race.all_met, "the check-outs never met before storing theirs"
    done = [o for o in results if isinstance(o, dict)]
    refused = [o.code for o in results if isinstance(o, Conflict)]
    assert len(done) == 1 and refused == ["already_checked_out"] * (RACERS - 1), results
    db = store("volunteer")
    assert db.check_outs.count_documents({"activity_id": activity_id}) == 1
    records = list(db.hours.find({"activity_id": activity_id}))
    assert [r["_id"] for r in records] == [done[0]["record"]["id"]]
    assert records[0]["minutes"] == done[0]["minutes"] == 50
