"""Partner merchants (爱心商家) through HTTP on the running stack: a one-time code, the merchant
redeems it, the balance drops, the statement shows it owed, a void gives the points back; wrong
codes are counted and burn a code; the community's minimum of approved hours."""
import csv
import datetime
import io
import uuid
import zoneinfo

from tests.e2e.conftest import balance, earn
from tests.support import wait_until

API = "/api/v1"


def merchant_of(api, admin, center, name="老王面馆"):
    """A merchant of the center's community with a login and one offer: (merchant, token)."""
    merchant = api.created(f"{API}/merchants", {"community_id": center["community_id"],
                                                "name": name}, admin)
    username = f"shop{uuid.uuid4().hex[:10]}"
    api.created(f"{API}/users", {"username": username, "password": "shop-pass-1",
                                 "role": "merchant", "merchant_id": merchant["id"]}, admin)
    return merchant, api.login(username, "shop-pass-1")


def offer(api, token, cost=20, **extra):
    return api.created(f"{API}/rewards", dict(kind="merchant_offer", title="牛肉面一碗",
                                              cost_points=cost, **extra), token)


def new_code(api, center, key=None):
    return api.created(f"{API}/volunteers/{center['volunteer_id']}/redeem-codes", {},
                       center["volunteer"], key=key)


def redeem(api, token, code, reward_id, key=None, **extra):
    return api.post(f"{API}/merchant/redemptions", dict(code=code, reward_id=reward_id, **extra),
                    token=token, key=key)


def metric(name):
    import requests
    text = requests.get("http://127.0.0.1:9103/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("timebank_domain_events_total") and f'fact="{name}"' in line)


def test_code_redeem_statement_and_void(api, admin, center):
    earn(api, center, 300)  # 50 points
    merchant, shop = merchant_of(api, admin, center)
    noodles = offer(api, shop, cost=20)
    code = new_code(api, center, key=str(uuid.uuid4()))
    assert 6 <= len(code["code"]) <= 8 and not set(code["code"]) & set("01OIL")
    image = api.get(code["qr_svg_url"], token=center["volunteer"])
    assert image.status_code == 200 and image.headers["Content-Type"].startswith("image/svg")
    assert api.get(code["qr_svg_url"], token=shop).status_code == 404

    key = str(uuid.uuid4())
    done = redeem(api, shop, code["code"].lower(), noodles["id"], key=key)
    assert done.status_code == 201, done.text
    assert (done.json()["status"], done.json()["points"]) == ("completed", 20)
    replay = redeem(api, shop, code["code"].lower(), noodles["id"], key=key)
    assert replay.json() == done.json() and replay.headers.get("Idempotent-Replay") == "true"
    assert balance(api, center)["balance"] == 30
    again = redeem(api, shop, code["code"], noodles["id"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "code_used"

    statement = api.get(f"{API}/merchants/{merchant['id']}/statement", token=shop)
    assert statement.status_code == 200, statement.text
    [row] = statement.json()["items"]
    assert (row["reward_id"], row["redeemed"], row["owed_points"]) == (noodles["id"], 1, 20)
    assert statement.json()["total_owed"] == 20
    assert api.get(f"{API}/merchants/{merchant['id']}/statement",
                   token=center["staff"]).status_code == 200
    assert api.get(f"{API}/merchants/{merchant['id']}/statement",
                   token=center["volunteer"]).status_code == 404

    void = api.post(f"{API}/redemptions/{done.json()['id']}/cancel", token=shop)
    assert void.status_code == 200, void.text and void.json()["status"] == "cancelled"
    assert api.post(f"{API}/redemptions/{done.json()['id']}/cancel",
                    token=shop).status_code == 200
    assert balance(api, center)["balance"] == 50
    kinds = [e["kind"] for e in api.get(
        f"{API}/volunteers/{center['volunteer_id']}/statement",
        token=center["volunteer"]).json()["items"]]
    assert kinds[:2] == ["refund", "redeem"]

    sheet = api.get(f"{API}/merchants/{merchant['id']}/statement?format=csv", token=shop)
    assert sheet.status_code == 200 and sheet.content.startswith("\ufeff".encode())
    assert b"\r\n" in sheet.content
    rows = list(csv.DictReader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    today = datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai")).date().isoformat()
    assert rows[0]["day"] == today and (rows[0]["redeemed"], rows[0]["voided"],
                                        rows[0]["owed_points"]) == ("1", "1", "0")


def test_not_enough_points_leaves_the_code_usable(api, admin, center):
    earn(api, center, 60)  # 10 points
    _, shop = merchant_of(api, admin, center)
    feast, tea = offer(api, shop, cost=100), offer(api, shop, cost=10)
    code = new_code(api, center)["code"]
    refused = redeem(api, shop, code, feast["id"])
    assert refused.status_code == 409 and refused.json()["error"]["code"] == \
        "insufficient_points" and "90" in refused.json()["error"]["message"]
    assert redeem(api, shop, code, tea["id"]).status_code == 201
    assert balance(api, center)["balance"] == 0


def test_wrong_codes_are_counted_and_a_code_burns_after_three_wrong_tries(api, admin, center):
    earn(api, center, 300)
    _, shop = merchant_of(api, admin, center)
    noodles = offer(api, shop)
    before = metric("redeem_code_wrong")
    unknown = redeem(api, shop, "ZZZZ999", noodles["id"])
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "invalid_code"
    code = new_code(api, center)["code"]
    for _ in range(3):  # the till scanned a QR code naming another volunteer
        wrong = redeem(api, shop, code, noodles["id"], volunteer_id="vol_someone_else")
        assert wrong.json()["error"]["code"] == "code_mismatch", wrong.text
    burnt = redeem(api, shop, code, noodles["id"], volunteer_id=center["volunteer_id"])
    assert burnt.status_code == 422 and burnt.json()["error"]["code"] == "code_burnt"
    assert balance(api, center)["balance"] == 50
    wait_until(lambda: metric("redeem_code_wrong") >= before + 4, timeout=10,
               message="wrong codes counted")
    for _ in range(6):  # up to the merchant's 10 wrong codes in the window
        assert redeem(api, shop, "ZZZZ999", noodles["id"]).status_code == 422
    stopped = redeem(api, shop, "ZZZZ999", noodles["id"])
    assert stopped.status_code == 429 and int(stopped.headers["Retry-After"]) >= 1


def test_below_the_communitys_minimum_hours_the_message_says_what_is_missing(api, admin,
                                                                             center):
    earn(api, center, 100)
    today = datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai")).date().isoformat()
    published = api.post(f"{API}/communities/{center['community_id']}/scheme", {
        "effective_from": today, "base_points_per_hour": 10, "category_multipliers": {},
        "weekend_holiday_multiplier": 1.2, "daily_cap_minutes": 480,
        "min_minutes_for_merchants": 300}, token=admin)
    assert published.status_code == 201, published.text
    refused = api.post(f"{API}/volunteers/{center['volunteer_id']}/redeem-codes", {},
                       token=center["volunteer"])
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "not_enough_hours"
    assert "3 小时 20 分钟" in refused.json()["error"]["message"]
