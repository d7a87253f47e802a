"""The first journey of the issue, through the public HTTP API of ../shared/api.md."""
import csv
import io

from tests.e2e.conftest import balance, earn
from tests.support import wait_until


def test_from_hours_to_a_redeemed_gift(api, center):
    staff, volunteer_id = center["staff"], center["volunteer_id"]

    # staff publish an activity and log 2.5 hours for the volunteer: pending until approved
    activity = api.created("/api/v1/activities", {
        "center_id": center["center_id"], "title": "社区环境清洁", "category": "environment",
        "starts_at": "2026-11-20T09:00:00+08:00", "ends_at": "2026-11-20T12:00:00+08:00",
        "capacity": 20}, staff)
    sheet = api.created(f"/api/v1/activities/{activity['id']}/hours",
                        {"entries": [{"volunteer_id": volunteer_id, "minutes": 150}]}, staff)
    [record] = sheet["records"]
    assert (record["volunteer_id"], record["minutes"], record["status"]) == \
        (volunteer_id, 150, "pending")
    assert balance(api, center)["balance"] == 0

    # approval is answered at once; the points follow through the bus
    approved = api.post(f"/api/v1/hours/{record['id']}/approve", token=staff)
    assert approved.status_code == 200
    assert approved.json() == {"id": record["id"], "status": "approved"}
    wait_until(lambda: balance(api, center)["balance"] == 25, message="25 points credited")
    assert balance(api, center) == {
        "volunteer_id": volunteer_id, "balance": 25, "reserved": 0, "available": 25, "owed": 0,
        "expiring": [{"points": 25, "expires_at": "2028-12-31T23:59:59+08:00"}]}
    profile = api.get(f"/api/v1/volunteers/{volunteer_id}", token=center["volunteer"]).json()
    assert profile["approved_minutes"] == 150 and profile["star_level"] == 0

    # staff put a gift on the shelf; the volunteer redeems it
    gift = api.created("/api/v1/rewards", {"kind": "gift", "title": "大米 5kg",
                                           "cost_points": 20, "stock": 3}, staff)
    assert gift["stock"] == 3 and gift["center_id"] == center["center_id"]
    redemption = api.created("/api/v1/redemptions", {
        "reward_id": gift["id"], "volunteer_id": volunteer_id, "quantity": 1},
        center["volunteer"])
    assert redemption["status"] == "confirmed" and redemption["points"] == 20
    assert redemption["pickup_code"].isdigit()

    # balance and stock went down, and the statement explains the balance
    assert balance(api, center)["balance"] == 5
    catalog = api.get(f"/api/v1/rewards?community_id={center['community_id']}&kind=gift",
                      token=center["volunteer"]).json()
    assert [(item["id"], item["stock"]) for item in catalog["items"]] == [(gift["id"], 2)]
    statement = api.get(f"/api/v1/volunteers/{volunteer_id}/statement",
                        token=center["volunteer"]).json()
    assert [(e["kind"], e["points"], e["balance_after"]) for e in statement["items"]] == \
        [("redeem", -20, 5), ("earn", 25, 25)]
    assert sum(e["points"] for e in statement["items"]) == 5
    credit = statement["items"][1]
    assert credit["ref"]["type"] == "hours" and credit["ref"]["id"] == record["id"]
    assert credit["rule"]["version"] == "default"  # the community published no scheme
    assert "150" in credit["rule"]["arithmetic"] and "25" in credit["rule"]["arithmetic"]


def test_not_enough_points_is_409_and_takes_nothing(api, center):
    earn(api, center, 60)  # 10 points
    gift = api.created("/api/v1/rewards", {"kind": "gift", "title": "食用油",
                                           "cost_points": 30, "stock": 2}, center["staff"])
    response = api.post("/api/v1/redemptions", {"reward_id": gift["id"],
                                                "volunteer_id": center["volunteer_id"]},
                        token=center["volunteer"])
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "insufficient_points"
    assert balance(api, center)["balance"] == 10
    stock = api.get(f"/api/v1/rewards?community_id={center['community_id']}",
                    token=center["volunteer"]).json()["items"][0]["stock"]
    assert stock == 2


def test_the_statement_filters_by_time_and_exports_csv(api, center):
    earn(api, center, 150)
    gift = api.created("/api/v1/rewards", {"kind": "gift", "title": "大米 5kg",
                                           "cost_points": 20, "stock": 3}, center["staff"])
    api.created("/api/v1/redemptions", {"reward_id": gift["id"],
                                        "volunteer_id": center["volunteer_id"]},
                center["volunteer"])
    url = f"/api/v1/volunteers/{center['volunteer_id']}/statement"
    redeemed, earned = api.get(url, token=center["volunteer"]).json()["items"]

    def kinds(**params):
        response = api.get(url, token=center["volunteer"], params=params)
        assert response.status_code == 200, response.text
        return [e["kind"] for e in response.json()["items"]]

    assert kinds(**{"from": redeemed["at"]}) == ["redeem"]
    assert kinds(to=earned["at"]) == ["earn"]
    assert kinds(**{"from": earned["at"], "to": redeemed["at"]}) == ["redeem", "earn"]
    assert kinds(limit=1) == ["redeem"]

    response = api.get(url, token=center["volunteer"], params={"format": "csv"})
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [(r["kind"], int(r["points"]), int(r["balance_after"])) for r in rows] == \
        [("redeem", -20, 5), ("earn", 25, 25)]
    assert "大米" in rows[0]["reason"]

    bad = api.get(url, token=center["volunteer"], params={"from": "yesterday"})
    assert bad.status_code == 400 and "from" in bad.json()["error"]["fields"]
