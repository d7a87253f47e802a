"""What a statement page and a catalog page cost on the real store, as history grows.

FerretDB serves only exact ``_id`` lookups from an index; a filter on any other field, a range or
a sort reads the whole collection. So each path is measured in store commands (pymongo command
monitoring), on a small and a large collection: every command must be an ``_id`` lookup, and
their number must not grow with the collection (or only as its logarithm, for bisection).
"""
import datetime as dt
import math
import uuid

import pymongo
import pytest
from nameko.testing.services import worker_factory
from pymongo import monitoring

from services.points.ledger import Ledger
from services.points.service import PointsService
from services.rewards.catalog import stream_of
from services.rewards.service import RewardsService
from services.rewards.storage import RewardsStore
from services.shared.appendlog import entry_id
from tests.support import TOUCHED_DATABASES, mongo_url

SMALL, LARGE = 200, 20_000
LIMIT = 50
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


class CommandLog(monitoring.CommandListener):
    def __init__(self):
        self.commands = []
        self.recording = False

    def started(self, event):
        if self.recording:
            self.commands.append((event.command_name, dict(event.command)))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass

    def cost_of(self, action):
        """(result, commands) of running ``action``."""
        self.commands, self.recording = [], True
        try:
            return action(), self.commands
        finally:
            self.recording = False


def assert_only_id_lookups(commands):
    for name, command in commands:
        assert name == "find", f"{name}: {command}"
        assert set(command["filter"]) == {"_id"}, f"not an _id lookup: {command['filter']}"
        assert not isinstance(command["filter"]["_id"], dict), f"a range or set: {command}"
        assert "sort" not in command, command


@pytest.fixture(scope="module")
def monitored():
    """databases(name) -> a database on a client whose commands are recorded, and the log.

    Module-wide: seeding the large collections takes seconds, and the tests only read them."""
    prefix = f"it{uuid.uuid4().hex[:10]}"
    commands = CommandLog()
    client = pymongo.MongoClient(mongo_url(), tz_aware=True, event_listeners=[commands])
    yield (lambda name: client[f"{prefix}_{name}"]), commands
    client.close()
    TOUCHED_DATABASES.drop_prefixed(prefix)


def seed_stream(log, stream, count, entry):
    """``count`` entries of ``stream`` as append() leaves them, written in bulk: appending
    20,000 one by one would take minutes and measure nothing more."""
    docs = [dict(entry(seq), _id=entry_id(stream, seq), stream=stream, seq=seq, delta=1,
                 total_after=seq, key=f"seed/{stream}/{seq}") for seq in range(1, count + 1)]
    for start in range(0, len(docs), 5000):
        log.entries.insert_many(docs[start:start + 5000])
    log.heads.replace_one({"_id": stream}, {"seq": count, "total_after": count}, upsert=True)


# --- the statement ---------------------------------------------------------------------------

def at(seq):
    return T0 + dt.timedelta(minutes=seq)


STATEMENT_PATHS = {
    # name: the statement query for an account of n entries (the gateway asks limit + 1)
    "newest page": lambda n: {},
    "cursor past the head": lambda n: {"before_seq": 30_000},
    "cursor mid-way": lambda n: {"before_seq": n // 2},
    "to before the first entry": lambda n: {"until": (T0 - dt.timedelta(days=1)).isoformat()},
    "from/to mid-way": lambda n: {"since": at(n // 2 - 9).isoformat(),
                                  "until": at(n // 2 + 10).isoformat()},
    "from after the last entry": lambda n: {"since": at(n + 60).isoformat()},
}


@pytest.fixture(scope="module")
def statement_cost(monitored):
    databases, commands = monitored
    services = {}
    for n in (SMALL, LARGE):
        ledger = Ledger(databases(f"points{n}"))
        ledger.ensure_indexes()
        seed_stream(ledger.accounts, "vol_1", n, lambda seq: {
            "at": at(seq), "kind": "earn", "reason": "seeded", "ref": {"type": "hours", "id": "h"},
            "by": "usr_staff"})
        services[n] = worker_factory(PointsService, ledger=ledger)

    def cost(n, path):
        query = dict(STATEMENT_PATHS[path](n), account="vol_1", limit=LIMIT + 1)
        return commands.cost_of(lambda: services[n].statement(query))
    return cost


@pytest.mark.parametrize("path", STATEMENT_PATHS)
def test_a_statement_page_costs_the_same_however_long_the_account(statement_cost, path):
    (small, small_commands), (large, large_commands) = \
        statement_cost(SMALL, path), statement_cost(LARGE, path)
    assert_only_id_lookups(small_commands + large_commands)
    # The head (a hint and a probe), at most limit + 1 entries, and a bisection for ``to``.
    bound = 2 + (LIMIT + 1) + math.ceil(math.log2(LARGE)) + 1
    assert len(small_commands) <= bound and len(large_commands) <= bound, \
        (len(small_commands), len(large_commands))
    # What differs is the bisection's depth only: log2(20,000) - log2(200) < 8 lookups.
    assert abs(len(large_commands) - len(small_commands)) <= 8
    assert len(small) == len(large)


def test_statement_pages_show_the_right_entries(statement_cost):
    (page, _) = statement_cost(LARGE, "cursor past the head")
    assert [e["id"] for e in page] == [f"vol_1:{s}" for s in range(LARGE, LARGE - LIMIT - 1, -1)]
    (page, _) = statement_cost(LARGE, "cursor mid-way")
    assert page[0]["id"] == f"vol_1:{LARGE // 2 - 1}"
    (page, _) = statement_cost(LARGE, "from/to mid-way")
    assert [e["id"] for e in page] == [f"vol_1:{s}" for s in range(LARGE // 2 + 10,
                                                                   LARGE // 2 - 10, -1)]
    assert statement_cost(LARGE, "to before the first entry")[0] == []
    assert statement_cost(LARGE, "from after the last entry")[0] == []


# --- the catalog -----------------------------------------------------------------------------

OURS = 60  # rewards of the listed community; the rest of the collection is other communities'
VOLUNTEER = {"user_id": "usr_li", "role": "volunteer", "subject_id": "vol_1",
             "community_id": "com_ours"}
ADMIN = {"user_id": "admin", "role": "admin"}


def reward(rid, community_id, kind, seq):
    return {"_id": rid, "kind": kind, "title": f"reward {seq}", "description": None,
            "cost_points": 10, "community_id": community_id, "center_id": "ctr_1",
            "merchant_id": None, "tracks_stock": True, "created_by": "usr_staff",
            "created_at": at(seq)}


def seed_catalog(store, total):
    """``total - OURS`` rewards of another community written in bulk (with their entries in the
    every-community streams), then OURS rewards of com_ours added the way create_reward does."""
    others = total - OURS
    store.rewards.insert_many([reward(f"rwd_other_{i}", "com_other", "gift", i)
                               for i in range(1, others + 1)])
    for stream in (stream_of(None, "gift"), stream_of(None, None)):
        seed_stream(store.catalog.log, stream, others, lambda seq: {
            "reward_id": f"rwd_other_{seq}", "at": at(seq)})
    for i in range(OURS):
        doc = reward(f"rwd_ours_{i}", "com_ours", ("gift", "service")[i % 2], others + i)
        store.catalog.add(doc)
        store.rewards.insert_one(doc)
        store.stock.append(doc["_id"], 5, key=f"{doc['_id']}:initial", floor=None)


CATALOG_PATHS = {
    # name: list_rewards arguments; the caller's community when none is named
    "one community and kind": dict(community_id="com_ours", kind="gift"),
    "the caller's community": dict(actor=VOLUNTEER),
    "the caller's community, second page": dict(actor=VOLUNTEER, cursor="second page"),
    "everything, for an admin": dict(actor=ADMIN),
}
PAGE = 25


@pytest.fixture(scope="module")
def catalog_cost(monitored):
    databases, commands = monitored
    services = {}
    for n in (SMALL, LARGE):
        store = RewardsStore(databases(f"rewards{n}"))
        store.ensure_indexes()
        seed_catalog(store, n)
        services[n] = worker_factory(RewardsService, store=store)

    def cost(n, path):
        args = dict(CATALOG_PATHS[path], limit=PAGE)
        if args.get("cursor") == "second page":
            first = services[n].list_rewards(**dict(args, cursor=None))
            args["cursor"] = first["next_cursor"]
        return commands.cost_of(lambda: services[n].list_rewards(**args))
    return cost


@pytest.mark.parametrize("path", CATALOG_PATHS)
def test_a_catalog_page_costs_the_same_however_large_the_catalog(catalog_cost, path):
    (small, small_commands), (large, large_commands) = \
        catalog_cost(SMALL, path), catalog_cost(LARGE, path)
    assert_only_id_lookups(small_commands + large_commands)
    assert len(small_commands) == len(large_commands)
    # The index page (head and limit + 1 entries), then per item the reward and its stock head.
    assert len(large_commands) <= 2 + (PAGE + 1) + 3 * PAGE
    assert len(small["items"]) == len(large["items"]) == PAGE


def test_catalog_pages_list_the_right_rewards(catalog_cost):
    (page, _) = catalog_cost(LARGE, "one community and kind")
    assert [r["id"] for r in page["items"]] == [f"rwd_ours_{i}" for i in range(58, 8, -2)]
    assert all(r["stock"] == 5 for r in page["items"])
    (first, _) = catalog_cost(LARGE, "the caller's community")
    (second, _) = catalog_cost(LARGE, "the caller's community, second page")
    ids = [r["id"] for r in first["items"] + second["items"]]
    assert ids == [f"rwd_ours_{i}" for i in range(59, 9, -1)]
    (everything, _) = catalog_cost(LARGE, "everything, for an admin")
    assert everything["items"][0]["id"] == "rwd_ours_59" and everything["next_cursor"]
