"""The volunteer's masked name at the merchant's till, through the running stack: the answer of
POST /merchant/redemptions (a replay answers the same) and today's list carry "李*" for the
center's volunteer 李伟, and nothing the merchant gets holds the full name, phone or ID card."""
import json

from tests.e2e.conftest import earn
from tests.e2e.test_merchants import merchant_of, new_code, offer, redeem

API = "/api/v1"
FULL_NAME, PHONE, MASKED = "李伟", "13800000000", "李*"  # the center fixture's volunteer


def test_the_answer_and_todays_list_carry_the_masked_name_never_the_full_one(
        api, admin, center):
    earn(api, center, 300)  # 50 points
    merchant, shop = merchant_of(api, admin, center)
    noodles = offer(api, shop, cost=20)
    code = new_code(api, center)["code"]
    done = redeem(api, shop, code, noodles["id"], key="till-name-1")
    assert done.status_code == 201, done.text
    assert done.json()["volunteer_name"] == MASKED
    again = redeem(api, shop, code, noodles["id"], key="till-name-1")
    assert (again.status_code, again.json()["volunteer_name"]) == (201, MASKED)

    listed = api.get(f"{API}/merchants/{merchant['id']}/redemptions", token=shop)
    assert listed.status_code == 200, listed.text
    assert [(i["id"], i["volunteer_name"]) for i in listed.json()["items"]] == [
        (done.json()["id"], MASKED)]
    for answer in (done, again, listed):
        text = json.dumps(answer.json(), ensure_ascii=False)
        assert FULL_NAME not in text and PHONE not in text and "id_card" not in text
