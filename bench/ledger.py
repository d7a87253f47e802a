"""Benchmark the append-only ledger on the configured store (default: the local docstore).

    .venv/bin/python -m bench.ledger [--appends 2000] [--accounts 50] [--concurrency 20]

Prints appends per second, one writer and many, and how balance reads cost as an account's
history grows. It measures; it asserts nothing.
"""
import argparse
import os
import time
import uuid

import eventlet

eventlet.monkey_patch()

import pymongo  # noqa: E402

from services.shared.appendlog import AppendLog  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()

    client = pymongo.MongoClient(os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27017/"))
    db = client[f"bench_{uuid.uuid4().hex[:8]}"]
    log = AppendLog(db, "ledger")
    log.ensure_indexes()
    try:
        n = args.appends
        seconds = timed(lambda: [log.append(f"a{i % args.accounts}", 5, key=f"s{i}", floor=None)
                                 for i in range(n)])
        print(f"sequential appends:       {n / seconds:8.0f}/s  ({n} over {args.accounts} accounts)")

        pool = eventlet.GreenPool(args.concurrency)
        seconds = timed(lambda: list(pool.imap(
            lambda i: log.append(f"a{i % args.accounts}", -1, key=f"c{i}", floor=0), range(n))))
        print(f"concurrent debits:        {n / seconds:8.0f}/s  ({args.concurrency} writers)")

        seconds = timed(lambda: list(pool.imap(
            lambda i: log.append("hot", 1, key=f"h{i}", floor=None), range(n // 4))))
        print(f"one hot account:          {n // 4 / seconds:8.0f}/s  ({args.concurrency} writers)")

        reads = 500
        seconds = timed(lambda: [log.total("hot") for _ in range(reads)])
        print(f"balance read, {log.head('hot')[0]:5d} entries: {seconds / reads * 1e3:6.2f} ms")
        seconds = timed(lambda: [log.total("a0") for _ in range(reads)])
        print(f"balance read, {log.head('a0')[0]:5d} entries: {seconds / reads * 1e3:6.2f} ms")
    finally:
        client.drop_database(db.name)


if __name__ == "__main__":
    main()
