"""Benchmark an hours sheet's store work on the configured store (default: the local docstore).

    .venv/bin/python -m bench.hours_sheet [--entries 1000] [--sizes 200,20000]

For each size of the volunteers collection, prints how long a sheet's volunteer lookups take
(one _id lookup each, as log_hours does, against the ``$in`` query FerretDB cannot push down)
and the unique insert of its records. It measures; it asserts nothing.
"""
import argparse
import os
import time
import uuid

import eventlet

eventlet.monkey_patch()

import pymongo  # noqa: E402

from services.volunteer import domain  # noqa: E402
from services.volunteer.storage import VolunteerStore  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--sizes", default="200,20000")
    args = parser.parse_args()

    client = pymongo.MongoClient(os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27017/"),
                                 tz_aware=True)
    for size in (int(s) for s in args.sizes.split(",")):
        db = client[f"bench_{uuid.uuid4().hex[:8]}"]
        try:
            store = VolunteerStore(db)
            for start in range(0, size, 5000):
                db.volunteers.insert_many([{"_id": f"vol_{n:06d}", "community_id": "com_1"}
                                           for n in range(start, min(size, start + 5000))])
            ids = [f"vol_{n * size // args.entries:06d}" for n in range(min(args.entries, size))]
            store.communities_of_volunteers(ids[:10])  # connections and plans warmed up
            by_id = timed(lambda: store.communities_of_volunteers(ids))
            scan = timed(lambda: list(db.volunteers.find({"_id": {"$in": ids}},
                                                         {"community_id": 1})))
            records = [{"_id": domain.record_id("act_1", v, 1), "generation": 1, "sheet_id": "s",
                        "activity_id": "act_1", "volunteer_id": v, "minutes": 60} for v in ids]
            insert = timed(lambda: store.insert_sheet(records))
            print(f"{size:6d} volunteers, {len(ids)} entries: lookups by _id {by_id:7.1f} ms, "
                  f"$in {scan:7.1f} ms; insert {insert:6.1f} ms")
        finally:
            client.drop_database(db.name)


if __name__ == "__main__":
    main()
