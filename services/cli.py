"""``timebank``: operator commands of the project's package.

    timebank verify-ledger     re-derive every points account from the store (an offline audit)
    timebank import-hours      import a paper sheet (CSV) as an activity's hours, through the API

Reads the same settings as the services: MONGO_URL and TIMEBANK_DB_PREFIX (config/nameko.yml).
"""
import argparse
import os
import sys
import warnings

import pymongo
from pymongo.errors import PyMongoError

# The points modules import nameko, which imports eventlet, which warns on import that it is
# deprecated: noise in an operator's terminal (pytest filters the same warning).
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from services.points import verify  # noqa: E402
from services.points.ledger import Ledger  # noqa: E402
from services.points.movements import MovementStore  # noqa: E402
from services.shared import clock, inflight  # noqa: E402
from services.shared.config import db_name  # noqa: E402
from services.volunteer import sheets_import  # noqa: E402

DEFAULT_MONGO_URL = "mongodb://127.0.0.1:27017/"


def connect(mongo_url):
    # Not services.shared.storage.connect: that module pulls in nameko and eventlet, which a
    # command has no use for. tz_aware as there, so times hash as the services stored them.
    return pymongo.MongoClient(mongo_url, serverSelectionTimeoutMS=5000, tz_aware=True)


def points_database(client, prefix):
    return client[db_name({"DB_PREFIX": prefix}, "points")]


def verify_ledger(db, now=None):
    """The verify.Report of the points database ``db``: whole collections are read, since this
    is an audit and not a request; pairs are looked up the way the ledger looks keys up."""
    ledger = Ledger(db)
    log = ledger.accounts
    # A movement's second side may be missing while its marker is fresh; recovery finishes
    # a stalled one, so past the stall window a missing side is a finding.
    moving = verify.fresh_markers(MovementStore(db).pending.collection.find({}),
                                  now or clock.now(), inflight.STALLED_AFTER)
    # The heads before the entries: a head is written after its entry, so heads read first never
    # lead the entries read next, while the services go on appending (read after, one could).
    heads = list(log.heads.find({}))
    return verify.verify(log.entries.find({}), heads=heads,
                         find_by_key=ledger.find, in_flight=moving.__contains__)


def cmd_verify_ledger(args, out=sys.stdout, err=sys.stderr):
    client = connect(args.mongo_url)
    try:
        db = points_database(client, args.db_prefix)
        report = verify_ledger(db)
    except PyMongoError as exc:
        print(f"verify-ledger: cannot read {args.mongo_url}: {exc}", file=err)
        return 2
    finally:
        client.close()
    if report.clean:
        print(f"verify-ledger: {db.name}: {report.accounts} accounts, {report.entries} entries: "
              f"sequences, balances, hash chains, hours credits and movement pairs agree",
              file=out)
        return 0
    disagreeing = report.by_account()
    for account, problems in disagreeing.items():
        for problem in problems:
            print(f"account {account}: {problem}", file=err)
    print(f"verify-ledger: {db.name}: {len(disagreeing)} of {report.accounts} accounts "
          f"disagree", file=err)
    return 1


def parser():
    top = argparse.ArgumentParser(prog="timebank", description=__doc__.split("\n")[0])
    commands = top.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "verify-ledger", help="re-derive every points account; non-zero naming each that "
                              "disagrees")
    check.add_argument("--mongo-url", default=os.environ.get("MONGO_URL") or DEFAULT_MONGO_URL)
    check.add_argument("--db-prefix", default=os.environ.get("TIMEBANK_DB_PREFIX") or "timebank")
    check.set_defaults(run=cmd_verify_ledger)
    sheets_import.add_command(commands)
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
