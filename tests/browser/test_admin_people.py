"""The admin's desk in a real browser: the communities list from the API, a community's centers
with their staff logins and its merchants with their logins; a login disabled cannot sign in."""
import uuid

from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.browser.test_admin_scheme import admin_creates_a_community
from tests.browser.test_center_sheet import desk  # noqa: F401 (the desk-sized tab fixture)
from tests.e2e.conftest import admin_password
from tests.e2e.test_api_contract import error_of

API = "/api/v1"
PASSWORD = "desk-pass-1"


def login_row(page, username):
    return page.locator(f"[data-login='{username}']")


def test_admin_creates_a_community_its_center_and_a_staff_login_then_disables_it(
        api, admin, desk):  # noqa: F811 (fixture)
    page = desk.page
    suffix = uuid.uuid4().hex[:8]
    community_id = admin_creates_a_community(desk, f"名册社区{suffix}", f"m{suffix}")
    assert api.get(f"{API}/communities/{community_id}", token=admin).json()["name"] == \
        f"名册社区{suffix}"

    # The list comes from the API: after a reload (nothing kept in the browser) it is there.
    desk.open("communities")
    page.reload()
    desk.wait_for_page("communities")
    expect(page.locator(f"[data-community={community_id}]")).to_contain_text(f"名册社区{suffix}")
    desk.shot("communities-listed")

    # The same code again is a sentence next to the code.
    page.get_by_label("社区名称").fill("重复")
    page.get_by_label("社区代码").fill(f"m{suffix}")
    page.get_by_role("button", name="创建社区").click()
    expect(page.locator("[data-field-error=code]")).to_have_text("该社区代码已被使用，请换一个")
    expect(page.locator("[data-form-error]").first).to_have_text("")  # said once, by the field
    desk.shot("communities-code-taken")

    page.locator(f"[data-community={community_id}] a").click()
    desk.wait_for_page("community")
    page.get_by_role("link", name="服务中心").click()
    desk.wait_for_page("centers")
    expect(page.get_by_text("先新建一个服务中心")).to_be_visible()
    page.get_by_label("服务中心名称").fill(f"东门中心{suffix}")
    page.get_by_role("button", name="新建服务中心").click()
    expect(page.locator("[data-page-status]")).to_contain_text(f"已创建服务中心 东门中心{suffix}")
    expect(page.locator("[data-centers] h3")).to_have_text([f"东门中心{suffix}"])

    page.get_by_label("所属服务中心").select_option(label=f"东门中心{suffix}")
    page.get_by_label("用户名").fill(f"desk{suffix}")
    page.get_by_label("初始密码（至少 8 位）").fill(PASSWORD)
    page.get_by_role("button", name="创建账号").click()
    expect(page.locator("[data-page-status]")).to_have_text(f"已创建账号 desk{suffix}")
    expect(login_row(page, f"desk{suffix}")).to_contain_text("工作人员")
    expect(login_row(page, f"desk{suffix}")).to_contain_text("正常")
    desk.shot("centers-staff-login")
    assert api.login(f"desk{suffix}", PASSWORD)

    # A taken username and a short password: each next to its field.
    page.get_by_label("用户名").fill(f"desk{suffix}")
    page.get_by_label("初始密码（至少 8 位）").fill(PASSWORD)
    page.get_by_role("button", name="创建账号").click()
    expect(page.locator("[data-field-error=username]")).to_have_text("该用户名已被使用，请换一个")
    expect(page.get_by_label("用户名")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("用户名").fill(f"other{suffix}")
    page.get_by_label("初始密码（至少 8 位）").fill("short")
    page.get_by_role("button", name="创建账号").click()
    expect(page.locator("[data-field-error=password]")).to_have_text("至少 8 个字符")
    expect(page.locator("[data-field-error=username]")).to_have_text("")
    desk.shot("centers-field-errors")

    page.get_by_role("button", name=f"停用 desk{suffix}").click()
    expect(page.locator("[data-page-status]")).to_have_text(
        f"账号 desk{suffix} 已停用，不能再登录")
    expect(login_row(page, f"desk{suffix}")).to_contain_text("已停用")
    expect(page.get_by_role("button", name=f"停用 desk{suffix}")).to_have_count(0)
    expect(page.get_by_role("button", name="加载更多")).to_have_count(0)  # one page of logins
    desk.shot("centers-login-disabled")
    error_of(api.post(f"{API}/auth/token", {"username": f"desk{suffix}", "password": PASSWORD}),
             403, "account_disabled")


def test_admin_adds_a_merchant_and_its_login_in_english_too(api, admin, desk):  # noqa: F811
    page = desk.page
    suffix = uuid.uuid4().hex[:8]
    community = api.created(f"{API}/communities", {"name": f"商家社区{suffix}",
                                                  "code": f"s{suffix}"}, admin)
    sign_in(desk, "admin", admin_password())
    desk.wait_for_page("communities")
    # Created through the API, never seen by this browser: listed all the same.
    expect(page.locator(f"[data-community={community['id']}]")).to_contain_text(
        f"商家社区{suffix}")
    desk.open(f"merchants/{community['id']}")
    desk.wait_for_page("merchants")
    expect(page.get_by_text("先新建一个商家")).to_be_visible()
    page.get_by_label("商家名称").fill(f"街角面包{suffix}")
    page.get_by_label("地址（可选）").fill("东门路 1 号")
    page.get_by_role("button", name="新建商家").click()
    expect(page.locator("[data-page-status]")).to_have_text(f"已创建商家 街角面包{suffix}")
    expect(page.locator("[data-merchants] h3")).to_have_text([f"街角面包{suffix}"])
    merchants = api.get(f"{API}/merchants", token=admin,
                        params={"community_id": community["id"]}).json()["items"]
    assert [m["name"] for m in merchants] == [f"街角面包{suffix}"]

    page.get_by_label("用户名").fill(f"till{suffix}")
    page.get_by_label("初始密码（至少 8 位）").fill(PASSWORD)
    page.get_by_role("button", name="创建账号").click()
    expect(login_row(page, f"till{suffix}")).to_contain_text("商家")
    desk.shot("merchants-login")
    logins = api.get(f"{API}/users", token=admin,
                     params={"merchant_id": merchants[0]["id"]}).json()["items"]
    assert [(u["username"], u["role"], u["disabled"]) for u in logins] == [
        (f"till{suffix}", "merchant", False)]
    assert api.login(f"till{suffix}", PASSWORD)

    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="New merchant login")).to_be_visible()
    expect(login_row(page, f"till{suffix}")).to_contain_text("active")
    page.get_by_label("Username").fill(f"till{suffix}")
    page.get_by_label("First password (8 characters or more)").fill(PASSWORD)
    page.get_by_role("button", name="Create the login").click()
    expect(page.locator("[data-field-error=username]")).to_have_text(
        "This username is taken; choose another")
    desk.shot("merchants-english-username-taken")
    page.get_by_role("button", name=f"Disable till{suffix}").click()
    expect(page.locator("[data-page-status]")).to_have_text(
        f"Login till{suffix} is disabled: it can no longer sign in")
    desk.shot("merchants-english-disabled")
    error_of(api.post(f"{API}/auth/token", {"username": f"till{suffix}", "password": PASSWORD}),
             403, "account_disabled")
