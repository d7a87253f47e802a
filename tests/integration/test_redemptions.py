"""Redemptions across rewards, points and volunteer services: all or nothing, never below zero."""
import uuid

import pytest
from nameko.standalone.events import event_dispatcher

from services.points.service import PointsService
from services.rewards.service import RewardsService
from services.shared.errors import InsufficientPoints, OutOfStock
from services.volunteer.service import VolunteerService
from tests.integration.test_hours_to_points import setup_center
from tests.integration.test_points_service import approval
from tests.support import wait_until


@pytest.fixture
def shop(start, rpc, service_config):
    """A center's staff, a volunteer holding ``points``, and a helper to stock a gift."""
    for cls in (VolunteerService, PointsService, RewardsService):
        start(cls)
    staff, volunteer_id, _ = setup_center(rpc)
    volunteer = {"user_id": "li", "role": "volunteer", "subject_id": volunteer_id}

    def fund(minutes):
        """Credit ``minutes`` at 10 points an hour, one record per working day under the cap."""
        target = rpc.points.get_balance(volunteer_id)["balance"] + minutes * 10 // 60
        dispatch = event_dispatcher(service_config())
        for day in ("2026-11-20", "2026-11-19", "2026-11-18"):
            part, minutes = min(minutes, 360), minutes - min(minutes, 360)
            if part:
                dispatch("volunteer", "hours_approved", approval(volunteer_id, part, day=day))
        wait_until(lambda: rpc.points.get_balance(volunteer_id)["balance"] == target)

    def gift(cost, stock):
        return rpc.rewards.create_reward(staff, {"kind": "gift", "title": "Rice 5kg",
                                                 "cost_points": cost, "stock": stock})["id"]

    return volunteer, volunteer_id, fund, gift


def redeem(rpc, volunteer, volunteer_id, reward_id, quantity=1, key=None):
    return rpc.rewards.redeem(volunteer, {"reward_id": reward_id, "volunteer_id": volunteer_id,
                                          "quantity": quantity}, key)


def test_a_redemption_takes_points_and_stock(shop, rpc):
    volunteer, volunteer_id, fund, gift = shop
    fund(150)  # 25 points
    reward_id = gift(cost=20, stock=3)
    redemption = redeem(rpc, volunteer, volunteer_id, reward_id)
    assert redemption["status"] == "confirmed" and redemption["points"] == 20
    assert len(redemption["pickup_code"]) == 6
    assert rpc.points.get_balance(volunteer_id)["balance"] == 5
    assert rpc.rewards.get_reward(reward_id)["stock"] == 2


def test_a_refused_debit_gives_the_stock_back(shop, rpc):
    volunteer, volunteer_id, fund, gift = shop
    fund(60)  # 10 points
    reward_id = gift(cost=20, stock=3)
    with pytest.raises(InsufficientPoints):
        redeem(rpc, volunteer, volunteer_id, reward_id)
    assert rpc.rewards.get_reward(reward_id)["stock"] == 3
    assert rpc.points.get_balance(volunteer_id)["balance"] == 10


def test_out_of_stock_debits_nothing(shop, rpc):
    volunteer, volunteer_id, fund, gift = shop
    fund(600)  # 100 points
    reward_id = gift(cost=10, stock=1)
    with pytest.raises(OutOfStock):
        redeem(rpc, volunteer, volunteer_id, reward_id, quantity=2)
    assert rpc.points.get_balance(volunteer_id)["balance"] == 100
    assert rpc.rewards.get_reward(reward_id)["stock"] == 1


def test_concurrent_redemptions_never_oversell(shop, rpc):
    volunteer, volunteer_id, fund, gift = shop
    fund(600)  # 100 points, enough for every attempt
    reward_id = gift(cost=5, stock=3)
    replies = [rpc.rewards.redeem.call_async(
        volunteer, {"reward_id": reward_id, "volunteer_id": volunteer_id, "quantity": 1})
        for _ in range(10)]
    outcomes = []
    for reply in replies:
        try:
            outcomes.append(reply.result()["status"])
        except OutOfStock:
            outcomes.append("out_of_stock")
    assert outcomes.count("confirmed") == 3 and outcomes.count("out_of_stock") == 7
    assert rpc.rewards.get_reward(reward_id)["stock"] == 0
    assert rpc.points.get_balance(volunteer_id)["balance"] == 100 - 3 * 5


def test_a_retried_redemption_with_its_key_happens_once(shop, rpc):
    volunteer, volunteer_id, fund, gift = shop
    fund(150)
    reward_id = gift(cost=20, stock=3)
    key = f"idk_{uuid.uuid4().hex}"
    first = redeem(rpc, volunteer, volunteer_id, reward_id, key=key)
    again = redeem(rpc, volunteer, volunteer_id, reward_id, key=key)
    assert again["id"] == first["id"]
    assert rpc.points.get_balance(volunteer_id)["balance"] == 5
    assert rpc.rewards.get_reward(reward_id)["stock"] == 2
