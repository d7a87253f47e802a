"""Redeeming from the catalog in a real browser: a refusal reads as a sentence with the number."""
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.e2e.conftest import balance, earn

VOLUNTEER_PASSWORD = "li-pass-123"


def redeem(page, reward, redeem_label, confirm_label):
    """Taps the reward's redeem button, then its confirmation: the reward's list item."""
    item = page.locator(f"[data-reward='{reward['id']}']")
    item.get_by_role("button", name=redeem_label).click()
    item.get_by_role("button", name=confirm_label).click()
    return item


def test_a_gift_redeemed_takes_its_points_and_one_too_dear_says_how_many_are_missing(
        api, center, phone):
    earn(api, center, 120)  # 20 points
    rice = api.created("/api/v1/rewards", {"kind": "gift", "title": "大米 5kg", "cost_points": 32,
                                           "stock": 3}, center["staff"])
    soap = api.created("/api/v1/rewards", {"kind": "gift", "title": "洗衣皂", "cost_points": 5,
                                           "stock": 3}, center["staff"])
    page = phone.page
    sign_in(phone, f"li{center['suffix']}", VOLUNTEER_PASSWORD)
    phone.wait_for_page("home")
    page.get_by_role("link", name="兑换", exact=True).click()
    phone.wait_for_page("catalog")
    phone.shot("catalog")

    refused = redeem(page, rice, "兑换", "确认兑换（32 分）")
    expect(refused.get_by_role("alert")).to_have_text("积分不足：还差 12 分")
    phone.shot("insufficient-points")

    redeemed = redeem(page, soap, "兑换", "确认兑换（5 分）")
    expect(redeemed.get_by_role("status")).to_contain_text("兑换成功，扣除 5 分")
    expect(page.locator("[data-available]")).to_have_attribute("data-available", "15")
    phone.shot("redeemed")
    assert balance(api, center)["available"] == 15

    page.get_by_role("button", name="English").click()
    phone.wait_for_page("catalog")
    refused = redeem(page, rice, "Redeem", "Confirm (32 points)")
    expect(refused.get_by_role("alert")).to_have_text("Not enough points: 17 more needed")
    phone.shot("insufficient-points-english")
