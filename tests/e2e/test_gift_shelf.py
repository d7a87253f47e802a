"""The gift shelf (爱心超市) through HTTP on the running stack: a gift redeemed and handed over by
staff of its center (not by staff of another center); a gift redeemed and cancelled gives the
points and the stock back once (a second cancel changes nothing); the volunteer's redemptions
list shows each status, the pickup code to the volunteer only; a gift's limit per volunteer and
its validity window refuse with 422."""
import datetime
import uuid

from tests.e2e.conftest import balance, earn, new_community

B = "/api/v1"
COST, STOCK = 20, 3


def add_gift(api, center, **terms):
    return api.created(f"{B}/rewards", dict({
        "kind": "gift", "title": "大米 5kg", "cost_points": COST, "stock": STOCK}, **terms),
        center["staff"], headers={"Idempotency-Key": uuid.uuid4().hex})


def redeem(api, center, gift_id, key=None):
    return api.post(f"{B}/redemptions", {"reward_id": gift_id,
                                         "volunteer_id": center["volunteer_id"], "quantity": 1},
                    token=center["volunteer"], key=key or uuid.uuid4().hex)


def stock_of(api, center, gift_id):
    page = api.get(f"{B}/rewards", token=center["volunteer"],
                   params={"community_id": center["community_id"], "kind": "gift"}).json()
    return next(g["stock"] for g in page["items"] if g["id"] == gift_id)


def statement_kinds(api, center):
    page = api.get(f"{B}/volunteers/{center['volunteer_id']}/statement",
                   token=center["volunteer"]).json()
    return [e["kind"] for e in page["items"]]


def test_redeem_then_fulfil_by_staff_of_the_center(api, admin, center):
    earn(api, center, 300)  # 50 points
    gift = add_gift(api, center, pickup_days=3)
    response = redeem(api, center, gift["id"])
    assert response.status_code == 201, response.text
    redemption = response.json()
    assert redemption["status"] == "confirmed" and len(redemption["pickup_code"]) == 6

    _, _, other_staff, _ = new_community(api, admin)
    stranger = api.post(f"{B}/redemptions/{redemption['id']}/fulfill", token=other_staff)
    assert stranger.status_code == 404, stranger.text
    key = uuid.uuid4().hex
    handed = api.post(f"{B}/redemptions/{redemption['id']}/fulfill", token=center["staff"],
                      key=key)
    assert handed.status_code == 200, handed.text
    assert handed.json()["status"] == "fulfilled"
    replay = api.post(f"{B}/redemptions/{redemption['id']}/fulfill", token=center["staff"],
                      key=key)
    assert replay.headers.get("Idempotent-Replay") == "true" and replay.json() == handed.json()
    again = api.post(f"{B}/redemptions/{redemption['id']}/fulfill", token=center["staff"])
    assert again.status_code == 200 and again.json()["status"] == "fulfilled"
    late = api.post(f"{B}/redemptions/{redemption['id']}/cancel", token=center["volunteer"])
    assert (late.status_code, late.json()["error"]["code"]) == (409, "already_fulfilled")
    assert balance(api, center)["balance"] == 50 - COST
    assert stock_of(api, center, gift["id"]) == STOCK - 1


def test_redeem_then_cancel_gives_points_and_stock_back_once(api, center):
    earn(api, center, 300)
    gift = add_gift(api, center)
    redemption = redeem(api, center, gift["id"]).json()
    assert (balance(api, center)["balance"], stock_of(api, center, gift["id"])) == (
        50 - COST, STOCK - 1)

    cancelled = api.post(f"{B}/redemptions/{redemption['id']}/cancel",
                         token=center["volunteer"], key=uuid.uuid4().hex)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert (balance(api, center)["balance"], stock_of(api, center, gift["id"])) == (50, STOCK)
    second = api.post(f"{B}/redemptions/{redemption['id']}/cancel", token=center["staff"],
                      key=uuid.uuid4().hex)
    assert second.status_code == 200 and second.json()["status"] == "cancelled"
    assert (balance(api, center)["balance"], stock_of(api, center, gift["id"])) == (50, STOCK)
    assert statement_kinds(api, center) == ["refund", "redeem", "earn"]  # new entries, once
    fulfil = api.post(f"{B}/redemptions/{redemption['id']}/fulfill", token=center["staff"])
    assert (fulfil.status_code, fulfil.json()["error"]["code"]) == (409, "already_cancelled")


def test_the_redemptions_list_shows_statuses_newest_first(api, center):
    earn(api, center, 480)  # 80 points: three gifts and one refused
    gift = add_gift(api, center)
    handed, cancelled, waiting = (redeem(api, center, gift["id"]).json() for _ in range(3))
    api.post(f"{B}/redemptions/{handed['id']}/fulfill", token=center["staff"])
    api.post(f"{B}/redemptions/{cancelled['id']}/cancel", token=center["volunteer"])
    refused = api.post(f"{B}/redemptions", {"reward_id": gift["id"], "quantity": 3,
                                            "volunteer_id": center["volunteer_id"]},
                       token=center["volunteer"], key=uuid.uuid4().hex)
    assert refused.status_code == 409, refused.text  # 2 left on the shelf

    path = f"{B}/volunteers/{center['volunteer_id']}/redemptions"
    first = api.get(path, token=center["volunteer"], params={"limit": 2}).json()
    rest = api.get(path, token=center["volunteer"],
                   params={"limit": 2, "cursor": first["next_cursor"]}).json()
    items = first["items"] + rest["items"]
    assert [(i["status"], i["reward_title"], i["points"]) for i in items] == [
        ("failed", "大米 5kg", 3 * COST), ("confirmed", "大米 5kg", COST),
        ("cancelled", "大米 5kg", COST), ("fulfilled", "大米 5kg", COST)]
    assert rest["next_cursor"] is None
    assert items[1]["id"] == waiting["id"] and items[1]["pickup_code"] == waiting["pickup_code"]
    seen_by_staff = api.get(path, token=center["staff"]).json()["items"]
    assert [i["status"] for i in seen_by_staff] == [i["status"] for i in items]
    assert all(i["pickup_code"] is None for i in seen_by_staff)


def test_limit_per_volunteer_and_validity_window_refuse_with_422(api, center):
    earn(api, center, 480)
    limited = add_gift(api, center, per_volunteer_limit=1)
    assert redeem(api, center, limited["id"]).status_code == 201
    over = redeem(api, center, limited["id"])
    assert (over.status_code, over.json()["error"]["code"]) == (422, "limit_reached")
    tomorrow = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    later = add_gift(api, center, valid_from=tomorrow.isoformat())
    early = redeem(api, center, later["id"])
    assert (early.status_code, early.json()["error"]["code"]) == (422, "not_yet_valid")
    assert balance(api, center)["balance"] == 80 - COST
