"""Scanning QR codes in a real browser (web/scan.js with the vendored jsQR): the volunteer's
check-in page reads the activity's sign-in QR from a photo, and the live camera (Chromium's fake
device playing a video made from the QR's PNG) reads it too and stops the stream."""
import io
from datetime import timedelta

from PIL import Image  # pinned in constraints.txt (reportlab's dependency)
from playwright.sync_api import expect

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE, WAIT_MS, Visit, \
    screenshot_folder, sign_in
from tests.e2e.test_sign_in_and_sheets import activity

API = "/api/v1"
VOLUNTEER_PASSWORD = "li-pass-123"  # tests/e2e/conftest.py's center fixture


def sign_in_qr(api, center):
    """A running activity, its current sign-in code and the PNG of its QR code."""
    activity_id = activity(api, center, timedelta(minutes=-30))
    shown = api.get(f"{API}/activities/{activity_id}/sign-in-code", token=center["staff"]).json()
    png = api.get(shown["qr_png_url"], token=center["staff"])
    assert png.status_code == 200, png.text
    return activity_id, shown["code"], png.content


def check_in_page(visit, center):
    sign_in(visit, f"li{center['suffix']}", VOLUNTEER_PASSWORD)
    visit.wait_for_page("home")
    visit.open("check-in")
    visit.wait_for_page("check-in")


def assert_checked_in(api, center, activity_id, code):
    """The API saw the check-in: a second one is refused as already done."""
    again = api.post(f"{API}/activities/{activity_id}/check-in", {"code": code},
                     token=center["volunteer"])
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_checked_in")


def test_the_volunteer_checks_in_by_a_photo_of_the_activitys_qr_code(api, center, phone, tmp_path):
    activity_id, code, png = sign_in_qr(api, center)
    photo = tmp_path / "sign-in.png"
    photo.write_bytes(png)
    page = phone.page
    check_in_page(phone, center)
    phone.shot("check-in")

    not_a_qr = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(not_a_qr)
    page.locator("[data-scan-photo]").set_input_files(str(not_a_qr))
    expect(page.locator("[data-scan-status]")).to_have_text("没有识别到二维码，请对准后重拍")
    phone.shot("check-in-no-qr")

    page.locator("[data-scan-photo]").set_input_files(str(photo))
    expect(page.locator("[data-scan-status]")).to_have_text("已识别二维码")
    expect(page.get_by_label("活动编号")).to_have_value(activity_id)
    expect(page.get_by_label("签到码")).to_have_value(code)
    page.get_by_role("button", name="签到", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="签到成功")).to_be_visible()
    phone.shot("check-in-scanned")
    assert_checked_in(api, center, activity_id, code)


def y4m_of(png, width=640, height=480):
    """A short grey video (YUV4MPEG2, 4:2:0) of the QR image centred on white, for Chromium's
    fake camera, which plays it in a loop."""
    qr = Image.open(io.BytesIO(png)).convert("L")
    side = min(width, height) - 80
    frame = Image.new("L", (width, height), 255)
    frame.paste(qr.resize((side, side), Image.NEAREST), ((width - side) // 2, (height - side) // 2))
    chroma = bytes([128]) * (width // 2 * height // 2 * 2)  # no colour
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    return header + (b"FRAME\n" + frame.tobytes() + chroma) * 10


def test_the_live_camera_reads_the_qr_code_and_stops_the_stream(
        api, center, browser, request, tmp_path):
    activity_id, code, png = sign_in_qr(api, center)
    video = tmp_path / "camera.y4m"
    video.write_bytes(y4m_of(png))
    camera_browser = browser.browser_type.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + [
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}"])
    try:
        context = camera_browser.new_context(viewport=PHONE, locale="zh-CN",
                                             timezone_id="Asia/Shanghai")
        context.set_default_timeout(WAIT_MS)
        visit = Visit(context.new_page(), screenshot_folder(request))
        page = visit.page
        check_in_page(visit, center)
        page.get_by_role("button", name="用摄像头扫码").click()
        expect(page.get_by_label("活动编号")).to_have_value(activity_id)
        expect(page.get_by_label("签到码")).to_have_value(code)
        expect(page.locator("[data-scan-status]")).to_have_text("已识别二维码")
        # The stream was stopped: no video left on the page, the camera button usable again.
        expect(page.locator("video")).to_have_count(0)
        expect(page.get_by_role("button", name="用摄像头扫码")).to_be_enabled()
        visit.shot("check-in-camera")
        page.get_by_role("button", name="签到", exact=True).click()
        expect(page.get_by_role("status").filter(has_text="签到成功")).to_be_visible()
        assert_checked_in(api, center, activity_id, code)
    finally:
        camera_browser.close()
