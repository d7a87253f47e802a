"""On-site sign-in and paper sheets through the running stack: the code and its QR image,
check-in and check-out from a phone, `timebank import-hours` run as a command, and the upload
endpoint of the web app."""
import os
import pathlib
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pymongo
import pytest

from services.shared.config import db_name
from services.volunteer.domain import record_id
from tests.e2e.conftest import BASE_URL
from tests.e2e.seed import seed_volunteers
from tests.support import mongo_url, wait_until

TIMEBANK = pathlib.Path(sys.executable).parent / "timebank"
SHANGHAI = timezone(timedelta(hours=8))


def activity(api, center, starts_in, hours=3):
    """An activity starting ``starts_in`` from now (negative: it started already)."""
    starts = datetime.now(SHANGHAI) + starts_in
    return api.created("/api/v1/activities", {
        "center_id": center["center_id"], "title": "社区清洁", "category": "environment",
        "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=hours)).isoformat(),
    }, center["staff"])["id"]


def error_code(response):
    return response.json()["error"]["code"]


def stored_records(activity_id):
    """The activity's hours records as the stack stored them: [(volunteer, minutes)], sorted
    (a list, so a record stored twice shows twice)."""
    with pymongo.MongoClient(mongo_url()) as client:
        database = client[db_name({"DB_PREFIX": os.environ.get("TIMEBANK_DB_PREFIX")},
                                  "volunteer")]
        return sorted((r["volunteer_id"], r["minutes"])
                      for r in database.hours.find({"activity_id": activity_id}))


# --- on-site sign-in -------------------------------------------------------------------------

def test_staff_show_the_code_as_text_and_qr_and_a_rotation_ends_the_old_code(api, center):
    activity_id = activity(api, center, timedelta(minutes=-30))
    path = f"/api/v1/activities/{activity_id}/sign-in-code"
    shown = api.get(path, token=center["staff"])
    assert shown.status_code == 200, shown.text
    first = shown.json()
    assert len(first["code"]) == 6 and first["rotated_at"]
    assert shown.headers["Cache-Control"] == "no-store"
    svg = api.get(first["qr_svg_url"], token=center["staff"])
    assert svg.status_code == 200 and svg.headers["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content
    png = api.get(first["qr_png_url"], token=center["staff"])
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert api.get(path, token=center["volunteer"]).status_code == 403

    rotated = api.post(f"{path}/rotate", token=center["staff"])
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["code"] != first["code"]
    old = api.post(f"/api/v1/activities/{activity_id}/check-in", {"code": first["code"]},
                   token=center["volunteer"])
    assert (old.status_code, error_code(old)) == (422, "wrong_code")
    assert old.json()["error"]["fields"] == {"code": ["not the current sign-in code"]}
    new = api.post(f"/api/v1/activities/{activity_id}/check-in",
                   {"code": rotated.json()["code"].lower()}, token=center["volunteer"])
    assert new.status_code == 201, new.text


def test_a_volunteer_checks_in_and_out_and_the_pending_record_follows(api, center):
    activity_id = activity(api, center, timedelta(minutes=-30))
    code = api.get(f"/api/v1/activities/{activity_id}/sign-in-code",
                   token=center["staff"]).json()["code"]
    url = f"/api/v1/activities/{activity_id}"
    phone = center["volunteer"]

    early = api.post(f"{url}/check-out", {"code": code}, token=phone)
    assert (early.status_code, error_code(early)) == (422, "not_checked_in")
    checked_in = api.post(f"{url}/check-in", {"code": code}, token=phone, key="in-1")
    assert checked_in.status_code == 201, checked_in.text
    replay = api.post(f"{url}/check-in", {"code": code}, token=phone, key="in-1")
    assert replay.json() == checked_in.json() and replay.headers["Idempotent-Replay"] == "true"
    twice = api.post(f"{url}/check-in", {"code": code}, token=phone)
    assert (twice.status_code, error_code(twice)) == (409, "already_checked_in")
    assert api.post(f"{url}/check-out", {"code": "ZZZZZZ"}, token=phone).status_code == 422

    # A whole minute must pass between the two: until then check-out has nothing to record.
    key = uuid.uuid4().hex
    checked_out = wait_until(
        lambda: (lambda r: r if r.status_code != 422 else None)(
            api.post(f"{url}/check-out", {"code": code}, token=phone, key=key + str(
                datetime.now().timestamp()))),
        timeout=90, interval=2, message="a check-out after a minute on site")
    assert checked_out.status_code == 201, checked_out.text
    out = checked_out.json()
    assert out["minutes"] >= 1 and out["record"]["status"] == "pending"
    assert out["record"]["id"] == record_id(activity_id, center["volunteer_id"], 1)
    record = api.get(f"/api/v1/hours/{out['record']['id']}", token=center["staff"]).json()
    assert (record["minutes"], record["status"]) == (out["minutes"], "pending")
    again = api.post(f"{url}/check-out", {"code": code}, token=phone)
    assert (again.status_code, error_code(again)) == (409, "already_checked_out")
    assert stored_records(activity_id) == [(center["volunteer_id"], out["minutes"])]


def test_the_code_stops_working_once_the_activity_is_over(api, center):
    activity_id = activity(api, center, timedelta(hours=-6))  # ended three hours ago
    code = api.get(f"/api/v1/activities/{activity_id}/sign-in-code",
                   token=center["staff"]).json()["code"]
    late = api.post(f"/api/v1/activities/{activity_id}/check-in", {"code": code},
                    token=center["volunteer"])
    assert (late.status_code, error_code(late)) == (422, "sign_in_closed")


# --- paper sheets ------------------------------------------------------------------------------

@pytest.fixture
def sheet_center(api, center):
    """The center with an activity that ran yesterday, 40 seeded volunteers and one more
    registered with a phone number of its own."""
    phone = "139" + str(uuid.uuid4().int)[:8]
    registered = api.created("/api/v1/volunteers", {
        "community_id": center["community_id"], "name": "王芳", "phone": phone,
        "username": f"fang{center['suffix']}", "password": "fang-pass-1"}, center["staff"])
    return dict(center, activity_id=activity(api, center, timedelta(days=-1)),
                seeded=seed_volunteers(center["community_id"], 40),
                phone=phone, by_phone=registered["id"])


def sheet_csv(center, bad_lines=()):
    """What Excel's "CSV UTF-8" writes: a BOM, CRLF, Chinese header and names."""
    lines = ["志愿者编号,手机号,姓名,时长（分钟）"]
    lines += [f"{volunteer_id},,志愿者{n},{30 + n}" for n, volunteer_id in
              enumerate(center["seeded"])]
    lines.append(f",{center['phone']},王芳,90")
    lines += bad_lines
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")


def expected_records(center):
    return sorted([(v, 30 + n) for n, v in enumerate(center["seeded"])] +
                  [(center["by_phone"], 90)])


def import_hours(center, path):
    return subprocess.run(
        [str(TIMEBANK), "import-hours", str(path), "--activity", center["activity_id"],
         "--username", f"staff{center['suffix']}", "--api", BASE_URL],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TIMEBANK_PASSWORD="staff-pass-1"))


def test_the_command_imports_a_sheet_once_however_often_it_runs(sheet_center, tmp_path):
    path = tmp_path / "签到表.csv"
    path.write_bytes(sheet_csv(sheet_center))
    first = import_hours(sheet_center, path)
    assert first.returncode == 0, first.stderr
    assert "41 rows: 41 added, 0 already logged" in first.stdout
    assert stored_records(sheet_center["activity_id"]) == expected_records(sheet_center)

    second = import_hours(sheet_center, path)
    assert second.returncode == 0, second.stderr
    assert "41 rows: 0 added, 41 already logged" in second.stdout
    assert stored_records(sheet_center["activity_id"]) == expected_records(sheet_center)


def test_the_command_reports_every_bad_row_and_writes_nothing(sheet_center, tmp_path):
    path = tmp_path / "sheet.csv"
    path.write_bytes(sheet_csv(sheet_center, bad_lines=[
        f"{sheet_center['seeded'][0]},,重复,60",    # line 43: the volunteer of line 2 again
        "vol_nobody,,无此人,60"]))                   # line 44: found by the service's check
    result = import_hours(sheet_center, path)
    assert result.returncode == 1
    assert f"line 43: volunteer {sheet_center['seeded'][0]} is already on line 2" in result.stderr
    assert "line 44: no volunteer vol_nobody in this community" in result.stderr
    assert "nothing was written" in result.stderr
    assert stored_records(sheet_center["activity_id"]) == []

    path.write_bytes(sheet_csv(sheet_center, bad_lines=["vol_x,,李四,一小时", ",,空,30"]))
    result = import_hours(sheet_center, path)
    assert result.returncode == 1
    assert "line 43: minutes '一小时' is not a whole number of minutes" in result.stderr
    assert "line 44: no volunteer id and no phone number" in result.stderr
    assert stored_records(sheet_center["activity_id"]) == []


def upload(api, center, body, content_type="text/csv"):
    return api.request("POST", f"/api/v1/activities/{center['activity_id']}/hours.csv",
                       token=center["staff"], data=body,
                       headers={"Content-Type": content_type})


def test_the_upload_endpoint_checks_every_row_first_and_adds_nothing_twice(api, sheet_center):
    bad = upload(api, sheet_center, sheet_csv(sheet_center, bad_lines=[
        "vol_nobody,,无此人,60", f",{sheet_center['phone']},王芳,45", "vol_y,,x,0"]))
    assert (bad.status_code, error_code(bad)) == (400, "invalid_sheet"), bad.text
    assert set(bad.json()["error"]["fields"]) == {"line 43", "line 44", "line 45"}
    assert stored_records(sheet_center["activity_id"]) == []

    assert upload(api, sheet_center, b"x", "application/json").status_code == 415
    first = upload(api, sheet_center, sheet_csv(sheet_center))
    assert first.status_code == 201, first.text
    assert first.json() == {"rows": 41, "added": 41, "already_logged": 0}
    again = upload(api, sheet_center, sheet_csv(sheet_center))
    assert again.json() == {"rows": 41, "added": 0, "already_logged": 41}
    assert stored_records(sheet_center["activity_id"]) == expected_records(sheet_center)
