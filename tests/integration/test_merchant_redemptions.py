"""Merchant redemptions on the real broker and store: one code used once however many tills
send it at once, and an offer's daily quota held under concurrent redemptions."""
import uuid

import pytest
from nameko.standalone.events import event_dispatcher

from services.points.service import PointsService
from services.rewards.service import RewardsService
from services.shared.errors import Conflict
from services.volunteer.service import VolunteerService
from tests.integration.test_points_service import approval
from tests.support import wait_until

ADMIN = {"user_id": "admin", "role": "admin"}


@pytest.fixture
def counter(start, rpc, service_config):
    """A volunteer holding 60 points and a merchant of its community: (volunteer, merchant,
    offer(cost, daily_quota) -> reward id)."""
    for cls in (VolunteerService, PointsService, RewardsService):
        start(cls)
    suffix = uuid.uuid4().hex[:8]
    community = rpc.volunteer.create_community(ADMIN, {"name": "Xinhua", "code": f"xh{suffix}"})
    center = rpc.volunteer.create_center(ADMIN, {"community_id": community["id"],
                                                 "name": "Xinhua Center"})
    rpc.volunteer.create_user(ADMIN, {"username": f"staff{suffix}", "password": "staff-pass-1",
                                      "role": "center_staff", "center_id": center["id"]})
    staff = rpc.volunteer.authenticate(f"staff{suffix}", "staff-pass-1")
    rpc.volunteer.register_volunteer(staff, {
        "community_id": community["id"], "name": "Li Wei", "phone": "13800000000",
        "username": f"li{suffix}", "password": "li-pass-123"})
    volunteer = rpc.volunteer.authenticate(f"li{suffix}", "li-pass-123")
    event_dispatcher(service_config())(
        "volunteer", "hours_approved", approval(volunteer["subject_id"], 360, day="2026-11-20"))
    wait_until(lambda: rpc.points.get_balance(volunteer["subject_id"])["balance"] == 60)
    merchant = rpc.rewards.create_merchant(ADMIN, {"community_id": community["id"],
                                                   "name": "Noodles"})
    rpc.volunteer.create_user(ADMIN, {"username": f"shop{suffix}", "password": "shop-pass-1",
                                      "role": "merchant", "merchant_id": merchant["id"]})
    shop = rpc.volunteer.authenticate(f"shop{suffix}", "shop-pass-1")

    def offer(cost, daily_quota=None):
        return rpc.rewards.create_reward(shop, {"kind": "merchant_offer", "title": "Noodles",
                                                "cost_points": cost,
                                                "daily_quota": daily_quota})["id"]
    return volunteer, shop, offer


def outcomes_of(replies):
    outcomes = []
    for reply in replies:
        try:
            outcomes.append(reply.result()["status"])
        except Conflict as refused:
            outcomes.append(refused.code)
    return outcomes


def test_concurrent_uses_of_one_code_complete_exactly_one(counter, rpc):
    volunteer, shop, offer = counter
    reward_id = offer(cost=10)
    code = rpc.rewards.issue_redeem_code(volunteer, volunteer["subject_id"])["code"]
    replies = [rpc.rewards.redeem_at_merchant.call_async(
        shop, {"code": code, "reward_id": reward_id}) for _ in range(8)]
    outcomes = outcomes_of(replies)
    assert outcomes.count("completed") == 1 and outcomes.count("code_used") == 7, outcomes
    assert rpc.points.get_balance(volunteer["subject_id"])["balance"] == 50
    statement = rpc.rewards.merchant_statement(shop, shop["merchant_id"], {})
    assert statement["total_owed"] == 10


def test_a_daily_quota_holds_under_concurrent_redemptions(counter, rpc):
    volunteer, shop, offer = counter
    reward_id = offer(cost=5, daily_quota=3)
    codes = [rpc.rewards.issue_redeem_code(volunteer, volunteer["subject_id"])["code"]
             for _ in range(8)]
    replies = [rpc.rewards.redeem_at_merchant.call_async(
        shop, {"code": code, "reward_id": reward_id}) for code in codes]
    outcomes = outcomes_of(replies)
    assert outcomes.count("completed") == 3, outcomes
    assert outcomes.count("daily_quota_reached") == 5, outcomes
    assert rpc.points.get_balance(volunteer["subject_id"])["balance"] == 60 - 3 * 5
    assert rpc.rewards.merchant_statement(shop, shop["merchant_id"], {})["total_owed"] == 15
