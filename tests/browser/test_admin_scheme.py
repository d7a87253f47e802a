"""The admin's pages in a real browser: a community and the points scheme's versions (centers,
merchants and logins: test_admin_people.py)."""
import datetime as dt
import re
import uuid
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.e2e.conftest import admin_password

SHANGHAI = ZoneInfo("Asia/Shanghai")


def admin_creates_a_community(visit, name, code):
    """The admin signs in and creates a community on the communities page: its id."""
    sign_in(visit, "admin", admin_password())
    visit.wait_for_page("communities")
    visit.shot("communities")
    visit.page.get_by_label("社区名称").fill(name)
    visit.page.get_by_label("社区代码").fill(code)
    visit.page.get_by_role("button", name="创建社区").click()
    visit.wait_for_page("community")
    return visit.page.locator("main code").text_content()


def test_admin_creates_a_community_and_publishes_a_scheme_version(api, admin, phone):
    page = phone.page
    suffix = uuid.uuid4().hex[:8]
    admin_creates_a_community(phone, f"浏览器社区{suffix}", f"b{suffix}")
    expect(page.get_by_role("heading", name=re.compile(f"浏览器社区{suffix}"))).to_be_visible()
    expect(page.get_by_text("尚未发布版本，按默认规则计分")).to_be_visible()
    # The preview of the defaults: 90 min of elder care earn 22 (15 × 1.5), 27 on a rest day (× 1.2).
    expect(page.locator("[data-preview=elder_care] td")).to_have_text(["22", "27"])
    phone.shot("community-defaults")

    effective = (dt.datetime.now(SHANGHAI).date() + dt.timedelta(days=3)).isoformat()
    page.get_by_label("生效日期").fill(effective)
    page.get_by_label("每小时积分").fill("12")
    page.get_by_label("为老服务").fill("2")
    expect(page.locator("[data-preview=elder_care] td")).to_have_text(["36", "43"])
    page.get_by_role("button", name="发布").click()
    newest = page.locator("[data-versions] tbody tr").first
    expect(newest).to_have_attribute("data-version", "v1")
    expect(newest).to_contain_text("为老服务 ×2")
    phone.shot("community-published")

    # The API holds what the page published.
    community_id = page.locator("main code").text_content()
    scheme = api.get(f"/api/v1/communities/{community_id}/scheme", token=admin).json()
    assert [(v["version"], v["effective_from"], v["base_points_per_hour"])
            for v in scheme["versions"]] == [("v1", effective, 12)]

    # A second version, later: listed first, as the newest.
    later = (dt.datetime.now(SHANGHAI).date() + dt.timedelta(days=10)).isoformat()
    page.get_by_label("生效日期").fill(later)
    page.get_by_label("每小时积分").fill("15")
    page.get_by_role("button", name="发布").click()
    expect(newest).to_have_attribute("data-version", "v2")
    expect(page.locator("[data-versions] tbody tr")).to_have_count(2)

    page.get_by_role("link", name=re.compile("社区")).first.click()
    phone.wait_for_page("communities")
    expect(page.locator(f"[data-community={community_id}]")).to_contain_text(f"浏览器社区{suffix}")
    phone.shot("communities-known")


def test_bad_scheme_values_show_their_field_errors_in_both_languages(api, admin, phone):
    page = phone.page
    suffix = uuid.uuid4().hex[:8]
    community = api.created("/api/v1/communities", {"name": f"接口社区{suffix}", "code": f"a{suffix}"},
                            admin)
    sign_in(phone, "admin", admin_password())
    phone.wait_for_page("communities")
    page.get_by_label("社区编号").fill(community["id"])
    page.get_by_role("button", name="打开社区").click()
    phone.wait_for_page("community")

    page.get_by_label("每小时积分").fill("-5")
    page.get_by_label("为老服务").fill("abc")
    page.get_by_label("每日计分上限（分钟）").fill("")
    page.get_by_role("button", name="发布").click()
    base_error = page.locator("[data-field-error=base_points_per_hour]")
    expect(base_error).to_have_text("须在 0 到 1000 之间")
    expect(page.locator("[data-field-error='category_multipliers.elder_care']")).to_have_text("格式不正确")
    expect(page.locator("[data-field-error=daily_cap_minutes]")).to_have_text("必填")
    expect(page.get_by_label("每小时积分")).to_have_attribute("aria-invalid", "true")
    phone.shot("scheme-field-errors")

    # A date in the past is a rule (422), not a typo: it stands next to the date, in English too.
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Publish a new version")).to_be_visible()
    yesterday = (dt.datetime.now(SHANGHAI).date() - dt.timedelta(days=1)).isoformat()
    page.get_by_label("Effective from").fill(yesterday)
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("[data-field-error=effective_from]")).to_have_text(
        "The effective date cannot be in the past; pick today or later")
    expect(page.locator("form[aria-labelledby=next-version] [data-form-error]")).to_have_text(
        "The effective date cannot be in the past; pick today or later")
    phone.shot("scheme-past-date-english")
    assert api.get(f"/api/v1/communities/{community['id']}/scheme",
                   token=admin).json()["versions"] == []
