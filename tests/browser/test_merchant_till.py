"""The partner merchant's till in a real browser on a phone-sized screen (360×740): a volunteer's
one-time code redeemed (the volunteer shown by the masked name only), refusals as sentences, a
void, and the settlement statement."""
import uuid

from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.e2e.conftest import balance, earn
from tests.e2e.test_merchants import new_code, offer

API = "/api/v1"
SHOP_PASSWORD = "shop-pass-1"


def merchant_login(api, admin, center):
    """A merchant of the center's community and the username of its login."""
    merchant = api.created(f"{API}/merchants", {"community_id": center["community_id"],
                                                "name": "老王面馆"}, admin)
    username = f"shop{uuid.uuid4().hex[:10]}"
    api.created(f"{API}/users", {"username": username, "password": SHOP_PASSWORD,
                                 "role": "merchant", "merchant_id": merchant["id"]}, admin)
    return merchant, username


def redeem_on_till(visit, code, offer_title):
    page = visit.page
    page.get_by_label("兑换码").fill(code)
    page.get_by_label("兑换项目").select_option(label=offer_title)
    page.get_by_role("button", name="确认核销").click()


def test_merchant_redeems_a_code_on_the_till_refusals_read_as_sentences_and_a_void(
        api, admin, center, phone):
    earn(api, center, 300)  # 50 points
    merchant, username = merchant_login(api, admin, center)
    shop = api.login(username, SHOP_PASSWORD)
    noodles = offer(api, shop, cost=20)
    api.created(f"{API}/rewards", {"kind": "merchant_offer", "title": "全家宴", "cost_points": 100},
                shop)
    code = new_code(api, center)["code"]
    page = phone.page

    sign_in(phone, username, SHOP_PASSWORD)
    phone.wait_for_page("till")
    expect(page.get_by_label("兑换码")).to_be_focused()
    phone.shot("till")

    # Too dear for the volunteer: the sentence says how many points are missing; the code lives.
    redeem_on_till(phone, code, "全家宴（100 分）")
    refused = page.locator("[data-result=refused]")
    expect(refused).to_contain_text("积分不足：还差 50 分")
    phone.shot("till-not-enough-points")

    redeem_on_till(phone, code, f"{noodles['title']}（20 分）")
    done = page.locator("[data-result=completed]")
    expect(done).to_contain_text("核销成功")
    expect(done).to_contain_text("扣除 20 分")
    # The volunteer 李伟 (the center fixture's) by the masked name only, large on the result.
    expect(done.locator("[data-volunteer-name]")).to_have_text("李*")
    expect(page.locator("[data-today] li[data-voided=false]")).to_have_count(1)
    expect(page.locator("main")).not_to_contain_text("李伟")
    assert balance(api, center)["balance"] == 30
    phone.shot("till-completed")

    redeem_on_till(phone, code, f"{noodles['title']}（20 分）")  # the same code again
    expect(refused).to_contain_text("兑换码已使用，请重新生成")
    phone.shot("till-code-used")
    redeem_on_till(phone, "ZZZZ999", f"{noodles['title']}（20 分）")
    expect(refused).to_contain_text("兑换码无效，请让志愿者重新出示")
    redeem_on_till(phone, "", f"{noodles['title']}（20 分）")  # nothing typed: next to the field
    expect(page.locator("[data-field-error=code]")).not_to_be_empty()
    expect(page.get_by_label("兑换码")).to_have_attribute("aria-invalid", "true")
    phone.shot("till-wrong-code")
    assert balance(api, center)["balance"] == 30

    # Today's list comes from the API: a reload (or another tablet) shows the same.
    page.reload()
    phone.wait_for_page("till")
    row = page.locator("[data-today] li[data-voided=false]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(noodles["title"])
    expect(row).to_contain_text("20 分")
    expect(row.locator("[data-volunteer-name]")).to_have_text("李*")
    phone.shot("till-today-after-reload")

    page.get_by_role("button", name="撤销").click()
    expect(page.locator("[data-today] li[data-voided=true]")).to_contain_text("已撤销，积分已退回")
    assert balance(api, center)["balance"] == 50
    phone.shot("till-voided")
    page.reload()
    phone.wait_for_page("till")
    expect(page.locator("[data-today] li[data-voided=true]")).to_have_count(1)
    expect(page.get_by_role("button", name="撤销")).to_have_count(0)  # nothing left to void
    phone.shot("till-voided-after-reload")

    page.get_by_role("link", name="结算对账单").click()
    phone.wait_for_page("merchant-statement")
    row = page.locator(f"tr[data-row='{noodles['id']}']")
    expect(row).to_contain_text(noodles["title"])
    expect(page.locator("[data-total-owed]")).to_have_attribute("data-total-owed", "0")
    with page.expect_download() as download:
        page.get_by_role("button", name="下载对账单（CSV）").click()
    sheet = download.value.path().read_bytes().decode("utf-8-sig")
    assert sheet.startswith("day,reward_id,title") and noodles["id"] in sheet
    phone.shot("merchant-statement")

    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Settlement statement")).to_be_visible()
    phone.shot("merchant-statement-english")


def test_the_till_scans_a_photo_of_the_volunteers_code_qr_and_redeems_it(
        api, admin, center, phone, tmp_path):
    earn(api, center, 300)  # 50 points
    _, username = merchant_login(api, admin, center)
    noodles = offer(api, api.login(username, SHOP_PASSWORD), cost=20)
    code = new_code(api, center)
    png = api.get(code["qr_png_url"], token=center["volunteer"])
    assert png.status_code == 200, png.text
    photo = tmp_path / "code.png"
    photo.write_bytes(png.content)
    page = phone.page

    sign_in(phone, username, SHOP_PASSWORD)
    phone.wait_for_page("till")
    page.locator("[data-scan-photo]").set_input_files(str(photo))
    expect(page.locator("[data-scan-status]")).to_have_text("已识别二维码")
    expect(page.get_by_label("兑换码")).to_have_value(code["code"])  # the code alone, not the URL
    phone.shot("till-scanned")
    page.get_by_label("兑换项目").select_option(label=f"{noodles['title']}（20 分）")
    page.get_by_role("button", name="确认核销").click()
    expect(page.locator("[data-result=completed]")).to_contain_text("扣除 20 分")
    phone.shot("till-scanned-completed")
    assert balance(api, center)["balance"] == 30
