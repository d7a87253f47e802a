"""The volunteer's more pages in a real browser on a phone-sized screen (360×740): booking a
neighbour's service, my redemptions (a gift's pickup code, cancelling with the points back),
giving points to family by their number, donating to the community fund. Each form's refusals
read as sentences."""
import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, WAIT_MS, Visit, screenshot_folder, sign_in
from tests.e2e.conftest import balance, earn
from tests.support import wait_until

B = "/api/v1"
VOLUNTEER_PASSWORD = "li-pass-123"  # tests/e2e/conftest.py's center fixture
NEIGHBOUR_PASSWORD = "neighbour-pass-123"
NINE, TEN = "2030-03-02T09:00:00+08:00", "2030-03-02T10:00:00+08:00"


def neighbour(api, center, name):
    """Another volunteer of the center's community, shaped like ``center`` for earn/balance."""
    suffix = uuid.uuid4().hex[:8]
    volunteer = api.created(f"{B}/volunteers", {
        "community_id": center["community_id"], "name": name,
        "phone": f"139{uuid.uuid4().int % 10**8:08d}", "username": f"n{suffix}",
        "password": NEIGHBOUR_PASSWORD}, center["staff"])
    return dict(center, volunteer_id=volunteer["id"], username=f"n{suffix}",
                volunteer=api.login(f"n{suffix}", NEIGHBOUR_PASSWORD))


@pytest.fixture
def second_phone(browser, request):
    """Another person's phone: its own context (session, language) and screenshot folder."""
    context = browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(WAIT_MS)
    yield Visit(context.new_page(), screenshot_folder(request) / "second-phone")
    context.close()


def open_from_home(visit, link_name, page_name):
    visit.wait_for_page("home")
    visit.page.get_by_role("link", name=link_name, exact=True).click()
    visit.wait_for_page(page_name)


def statement_kinds(api, who):
    items = api.get(f"{B}/volunteers/{who['volunteer_id']}/statement",
                    token=who["volunteer"]).json()["items"]
    return [(e["kind"], e["points"]) for e in items]


def test_a_neighbours_service_booked_shows_in_my_redemptions_and_a_taken_time_reads_as_a_sentence(
        api, center, phone):
    earn(api, center, 300)  # Li holds 50 points
    zhao, wang = neighbour(api, center, "赵强"), neighbour(api, center, "王芳")
    earn(api, wang, 180)
    service = api.created(f"{B}/rewards", {
        "kind": "service", "title": "上门修理水龙头", "cost_points": 20, "location": "3号楼",
        "duration_minutes": 60, "slots": [NINE, TEN]}, zhao["volunteer"],
        headers={"Idempotency-Key": uuid.uuid4().hex})
    dear = api.created(f"{B}/rewards", {
        "kind": "service", "title": "陪同就医", "cost_points": 80, "duration_minutes": 120,
        "slots": [NINE]}, zhao["volunteer"], headers={"Idempotency-Key": uuid.uuid4().hex})
    page = phone.page
    sign_in(phone, f"li{center['suffix']}", VOLUNTEER_PASSWORD)
    open_from_home(phone, "以服务换服务", "services")
    item = page.locator(f"[data-service='{service['id']}']")
    expect(item).to_contain_text("地点：3号楼")
    expect(item.get_by_label("2030年3月2日 09:00")).to_be_enabled()
    phone.shot("services")

    item.get_by_role("button", name="预约（20 分）").click()  # no time picked
    expect(item.locator("[data-field-error=slot]")).to_have_text("请选择一个时间")
    dear_item = page.locator(f"[data-service='{dear['id']}']")
    dear_item.get_by_label("2030年3月2日 09:00").check()
    dear_item.get_by_role("button", name="预约（80 分）").click()
    expect(dear_item.get_by_role("alert")).to_have_text("积分不足：还差 30 分")

    # Wang books nine o'clock while Li's page still offers it.
    taken = api.post(f"{B}/redemptions", {"reward_id": service["id"],
                                          "volunteer_id": wang["volunteer_id"], "slot": NINE},
                     token=wang["volunteer"], key=uuid.uuid4().hex)
    assert taken.status_code == 201, taken.text
    item.get_by_label("2030年3月2日 09:00").check()
    item.get_by_role("button", name="预约（20 分）").click()
    expect(item.get_by_role("alert")).to_have_text("这个时间已被预约，请选择其他时间")
    phone.shot("service-time-taken")
    assert balance(api, center)["available"] == 50

    item.get_by_label("2030年3月2日 10:00").check()
    item.get_by_role("button", name="预约（20 分）").click()
    expect(item.get_by_role("status")).to_contain_text("预约成功：2030年3月2日 10:00，扣除 20 分")
    expect(page.locator("[data-available]")).to_have_attribute("data-available", "30")
    phone.shot("service-booked")
    assert balance(api, center)["available"] == 30

    page.reload()  # both times are gone now, for anyone
    phone.wait_for_page("services")
    item = page.locator(f"[data-service='{service['id']}']")
    expect(item.get_by_label(re.compile("2030年3月2日 09:00（已约满）"))).to_be_disabled()
    expect(item.get_by_label(re.compile("2030年3月2日 10:00（已约满）"))).to_be_disabled()
    phone.shot("services-after-booking")

    page.get_by_role("link", name=re.compile("返回首页")).click()
    open_from_home(phone, "我的兑换", "redemptions")
    [booking] = [r for r in api.get(f"{B}/volunteers/{center['volunteer_id']}/redemptions",
                                    token=center["volunteer"]).json()["items"]
                 if r["reward_id"] == service["id"] and r["status"] == "confirmed"]
    row = page.locator(f"[data-redemption='{booking['id']}']")
    expect(row.locator("[data-status]")).to_have_text("已预约")
    expect(row).to_contain_text("上门修理水龙头")
    expect(row).to_contain_text("服务时间 2030年3月2日 10:00")
    phone.shot("my-redemptions-booking")


def test_a_gifts_pickup_code_is_shown_large_and_cancelling_gives_the_points_back(
        api, center, phone):
    earn(api, center, 120)  # 20 points
    soap = api.created(f"{B}/rewards", {"kind": "gift", "title": "洗衣皂", "cost_points": 5,
                                        "stock": 3}, center["staff"])
    redeemed = [api.created(f"{B}/redemptions", {
        "reward_id": soap["id"], "volunteer_id": center["volunteer_id"], "quantity": 1},
        center["volunteer"], headers={"Idempotency-Key": uuid.uuid4().hex}) for _ in range(2)]
    assert balance(api, center)["available"] == 10
    page = phone.page
    sign_in(phone, f"li{center['suffix']}", VOLUNTEER_PASSWORD)
    open_from_home(phone, "我的兑换", "redemptions")
    first, second = (page.locator(f"[data-redemption='{r['id']}']") for r in redeemed)
    expect(first.locator("[data-status]")).to_have_text("待领取")
    expect(first.locator("[data-pickup-code] .value")).to_have_text(redeemed[0]["pickup_code"])
    phone.shot("my-redemptions")

    first.get_by_role("button", name="取消").click()
    first.get_by_role("button", name="确认取消（退回 5 分）").click()
    expect(first.get_by_role("status")).to_have_text("已取消，5 分已退回")
    expect(first.locator("[data-status]")).to_have_text("已取消")
    expect(first.locator("[data-pickup-code]")).to_have_count(0)
    expect(page.locator("[data-available]")).to_have_attribute("data-available", "15")
    assert balance(api, center)["available"] == 15
    phone.shot("gift-cancelled")

    # Handed over at the center while the page still offers to cancel: a sentence.
    handed = api.post(f"{B}/redemptions/{redeemed[1]['id']}/fulfill", token=center["staff"],
                      key=uuid.uuid4().hex)
    assert handed.status_code == 200, handed.text
    second.get_by_role("button", name="取消").click()
    second.get_by_role("button", name="确认取消（退回 5 分）").click()
    expect(second.get_by_role("alert")).to_have_text("已经领取或完成，不能再取消")
    phone.shot("cancel-refused")
    assert balance(api, center)["available"] == 15

    page.reload()
    phone.wait_for_page("redemptions")
    expect(second.locator("[data-status]")).to_have_text("已领取")
    expect(first.locator("[data-status]")).to_have_text("已取消")


def test_five_points_given_to_family_by_their_number_show_in_both_statements(
        api, center, phone, second_phone):
    earn(api, center, 120)  # 20 points
    mei = neighbour(api, center, "王美")
    sign_in(second_phone, mei["username"], NEIGHBOUR_PASSWORD)
    second_phone.wait_for_page("home")
    number = second_phone.page.locator("[data-volunteer-number]")
    expect(number).to_have_text(mei["volunteer_id"])
    second_phone.shot("receiver-home-my-number")

    page = phone.page
    sign_in(phone, f"li{center['suffix']}", VOLUNTEER_PASSWORD)
    open_from_home(phone, "转赠积分", "give")
    phone.shot("give")

    def give(to, points):
        page.get_by_label("对方的编号").fill(to)
        page.get_by_label("转赠积分").fill(points)
        page.get_by_role("button", name="下一步").click()

    give(mei["volunteer_id"], "")
    expect(page.locator("[data-field-error=points]")).to_have_text("必填")
    give("vol_nobody", "5")
    page.get_by_role("button", name="确认转赠").click()
    expect(page.get_by_role("alert")).to_have_text("没有这个编号的志愿者，请核对后重试")
    phone.shot("give-unknown-number")
    give(center["volunteer_id"], "5")
    page.get_by_role("button", name="确认转赠").click()
    expect(page.get_by_role("alert")).to_have_text("不能转赠给自己，请填写家人的编号")
    give(mei["volunteer_id"], "50")
    page.get_by_role("button", name="确认转赠").click()
    expect(page.get_by_role("alert")).to_have_text("积分不足：还差 30 分")
    phone.shot("give-not-enough")

    give(f"  {mei['volunteer_id']} ", "5")  # pasted with spaces around
    expect(page.locator("[data-confirm]")).to_have_text(f"转赠 5 分给编号 {mei['volunteer_id']}")
    phone.shot("give-confirm")
    page.get_by_role("button", name="确认转赠").click()
    expect(page.get_by_role("status")).to_have_text(f"已转赠 5 分给编号 {mei['volunteer_id']}")
    expect(page.locator("[data-available]")).to_have_attribute("data-available", "15")
    phone.shot("given")
    assert (balance(api, center)["available"], balance(api, mei)["available"]) == (15, 5)

    page.get_by_role("link", name=re.compile("返回首页")).click()
    open_from_home(phone, "明细", "statement")
    expect(page.locator("[data-statement] li[data-kind=gift_out]")).to_contain_text("转赠")
    expect(page.locator("[data-statement] li[data-kind=gift_out]")).to_contain_text("-5")
    phone.shot("statement-gift-out")
    second_phone.page.get_by_role("link", name="明细").click()
    second_phone.wait_for_page("statement")
    received = second_phone.page.locator("[data-statement] li[data-kind=gift_in]")
    expect(received).to_contain_text("受赠")
    expect(received).to_contain_text("+5")
    second_phone.shot("receiver-statement-gift-in")
    assert ("gift_out", -5) in statement_kinds(api, center)
    assert statement_kinds(api, mei) == [("gift_in", 5)]


def test_three_points_donated_to_the_community_fund(api, center, phone):
    earn(api, center, 120)  # 20 points
    page = phone.page
    sign_in(phone, f"li{center['suffix']}", VOLUNTEER_PASSWORD)
    open_from_home(phone, "捐赠", "donate")
    phone.shot("donate")

    def donate(points, label="捐赠积分", next_step="下一步"):
        page.get_by_label(label).fill(points)
        page.get_by_role("button", name=next_step).click()

    donate("三")
    expect(page.locator("[data-field-error=points]")).to_have_text("请输入整数")
    donate("100")
    page.get_by_role("button", name="确认捐赠").click()
    expect(page.get_by_role("alert")).to_have_text("积分不足：还差 80 分")
    phone.shot("donate-not-enough")

    donate("3")
    expect(page.locator("[data-confirm]")).to_have_text("捐赠 3 分给社区基金")
    phone.shot("donate-confirm")
    page.get_by_role("button", name="确认捐赠").click()
    expect(page.get_by_role("status")).to_have_text("已捐赠 3 分，谢谢您！")
    expect(page.locator("[data-available]")).to_have_attribute("data-available", "17")
    phone.shot("donated")
    assert balance(api, center)["available"] == 17
    wait_until(lambda: api.get(f"{B}/communities/{center['community_id']}/fund",
                               token=center["staff"]).json()["balance"] == 3,
               message="the fund holds the donation")

    page.get_by_role("button", name="English").click()
    phone.wait_for_page("donate")
    donate("100", "Points to donate", "Next")
    page.get_by_role("button", name="Confirm the donation").click()
    expect(page.get_by_role("alert")).to_have_text("Not enough points: 83 more needed")
    phone.shot("donate-not-enough-english")
