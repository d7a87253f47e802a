"""Do failed logins take the same time for a known and an unknown username? (issue 5, item 12)

    .venv/bin/python -m bench.login_timing [--users 8] [--tries 4]

Through the running stack (`make up`): wrong passwords for fresh known users and for unknown
usernames, interleaved, fewer than the five failures that lock an account. Prints the mean and
median of each and exits non-zero when the means differ by more than the tolerance (generous:
a bcrypt check dominates, HTTP and the store add noise).
"""
import argparse
import statistics
import sys
import time
import uuid

from tests.e2e.conftest import BASE_URL, Api, admin_password
from tests.support import fresh_phone

TOLERANCE = 0.35  # of the larger mean


def timed_failure(api, username):
    start = time.perf_counter()
    response = api.post("/api/v1/auth/token", {"username": username, "password": "wrong-pass"})
    elapsed = time.perf_counter() - start
    assert response.status_code == 401, response.text
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--tries", type=int, default=4, help="per user: under the lock's 5")
    args = parser.parse_args()
    api = Api(BASE_URL)
    suffix = uuid.uuid4().hex[:8]
    admin = api.login("admin", admin_password())
    community = api.created("/api/v1/communities", {"name": "bench", "code": f"lt{suffix}"},
                            admin)
    known = [f"lt{suffix}{i}" for i in range(args.users)]
    for username in known:
        api.created("/api/v1/volunteers", {"community_id": community["id"], "name": "v",
                                           "phone": fresh_phone(), "username": username,
                                           "password": "pass-pass-1"}, admin)
    unknown = [f"nobody{suffix}{i}" for i in range(args.users)]
    times = {"known": [], "unknown": []}
    for _ in range(args.tries):
        for known_name, unknown_name in zip(known, unknown):
            times["known"].append(timed_failure(api, known_name))
            times["unknown"].append(timed_failure(api, unknown_name))
    means = {kind: statistics.mean(values) for kind, values in times.items()}
    for kind, values in times.items():
        print(f"{kind:8} username: mean {means[kind] * 1e3:6.1f} ms  "
              f"median {statistics.median(values) * 1e3:6.1f} ms  (n={len(values)})")
    gap = abs(means["known"] - means["unknown"]) / max(means.values())
    print(f"gap between the means: {gap:.0%} (tolerance {TOLERANCE:.0%})")
    return 0 if gap <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
