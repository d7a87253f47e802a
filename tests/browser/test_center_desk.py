"""Center staff's desk pages in a real browser: a paper sheet's CSV checked row by row before
anything is written, the sign-in code rotated; the same pages at 360 px."""
import re

from playwright.sync_api import expect

from tests.browser.test_center_sheet import desk, staff_open  # noqa: F401 (fixture)
from tests.e2e.conftest import working_day_slot
from tests.e2e.test_sheet_check import logged


def past_activity(api, center):
    starts_at, ends_at = working_day_slot(hours=2)
    return api.created("/api/v1/activities", {
        "center_id": center["center_id"], "title": "敬老院陪伴", "category": "elder_care",
        "starts_at": starts_at, "ends_at": ends_at}, center["staff"])["id"]


def choose_csv(page, text, encoding="utf-8"):
    page.get_by_label("CSV 文件（志愿者编号或手机号、分钟）").set_input_files(files=[{
        "name": "sheet.csv", "mimeType": "text/csv", "buffer": text.encode(encoding)}])
    page.get_by_role("button", name="检查", exact=True).click()


def test_a_csv_with_bad_rows_shows_each_rows_error_writes_nothing_then_the_fixed_one_writes(
        api, center, desk, phone):
    activity_id = past_activity(api, center)
    page = desk.page
    staff_open(desk, center, f"activity/{activity_id}")

    # Volunteers by id: a phone is found by reading all volunteers (hours_import.py), slow here.
    vol = center["volunteer_id"]
    choose_csv(page, f"志愿者编号,分钟\n{vol},90\nvol_nobody,60\n{vol},abc\n")
    table = page.locator("[data-sheet-check]")
    expect(table.locator("tr[data-line='2']")).to_contain_text("李伟")
    expect(table.locator("tr[data-line='2']")).to_contain_text("可以写入")
    expect(table.locator("tr[data-line='3']")).to_contain_text("本社区没有志愿者 vol_nobody")
    expect(table.locator("tr[data-line='4']")).to_contain_text("分钟数 abc 不是整数")
    expect(page.get_by_role("status").filter(has_text="行有问题")).to_have_text(
        "2 行有问题，请改正后重新上传；没有写入任何记录")
    expect(page.get_by_role("button", name="写入")).to_have_count(0)
    desk.shot("csv-bad-rows")
    assert logged(api, center, activity_id) == []

    choose_csv(page, f"志愿者编号,分钟\n{vol},90\n")
    expect(table.locator("tr[data-bad=true]")).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="无误")).to_have_text(
        "全部 1 行无误，其中 1 行是新的：点“写入”登记")
    desk.shot("csv-clean")
    assert logged(api, center, activity_id) == []
    page.get_by_role("button", name="写入").click()
    expect(page.get_by_role("status").filter(has_text="已写入")).to_have_text("已写入 1 条，0 条之前已登记")
    expect(page.locator("[data-record][data-status=pending]")).to_have_count(1)
    expect(page.locator("[data-records]")).to_contain_text("1 小时 30 分钟")
    assert logged(api, center, activity_id) == [(center["volunteer_id"], 90)]
    desk.shot("csv-written")

    # The sign-in code: a new one replaces it, the QR image with it.
    code = page.locator("[data-sign-in-code]")
    expect(code).to_have_text(re.compile(r"^[0-9A-Z]{6}$"))
    old_code = code.text_content()
    old_src = page.get_by_role("img", name=re.compile("活动签到二维码")).get_attribute("src")
    page.get_by_role("button", name="更换签到码").click()
    expect(page.get_by_role("status").filter(has_text="签到码已更换")).to_be_visible()
    expect(code).not_to_have_text(old_code)
    new_code = code.text_content()
    qr = page.get_by_role("img", name=re.compile("活动签到二维码"))
    assert new_code in qr.get_attribute("alt") and qr.get_attribute("src") != old_src
    shown = api.get(f"/api/v1/activities/{activity_id}/sign-in-code", token=center["staff"])
    assert shown.json()["code"] == new_code != old_code
    desk.shot("code-rotated")

    staff_open(phone, center, f"activity/{activity_id}")
    # A sheet saved by Excel on Chinese Windows (GB18030) is read by the API as it is.
    choose_csv(phone.page, "志愿者编号,姓名,分钟\nvol_nobody,王芳,60\n", encoding="gb18030")
    expect(phone.page.locator("tr[data-line='2'][data-bad=true]")).to_be_visible()
    phone.shot("activity-csv-360")
