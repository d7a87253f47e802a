"""Center staff's pages in a real browser at a desk: an activity, its attendance sheet for two
volunteers, "approve all", the sign-in QR code; the same pages stay usable at 360 px."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import WAIT_MS, Visit, screenshot_folder, sign_in
from tests.e2e.conftest import balance, working_day_slot
from tests.support import wait_until

DESK = {"width": 1280, "height": 800}
STAFF_PASSWORD = "staff-pass-1"  # tests/e2e/conftest.py's new_community


@pytest.fixture
def desk(browser, request):
    """A desk-sized tab (its own localStorage) in the community's locale and zone."""
    context = browser.new_context(viewport=DESK, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(WAIT_MS)
    yield Visit(context.new_page(), screenshot_folder(request))
    context.close()


def staff_open(visit, center, page_name, link=None):
    """Staff sign in and open one of their pages: by the menu's ``link`` or by its URL."""
    sign_in(visit, f"staff{center['suffix']}", STAFF_PASSWORD)
    visit.wait_for_page("activities")
    if link:
        visit.page.get_by_role("link", name=link).click()
    else:
        visit.open(page_name)
    visit.wait_for_page(page_name.split("/")[0])


def add_to_sheet(page, query, name, minutes):
    page.get_by_label("找志愿者（姓名或手机号）").fill(query)
    page.get_by_role("button", name="查找", exact=True).click()
    page.get_by_role("button", name=f"加入 {name}").click()
    minutes_input = page.get_by_label(f"{name} 的服务时长（分钟）")
    expect(minutes_input).to_have_value("480")  # pre-filled from the activity's 8 hours
    minutes_input.fill(str(minutes))


def test_staff_log_a_sheet_for_two_volunteers_approve_the_activity_and_points_arrive(
        api, center, desk, phone):
    second = api.created("/api/v1/volunteers", {
        "community_id": center["community_id"], "name": "王芳", "phone": "13900000000",
        "username": f"fang{center['suffix']}", "password": "fang-pass-1"}, center["staff"])
    starts_at, ends_at = working_day_slot()  # a working day: category "other" earns 10 an hour
    page = desk.page
    sign_in(desk, f"staff{center['suffix']}", STAFF_PASSWORD)
    desk.wait_for_page("activities")
    expect(page.get_by_role("heading", name="活动", exact=True)).to_be_visible()
    desk.shot("activities")

    page.get_by_label("活动名称").fill("社区议事协商")
    page.get_by_label("服务类别").select_option("other")
    page.get_by_label("开始时间").fill(starts_at[:16])
    page.get_by_label("结束时间").fill(ends_at[:16])
    page.get_by_role("button", name="发布").click()
    desk.wait_for_page("activity")
    expect(page.get_by_role("heading", name="社区议事协商")).to_be_visible()
    code = page.locator("[data-sign-in-code]")
    expect(code).to_have_text(re.compile(r"^[0-9A-Z]{6}$"))
    qr = page.get_by_role("img", name=re.compile("活动签到二维码"))
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    assert code.text_content() in qr.get_attribute("alt")
    desk.shot("activity-new")

    # An empty sheet is refused as a sentence, before anything is sent.
    page.get_by_role("button", name="提交登记").click()
    expect(page.get_by_role("alert").filter(has_text="请先查找并加入志愿者")).to_be_visible()

    add_to_sheet(page, "李", "李伟", 90)           # found by name
    expect(page.locator("[data-sheet]")).to_contain_text("138****0000")
    add_to_sheet(page, "13900000000", "王芳", 120)  # found by phone
    page.get_by_label("王芳 的服务时长（分钟）").fill("0")
    page.get_by_role("button", name="提交登记").click()
    # A field error stands next to its row, in Chinese.
    expect(page.locator("[data-field-error='entries.1.minutes']")).to_have_text("须在 1 到 1440 之间")
    desk.shot("sheet-field-error")
    page.get_by_label("王芳 的服务时长（分钟）").fill("120")
    page.get_by_role("button", name="提交登记").click()
    expect(page.get_by_role("status").filter(has_text="已登记")).to_have_text("已登记 2 条服务记录，待审核")
    records = page.locator("[data-record]")
    expect(records).to_have_count(2)
    expect(page.locator("[data-record][data-status=pending]")).to_have_count(2)
    expect(page.locator("[data-records]")).to_contain_text("1 小时 30 分钟")
    desk.shot("sheet-logged")

    before = balance(api, center)["balance"]
    page.get_by_role("button", name="通过 李伟").click()  # one by one
    expect(page.locator("[data-record][data-status=approved]")).to_have_count(1)
    expect(page.get_by_role("button", name="通过 李伟")).to_have_count(0)
    page.get_by_role("button", name="全部通过").click()  # then the rest of the activity
    expect(page.locator("[data-record][data-status=approved]")).to_have_count(2)
    expect(page.get_by_role("status").filter(has_text="已通过 1 条")).to_be_visible()
    expect(page.get_by_role("button", name="全部通过")).to_be_disabled()
    desk.shot("sheet-approved")

    # The points follow asynchronously: 90 minutes and 120 minutes at 10 points an hour.
    wait_until(lambda: balance(api, center)["balance"] == before + 15, timeout=30,
               message="李伟's 15 points credited after approval")
    fang = api.login(f"fang{center['suffix']}", "fang-pass-1")
    wait_until(lambda: api.get(f"/api/v1/volunteers/{second['id']}/balance",
                               token=fang).json()["balance"] == 20,
               timeout=30, message="王芳's 20 points credited after approval")

    # The same pages at a phone's width: labelled, no sideways scroll.
    activity_url = page.url
    sign_in(phone, f"staff{center['suffix']}", STAFF_PASSWORD)
    phone.wait_for_page("activities")
    expect(phone.page.locator("[data-activity]")).to_have_count(1)
    phone.shot("activities-360")
    phone.page.goto(activity_url)
    phone.wait_for_page("activity")
    expect(phone.page.locator("[data-record][data-status=approved]")).to_have_count(2)
    phone.page.get_by_label("找志愿者（姓名或手机号）").fill("李")
    phone.page.get_by_role("button", name="查找", exact=True).click()
    phone.page.get_by_role("button", name="加入 李伟").click()
    phone.shot("activity-360")
