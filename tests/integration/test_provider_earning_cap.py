"""A provider's earning from a delivered service is under the community's storage cap, on the
real broker and store: what it brings above the cap goes to the community fund, once, however
often the delivery is marked."""
import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from nameko.standalone.events import event_dispatcher

from services.points.ledger import fund_account
from services.points.service import PointsService
from services.rewards.service import RewardsService
from services.volunteer.service import VolunteerService
from tests.integration.test_points_service import approval
from tests.support import wait_until

ADMIN = {"user_id": "admin", "role": "admin"}
CAP, COST = 30, 20


def test_an_earning_above_the_storage_cap_goes_to_the_fund_once(start, rpc, service_config):
    for cls in (VolunteerService, PointsService, RewardsService):
        start(cls)
    community = rpc.volunteer.create_community(ADMIN, {"name": "Xinhua",
                                                         "code": f"xh{uuid.uuid4().hex[:8]}"})["id"]
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    rpc.points.publish_scheme(ADMIN, community, {
        "effective_from": today, "base_points_per_hour": 10, "category_multipliers": {},
        "weekend_holiday_multiplier": 1, "daily_cap_minutes": 480,
        "storage_cap_points": CAP})
    provider, neighbour = ({"user_id": f"usr_{n}", "role": "volunteer", "subject_id": f"vol_{n}",
                            "community_id": community} for n in ("zhao", "li"))
    dispatch = event_dispatcher(service_config())
    for who in (provider, neighbour):  # 25 points each (earned elsewhere: no cap there)
        dispatch("volunteer", "hours_approved", approval(who["subject_id"], 150))
    wait_until(lambda: all(rpc.points.get_balance(w["subject_id"])["balance"] == 25
                           for w in (provider, neighbour)))
    service = rpc.rewards.create_reward(provider, {
        "kind": "service", "title": "Haircut", "cost_points": COST, "location": "Room 3",
        "duration_minutes": 30, "slots": ["2030-03-02T09:00:00+08:00"]})
    booking = rpc.rewards.redeem(neighbour, {"reward_id": service["id"],
                                             "volunteer_id": "vol_li",
                                             "slot": "2030-03-02T09:00:00+08:00"})

    for _ in range(2):  # marked delivered twice: the second moves nothing
        assert rpc.rewards.fulfill_redemption(provider, booking["id"])["status"] == "fulfilled"
        assert rpc.points.get_balance("vol_zhao")["balance"] == CAP  # 25 + 20, 15 above
        assert rpc.points.get_balance(fund_account(community))["balance"] == 25 + COST - CAP
    kinds = [e["kind"] for e in rpc.points.statement({"account": "vol_zhao"})]
    assert sorted(kinds) == ["earn", "earn", "overflow"]
