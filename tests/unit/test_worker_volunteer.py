"""The volunteer service's entrypoints with worker_factory, on the in-memory fake store."""
from datetime import datetime, timedelta, timezone
from unittest.mock import MagicMock

import pytest
from nameko.testing.services import worker_factory
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.shared.clock import now
from services.shared.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolation
from services.volunteer import domain
from services.volunteer.service import VolunteerService
from services.volunteer.storage import VolunteerStore
from tests.unit.fakes import FakeCollection, FakeDatabase

ADMIN = {"user_id": "admin", "role": "admin"}
STAFF = {"user_id": "wang", "role": "center_staff", "center_id": "ctr_1", "community_id": "com_1"}
OTHER_STAFF = dict(STAFF, user_id="zhao", center_id="ctr_2")  # same community, other center
STAFF_B = {"user_id": "li", "role": "center_staff", "center_id": "ctr_b", "community_id": "com_b"}
VOLUNTEER = {"user_id": "liwei", "role": "volunteer", "subject_id": "vol_1",
             "community_id": "com_1"}

STARTS = datetime(2026, 11, 21, 1, 0, tzinfo=timezone.utc)  # act_1 runs 3 hours from here


class BulkCollection(FakeCollection):
    """insert_many(ordered=False) as the store does it: every document is tried, and the
    clashes are reported by index in a BulkWriteError."""

    def insert_many(self, docs, ordered=True):
        errors = []
        for index, doc in enumerate(docs):
            try:
                self.insert_one(doc)
            except DuplicateKeyError as exc:
                errors.append({"index": index, "code": 11000, "errmsg": str(exc)})
                if ordered:
                    break
        if errors:
            raise BulkWriteError({"writeErrors": errors,
                                  "nInserted": len(docs) - len(errors)})


@pytest.fixture
def service():
    store = VolunteerStore(FakeDatabase(hours=BulkCollection()))
    store.ensure_indexes()
    service = worker_factory(VolunteerService, store=store, outbox=MagicMock(),
                             config={"BCRYPT_ROUNDS": 4})
    service.clock = lambda: STARTS + timedelta(days=1)
    for community in ("com_1", "com_b"):
        store.communities.insert_one({"_id": community, "name": community, "code": community})
    for center, community in (("ctr_1", "com_1"), ("ctr_2", "com_1"), ("ctr_b", "com_b")):
        store.centers.insert_one({"_id": center, "community_id": community, "name": center})
    for volunteer, community in (("vol_1", "com_1"), ("vol_2", "com_1"), ("vol_b", "com_b")):
        store.volunteers.insert_one({"_id": volunteer, "community_id": community})
    for activity, center, community in (("act_1", "ctr_1", "com_1"), ("act_b", "ctr_b", "com_b")):
        store.activities.insert_one({
            "_id": activity, "center_id": center, "community_id": community, "title": "t",
            "category": "elder_care", "starts_at": STARTS, "ends_at": STARTS + timedelta(hours=3)})
    store.hours.insert_one({
        "_id": "hrs_1", "activity_id": "act_1", "center_id": "ctr_1", "community_id": "com_1",
        "category": "elder_care", "activity_starts_at": now(), "volunteer_id": "vol_1",
        "minutes": 150, "logged_by": "wang", "logged_at": now()})
    return service


def sheet(*entries):
    """A sheet body from (volunteer id, minutes) pairs, or volunteer ids (60 minutes each)."""
    return {"entries": [{"volunteer_id": e, "minutes": 60} if isinstance(e, str)
                        else {"volunteer_id": e[0], "minutes": e[1]} for e in entries]}


def hours_on(service, activity_id):
    """The activity's live records: a refused sheet's voided records were never logged."""
    return sorted((r["volunteer_id"], r["minutes"]) for r in service.store.hours.find(
        {"activity_id": activity_id}) if service.store.status_of(r["_id"])[0] != "voided")


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
    body = {"community_id": "com_1", "name": "Li", "phone": "13800000000", "username": "liwei",
            "password": "li-pass-123"}
    first = service.register_volunteer(None, body)
    with pytest.raises(Conflict) as error:
        service.register_volunteer(None, dict(body, name="Another Li", phone="13900000000"))
    assert error.value.code == "username_taken"
    # the undone registration gives its number back
    assert service.store.directory.holder_of("com_1", "13900000000") is None
    assert [v["_id"] for v in service.store.volunteers.find({"username": "liwei"})] == \
        [first["id"]]


def test_a_login_names_its_role_and_subject(service):
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


# --- tenancy (issue 5, item 10) -------------------------------------------------------------

def test_a_sheet_names_only_volunteers_of_the_activitys_community(service):
    with pytest.raises(InvalidInput) as foreign:
        service.log_hours(STAFF_B, "act_b", sheet("vol_1"))  # a volunteer of com_1
    with pytest.raises(InvalidInput) as unknown:
        service.log_hours(STAFF_B, "act_b", sheet("vol_nobody"))
    # an id of another community answers exactly as a made-up one: nothing tells it exists
    assert foreign.value.args == unknown.value.args
    assert foreign.value.fields == {"entries": {"0": {"volunteer_id": ["no such volunteer"]}}}
    assert hours_on(service, "act_b") == []
    assert service.log_hours(STAFF_B, "act_b", sheet("vol_b"))["records"][0]["status"] == \
        "pending"


TENANT_CALLS = {
    "get_hours": lambda service, actor, record: service.get_hours(actor, record),
    "approve_hours": lambda service, actor, record: service.approve_hours(actor, record),
    "reject_hours": lambda service, actor, record: service.reject_hours(
        actor, record, {"reason": "r"}),
    "revoke_hours": lambda service, actor, record: service.revoke_hours(
        actor, record, {"reason": "r"}),
    "log_hours": lambda service, actor, activity: service.log_hours(
        actor, activity, sheet("vol_1")),
    "create_activity": lambda service, actor, center: service.create_activity(actor, {
        "center_id": center, "title": "t", "category": "other",
        "starts_at": "2026-11-21T09:00:00+08:00", "ends_at": "2026-11-21T10:00:00+08:00"}),
}
EXISTING = {"get_hours": "hrs_1", "approve_hours": "hrs_1", "reject_hours": "hrs_1",
            "revoke_hours": "hrs_1", "log_hours": "act_1", "create_activity": "ctr_1"}


@pytest.mark.parametrize("entrypoint", sorted(TENANT_CALLS))
def test_another_communitys_documents_answer_as_unknown_ones(service, entrypoint):
    call = TENANT_CALLS[entrypoint]
    with pytest.raises(NotFound) as existing:
        call(service, STAFF_B, EXISTING[entrypoint])
    with pytest.raises(NotFound) as unknown:
        call(service, STAFF_B, "nothing_1")
    assert existing.value.code == unknown.value.code == "not_found"
    assert hours_on(service, "act_1") == [("vol_1", 150)]


@pytest.mark.parametrize("entrypoint", sorted(TENANT_CALLS))
@pytest.mark.parametrize("actor", [OTHER_STAFF, VOLUNTEER], ids=["other_center", "volunteer"])
def test_the_same_community_without_the_role_is_403(service, entrypoint, actor):
    with pytest.raises(Forbidden):
        TENANT_CALLS[entrypoint](service, actor, EXISTING[entrypoint])


# --- hours rules (issue 5, item 11) ---------------------------------------------------------

def test_hours_on_an_activity_that_has_not_started_are_refused(service):
    service.clock = lambda: STARTS - timedelta(seconds=1)
    with pytest.raises(RuleViolation) as refused:
        service.log_hours(STAFF, "act_1", sheet("vol_2"))
    assert (refused.value.status, refused.value.code) == (422, "activity_not_started")
    assert hours_on(service, "act_1") == [("vol_1", 150)]
    service.clock = lambda: STARTS
    assert len(service.log_hours(STAFF, "act_1", sheet("vol_2"))["records"]) == 1


def test_minutes_fit_the_activity_and_a_volunteer_is_once_on_a_sheet(service):
    # the case: three entries of 1,440 minutes for one volunteer on a 3-hour activity
    with pytest.raises(InvalidInput) as refused:
        service.log_hours(STAFF, "act_1", sheet(("vol_2", 1440), ("vol_2", 1440), ("vol_2", 1440)))
    entries = refused.value.fields["entries"]
    assert {index: sorted(fields) for index, fields in entries.items()} == {
        "0": ["minutes"], "1": ["minutes", "volunteer_id"], "2": ["minutes", "volunteer_id"]}
    assert entries["0"]["minutes"] == ["at most 180: the activity's length in minutes"]
    assert entries["2"]["volunteer_id"] == ["already in entry 0: one entry per volunteer"]
    assert hours_on(service, "act_1") == [("vol_1", 150)]
    service.log_hours(STAFF, "act_1", sheet(("vol_2", 180)))
    assert hours_on(service, "act_1") == [("vol_1", 150), ("vol_2", 180)]


def test_a_volunteer_logged_by_another_sheet_is_409_naming_the_record(service):
    [first] = service.log_hours(STAFF, "act_1", sheet("vol_2"))["records"]
    with pytest.raises(Conflict) as refused:
        service.log_hours(STAFF, "act_1", sheet("vol_1", "vol_2"))
    assert refused.value.code == "already_logged"
    # vol_1's hrs_1 was logged outside sheets (fixture), so only vol_2 holds a place by its id
    assert refused.value.fields == {"entries": {"1": {"volunteer_id": [
        f"already logged on this activity: hours record {first['id']}"]}}}
    assert hours_on(service, "act_1") == [("vol_1", 150), ("vol_2", 60)]  # all or none


def test_a_rejected_or_revoked_record_lets_the_volunteer_be_logged_again(service):
    [first] = service.log_hours(STAFF, "act_1", sheet(("vol_2", 120)))["records"]
    service.reject_hours(STAFF, first["id"], {"reason": "minutes were wrong"})
    [second] = service.log_hours(STAFF, "act_1", sheet(("vol_2", 90)))["records"]
    assert second["id"] != first["id"] and second["status"] == "pending"
    service.approve_hours(STAFF, second["id"])
    with pytest.raises(Conflict):  # an approved record holds the place
        service.log_hours(STAFF, "act_1", sheet(("vol_2", 30)))
    service.revoke_hours(ADMIN, second["id"], {"reason": "signed in for a friend"})
    [third] = service.log_hours(STAFF, "act_1", sheet(("vol_2", 30)))["records"]
    assert len({first["id"], second["id"], third["id"]}) == 3
    assert service.store.service_minutes.total("vol_2") == 0  # the third is pending


def test_a_retried_sheet_answers_its_records_as_stored(service):
    first = service.log_hours(STAFF, "act_1", sheet("vol_2"), "key-1")
    service.approve_hours(STAFF, first["records"][0]["id"])
    again = service.log_hours(STAFF, "act_1", sheet("vol_2"), "key-1")
    assert [r["id"] for r in again["records"]] == [r["id"] for r in first["records"]]
    assert again["records"][0]["status"] == "approved"
    with pytest.raises(Conflict):  # another request (key) is another sheet
        service.log_hours(STAFF, "act_1", sheet("vol_2"), "key-2")


# --- a repeated decision answers what is stored (issue 5, item 13) ---------------------------

def test_a_repeated_reject_answers_the_stored_reason(service):
    first = service.reject_hours(STAFF, "hrs_1", {"reason": "not present"})
    again = service.reject_hours(STAFF, "hrs_1", {"reason": "another reason"})
    assert first == again == {"id": "hrs_1", "status": "rejected", "reason": "not present"}
    assert service.get_hours(STAFF, "hrs_1")["reason"] == "not present"


def test_a_repeated_revoke_answers_the_stored_reason(service):
    service.approve_hours(STAFF, "hrs_1")
    first = service.revoke_hours(ADMIN, "hrs_1", {"reason": "signed in twice"})
    again = service.revoke_hours(STAFF, "hrs_1", {"reason": "changed my mind"})
    assert first == again == {"id": "hrs_1", "status": "revoked", "reason": "signed in twice"}
    assert service.get_hours(ADMIN, "hrs_1")["reason"] == "signed in twice"
    assert service.store.service_minutes.total("vol_1") == 0


# --- a refused sheet voids its fresh records, never deletes them (issue 5, items 10 and 11) ---

def test_a_record_approved_before_its_sheet_is_refused_stays_and_the_rest_are_voided(
        service, monkeypatch):
    """Record ids are derivable, so staff can approve a refused sheet's fresh record in the
    window before the sheet undoes it. Deleting it left an approved decision (and its credit)
    without a record, and the id came back "approved" when the volunteer was logged again."""
    store = service.store
    store.volunteers.insert_one({"_id": "vol_3", "community_id": "com_1"})
    [held] = service.log_hours(STAFF, "act_1", sheet("vol_2"))["records"]
    fresh_id, other_fresh_id = (domain.record_id("act_1", v, 1) for v in ("vol_1", "vol_3"))
    place = store._place

    def approve_right_after_the_clash(record):
        outcome = place(record)
        service.approve_hours(STAFF, fresh_id)  # the sheet's fresh vol_1 record, 30 minutes
        return outcome

    monkeypatch.setattr(store, "_place", approve_right_after_the_clash)
    with pytest.raises(Conflict) as refused:
        service.log_hours(STAFF, "act_1", sheet(("vol_1", 30), ("vol_3", 20), ("vol_2", 45)))
    assert refused.value.code == "already_logged"
    monkeypatch.undo()

    # nothing deleted, and every decision has its record
    assert store.hours.find_one({"_id": fresh_id}) is not None
    assert all(store.hours.find_one({"_id": d["record_id"]}) is not None
               for d in store.decisions.find({}))
    # the approval won the race: a real record, credited with exactly its own minutes
    assert service.get_hours(STAFF, fresh_id)["status"] == "approved"
    assert store.service_minutes.total("vol_1") == 30
    assert [(args[1], args[2]["minutes"]) for args in published(service)] == \
        [("hours_approved", 30)]
    assert service.get_hours(STAFF, held["id"])["status"] == "pending"  # the other sheet's
    # the sheet's other fresh record is voided: it no longer holds vol_3's place
    assert service.get_hours(STAFF, other_fresh_id)["status"] == "voided"
    [again] = service.log_hours(STAFF, "act_1", sheet(("vol_3", 25)))["records"]
    assert again["id"] != other_fresh_id and again["status"] == "pending"
    assert hours_on(service, "act_1") == [("vol_1", 30), ("vol_1", 150), ("vol_2", 60),
                                          ("vol_3", 25)]


def test_a_refused_sheets_records_are_voided_and_free_the_volunteers(service):
    [held] = service.log_hours(STAFF, "act_1", sheet("vol_2"))["records"]
    with pytest.raises(Conflict):
        service.log_hours(STAFF, "act_1", sheet(("vol_1", 30), ("vol_2", 45)))
    voided_id = domain.record_id("act_1", "vol_1", 1)
    voided = service.get_hours(STAFF, voided_id)
    assert (voided["status"], voided["minutes"]) == ("voided", 30)
    assert hours_on(service, "act_1") == [("vol_1", 150), ("vol_2", 60)]  # all or none
    for decide in (lambda: service.approve_hours(STAFF, voided_id),
                   lambda: service.reject_hours(STAFF, voided_id, {"reason": "r"}),
                   lambda: service.revoke_hours(ADMIN, voided_id, {"reason": "r"})):
        with pytest.raises(Conflict) as refused:
            decide()
        assert refused.value.code == "invalid_status"
    assert store_minutes_and_events(service) == (0, [])

    # the volunteer is logged again on the activity, as a new record; approving it credits it
    [again] = service.log_hours(STAFF, "act_1", sheet(("vol_1", 40)))["records"]
    assert again["id"] not in (voided_id, "hrs_1") and again["status"] == "pending"
    service.approve_hours(STAFF, again["id"])
    assert store_minutes_and_events(service) == (40, [("hours_approved", again["id"], 40)])
    assert service.get_hours(STAFF, voided_id)["status"] == "voided"
    assert service.get_hours(STAFF, held["id"])["status"] == "pending"


def test_a_retried_refused_sheet_logs_its_volunteers_anew_once_the_place_is_free(service):
    [held] = service.log_hours(STAFF, "act_1", sheet("vol_2"))["records"]
    with pytest.raises(Conflict):
        service.log_hours(STAFF, "act_1", sheet("vol_1", "vol_2"), "key-1")
    service.reject_hours(STAFF, held["id"], {"reason": "wrong sheet"})
    records = service.log_hours(STAFF, "act_1", sheet("vol_1", "vol_2"), "key-1")["records"]
    assert [r["status"] for r in records] == ["pending", "pending"]
    assert hours_on(service, "act_1") == [("vol_1", 60), ("vol_1", 150), ("vol_2", 60),
                                          ("vol_2", 60)]  # the rejected one and the new one
    assert held["id"] not in [r["id"] for r in records]


def store_minutes_and_events(service):
    """vol_1's approved minutes and the events queued for them."""
    return (service.store.service_minutes.total("vol_1"),
            [(args[1], args[2]["record_id"], args[2]["minutes"]) for args in published(service)])


def test_the_recovery_timer_drops_a_decision_whose_record_is_gone(service):
    """Older code deleted a refused sheet's records, so a decision could outlive its record:
    the timer failed on it every tick, for ever."""
    service.metrics = MagicMock()
    markers = service.store.in_flight.collection
    markers.insert_one({"_id": "hrs_gone:1", "since": now() - timedelta(minutes=5)})
    service.finish_stalled_decisions()
    assert list(markers.find({})) == []
    service.metrics.count.assert_called_once_with("recovery_dropped_orphan_decision")
    service.outbox.add.assert_not_called()
