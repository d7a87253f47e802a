"""What one approval -> credit costs: store round trips and credits per second.

    .venv/bin/python -m bench.approval_credit [--credits 300] [--volunteers 30] [--concurrency 10]

Runs the points service's handler of ``hours_approved`` (the code a consumer runs for one
delivered event) against the configured store (default: the local docstore), on a client whose
commands are counted with pymongo command monitoring. Prints the commands per credit (by
command and collection), what a redelivered event costs, and credits per second with one
consumer and with several racing. It measures; it asserts nothing.
"""
import argparse
import collections
import datetime as dt
import os
import time
import uuid

import eventlet

eventlet.monkey_patch()

import pymongo  # noqa: E402
from nameko.testing.services import worker_factory  # noqa: E402
from pymongo import monitoring  # noqa: E402

from services.points.ledger import Ledger  # noqa: E402
from services.points.service import PointsService  # noqa: E402

DAY0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # a Monday


class CommandCounter(monitoring.CommandListener):
    def __init__(self):
        self.counts = collections.Counter()

    def started(self, event):
        collection = event.command.get(event.command_name)
        self.counts[(event.command_name, collection if isinstance(collection, str) else "")] += 1

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass

    def take(self):
        counts, self.counts = self.counts, collections.Counter()
        return counts


def approval(n, volunteers):
    """Approval n: volunteers take turns, each record on a day of its own (no cap interplay)."""
    record_id = f"hrs_{uuid.uuid4().hex}"
    return {
        "event_id": f"hours_approved:{record_id}", "record_id": record_id,
        "volunteer_id": f"vol_{n % volunteers}", "community_id": "com_bench",
        "center_id": "ctr_bench", "activity_id": f"act_{n}", "category": "elder_care",
        "minutes": 90, "activity_starts_at": (DAY0 + dt.timedelta(days=n // volunteers)).isoformat(),
        "approved_at": DAY0.isoformat(), "approved_by": "usr_bench",
    }


def show(counts, runs):
    total = sum(counts.values())
    parts = ", ".join(f"{name} {collection or '-'} {n / runs:.2f}"
                      for (name, collection), n in sorted(counts.items()))
    return f"{total / runs:6.2f} commands  ({parts})"


def counted_scratch_database():
    """(client, a throwaway database on MONGO_URL, the counter of the client's commands)."""
    counter = CommandCounter()
    client = pymongo.MongoClient(os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27017/"),
                                 tz_aware=True, event_listeners=[counter])
    return client, client[f"bench_{uuid.uuid4().hex[:8]}"], counter


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--credits", type=int, default=300)
    parser.add_argument("--volunteers", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()

    client, db, counter = counted_scratch_database()
    ledger = Ledger(db)
    ledger.ensure_indexes()
    try:  # the scheme's logs, since they exist (a container creates their indexes at start)
        from services.points.scheme_store import scheme_store_of
        scheme_store_of(ledger).ensure_indexes()
    except ImportError:
        pass
    service = worker_factory(PointsService, ledger=ledger)
    try:
        events = [approval(n, args.volunteers) for n in range(args.credits)]
        service.on_hours_approved(approval(args.credits, args.volunteers))  # warm up
        counter.take()

        start = time.perf_counter()
        for event in events:
            service.on_hours_approved(event)
        seconds = time.perf_counter() - start
        print(f"one approval -> credit:  {show(counter.take(), len(events))}")
        print(f"one consumer:            {len(events) / seconds:8.0f} credits/s")

        for event in events[:50]:
            service.on_hours_approved(event)
        print(f"a redelivered approval:  {show(counter.take(), 50)}")

        more = [approval(n, args.volunteers) for n in range(args.credits, 2 * args.credits)]
        pool = eventlet.GreenPool(args.concurrency)
        start = time.perf_counter()
        list(pool.imap(service.on_hours_approved, more))
        seconds = time.perf_counter() - start
        print(f"{args.concurrency} racing consumers:     {len(more) / seconds:8.0f} credits/s  "
              f"({show(counter.take(), len(more)).split('(')[0].strip()} per credit)")
    finally:
        client.drop_database(db.name)
        client.close()


if __name__ == "__main__":
    main()
