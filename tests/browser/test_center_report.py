"""The center's report page in a real browser: totals matching the API, hours and points by
month as charts, categories and volunteers, the CSV download; the same page at 360 px."""
import re

from playwright.sync_api import expect

from tests.browser.test_center_sheet import desk, staff_open  # noqa: F401 (fixture)
from tests.e2e.conftest import earn
from tests.support import wait_until


def test_the_report_shows_the_months_chart_and_totals_of_the_api_and_downloads_as_csv(
        api, center, desk, phone):
    earn(api, center, 90)
    earn(api, center, 120)
    path = f"/api/v1/centers/{center['center_id']}/report"
    wait_until(lambda: api.get(path, token=center["staff"]).json()["points"] == 35, timeout=30,
               message="the report counts both approvals' points")
    report = api.get(path, token=center["staff"]).json()
    assert report["approved_minutes"] == 210

    page = desk.page
    staff_open(desk, center, "report", link="服务报表")
    expect(page.locator("[data-total-minutes]")).to_have_text("3 小时 30 分钟")
    expect(page.locator("[data-total-minutes]")).to_have_attribute(
        "data-total-minutes", str(report["approved_minutes"]))
    expect(page.locator("[data-total-points]")).to_have_text("35 分")
    months = [m for m in report["by_month"] if m["approved_minutes"]]
    chart = page.get_by_role("img", name=re.compile("^每月服务时长"))
    expect(chart).to_be_visible()
    expect(chart.locator("rect.bar")).to_have_count(len(report["by_month"]))
    for month in months:
        expect(chart.locator(f"rect.bar[data-value='{month['approved_minutes']}']")).to_have_count(1)
    expect(page.get_by_role("img", name=re.compile("^每月积分"))).to_be_visible()
    expect(page.locator("[data-report-volunteers]")).to_contain_text("李伟")
    expect(page.locator("[data-report-volunteers]")).to_contain_text("35 分")
    expect(page.locator("main")).to_contain_text("其他")  # the category "other"
    desk.shot("report")

    with page.expect_download() as download_info:
        page.get_by_role("button", name="下载 CSV").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    text = open(download.path(), encoding="utf-8-sig").read()
    assert "合计分钟 Total minutes,210" in text and "合计积分 Total points,35" in text

    staff_open(phone, center, "report")
    expect(phone.page.locator("[data-total-points]")).to_have_text("35 分")
    phone.shot("report-360")
    phone.page.get_by_role("button", name="Switch to English").click()
    expect(phone.page.get_by_role("heading", name="Report", exact=True)).to_be_visible()
    expect(phone.page.locator("main")).to_contain_text("Hours of service")
    phone.shot("report-360-en")
