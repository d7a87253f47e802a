"""GET /merchants/{id}/redemptions through the running stack: the till's list of a day, with a
void on its row and the volunteer's points back."""
import datetime
import zoneinfo

from tests.e2e.conftest import balance, earn
from tests.e2e.test_merchants import merchant_of, new_code, offer

API = "/api/v1"


def today_in_shanghai():
    return datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai")).date().isoformat()


def test_the_days_redemptions_list_each_one_and_a_void_shows_on_its_row(api, admin, center):
    earn(api, center, 300)  # 50 points
    merchant, shop = merchant_of(api, admin, center)
    noodles = offer(api, shop, cost=20)
    first = api.created(f"{API}/merchant/redemptions",
                        {"code": new_code(api, center)["code"], "reward_id": noodles["id"]}, shop)
    second = api.created(f"{API}/merchant/redemptions",
                         {"code": new_code(api, center)["code"], "reward_id": noodles["id"]},
                         shop)
    assert balance(api, center)["balance"] == 10
    path = f"{API}/merchants/{merchant['id']}/redemptions"

    listed = api.get(path, token=shop)
    assert listed.status_code == 200, listed.text
    assert listed.headers["Cache-Control"] == "no-store"
    day = listed.json()
    assert day["date"] == today_in_shanghai() and day["next_cursor"] is None
    assert [(i["id"], i["status"], i["points"], i["title"]) for i in day["items"]] == [
        (second["id"], "completed", 20, "牛肉面一碗"), (first["id"], "completed", 20, "牛肉面一碗")]
    assert all(i["voidable_until"] for i in day["items"])

    voided = api.post(f"{API}/redemptions/{first['id']}/cancel", token=shop)
    assert voided.status_code == 200, voided.text
    rows = {i["id"]: i for i in api.get(path, token=shop).json()["items"]}
    assert rows[first["id"]]["status"] == "cancelled" and rows[first["id"]]["voided_at"]
    assert rows[first["id"]]["voidable_until"] is None
    assert rows[second["id"]]["status"] == "completed"
    assert balance(api, center)["balance"] == 30

    page = api.get(f"{path}?date={day['date']}&limit=1", token=shop).json()
    assert [i["id"] for i in page["items"]] == [second["id"]]  # the void's entry: no row
    rest = api.get(f"{path}?limit=1&cursor={page['next_cursor']}", token=shop).json()
    assert [(i["id"], i["status"]) for i in rest["items"]] == [(first["id"], "cancelled")]
    assert api.get(f"{path}?date=2030-01-01", token=shop).json()["items"] == []
    assert api.get(path, token=center["staff"]).status_code == 200


def test_bad_days_and_strangers_are_refused(api, admin, center):
    merchant, shop = merchant_of(api, admin, center)
    _, other_shop = merchant_of(api, admin, center, name="另一家")
    path = f"{API}/merchants/{merchant['id']}/redemptions"
    bad = api.get(f"{path}?date=yesterday&limit=0&cursor=x", token=shop)
    assert bad.status_code == 400, bad.text
    assert set(bad.json()["error"]["fields"]) == {"date", "limit", "cursor"}
    assert api.get(path, token=other_shop).status_code == 404
    assert api.get(path, token=center["volunteer"]).status_code == 404
    assert api.get(path).status_code == 401
    assert api.get(f"{API}/merchants/mer_nothing/redemptions", token=admin).status_code == 404
