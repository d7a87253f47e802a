"""Benchmark the running stack (`make up`) through its HTTP API.

    .venv/bin/python -m bench.http_journey [--volunteers 20] [--concurrency 10]

Registers volunteers, approves an hour for each (timing approval to credit through the bus), then
has each redeem gifts concurrently. Prints latencies and rates; asserts nothing.
"""
import argparse
import concurrent.futures
import statistics
import time
import uuid

from tests.e2e.conftest import BASE_URL, Api, admin_password
from tests.support import fresh_phone


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1e3


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--volunteers", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    api = Api(BASE_URL)
    suffix = uuid.uuid4().hex[:8]
    admin = api.login("admin", admin_password())
    community = api.created("/api/v1/communities", {"name": "bench", "code": f"b{suffix}"}, admin)
    center = api.created("/api/v1/centers", {"community_id": community["id"], "name": "c"}, admin)
    api.created("/api/v1/users", {"username": f"bs{suffix}", "password": "staff-pass-1",
                                  "role": "center_staff", "center_id": center["id"]}, admin)
    staff = api.login(f"bs{suffix}", "staff-pass-1")
    volunteers = [api.created("/api/v1/volunteers", {
        "community_id": community["id"], "name": f"v{i}", "phone": fresh_phone(),
        "username": f"bv{suffix}{i}", "password": "pass-pass-1"}, staff)["id"]
        for i in range(args.volunteers)]
    tokens = {v: api.login(f"bv{suffix}{i}", "pass-pass-1") for i, v in enumerate(volunteers)}
    activity = api.created("/api/v1/activities", {
        "center_id": center["id"], "title": "bench", "category": "other",
        "starts_at": "2026-11-21T09:00:00+08:00", "ends_at": "2026-11-21T19:00:00+08:00"}, staff)
    sheet = api.created(f"/api/v1/activities/{activity['id']}/hours", {  # 600 minutes: 100 points
        "entries": [{"volunteer_id": v, "minutes": 600} for v in volunteers]}, staff)

    def approve_until_credited(record):
        start = time.perf_counter()
        api.post(f"/api/v1/hours/{record['id']}/approve", token=staff)
        answered = time.perf_counter() - start
        while api.get(f"/api/v1/volunteers/{record['volunteer_id']}/balance",
                      token=tokens[record["volunteer_id"]]).json()["balance"] < 100:
            pass
        return answered, time.perf_counter() - start

    pool = concurrent.futures.ThreadPoolExecutor(args.concurrency)
    timings = list(pool.map(approve_until_credited, sheet["records"]))
    print(f"approve answered:       p50 {percentile([a for a, _ in timings], .5):6.1f} ms"
          f"  p95 {percentile([a for a, _ in timings], .95):6.1f} ms")
    print(f"approve → credit seen:  p50 {percentile([c for _, c in timings], .5):6.1f} ms"
          f"  p95 {percentile([c for _, c in timings], .95):6.1f} ms")

    gift = api.created("/api/v1/rewards", {"kind": "gift", "title": "g", "cost_points": 10,
                                           "stock": 10 * args.volunteers}, staff)

    def redeem(volunteer_id):
        start = time.perf_counter()
        response = api.post("/api/v1/redemptions", {"reward_id": gift["id"],
                                                    "volunteer_id": volunteer_id},
                            token=tokens[volunteer_id], key=uuid.uuid4().hex)
        return response.status_code, time.perf_counter() - start

    attempts = [v for v in volunteers for _ in range(10)]
    start = time.perf_counter()
    results = list(pool.map(redeem, attempts))
    elapsed = time.perf_counter() - start
    codes = statistics.multimode([c for c, _ in results])
    print(f"redemptions:            {len(results) / elapsed:6.1f}/s over {args.concurrency} clients"
          f"  p50 {percentile([t for _, t in results], .5):6.1f} ms"
          f"  p95 {percentile([t for _, t in results], .95):6.1f} ms  (status {codes})")


if __name__ == "__main__":
    main()
