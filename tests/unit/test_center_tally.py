"""The center report's points: PointsService tallies what each record earned per center and
month of service (services/points/center_tally.py), on the in-memory store."""
from datetime import datetime

import pytest
from nameko.testing.services import worker_factory

from services.points import center_tally
from services.points.center_tally import CenterPointsTally, center_tally_of
from services.points.ledger import Ledger
from services.points.scheme_store import scheme_store_of
from services.points.service import PointsService
from services.shared.errors import InvalidInput
from tests.unit.fakes import FakeDatabase
from tests.unit.test_points_service import APPROVED, REVOKED
from tests.unit.test_volunteer_backfill import PagedCollection


@pytest.fixture
def service(ledger):
    scheme_store_of(ledger).ensure_indexes()
    center_tally_of(ledger).ensure_indexes()  # center_tally_indexes does this in a container
    return worker_factory(PointsService, ledger=ledger)


def approved(record_id, **changes):
    return dict(APPROVED, record_id=record_id, event_id=f"evt_{record_id}", **changes)


def revoked(record_id):
    return dict(REVOKED, record_id=record_id, event_id=f"evt_r_{record_id}")


def report_points(service, months=("2024-05",), center_id="ctr_1"):
    return {r["record_id"]: r["points"] for r in service.center_points(
        {"center_id": center_id, "months": list(months)})}


def test_a_credit_is_tallied_once_in_its_center_and_month(service):
    service.on_hours_approved(approved("hrs_1"))
    service.on_hours_approved(approved("hrs_1"))  # redelivered
    service.on_hours_approved(approved("hrs_2", minutes=60, category="elder_care"))
    service.on_hours_approved(approved("hrs_3", activity_starts_at="2024-04-30T23:30:00+08:00"))
    service.on_hours_approved(approved("hrs_4", center_id="ctr_2"))
    records = service.center_points({"center_id": "ctr_1", "months": ["2024-05"]})
    assert {"record_id": "hrs_1", "volunteer_id": "vol_1", "category": "other",
            "activity_starts_at": "2024-05-07T01:00:00+00:00", "points": 25} in records
    assert report_points(service) == {"hrs_1": 25, "hrs_2": 15}  # 60 min × 10/h × 1.5
    assert report_points(service, ["2024-04"]) == {"hrs_3": 25}  # its local month
    assert report_points(service, ["2024-05"], "ctr_2") == {"hrs_4": 25}


def test_a_revocation_takes_the_records_points_back_once(service):
    service.on_hours_approved(approved("hrs_1"))
    service.on_hours_approved(approved("hrs_2"))
    service.on_hours_revoked(revoked("hrs_1"))
    service.on_hours_revoked(revoked("hrs_1"))  # redelivered
    assert report_points(service) == {"hrs_2": 25}
    entries = center_tally_of(service.ledger).log.entries.find({"record_id": "hrs_1"})
    assert sorted(e["delta"] for e in entries) == [-25, 25]


def test_a_revocation_before_its_credit_is_tallied_when_the_credit_lands(service):
    service.on_hours_revoked(revoked("hrs_1"))
    service.on_hours_approved(approved("hrs_1"))
    assert report_points(service) == {}
    assert service.ledger.balance("vol_1") == 0


def test_a_crash_between_the_credit_and_its_tally_is_finished_by_the_redelivery(
        service, monkeypatch):
    def crash(self, event, credit):
        raise ConnectionError("the store went away")

    with monkeypatch.context() as patched:
        patched.setattr(CenterPointsTally, "add_credit", crash)
        with pytest.raises(ConnectionError):  # the event is requeued
            service.on_hours_approved(approved("hrs_1"))
    assert service.ledger.balance("vol_1") == 25 and report_points(service) == {}
    service.on_hours_approved(approved("hrs_1"))
    assert report_points(service) == {"hrs_1": 25}
    assert service.ledger.balance("vol_1") == 25


def test_a_revocation_between_the_credit_and_its_tally_is_tallied_by_the_credits_rerun(
        service, monkeypatch):
    """The reversal finds no tallied credit to place itself beside; the credit's redelivery
    tallies itself, then finds the ledger's reversal and tallies that too."""
    with monkeypatch.context() as patched:
        patched.setattr(CenterPointsTally, "add_credit",
                        lambda self, event, credit: (_ for _ in ()).throw(ConnectionError()))
        with pytest.raises(ConnectionError):
            service.on_hours_approved(approved("hrs_1"))
    service.on_hours_revoked(revoked("hrs_1"))
    assert service.ledger.balance("vol_1") == 0 and report_points(service) == {}
    service.on_hours_approved(approved("hrs_1"))
    assert report_points(service) == {}
    deltas = [e["delta"] for e in center_tally_of(service.ledger).log.entries.find({})]
    assert sorted(deltas) == [-25, 25]


def test_the_tally_counts_what_a_record_earned_even_when_it_paid_a_debt(service):
    """A reversal after spending leaves a debt; the next credit pays it, but still earned its
    points for the center's report."""
    service.on_hours_approved(approved("hrs_1"))
    service.debit({"account": "vol_1", "points": 25, "key": "redemption:r1", "kind": "redeem",
                   "reason": "a gift", "ref_type": "redemption", "ref_id": "r1", "by": "usr_9"})
    service.on_hours_revoked(revoked("hrs_1"))
    service.on_hours_approved(approved("hrs_2"))
    assert service.ledger.balance("vol_1") == 0  # hrs_2's 25 paid the 25 owed
    assert report_points(service) == {"hrs_2": 25}


def test_a_report_of_some_months_reads_only_their_streams_by_id(service, ledger):
    service.on_hours_approved(approved("hrs_1"))
    entries = center_tally_of(ledger).log.entries
    original, seen = entries.find_one, []

    def spy(query=None, projection=None):
        seen.append(query)
        return original(query, projection)

    entries.find_one = spy
    report_points(service)
    before = len(seen)
    entries.find_one = original
    for n in range(20):  # history elsewhere: other months, another center
        service.on_hours_approved(approved(f"hrs_old{n}",
                                           activity_starts_at="2024-03-05T09:00:00+08:00"))
        service.on_hours_approved(approved(f"hrs_other{n}", center_id="ctr_2"))
    seen.clear()
    entries.find_one = spy
    assert report_points(service) == {"hrs_1": 25}
    assert len(seen) == before and all(set(q) == {"_id"} for q in seen)


@pytest.mark.parametrize("query, field", [
    ({"center_id": "ctr_1", "months": []}, "months"),
    ({"center_id": "ctr_1", "months": ["2024-13"]}, "months"),
    ({"center_id": "ctr_1", "months": ["2024-01"] * 61}, "months"),
    ({"months": ["2024-01"]}, "center_id"),
])
def test_a_bad_query_is_refused_with_its_field(service, query, field):
    with pytest.raises(InvalidInput) as refused:
        service.center_points(query)
    assert field in refused.value.fields


def test_a_month_stream_is_one_of_the_months_shards():
    stream = center_tally.month_stream("ctr_1", "2024-05", "hrs_1")
    assert stream in center_tally.month_streams("ctr_1", "2024-05")


# --- credits stored before the tally ----------------------------------------------------------

def before_the_tally(monkeypatch):
    """The credit path of before: no center tally."""
    monkeypatch.setattr(center_tally, "tally_credit", lambda *args: None)
    monkeypatch.setattr(center_tally, "tally_reversal", lambda *args: None)


def test_credits_stored_before_the_tally_join_it_once(monkeypatch):
    db = FakeDatabase(ledger=PagedCollection())
    db.ledger.database = db  # as FakeDatabase gives its own collections
    ledger = Ledger(db)
    ledger.ensure_indexes()
    service = worker_factory(PointsService, ledger=ledger)
    with monkeypatch.context() as patched:
        before_the_tally(patched)
        for record_id in ("hrs_1", "hrs_2", "hrs_3", "hrs_gone"):
            service.on_hours_approved(approved(record_id, volunteer_id=f"vol_{record_id}"))
        service.on_hours_revoked(dict(revoked("hrs_2"), volunteer_id="vol_hrs_2"))
    service.debit({"account": "vol_hrs_3", "points": 5, "key": "redemption:r1", "kind": "redeem",
                   "reason": "a gift", "ref_type": "redemption", "ref_id": "r1", "by": "usr_9"})
    service.on_hours_approved(approved("hrs_4"))  # tallied live
    assert report_points(service) == {"hrs_4": 25}

    asked = []

    def records(record_ids):
        asked.extend(record_ids)
        return {record_id: {"center_id": "ctr_1", "category": "other",
                            "activity_starts_at": datetime.fromisoformat(
                                APPROVED["activity_starts_at"])}
                for record_id in record_ids if record_id != "hrs_gone"}

    center_tally.EarlierCredits(ledger, records, page_size=2).migration.run_to_end()
    assert report_points(service) == {"hrs_1": 25, "hrs_3": 25, "hrs_4": 25}
    assert sorted(asked) == ["hrs_1", "hrs_2", "hrs_3", "hrs_gone"]  # not the tallied one
    assert center_tally.EarlierCredits(ledger, records).tick()  # finished: one lookup
    tallied = len(center_tally_of(ledger).log.entries.docs)
    center_tally_of(ledger).log.migrations.docs.clear()  # a replica that walks it all again
    asked.clear()
    center_tally.EarlierCredits(ledger, records).migration.run_to_end()
    assert asked == ["hrs_gone"] and len(center_tally_of(ledger).log.entries.docs) == tallied
    assert report_points(service) == {"hrs_1": 25, "hrs_3": 25, "hrs_4": 25}
