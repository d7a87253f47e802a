"""Benchmark a statement page and a catalog page as history grows (default: the local docstore).

    .venv/bin/python -m bench.history_pages [--sizes 200,20000] [--limit 50]

For each size, an account of that many entries and a catalog of that many rewards are written in
bulk, then each page is timed (median of a few runs). It measures; it asserts nothing: the
flatness itself is asserted by counting commands in tests/integration/test_cost_of_history.py.
"""
import argparse
import datetime as dt
import os
import statistics
import time
import uuid

import pymongo

from services.points.ledger import Ledger
from services.rewards.catalog import stream_of
from services.rewards.storage import RewardsStore
from services.shared.appendlog import entry_id

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def at(seq):
    return T0 + dt.timedelta(minutes=seq)


def bulk_stream(log, stream, count, entry):
    docs = [dict(entry(seq), _id=entry_id(stream, seq), stream=stream, seq=seq, delta=1,
                 total_after=seq, key=f"bench/{stream}/{seq}") for seq in range(1, count + 1)]
    for start in range(0, count, 5000):
        log.entries.insert_many(docs[start:start + 5000])
    log.heads.replace_one({"_id": stream}, {"seq": count, "total_after": count}, upsert=True)


def median_ms(fn, runs=5):
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="200,20000")
    parser.add_argument("--limit", type=int, default=50)
    args = parser.parse_args()
    client = pymongo.MongoClient(os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27017/"),
                                 tz_aware=True)
    prefix = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        for n in (int(size) for size in args.sizes.split(",")):
            ledger = Ledger(client[f"{prefix}_points{n}"])
            bulk_stream(ledger.accounts, "vol", n, lambda seq: {
                "at": at(seq), "kind": "earn", "reason": "bench", "ref": {}})
            store = RewardsStore(client[f"{prefix}_rewards{n}"])
            store.rewards.insert_many([
                {"_id": f"rwd_{i}", "kind": "gift", "title": "bench", "description": None,
                 "cost_points": 10, "community_id": "com", "center_id": "ctr",
                 "merchant_id": None, "tracks_stock": False, "created_by": "bench",
                 "created_at": at(i)} for i in range(1, n + 1)])
            bulk_stream(store.catalog.log, stream_of("com", "gift"), n,
                        lambda seq: {"reward_id": f"rwd_{seq}", "at": at(seq)})

            def statement(**bounds):
                return lambda: ledger.statement("vol", limit=args.limit + 1, **bounds)

            def catalog_page():
                ids, _ = store.catalog.page("com", "gift", args.limit)
                return [store.rewards.find_one({"_id": rid}) for rid in ids]

            print(f"--- {n} entries / rewards, pages of {args.limit}")
            for name, fn in [
                ("statement, newest page", statement()),
                ("statement, cursor 30000", statement(before_seq=30_000)),
                ("statement, to before the first", statement(until=T0)),
                ("statement, from/to mid-way", statement(since=at(n // 2 - 20),
                                                         until=at(n // 2 + 20))),
                ("catalog page (ids and rewards)", catalog_page),
            ]:
                print(f"{name:34s} {median_ms(fn):8.1f} ms")
    finally:
        for name in client.list_database_names():
            if name.startswith(prefix):
                client.drop_database(name)


if __name__ == "__main__":
    main()
