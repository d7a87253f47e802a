"""PointsService entrypoints with worker_factory: a real Ledger on the in-memory store."""
import pytest
from nameko.testing.services import worker_factory

from services.points.ledger import Ledger
from services.points.service import PointsService
from services.shared import contracts
from services.shared.errors import InsufficientPoints

APPROVED = {
    "event_id": "evt_1", "record_id": "hrs_1", "volunteer_id": "vol_1", "community_id": "com_1",
    "center_id": "ctr_1", "activity_id": "act_1", "category": "elder_care", "minutes": 150,
    "activity_starts_at": "2024-05-04T09:00:00+08:00",
    "approved_at": "2024-05-04T12:00:00+08:00", "approved_by": "usr_1",
}
REVOKED = {
    "event_id": "evt_2", "record_id": "hrs_1", "volunteer_id": "vol_1", "community_id": "com_1",
    "minutes": 150, "reason": "did not attend", "revoked_at": "2024-05-06T10:00:00+08:00",
    "revoked_by": "usr_1",
}


def movement(points, key):
    return {"account": "vol_1", "points": points, "key": key, "kind": "redeem",
            "reason": "a gift", "ref_type": "redemption", "ref_id": key, "by": "usr_9"}


@pytest.fixture
def ledger(db):
    ledger = Ledger(db)
    ledger.ensure_indexes()  # MongoStore.start does this in a running service
    return ledger


@pytest.fixture
def service(ledger):
    return worker_factory(PointsService, ledger=ledger)


@pytest.mark.parametrize("minutes, points", [(150, 25), (59, 9), (5, 0)])
def test_approved_hours_are_credited_once(service, ledger, minutes, points):
    service.on_hours_approved(dict(APPROVED, minutes=minutes))
    service.on_hours_approved(dict(APPROVED, minutes=minutes))  # redelivered
    assert ledger.balance("vol_1") == points
    (entry,) = ledger.statement("vol_1")
    assert (entry["kind"], entry["delta"], entry["key"]) == ("earn", points, "hours:hrs_1:credit")
    assert entry["rule"]["version"] == "base-v1"
    assert f"= {points}" in entry["rule"]["arithmetic"]


def test_an_invalid_event_is_parked_not_credited(service, ledger):
    service.on_hours_approved(dict(APPROVED, minutes=1.5))
    assert ledger.balance("vol_1") == 0
    parked = ledger.parked.find_one({"type": "hours_approved"})
    assert parked["payload"]["minutes"] == 1.5
    assert "minutes" in parked["errors"]
    service.metrics.count.assert_called_once_with("events_parked")


def test_debit_takes_points_and_returns_the_entry(service, ledger):
    service.on_hours_approved(APPROVED)
    out = service.debit(movement(10, "redemption:rdm_1"))
    assert (out["points"], out["balance_after"], out["kind"]) == (-10, 15, "redeem")
    assert out["ref"] == {"type": "redemption", "id": "redemption:rdm_1"}
    assert contracts.LedgerEntrySchema().load(out)  # what the statement contract promises
    service.debit(movement(10, "redemption:rdm_1"))  # a retried call
    assert ledger.balance("vol_1") == 15


def test_debit_refuses_an_overdraft(service, ledger):
    service.on_hours_approved(APPROVED)
    with pytest.raises(InsufficientPoints) as caught:
        service.debit(movement(26, "redemption:rdm_1"))
    assert caught.value.code == "insufficient_points"
    assert ledger.balance("vol_1") == 25
    assert ledger.find("redemption:rdm_1") is None


def test_a_revocation_before_its_credit_waits_and_the_credit_applies_it(service, ledger):
    service.on_hours_revoked(REVOKED)  # acknowledged, not requeued in a loop
    service.on_hours_revoked(REVOKED)  # redelivered
    assert ledger.balance("vol_1") == 0 and ledger.find("hours:hrs_1:reversal") is None
    service.on_hours_approved(APPROVED)
    assert ledger.balance("vol_1") == 0
    assert ledger.find("hours:hrs_1:credit")["delta"] == 25
    assert ledger.find("hours:hrs_1:reversal")["delta"] == -25
    service.on_hours_approved(APPROVED)  # redelivered: nothing more
    assert len(ledger.statement("vol_1")) == 2


def test_a_waiting_revocation_costs_id_lookups_only(service, ledger):
    seen = []
    for collection in (ledger.accounts.entries, ledger.accounts.keys,
                       ledger.waiting_revocations):
        original = collection.find_one

        def spy(query=None, projection=None, _original=original):
            seen.append(query)
            return _original(query, projection)
        collection.find_one = spy
    service.on_hours_revoked(REVOKED)
    assert seen and all(set(q) == {"_id"} for q in seen)


def test_revocation_reverses_the_whole_credit(service, ledger):
    service.on_hours_approved(APPROVED)
    service.on_hours_revoked(REVOKED)
    service.on_hours_revoked(REVOKED)  # redelivered
    assert ledger.balance("vol_1") == 0
    reversal = ledger.find("hours:hrs_1:reversal")
    assert (reversal["kind"], reversal["delta"]) == ("reversal", -25)
    assert len(ledger.statement("vol_1")) == 2


def test_revocation_after_spending_reverses_only_what_is_left(service, ledger):
    service.on_hours_approved(APPROVED)
    service.debit(movement(10, "redemption:rdm_1"))
    service.on_hours_revoked(REVOKED)
    assert ledger.balance("vol_1") == 0
    reversal = ledger.find("hours:hrs_1:reversal")
    assert reversal["delta"] == -15
    assert "10 of 25 points were already spent and are owed" in reversal["reason"]
    assert (reversal["owed"], reversal["owed_after"]) == (10, 10)
    assert ledger.accounts.verify("vol_1")


def test_an_approval_the_ledger_refuses_for_good_is_parked_not_requeued(service, ledger):
    """The same record's credit key arriving with another amount (KeyReused) can never
    succeed: requeued, it would come back for ever."""
    service.on_hours_approved(APPROVED)
    service.on_hours_approved(dict(APPROVED, minutes=300))  # must not raise: parked
    [parked] = list(ledger.parked.find({}))
    assert parked["type"] == "hours_approved"
    assert parked["errors"]["_refused"][0] == "idempotency_key_reused"
    assert ledger.balance("vol_1") == 25
