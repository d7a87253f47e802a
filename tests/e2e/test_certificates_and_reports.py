"""What a center hands out, through HTTP: the service certificate (a PDF read back with poppler's
pdftotext and pdftoppm, installed by scripts/stack.sh) with its verification code, and the
center's report in JSON and as CSV for Excel."""
import csv
import io
import shutil
import subprocess
import uuid

import pytest
from PIL import Image

from tests.e2e.conftest import new_community
from tests.support import wait_until

CERTIFICATES = "/api/v1/certificates"


def poppler(tool):
    path = shutil.which(tool)
    assert path, f"{tool} is missing: scripts/stack.sh installs poppler-utils"
    return path


def activity(api, center, day, title="探访独居老人", category="elder_care", hours=3):
    return api.created("/api/v1/activities", {
        "center_id": center["center_id"], "title": title, "category": category,
        "starts_at": f"{day}T09:00:00+08:00", "ends_at": f"{day}T{9 + hours:02d}:00:00+08:00"},
        center["staff"])["id"]


def logged(api, center, activity_id, *entries):
    """Pending records for (volunteer id, minutes) pairs; returns their ids in order."""
    sheet = api.created(f"/api/v1/activities/{activity_id}/hours", {"entries": [
        {"volunteer_id": volunteer, "minutes": minutes} for volunteer, minutes in entries]},
        center["staff"])
    return [record["id"] for record in sheet["records"]]


def decide(api, center, record_id, action, reason=None):
    response = api.post(f"/api/v1/hours/{record_id}/{action}",
                        {"reason": reason} if reason else None, token=center["staff"])
    assert response.status_code == 200, response.text


def certificate_of(api, center, token=None):
    response = api.get(f"/api/v1/volunteers/{center['volunteer_id']}/certificate.pdf",
                       token=token or center["volunteer"])
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    return response.headers["X-Certificate-Code"], response.content


def test_a_certificate_reads_in_chinese_and_its_code_verifies(api, admin, center, tmp_path):
    elder = activity(api, center, "2026-10-12")
    cleanup = activity(api, center, "2026-10-14", title="社区环境清扫", category="environment")
    kept, = logged(api, center, elder, (center["volunteer_id"], 150))
    also_kept, = logged(api, center, cleanup, (center["volunteer_id"], 90))
    for record_id in (kept, also_kept):
        decide(api, center, record_id, "approve")
    revoked, = logged(api, center, activity(api, center, "2026-10-16"),
                      (center["volunteer_id"], 30))
    decide(api, center, revoked, "approve")
    decide(api, center, revoked, "revoke", "代签，撤销")

    code, pdf = certificate_of(api, center)
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    text = subprocess.run([poppler("pdftotext"), "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout
    for expected in ("志愿服务证明", "李伟", "新华社区服务中心", "探访独居老人", "社区环境清扫",
                     "2026年10月12日", "4 小时", "-".join(code[i:i + 4] for i in (0, 4))):
        assert expected in text, expected
    assert "2026年10月16日" not in text  # the revoked record is not certified
    subprocess.run([poppler("pdftoppm"), "-png", "-r", "50", "-f", "1", "-l", "1",
                    str(path), str(tmp_path / "page")], check=True)
    page, = tmp_path.glob("page*.png")
    with Image.open(page) as image:
        assert image.size[0] > 300 and image.convert("L").getextrema()[0] < 64  # ink on it

    # Anyone may check the code, without a token; it is the same while nothing changes.
    check = api.get(f"{CERTIFICATES}/{code}")
    assert check.status_code == 200, check.text
    answer = check.json()
    assert (answer["valid"], answer["volunteer_name"], answer["approved_minutes"],
            answer["star_level"], answer["issued_by"]) == (True, "李伟", 240, 0, "新华社区服务中心")
    assert answer["issued_at"]
    assert certificate_of(api, center, token=center["staff"])[0] == code
    assert certificate_of(api, center, token=admin)[0] == code

    decide(api, center, also_kept, "revoke", "时长有误")
    assert api.get(f"{CERTIFICATES}/{code}").json()["valid"] is False
    new_code, _ = certificate_of(api, center)
    assert new_code != code
    assert api.get(f"{CERTIFICATES}/{new_code}").json()["approved_minutes"] == 150


@pytest.mark.parametrize("made_up", ["AAAAAAAAAAAAAAAAAAAAAAAA", "not-a-code", "%E4%B8%AD"])
def test_a_made_up_code_is_404(api, made_up):
    response = api.get(f"{CERTIFICATES}/{made_up}")
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "certificate_not_found"


def test_a_certificate_is_for_self_staff_of_its_community_and_admin(api, admin, center):
    logged_id, = logged(api, center, activity(api, center, "2026-10-20"),
                        (center["volunteer_id"], 60))
    decide(api, center, logged_id, "approve")
    _, _, outsider, _ = new_community(api, admin, name="光明社区", code="gm")
    response = api.get(f"/api/v1/volunteers/{center['volunteer_id']}/certificate.pdf",
                       token=outsider)
    assert response.status_code == 404, response.text
    nothing_yet = api.created("/api/v1/volunteers", {
        "community_id": center["community_id"], "name": "张敏", "phone": "13900000002",
        "username": f"zhang{center['suffix']}", "password": "zhang-pass-1"}, center["staff"])
    response = api.get(f"/api/v1/volunteers/{nothing_yet['id']}/certificate.pdf",
                       token=center["staff"])
    assert response.status_code == 422 and \
        response.json()["error"]["code"] == "no_approved_hours", response.text


def test_the_report_adds_up_the_approved_hours(api, admin, center):
    zhang = api.created("/api/v1/volunteers", {
        "community_id": center["community_id"], "name": "张敏", "phone": "13900000001",
        "username": f"zhang{center['suffix']}", "password": "zhang-pass-1"}, center["staff"])["id"]
    li = center["volunteer_id"]
    october = activity(api, center, "2026-10-05", hours=4)
    november = activity(api, center, "2026-11-09", title="老年人智能手机课",
                        category="culture_sports")
    li_october, zhang_october = logged(api, center, october, (li, 120), (zhang, 60))
    li_november, zhang_november = logged(api, center, november, (li, 45), (zhang, 30))
    outside, = logged(api, center, activity(api, center, "2026-09-28"), (li, 100))
    for record_id in (li_october, zhang_october, li_november, outside):
        decide(api, center, record_id, "approve")
    revoked, = logged(api, center, activity(api, center, "2026-10-21"), (zhang, 50))
    decide(api, center, revoked, "approve")
    decide(api, center, revoked, "revoke", "未到场")  # and zhang_november stays pending
    # Points under the default scheme: Oct 5 is a holiday (× 1.2), elder care × 1.5. Li earns
    # 36 (Oct 5) + 6 (Nov 9) + 25 (Sep 28, outside the range); Zhang 18, and 12 taken back.
    zhang_token = api.login(f"zhang{center['suffix']}", "zhang-pass-1")
    wait_until(lambda: points_of(api, li, center["volunteer"]) == 67 and
               sorted(e["kind"] for e in statement(api, zhang, zhang_token)) ==
               ["earn", "earn", "reversal"], message="every credit and the reversal")

    url = f"/api/v1/centers/{center['center_id']}/report?from=2026-10-01&to=2026-11-30"
    response = api.get(url, token=center["staff"])
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["approved_minutes"], report["points"]) == (225, 60)
    assert report["by_month"] == [{"month": "2026-10", "approved_minutes": 180, "points": 54},
                                  {"month": "2026-11", "approved_minutes": 45, "points": 6}]
    minutes_of = {c["category"]: (c["approved_minutes"], c["points"])
                  for c in report["by_category"]}
    assert (minutes_of["elder_care"], minutes_of["culture_sports"]) == ((180, 54), (45, 6))
    assert [(v["name"], v["approved_minutes"], v["points"]) for v in report["volunteers"]] == \
        [("李伟", 165, 42), ("张敏", 60, 18)]
    assert api.get(url, token=admin).json() == report

    sheet = api.get(url + "&format=csv", token=center["staff"])
    assert sheet.status_code == 200, sheet.text
    assert sheet.headers["Content-Type"].startswith("text/csv")
    assert sheet.content.startswith(b"\xef\xbb\xbf") and b"\r\n" in sheet.content
    rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"), newline="")))
    assert rows[0][1] == "新华社区服务中心"
    assert ["合计积分 Total points", "60"] in rows
    assert ["2026-10", "180", "3 小时", "54"] in rows
    assert ["culture_sports", "文体活动", "45", "45 分钟", "6"] in rows
    assert [li, "李伟", "165", "2 小时 45 分钟", "42"] in rows
    assert [zhang, "张敏", "60", "1 小时", "18"] in rows


def statement(api, volunteer_id, token):
    response = api.get(f"/api/v1/volunteers/{volunteer_id}/statement", token=token)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def points_of(api, volunteer_id, token):
    response = api.get(f"/api/v1/volunteers/{volunteer_id}/balance", token=token)
    assert response.status_code == 200, response.text
    return response.json()["balance"]


def test_a_report_is_for_staff_of_its_center_and_admin(api, admin, center):
    path = f"/api/v1/centers/{center['center_id']}/report"
    assert api.get(path, token=center["volunteer"]).status_code == 403
    other_center = api.created("/api/v1/centers", {"community_id": center["community_id"],
                                                   "name": "第二服务中心"}, admin)
    username = f"staff2{uuid.uuid4().hex[:8]}"
    api.created("/api/v1/users", {"username": username, "password": "staff-pass-2",
                                  "role": "center_staff", "center_id": other_center["id"]},
                admin)
    assert api.get(path, token=api.login(username, "staff-pass-2")).status_code == 403
    _, _, outsider, _ = new_community(api, admin, name="光明社区", code="gm")
    assert api.get(path, token=outsider).status_code == 404
    response = api.get(path + "?from=2026-12-01&to=2026-11-01", token=center["staff"])
    assert response.status_code == 400 and "from" in response.json()["error"]["fields"]
    response = api.get(path + "?format=xlsx", token=center["staff"])
    assert response.status_code == 400 and "format" in response.json()["error"]["fields"]
