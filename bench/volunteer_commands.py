"""What an imported sheet and an activity's approval cost the volunteer service in store commands.

    .venv/bin/python -m bench.volunteer_commands [--rows 1000]

Runs the volunteer service's own code (worker_factory, the real store wrappers and outbox
writer) on a scratch database of the configured store (default: the local docstore), on a
client whose commands are counted with pymongo command monitoring: an import part checked
(``dry_run``) then written, the same part imported again, then the activity approved and
followed (tallies and events). Prints the commands per row or record by command and
collection, and seconds; it asserts nothing. The benches through the stack
(bench.import_sheet, bench.approve_activity) give the times a center sees.
"""
import argparse
import datetime as dt
import time

import eventlet

eventlet.monkey_patch()

from nameko.testing.services import worker_factory  # noqa: E402

from bench.approval_credit import counted_scratch_database, show  # noqa: E402
from services.shared.outbox import OutboxWriter  # noqa: E402
from services.volunteer.service import VolunteerService  # noqa: E402
from services.volunteer.storage import VolunteerStore  # noqa: E402

STARTS = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone.utc)
STAFF = {"user_id": "bench", "role": "center_staff", "center_id": "ctr_bench",
         "community_id": "com_bench"}


def scratch_service(db, volunteers):
    store = VolunteerStore(db)
    store.ensure_indexes()
    store.communities.insert_one({"_id": "com_bench", "name": "bench", "code": db.name})
    store.centers.insert_one({"_id": "ctr_bench", "community_id": "com_bench", "name": "c"})
    store.activities.insert_one({
        "_id": "act_bench", "center_id": "ctr_bench", "community_id": "com_bench", "title": "t",
        "category": "environment", "starts_at": STARTS, "ends_at": STARTS + dt.timedelta(hours=3)})
    store.volunteers.insert_many([{"_id": v, "community_id": "com_bench", "name": v}
                                  for v in volunteers])
    service = worker_factory(VolunteerService, store=store, config={},
                             outbox=OutboxWriter(db.outbox, db.outbox_published, lambda: None))
    service.clock = lambda: STARTS + dt.timedelta(days=1)
    service.run_after_answer = lambda function, *args: function(*args)  # followed inline
    return service


def timed(counter, runs, label, call):
    counter.take()
    began = time.perf_counter()
    answer = call()
    seconds = time.perf_counter() - began
    print(f"{label:<26} {seconds:6.2f} s  {show(counter.take(), runs)}")
    return answer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    client, db, counter = counted_scratch_database()
    try:
        volunteers = [f"vol_{n:06d}" for n in range(args.rows)]
        service = scratch_service(db, volunteers)
        rows = [{"line": n + 2, "volunteer_id": v, "phone": None, "minutes": 60 + n % 120}
                for n, v in enumerate(volunteers)]
        per_row = len(rows)
        timed(counter, per_row, "import check (dry run):", lambda: service.import_hours(
            STAFF, "act_bench", {"rows": rows, "dry_run": True}))
        timed(counter, per_row, "import write:", lambda: service.import_hours(
            STAFF, "act_bench", {"rows": rows, "dry_run": False}))
        timed(counter, per_row, "the same part again:", lambda: service.import_hours(
            STAFF, "act_bench", {"rows": rows, "dry_run": True}))
        timed(counter, per_row, "approve + follow:", lambda: service.approve_activity(
            STAFF, "act_bench"))
    finally:
        client.drop_database(db.name)
        client.close()


if __name__ == "__main__":
    main()
