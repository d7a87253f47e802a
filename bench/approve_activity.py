"""Benchmark approving a whole activity at once on the running stack (`make up`).

    .venv/bin/python -m bench.approve_activity [--records 1000]

Seeds the volunteers straight into the store (registration costs a bcrypt hash each), logs
``--records`` entries through HTTP (sheets of SHEET_PART), then times POST /activities/{id}/approve and the
wait until every record's credit is an entry of the points ledger (looked up by its key, as the
points service writes it). Prints seconds and records/s; asserts nothing.
"""
import argparse
import os
import time
import uuid

import pymongo

from services.shared.appendlog import AppendLog
from services.shared.config import db_name
from tests.e2e.conftest import BASE_URL, Api, admin_password
from tests.e2e.seed import seed_volunteers
from tests.support import mongo_url

SHEET_PART = 250  # entries per sheet: a loaded machine logs 1000 at once past the RPC deadline


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    api = Api(BASE_URL)
    suffix = uuid.uuid4().hex[:8]
    admin = api.login("admin", admin_password())
    community = api.created("/api/v1/communities", {"name": "bench", "code": f"ba{suffix}"},
                            admin)
    center = api.created("/api/v1/centers", {"community_id": community["id"], "name": "c"},
                         admin)
    api.created("/api/v1/users", {"username": f"ba{suffix}", "password": "staff-pass-1",
                                  "role": "center_staff", "center_id": center["id"]}, admin)
    staff = api.login(f"ba{suffix}", "staff-pass-1")
    volunteers = seed_volunteers(community["id"], args.records)
    activity = api.created("/api/v1/activities", {
        "center_id": center["id"], "title": "bench", "category": "other",
        "starts_at": "2026-02-02T09:00:00+08:00", "ends_at": "2026-02-02T12:00:00+08:00"}, staff)
    began = time.perf_counter()
    records = []
    for start in range(0, len(volunteers), SHEET_PART):  # each part well inside the deadline
        records += api.created(f"/api/v1/activities/{activity['id']}/hours", {
            "entries": [{"volunteer_id": v, "minutes": 120}
                        for v in volunteers[start:start + SHEET_PART]]}, staff)["records"]
    logged = time.perf_counter() - began
    waiting = {record["id"] for record in records}

    client = pymongo.MongoClient(mongo_url(), tz_aware=True)
    ledger = AppendLog(client[db_name({"DB_PREFIX": os.environ.get("TIMEBANK_DB_PREFIX")},
                                      "points")], "ledger")
    began = time.perf_counter()
    answer = api.post(f"/api/v1/activities/{activity['id']}/approve", token=staff)
    answered = time.perf_counter() - began
    assert answer.status_code == 200, answer.text
    deadline = began + args.timeout
    markers = client[db_name({"DB_PREFIX": os.environ.get("TIMEBANK_DB_PREFIX")},
                             "volunteer")].decisions_in_flight
    following, followed = set(waiting), None
    while waiting and time.perf_counter() < deadline:
        if following:  # every record's tally and event stored (its marker gone)
            following = {record_id for record_id in following
                         if markers.find_one({"_id": f"{record_id}:1"}) is not None}
            followed = None if following else time.perf_counter() - began
        waiting = {record_id for record_id in waiting
                   if ledger.find_by_key(f"hours:{record_id}:credit") is None}
        if waiting:
            time.sleep(0.2)
    credited = time.perf_counter() - began
    client.close()
    count = len(records) - len(waiting)
    print(f"sheet of {len(volunteers)} logged:           {logged:7.2f} s")
    print(f"approve answered {answer.json()}: {answered:7.2f} s "
          f"({len(volunteers) / answered:7.1f} records/s)")
    if followed is not None:
        print(f"every tally and event stored (outbox):  {followed:7.2f} s "
              f"({len(volunteers) / followed:7.1f} records/s)")
    print(f"every credit in the ledger ({count}/{len(volunteers)}): {credited:7.2f} s "
          f"({count / credited:7.1f} records/s)")


if __name__ == "__main__":
    main()
