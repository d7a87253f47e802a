"""The points service on the real broker and store: events credit once, debits never overdraw."""
import uuid

import pytest
from nameko.standalone.events import event_dispatcher

from services.points.service import PointsService
from services.shared.errors import InsufficientPoints
from services.shared.metrics import Metrics
from tests.support import wait_until


def approval(volunteer_id, minutes=150, record_id=None, day="2026-11-20"):
    return {
        "event_id": f"hours_approved:{record_id}", "record_id": record_id or uuid.uuid4().hex,
        "volunteer_id": volunteer_id, "community_id": "com1", "center_id": "ctr1",
        # Category "other" on a working day: the scheme's plain 10 points an hour.
        "activity_id": "act1", "category": "other", "minutes": minutes,
        "activity_starts_at": f"{day}T09:00:00+08:00",
        "approved_at": f"{day}T13:00:00+08:00", "approved_by": "staff1",
    }


def fact_count(container, fact):
    metrics = next(d for d in container.extensions if isinstance(d, Metrics)).metrics
    return metrics.facts.labels(container.service_name, fact)._value.get()


@pytest.fixture
def points(start):
    return start(PointsService)


def test_an_approval_delivered_three_times_credits_once(points, service_config, rpc):
    volunteer_id = f"vol_{uuid.uuid4().hex}"
    event = approval(volunteer_id, minutes=150, record_id=f"hrs_{uuid.uuid4().hex}")
    dispatch = event_dispatcher(service_config())
    for _ in range(3):
        dispatch("volunteer", "hours_approved", event)

    wait_until(lambda: fact_count(points, "points_credited")
               + fact_count(points, "duplicate_event_ignored") == 3,
               message="all three deliveries handled")
    assert fact_count(points, "points_credited") == 1
    assert rpc.points.get_balance(volunteer_id)["balance"] == 25
    statement = rpc.points.statement({"account": volunteer_id})
    assert [(e["kind"], e["points"], e["balance_after"]) for e in statement] == [("earn", 25, 25)]
    assert statement[0]["ref"] == {"type": "hours", "id": event["record_id"]}


def test_twenty_concurrent_debits_against_a_balance_covering_five(points, service_config, rpc):
    volunteer_id = f"vol_{uuid.uuid4().hex}"
    event_dispatcher(service_config())("volunteer", "hours_approved",
                                       approval(volunteer_id, minutes=150))  # 25 points
    wait_until(lambda: rpc.points.get_balance(volunteer_id)["balance"] == 25)

    replies = [rpc.points.debit.call_async({
        "account": volunteer_id, "points": 5, "key": f"redemption:{i}", "kind": "redeem",
        "reason": "test", "ref_type": "redemption", "ref_id": f"r{i}", "by": volunteer_id,
    }) for i in range(20)]
    outcomes = []
    for reply in replies:
        try:
            reply.result()
            outcomes.append("debited")
        except InsufficientPoints:
            outcomes.append("refused")

    assert outcomes.count("debited") == 5
    assert outcomes.count("refused") == 15
    balance = rpc.points.get_balance(volunteer_id)
    assert balance["balance"] == 0 and balance["available"] == 0
    entries = rpc.points.statement({"account": volunteer_id, "limit": 100})
    assert sum(e["points"] for e in entries) == 0
    assert all(e["balance_after"] >= 0 for e in entries)


def test_an_invalid_event_is_parked_not_credited(points, service_config, store, rpc):
    volunteer_id = f"vol_{uuid.uuid4().hex}"
    bad = dict(approval(volunteer_id), minutes=1.5)
    event_dispatcher(service_config())("volunteer", "hours_approved", bad)
    parked = wait_until(lambda: store("points").parked_events.find_one(
        {"payload.volunteer_id": volunteer_id}), message="event parked")
    assert "minutes" in parked["errors"]
    assert rpc.points.get_balance(volunteer_id)["balance"] == 0


def test_debit_replayed_with_the_same_key_debits_once(points, service_config, rpc):
    volunteer_id = f"vol_{uuid.uuid4().hex}"
    event_dispatcher(service_config())("volunteer", "hours_approved", approval(volunteer_id))
    wait_until(lambda: rpc.points.get_balance(volunteer_id)["balance"] == 25)
    movement = {"account": volunteer_id, "points": 20, "key": "redemption:same", "kind": "redeem",
                "reason": "test", "ref_type": "redemption", "ref_id": "same", "by": volunteer_id}
    first = rpc.points.debit(movement)
    again = rpc.points.debit(movement)  # balance is now 5: a second debit would be refused
    assert first["id"] == again["id"]
    assert rpc.points.get_balance(volunteer_id)["balance"] == 5
