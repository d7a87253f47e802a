"""The volunteer's pages in a real browser on a phone-sized screen (360×740)."""
import re

from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.e2e.conftest import BASE_URL, earn

VOLUNTEER_PASSWORD = "li-pass-123"  # tests/e2e/conftest.py's center fixture


def test_volunteer_signs_in_sees_points_and_chart_asks_for_a_code_switches_language_and_signs_out(
        api, center, phone):
    earn(api, center, 150)  # 25 points
    earn(api, center, 90)   # 15 points
    page = phone.page
    sign_in(phone, f"li{center['suffix']}", VOLUNTEER_PASSWORD)

    phone.wait_for_page("home")
    expect(page.locator("[data-points]")).to_have_attribute("data-points", "40")
    expect(page.locator("[data-points]")).to_contain_text("40")
    expect(page.locator("[data-minutes]")).to_have_text("志愿服务时长 4 小时")
    expect(page.locator("[data-stars]")).to_contain_text("星级志愿者")
    expect(page.get_by_role("link", name="兑换码")).to_be_visible()
    phone.shot("home")

    page.get_by_role("link", name="明细").click()
    phone.wait_for_page("statement")
    bars = page.locator("svg.chart rect.bar")
    expect(bars).to_have_count(6)
    # The last six months hold both records: 4 hours in all.
    assert sum(int(v) for v in bars.evaluate_all("bars => bars.map(b => b.dataset.value)")) == 240
    expect(page.locator("[data-statement] li[data-kind=earn]")).to_have_count(2)
    expect(page.locator("[data-statement]")).to_contain_text("+25")
    phone.shot("statement")

    page.get_by_role("link", name=re.compile("返回首页")).click()
    phone.wait_for_page("home")
    page.get_by_role("link", name="兑换码").click()
    phone.wait_for_page("code")
    page.get_by_role("button", name="生成兑换码").click()
    code = page.locator("[data-code]")
    expect(code).to_have_text(re.compile(r"^[0-9A-Z]{4,}$"))
    qr = page.get_by_role("img", name=re.compile("兑换码 .* 的二维码"))
    expect(qr).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    assert code.text_content() in qr.get_attribute("alt")
    phone.shot("code")

    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="One-time code")).to_be_visible()
    expect(page.locator("[data-code]")).to_have_text(code.text_content())  # still the live code
    phone.shot("code-english")
    page.reload()  # the session and the language both survive a reload
    phone.wait_for_page("code")
    expect(page.get_by_role("button", name="Get a code")).to_be_visible()
    page.get_by_role("link", name=re.compile("Back to home")).click()
    phone.wait_for_page("home")
    expect(page.locator("[data-minutes]")).to_have_text("Service hours: 4 h")
    phone.shot("home-english")

    token = page.evaluate("JSON.parse(localStorage.getItem('timebank.session')).token")
    page.get_by_role("button", name="Sign out").click()
    phone.wait_for_page("sign-in")
    expect(page.get_by_role("status")).to_have_text("You have signed out")
    phone.shot("signed-out")
    page.reload()
    phone.open("home")  # a signed-out visitor is sent to sign-in
    phone.wait_for_page("sign-in")
    # The token itself ended at the API, not only in this browser.
    refused = api.get(f"/api/v1/volunteers/{center['volunteer_id']}", token=token)
    assert refused.status_code == 401, refused.text


def test_wrong_password_reads_as_a_sentence_and_a_missing_one_next_to_its_field(center, phone):
    page = phone.page
    sign_in(phone, f"li{center['suffix']}", "not-the-password")
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误")
    phone.wait_for_page("sign-in")
    phone.shot("wrong-password")

    page.get_by_label("密码").fill("")
    page.get_by_role("button", name="登录").click()
    password_error = page.locator("[data-field-error=password]")
    expect(password_error).to_have_text("长度须为 1 到 128 个字符")
    expect(page.get_by_label("密码")).to_have_attribute("aria-invalid", "true")
    # The error belongs to its field: it is the field's description for screen readers.
    described_by = page.get_by_label("密码").get_attribute("aria-describedby")
    assert password_error.get_attribute("id") == described_by
    phone.shot("missing-password")


def test_an_expired_or_invalid_token_returns_to_sign_in(center, phone):
    page = phone.page
    phone.open("sign-in")
    page.evaluate("""() => localStorage.setItem('timebank.session', JSON.stringify(
        {token: 'not-a-token', role: 'volunteer', subject_id: 'vol_x',
         expires_at: new Date(Date.now() + 3600e3).toISOString()}))""")
    phone.open("home")
    phone.wait_for_page("sign-in")
    expect(page.get_by_role("status")).to_have_text("登录已过期，请重新登录")
    assert page.evaluate("localStorage.getItem('timebank.session')") is None
    phone.shot("expired")


def test_certificate_downloaded_by_the_volunteer_is_verified_on_the_public_page(api, center, phone):
    earn(api, center, 120)
    page = phone.page
    sign_in(phone, f"li{center['suffix']}", VOLUNTEER_PASSWORD)
    phone.wait_for_page("home")
    with page.expect_download() as download:
        page.get_by_role("button", name="下载志愿服务证明").click()
    code = re.search(r"certificate-([0-9A-Z]+)\.pdf", download.value.suggested_filename).group(1)
    assert download.value.path().read_bytes().startswith(b"%PDF")
    expect(page.get_by_role("status").filter(has_text="证明已下载")).to_contain_text(code)
    phone.shot("certificate-downloaded")

    page.get_by_role("button", name="退出").click()
    phone.wait_for_page("sign-in")
    page.get_by_role("link", name="核验志愿服务证明").click()
    phone.wait_for_page("verify")
    page.get_by_label("证明编号").fill(code.lower())  # as a person types it
    page.get_by_role("button", name="核验").click()
    expect(page.locator("[data-verdict=valid]")).to_contain_text("证明有效")
    expect(page.locator("[data-verdict=valid]")).to_contain_text("李伟")
    expect(page.locator("[data-verdict=valid]")).to_contain_text("2 小时")
    phone.shot("verify-valid")

    page.goto(f"{BASE_URL}/verify/AAAABBBBCCCCDDDDEEEEFFFF")  # the printable link
    phone.wait_for_page("verify")
    expect(page.locator("[data-verdict=unknown]")).to_have_text("没有找到这个编号的证明，请核对后重试")
    phone.shot("verify-unknown")


def test_the_gateway_serves_the_app_itself_with_types_and_revalidation(api):
    index = api.get("/")
    assert index.status_code == 200
    assert index.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in index.headers["Content-Security-Policy"]
    # Every script, style and image the page names comes from this gateway, with its type.
    assets = re.findall(r'(?:src|href)="(/web/[^"]+)"', index.text)
    assert {"/web/app.js", "/web/style.css", "/web/icon.svg"} <= set(assets)
    types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
             ".svg": "image/svg+xml"}
    for asset in assets:
        answer = api.get(asset)
        assert answer.status_code == 200, asset
        assert answer.headers["Content-Type"] == types[asset[asset.rindex("."):]]
        # Kept, but asked after each time: a deploy is never hidden behind a stale copy.
        assert answer.headers["Cache-Control"] == "no-cache"
        again = api.get(asset, headers={"If-None-Match": answer.headers["ETag"]})
        assert again.status_code == 304
    assert api.get("/web/../service.py").status_code == 404
    assert api.get("/web/%2e%2e/service.py").status_code == 404
    assert api.get("/web/pages").status_code == 404
