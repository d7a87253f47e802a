"""The volunteer's notices on the home page, in a real browser on a phone (360×740): each notice
a sentence, newest first, in Chinese and then in English, with its date."""
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.e2e.conftest import earn, working_day_slot
from tests.e2e.test_notices import notices, ready_gift, rejected_record
from tests.support import wait_until

B = "/api/v1"
VOLUNTEER_PASSWORD = "li-pass-123"  # tests/e2e/conftest.py's center fixture


def approved_elder_care(api, center, minutes):
    """An elder-care record approved for the center's volunteer; the points it earned, once
    credited (the scheme decides how many)."""
    starts_at, ends_at = working_day_slot()
    activity = api.created(f"{B}/activities", {
        "center_id": center["center_id"], "title": "陪老人散步", "category": "elder_care",
        "starts_at": starts_at, "ends_at": ends_at}, center["staff"])
    sheet = api.created(f"{B}/activities/{activity['id']}/hours", {
        "entries": [{"volunteer_id": center["volunteer_id"], "minutes": minutes}]},
        center["staff"])
    approved = api.post(f"{B}/hours/{sheet['records'][0]['id']}/approve", token=center["staff"])
    assert approved.status_code == 200, approved.text

    def credited():
        return [n["points"] for n in notices(api, center)["items"]
                if n["kind"] == "hours_approved" and n["points"] is not None]
    wait_until(credited, timeout=15, message="the approval's points in its notice")
    return credited()[0]


def test_the_home_page_tells_each_notice_as_a_sentence_in_both_languages(api, center, phone):
    earned = approved_elder_care(api, center, 120)
    rejected_record(api, center, "当天未到场")
    redemption = ready_gift(api, center)
    page = phone.page
    sign_in(phone, f"li{center['suffix']}", VOLUNTEER_PASSWORD)
    phone.wait_for_page("home")

    lines = page.locator("[data-notices] li")
    expect(lines).to_have_count(3)
    assert [line.get_attribute("data-notice") for line in lines.all()] == [
        "redemption_ready", "hours_rejected", "hours_approved"]  # newest first
    expect(lines.nth(0)).to_contain_text("大米 5kg 已备好，可到服务中心领取")
    expect(lines.nth(0)).to_contain_text(f"领取码 {redemption['pickup_code']}")
    expect(lines.nth(1)).to_contain_text("已驳回 1 小时 30 分钟 为老服务：当天未到场")
    expect(lines.nth(2)).to_contain_text(f"已通过 2 小时 为老服务，获得 {earned} 分")
    expect(lines.nth(2)).to_contain_text("陪老人散步")
    expect(lines.nth(2)).to_contain_text("年")  # dates as 2026年11月25日
    # one page holds them all: no button for more
    expect(page.locator("[data-action=more-notices]")).to_be_hidden()
    phone.shot("home-notices")

    page.get_by_role("button", name="English").click()
    expect(lines.nth(2)).to_contain_text(f"2 h of elder care approved: {earned} points")
    expect(lines.nth(1)).to_contain_text("1 h 30 min of elder care rejected: 当天未到场")
    expect(lines.nth(0)).to_contain_text("大米 5kg is ready for pickup at the center")
    expect(lines.nth(0)).to_contain_text(f"pickup code {redemption['pickup_code']}")
    phone.shot("home-notices-english")


def test_more_notices_come_a_page_at_a_time(api, center, phone):
    earn(api, center, 360)  # 60 points: six gifts of 10
    for _ in range(6):
        ready_gift(api, center)
    page = phone.page
    sign_in(phone, f"li{center['suffix']}", VOLUNTEER_PASSWORD)
    phone.wait_for_page("home")

    lines = page.locator("[data-notices] li")
    expect(lines).to_have_count(5)
    more = page.get_by_role("button", name="更多动态")
    more.click()
    expect(lines).to_have_count(7)  # six gifts ready, then the hours that paid for them
    expect(lines.nth(6)).to_contain_text("已通过 6 小时 其他，获得 60 分")
    expect(more).to_be_hidden()
    phone.shot("home-notices-all")
