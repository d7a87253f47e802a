"""The gift shelf (爱心超市) at a center's desk in a real browser: staff add a gift with its
stock, a volunteer redeems it (API), staff hand it over by the pickup code the volunteer shows
and the redemption is fulfilled (API); a wrong code reads as a sentence; the page at 360 px."""
import uuid

from playwright.sync_api import expect

from tests.browser.test_center_sheet import desk, staff_open  # noqa: F401 (fixture)
from tests.e2e.conftest import earn

B = "/api/v1"


def my_redemptions(api, center):
    return api.get(f"{B}/volunteers/{center['volunteer_id']}/redemptions",
                   token=center["volunteer"]).json()["items"]


def test_staff_add_a_gift_and_hand_it_over_by_the_volunteers_pickup_code(api, center, desk, phone):
    earn(api, center, 300)  # 50 points
    page = desk.page
    staff_open(desk, center, "gifts", link="爱心超市")
    expect(page.locator("[data-gifts]")).to_contain_text("暂无")

    page.get_by_label("礼品名称").fill("大米 5kg")
    page.get_by_label("所需积分").fill("0")
    page.get_by_label("库存数量").fill("3")
    page.get_by_role("button", name="上架", exact=True).click()
    expect(page.locator("[data-field-error=cost_points]")).to_have_text("须在 1 到 1000000 之间")
    page.get_by_label("所需积分").fill("20")
    page.get_by_role("button", name="上架", exact=True).click()
    expect(page.locator("[data-gifts-status]")).to_have_text("已上架：大米 5kg")
    expect(page.locator("[data-gift] [data-stock]")).to_have_text("库存 3")
    gifts = api.get(f"{B}/rewards", token=center["staff"],
                    params={"community_id": center["community_id"], "kind": "gift"}).json()
    gift = next(g for g in gifts["items"] if g["title"] == "大米 5kg")
    assert (gift["cost_points"], gift["stock"], gift["center_id"]) == (20, 3, center["center_id"])

    redemption = api.created(f"{B}/redemptions", {
        "reward_id": gift["id"], "volunteer_id": center["volunteer_id"], "quantity": 1},
        center["volunteer"], headers={"Idempotency-Key": uuid.uuid4().hex})
    page.reload()
    desk.wait_for_page("gifts")
    expect(page.locator("[data-gift] [data-stock]")).to_have_text("库存 2")
    expect(page.locator("[data-pickup]")).to_contain_text("大米 5kg 李伟")
    desk.shot("gifts-waiting")

    code = redemption["pickup_code"]
    wrong = "000000" if code != "000000" else "111111"
    page.get_by_label("领取码（6 位数字）").fill(wrong)
    page.get_by_role("button", name="交付", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="领取码")).to_have_text(
        "没有找到这个领取码对应的礼品，请核对后重新输入")
    assert [r["status"] for r in my_redemptions(api, center)] == ["confirmed"]
    desk.shot("gifts-wrong-code")

    page.get_by_label("领取码（6 位数字）").fill(code)
    page.get_by_role("button", name="交付", exact=True).click()
    expect(page.locator("[data-gifts-status]")).to_have_text("已交付：大米 5kg（李伟）")
    expect(page.locator("[data-pickup]")).to_have_count(0)
    assert [(r["id"], r["status"]) for r in my_redemptions(api, center)] == [
        (redemption["id"], "fulfilled")]
    desk.shot("gifts-handed-over")

    staff_open(phone, center, "gifts")
    expect(phone.page.locator("[data-pickups]")).to_contain_text("暂无")
    phone.shot("gifts-360")
