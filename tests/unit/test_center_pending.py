"""A center's records waiting for a decision, counted at flat cost (services/volunteer/pending.py):
+1 when logged, -1 when approved or rejected, once per record whatever is retried or recovered."""
import datetime as dt

import pytest

from services.shared.errors import Busy, Forbidden, NotFound, RuleViolation
from services.volunteer import domain, pending
from tests.unit.test_bulk_followups import VOLUNTEERS, import_rows, service  # noqa: F401
from tests.unit.test_sheet_recovery import Crash, crash_once, stall_markers
from tests.unit.test_worker_volunteer import ADMIN, OTHER_STAFF, STAFF, STAFF_B


def log_three(service):
    answer = service.log_hours(STAFF, "act_1", {"entries": [
        {"volunteer_id": v, "minutes": 60} for v in VOLUNTEERS[:3]]}, request_key="idk_sheet")
    return [record["id"] for record in answer["records"]]


def count(service):
    return service.center_pending(STAFF, "ctr_1")["pending"]


def stall_decisions(store):
    for marker in store.in_flight.collection.docs.values():
        marker["since"] -= dt.timedelta(minutes=5)


def test_logged_records_count_until_approved_or_rejected_each_once(service):
    first, second, _ = log_three(service)
    assert count(service) == 3
    service.approve_hours(STAFF, first)
    service.reject_hours(STAFF, second, {"reason": "not there"})
    assert service.center_pending(ADMIN, "ctr_1") == {"center_id": "ctr_1", "pending": 1}
    # Retries of the sheet and of the decisions, and the recovery timer, count nothing again.
    log_three(service)
    service.approve_hours(STAFF, first)
    service.reject_hours(STAFF, second, {"reason": "not there"})
    service.finish_stalled_decisions()
    assert count(service) == 1
    service.revoke_hours(ADMIN, first, {"reason": "signed in twice"})  # approved: not pending
    assert count(service) == 1


def test_approving_an_activity_at_once_takes_all_its_records_off(service):
    import_rows(service, dry_run=False)
    assert count(service) == len(VOLUNTEERS)
    assert service.approve_activity(STAFF, "act_1") == {"approved": len(VOLUNTEERS)}
    assert count(service) == 0
    streams = [f"ctr_1:{shard}" for shard in range(pending.SHARDS)]
    assert all(pending.tally(service.store).verify(stream) for stream in streams)
    assert service.store.in_flight.collection.count_documents({}) == 0


def test_records_of_a_refused_sheet_are_never_counted(service):
    log_three(service)
    with pytest.raises(RuleViolation):  # vol_00 holds hours at that time on act_1 already
        service.store.activities.insert_one(dict(
            service.store.activities.find_one({"_id": "act_1"}), _id="act_2"))
        service.log_hours(STAFF, "act_2", {"entries": [
            {"volunteer_id": VOLUNTEERS[5], "minutes": 60},
            {"volunteer_id": VOLUNTEERS[0], "minutes": 60}]})
    assert count(service) == 3


def test_a_crash_before_a_record_is_counted_is_finished_by_the_sheet_recovery(
        service, monkeypatch):
    crash_once(monkeypatch, pending, "count_logged")
    with pytest.raises(Crash):
        log_three(service)
    assert count(service) == 0
    stall_markers(service.store)
    service.settle_stalled_sheets()
    assert count(service) == 3


def test_a_busy_count_leaves_the_decision_in_flight_for_the_recovery_timer(
        service, monkeypatch):
    first, _, _ = log_three(service)
    tally = pending.tally(service.store)
    real_append = tally.append

    def busy(*args, **kwargs):
        raise Busy("hot")
    monkeypatch.setattr(tally, "append", busy)
    assert service.approve_hours(STAFF, first)["status"] == domain.APPROVED
    assert count(service) == 3
    monkeypatch.setattr(tally, "append", real_append)
    stall_decisions(service.store)
    service.finish_stalled_decisions()
    assert count(service) == 2
    assert service.store.in_flight.collection.count_documents({}) == 0


def test_records_logged_before_the_count_join_it_once(service):
    first, second, _ = log_three(service)
    service.approve_hours(STAFF, first)
    service.reject_hours(STAFF, second, {"reason": "not there"})
    for name in ("center_pending", "center_pending_keys", "center_pending_heads"):
        service.store.db[name].docs = {}  # as before the count existed
    assert count(service) == 0
    for _ in range(2):  # a second run (another replica, a crash before its progress) adds nothing
        backfill = pending.PendingBackfill(service.store, page_size=2)
        backfill.migration.run_to_end()
        service.store.db.migrations.delete_one({"_id": backfill.migration.done_id})
        service.store.db.migrations.delete_one({"_id": backfill.migration.name})
    assert count(service) == 1


@pytest.mark.parametrize("actor, refused", [(OTHER_STAFF, Forbidden), (STAFF_B, NotFound)])
def test_only_the_centers_staff_and_admins_read_its_count(service, actor, refused):
    with pytest.raises(refused):
        service.center_pending(actor, "ctr_1")
    with pytest.raises(NotFound):
        service.center_pending(ADMIN, "ctr_missing")
