"""Benchmark a paper sheet through `timebank import-hours` against the running stack (`make up`).

    .venv/bin/python -m bench.import_sheet [--rows 10000]

Makes a community, a center, a staff login and an activity that ran yesterday through the API,
seeds the sheet's volunteers straight into the store (registering 10,000 would cost 10,000
bcrypt hashes), writes the sheet as Excel's "CSV UTF-8" (BOM, Chinese header and names) and
runs the installed command twice: the first run checks and logs every row, the second finds
every row logged and adds nothing. Prints seconds and rows/s; asserts nothing.
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone

from tests.e2e.conftest import BASE_URL, Api, admin_password
from tests.e2e.seed import seed_volunteers

TIMEBANK = pathlib.Path(sys.executable).parent / "timebank"


def stack_center(api):
    suffix = uuid.uuid4().hex[:8]
    admin = api.login("admin", admin_password())
    community = api.created("/api/v1/communities", {"name": "导入测试社区",
                                                    "code": f"imp{suffix}"}, admin)
    center = api.created("/api/v1/centers", {"community_id": community["id"],
                                             "name": "导入测试中心"}, admin)
    username = f"imp{suffix}"
    api.created("/api/v1/users", {"username": username, "password": "staff-pass-1",
                                  "role": "center_staff", "center_id": center["id"]}, admin)
    starts = datetime.now(timezone(timedelta(hours=8))) - timedelta(days=1)
    activity = api.created("/api/v1/activities", {
        "center_id": center["id"], "title": "社区大扫除", "category": "environment",
        "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=4)).isoformat()},
        api.login(username, "staff-pass-1"))
    return community["id"], activity["id"], username


def run(path, activity_id, username):
    began = time.perf_counter()
    result = subprocess.run(
        [str(TIMEBANK), "import-hours", str(path), "--activity", activity_id,
         "--username", username, "--api", BASE_URL],
        capture_output=True, text=True, env=dict(os.environ, TIMEBANK_PASSWORD="staff-pass-1"))
    seconds = time.perf_counter() - began
    if result.returncode != 0:
        sys.exit(f"import-hours failed ({result.returncode}): {result.stderr[-2000:]}")
    return seconds, result.stdout.strip()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    api = Api(BASE_URL)
    community_id, activity_id, username = stack_center(api)
    volunteers = seed_volunteers(community_id, args.rows)
    lines = ["志愿者编号,姓名,时长（分钟）"] + [
        f"{volunteer_id},志愿者{n},{60 + n % 120}" for n, volunteer_id in enumerate(volunteers)]
    with tempfile.TemporaryDirectory() as directory:
        path = pathlib.Path(directory) / "签到表.csv"
        path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))
        for label in ("first run ", "second run"):
            seconds, summary = run(path, activity_id, username)
            print(f"{label}: {args.rows} rows in {seconds:6.1f} s = {args.rows / seconds:7.0f} "
                  f"rows/s  ({summary})")


if __name__ == "__main__":
    main()
