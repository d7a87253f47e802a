"""The points ledger through HTTP on the real stack: a revocation after spending leaves a debt
that the next credit pays, points are spendable in every community (通存通兑), and the balance
says when points expire."""
from tests.e2e.conftest import balance, new_community, working_day_slot
from tests.support import wait_until

TWO_YEARS_ON = "2028-12-31T23:59:59+08:00"  # points earned in 2026


def statement(api, center):
    response = api.get(f"/api/v1/volunteers/{center['volunteer_id']}/statement",
                       token=center["volunteer"])
    assert response.status_code == 200, response.text
    return response.json()["items"]


def approve_hours(api, center, minutes, category="environment"):
    """Log and approve ``minutes``; wait for the record's credit; returns (record id, entry)."""
    starts_at, ends_at = working_day_slot()
    activity = api.created("/api/v1/activities", {
        "center_id": center["center_id"], "title": "社区环境清洁", "category": category,
        "starts_at": starts_at, "ends_at": ends_at}, center["staff"])
    sheet = api.created(f"/api/v1/activities/{activity['id']}/hours", {
        "entries": [{"volunteer_id": center["volunteer_id"], "minutes": minutes}]},
        center["staff"])
    record_id = sheet["records"][0]["id"]
    approved = api.post(f"/api/v1/hours/{record_id}/approve", token=center["staff"])
    assert approved.status_code == 200, approved.text

    def credit():
        return next((e for e in statement(api, center)
                     if e["kind"] == "earn" and e["ref"]["id"] == record_id), None)
    wait_until(lambda: credit() is not None, timeout=15, message="the approval's credit")
    return record_id, credit()


def redeem(api, center, gift, token=None):
    return api.created("/api/v1/redemptions", {"reward_id": gift["id"],
                                               "volunteer_id": center["volunteer_id"]},
                       token or center["volunteer"])


def test_a_revocation_after_spending_leaves_a_debt_that_the_next_credit_pays(api, center):
    record_id, credit = approve_hours(api, center, 180)  # a working day, environment: 30 points
    assert credit["points"] == 30
    gift = api.created("/api/v1/rewards", {"kind": "gift", "title": "洗衣液",
                                           "cost_points": 20, "stock": 5}, center["staff"])
    redeem(api, center, gift)
    assert balance(api, center)["balance"] == 10

    revoked = api.post(f"/api/v1/hours/{record_id}/revoke", {"reason": "重复登记"},
                       token=center["staff"])
    assert revoked.status_code == 200, revoked.text
    wait_until(lambda: balance(api, center)["owed"] == 20, timeout=15,
               message="the reversal left 20 points owed")
    now = balance(api, center)
    assert (now["balance"], now["available"], now["expiring"]) == (0, 0, [])
    reversal = statement(api, center)[0]
    assert (reversal["kind"], reversal["points"], reversal["balance_after"],
            reversal["owed_after"]) == ("reversal", -10, 0, 20)
    assert "20 of 30 points were already spent and are owed" in reversal["reason"]
    assert reversal["owed"] == 20

    # The next credit pays the debt first: 30 earned, 20 to the debt, 10 to the balance.
    _, paid = approve_hours(api, center, 180)
    assert (paid["points"], paid["balance_after"], paid["owed_after"]) == (10, 10, 0)
    assert "20 of 30 points paid back points owed" in paid["reason"]
    assert (paid["gross"], paid["debt_paid"]) == (30, 20)
    assert balance(api, center)["owed"] == 0
    assert sum(e["points"] for e in statement(api, center)) == 10


def test_points_earned_in_one_community_are_spent_in_another(api, admin, center):
    approve_hours(api, center, 180)
    _, other_center, other_staff, _ = new_community(api, admin, name="光明社区", code="gm")
    gift = api.created("/api/v1/rewards", {"kind": "gift", "title": "雨伞", "cost_points": 12,
                                           "stock": 1}, other_staff)
    assert gift["center_id"] == other_center["id"]
    redemption = redeem(api, center, gift)
    assert redemption["status"] == "confirmed"
    assert balance(api, center)["balance"] == 18


def test_the_balance_lists_when_its_points_expire(api, center):
    approve_hours(api, center, 60)
    approve_hours(api, center, 120)
    assert balance(api, center)["expiring"] == [{"points": 30, "expires_at": TWO_YEARS_ON}]
    entries = statement(api, center)
    assert [e["seq"] for e in entries] == [2, 1]
    assert all(len(e["hash"]) == 64 and int(e["hash"], 16) >= 0 for e in entries)
