"""The center's report with its points, on the real broker and store: the volunteer service's
approvals reach the points service as events, which tallies what each record earned per center
and month; the gateway's report puts those points beside the minutes (JSON and CSV)."""
import csv
import io

import requests

from services.gateway.auth import Tokens
from services.gateway.service import GatewayService
from services.points.service import PointsService
from services.volunteer.service import VolunteerService
from tests.integration.test_hours_to_points import log_one, setup_center
from tests.support import free_port, wait_until

SECRET = "integration-token-secret-of-at-least-32-bytes"


def test_the_report_gives_the_points_of_approved_records_net_of_a_revocation(start, rpc, store):
    start(VolunteerService)
    start(PointsService)
    gateway = start(GatewayService, TIMEBANK_TOKEN_SECRET=SECRET,
                    METRICS_SERVER_ADDRESS=f"127.0.0.1:{free_port()}")
    staff, li, november_20 = setup_center(rpc)  # "other", Friday 2026-11-20 09:00-12:00
    center_id = rpc.volunteer.get_activity(november_20)["center_id"]
    community_id = staff["community_id"]
    zhang = rpc.volunteer.register_volunteer(staff, {
        "community_id": community_id, "name": "张敏", "phone": "13900000001",
        "username": f"zhang{center_id[-8:]}", "password": "zhang-pass-1"})["id"]

    def activity(day, category):
        return rpc.volunteer.create_activity(staff, {
            "center_id": center_id, "title": "探访独居老人", "category": category,
            "starts_at": f"{day}T09:00:00+08:00", "ends_at": f"{day}T12:00:00+08:00"})["id"]

    october_13 = activity("2026-10-13", "other")  # a working Tuesday
    november_21 = activity("2026-11-21", "elder_care")  # a Saturday
    kept = [log_one(rpc, staff, october_13, li, 60),  # 10 points
            log_one(rpc, staff, november_20, li, 150),  # 25 points
            log_one(rpc, staff, november_21, li, 120)]  # 20 × 1.5 × 1.2 = 36 points
    revoked = log_one(rpc, staff, november_20, zhang, 60)  # 10 points, then taken back
    for record_id in [*kept, revoked]:
        rpc.volunteer.approve_hours(staff, record_id)
    rpc.volunteer.revoke_hours(staff, revoked, {"reason": "未到场"})

    def reversed_():
        return [e["kind"] for e in rpc.points.statement({"account": zhang})] == \
            ["reversal", "earn"]
    wait_until(lambda: rpc.points.get_balance(li)["balance"] == 71 and reversed_(),
               message="credits and the reversal in the ledger")

    url = (f"http://{gateway.config['WEB_SERVER_ADDRESS']}/api/v1/centers/{center_id}/report"
           "?from=2026-10-01&to=2026-11-30")
    headers = {"Authorization": f"Bearer {Tokens(SECRET).issue(staff)[0]}"}
    response = requests.get(url, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["approved_minutes"], report["points"]) == (330, 71)
    assert [(m["month"], m["approved_minutes"], m["points"]) for m in report["by_month"]] == \
        [("2026-10", 60, 10), ("2026-11", 270, 61)]
    by_category = {c["category"]: (c["approved_minutes"], c["points"])
                   for c in report["by_category"]}
    assert (by_category["other"], by_category["elder_care"]) == ((210, 35), (120, 36))
    assert [(v["volunteer_id"], v["approved_minutes"], v["points"])
            for v in report["volunteers"]] == [(li, 330, 71)]

    sheet = requests.get(url + "&format=csv", headers=headers, timeout=30)
    assert sheet.status_code == 200, sheet.text
    rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"), newline="")))
    assert ["合计积分 Total points", "71"] in rows
    assert ["2026-11", "270", "4 小时 30 分钟", "61"] in rows
    assert ["elder_care", "为老服务", "120", "2 小时", "36"] in rows

    # Credits stored before the tally existed: the same ledger, an empty tally. The points
    # service's backfill asks the volunteer service for each record and rebuilds it.
    for suffix in ("", "_keys", "_heads", "_migrations"):
        store("points")[f"center_points{suffix}"].delete_many({})
    wait_until(lambda: requests.get(url, headers=headers, timeout=30).json() == report,
               timeout=30, message="the backfill's tally")
