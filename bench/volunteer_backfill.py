"""How long the backfill of issue 8's lists takes on a store's data.

Copies the volunteers, activities, hours records and their decisions of a volunteer database
(the dev store's by default) into a scratch database, without any list, claim, roster or
occupied time (a database as it was before the lists existed), runs the backfill to its end
and prints the time of each stage. The source is only read; the scratch database is dropped.

    .venv/bin/python -m bench.volunteer_backfill [--source timebank_volunteer] [--limit N]
"""
import argparse
import os
import time
import uuid

import pymongo

from services.shared import migrations
from services.volunteer.backfill import ListsBackfill
from services.volunteer.storage import VolunteerStore

COPIED = ("volunteers", "activities", "hours", "hours_decisions")


def copy(source, target, name, limit):
    batch = []
    for doc in source[name].find({}).limit(limit or 0):
        batch.append(doc)
        if len(batch) == 1000:
            target[name].insert_many(batch)
            batch = []
    if batch:
        target[name].insert_many(batch)
    return target[name].count_documents({})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", default="timebank_volunteer")
    parser.add_argument("--limit", type=int, default=0, help="documents per collection (0: all)")
    args = parser.parse_args()
    client = pymongo.MongoClient(os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27017"),
                                 tz_aware=True)
    scratch = f"bench_backfill_{uuid.uuid4().hex[:8]}"
    try:
        target = client[scratch]
        counts = {name: copy(client[args.source], target, name, args.limit) for name in COPIED}
        print("copied", counts, "into", scratch)
        store = VolunteerStore(target)
        store.ensure_indexes()
        backfill = ListsBackfill(store)
        stage_started, stage, started, pages = time.perf_counter(), "volunteers", time.perf_counter(), 0
        while not backfill.migration.tick():
            pages += 1
            now_stage = (target.migrations.find_one({"_id": "lists"}) or {}).get("stage")
            if now_stage != stage:
                print(f"{stage}: {time.perf_counter() - stage_started:.1f} s")
                stage, stage_started = now_stage, time.perf_counter()
        print(f"{stage}: {time.perf_counter() - stage_started:.1f} s")
        print(f"backfill: {time.perf_counter() - started:.1f} s in {pages + 1} ticks of up to "
              f"{migrations.PAGE_SIZE} documents")
        again = time.perf_counter()
        ListsBackfill(store).migration.tick()
        print(f"a later start: {1000 * (time.perf_counter() - again):.1f} ms")
    finally:
        client.drop_database(scratch)


if __name__ == "__main__":
    main()
