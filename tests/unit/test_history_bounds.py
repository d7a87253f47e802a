"""A statement or catalog page costs about ``limit`` lookups, whatever the cursor and the bounds.

Lookups are counted on the in-memory store; tests/integration/test_cost_of_history.py counts
the real store's commands on large collections.
"""
import datetime as dt
from unittest.mock import MagicMock

import pytest
from nameko.testing.services import worker_factory

from services.rewards.catalog import stream_of
from services.rewards.service import RewardsService
from services.rewards.storage import RewardsStore
from services.shared.appendlog import AppendLog
from services.shared.errors import InvalidInput
from tests.unit.fakes import FakeCollection

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


class CountingCollection(FakeCollection):
    def __init__(self):
        super().__init__()
        self.lookups = 0

    def find_one(self, query=None, projection=None):
        self.lookups += 1
        return super().find_one(query, projection)


def log_of(db, minutes):
    """A stream "acct" with one entry per element of ``minutes`` (its ``at``, after T0)."""
    db.collections["ledger"] = entries = CountingCollection()
    log = AppendLog(db, "ledger")
    for n, minute in enumerate(minutes, start=1):
        log.append("acct", 1, key=f"k{n}", floor=None, now=T0 + dt.timedelta(minutes=minute))
    entries.lookups = 0
    return log, entries


def seqs(entries):
    return [e["seq"] for e in entries]


def test_a_cursor_past_the_head_starts_at_the_head(db):
    log, entries = log_of(db, range(5))
    assert seqs(log.entries_of("acct", before_seq=30_000, limit=3)) == [5, 4, 3]
    assert entries.lookups <= 3 + 1  # the walk and the probe past the head hint


def test_to_before_the_first_entry_is_found_by_bisection(db):
    log, entries = log_of(db, range(1, 1001))
    assert log.entries_of("acct", limit=50, until=T0) == []
    assert entries.lookups <= 1 + 11  # the probe past the head, then log2(1000) + 1


def test_from_and_to_far_from_the_head_cost_the_page_only(db):
    log, entries = log_of(db, range(1, 1001))
    page = log.entries_of("acct", limit=50, since=T0 + dt.timedelta(minutes=100),
                          until=T0 + dt.timedelta(minutes=119))
    assert seqs(page) == list(range(119, 99, -1))
    assert entries.lookups <= 1 + 11 + 20 + 1


def test_entries_a_little_out_of_time_order_are_neither_lost_nor_out_of_range(db):
    # Two writers whose clocks disagree by a second stamped entries 3 and 4 out of order.
    seconds = [0, 60, 121, 120, 180, 240]
    log, _ = log_of(db, [s / 60 for s in seconds])
    until = T0 + dt.timedelta(seconds=120)
    assert seqs(log.entries_of("acct", until=until)) == [4, 2, 1]
    since = T0 + dt.timedelta(seconds=121)
    assert seqs(log.entries_of("acct", since=since)) == [6, 5, 3]


# --- the catalog -----------------------------------------------------------------------------

STAFF = {"user_id": "usr_staff", "role": "center_staff", "community_id": "com_a",
         "center_id": "ctr_a"}
VOLUNTEER_A = {"user_id": "usr_li", "role": "volunteer", "subject_id": "vol_1",
               "community_id": "com_a"}
ADMIN = {"user_id": "admin", "role": "admin"}


@pytest.fixture
def store(db):
    store = RewardsStore(db)
    store.ensure_indexes()
    return store


@pytest.fixture
def service(store):
    volunteer = MagicMock()
    volunteer.get_center.side_effect = lambda center_id: {
        "id": center_id, "community_id": {"ctr_a": "com_a", "ctr_b": "com_b"}[center_id]}
    return worker_factory(RewardsService, store=store, volunteer=volunteer)


def create(service, title, kind="gift", center_id="ctr_a", key=None):
    actor = dict(STAFF, center_id=center_id, community_id=center_id.replace("ctr", "com"))
    return service.create_reward(actor, {"kind": kind, "title": title, "cost_points": 10,
                                         "stock": 2}, request_key=key)["id"]


def titles(page):
    return [item["title"] for item in page["items"]]


def test_a_retried_create_lists_the_reward_once(service):
    first = create(service, "rice", key="idem-1")
    assert create(service, "rice", key="idem-1") == first
    assert titles(service.list_rewards("com_a")) == ["rice"]


def test_the_catalog_is_filtered_by_community_and_kind_newest_first(service):
    create(service, "rice")
    create(service, "haircut", kind="service")
    create(service, "oil")
    create(service, "tea", center_id="ctr_b")
    assert titles(service.list_rewards("com_a", "gift")) == ["oil", "rice"]
    assert titles(service.list_rewards(actor=VOLUNTEER_A)) == ["oil", "haircut", "rice"]
    assert titles(service.list_rewards(kind="service", actor=VOLUNTEER_A)) == ["haircut"]
    assert titles(service.list_rewards(actor=ADMIN)) == ["tea", "oil", "haircut", "rice"]
    assert titles(service.list_rewards("com_b", actor=VOLUNTEER_A)) == ["tea"]


def test_catalog_pages_follow_the_cursor(service):
    for title in ("a", "b", "c", "d", "e"):
        create(service, title)
    first = service.list_rewards(actor=VOLUNTEER_A, limit=2)
    second = service.list_rewards(actor=VOLUNTEER_A, limit=2, cursor=first["next_cursor"])
    third = service.list_rewards(actor=VOLUNTEER_A, limit=2, cursor=second["next_cursor"])
    assert [titles(first), titles(second), titles(third)] == [["e", "d"], ["c", "b"], ["a"]]
    assert third["next_cursor"] is None


def test_a_reward_listed_but_never_stored_is_skipped(service, store):
    create(service, "rice")
    store.catalog.add({"_id": "rwd_crashed", "community_id": "com_a", "kind": "gift"})
    page = service.list_rewards(actor=VOLUNTEER_A)
    assert titles(page) == ["rice"] and page["next_cursor"] is None


@pytest.mark.parametrize("cursor", ["abc", "0", "-1", "rwd_1", "1.5", "9" * 19, True])
def test_a_catalog_cursor_is_a_positive_number(service, cursor):
    with pytest.raises(InvalidInput) as refused:
        service.list_rewards(actor=VOLUNTEER_A, cursor=cursor)
    assert "cursor" in refused.value.fields


def test_rewards_created_before_the_index_are_listed_once_by_the_backfill(db):
    old = RewardsStore(db)
    for n in (1, 2):
        old.rewards.insert_one({"_id": f"rwd_{n}", "kind": "gift", "community_id": "com_a",
                                "created_at": T0 + dt.timedelta(minutes=n)})
    RewardsStore(db).ensure_indexes()
    db.migrations.delete_one({"_id": "catalog_index"})  # as if it crashed before its marker
    RewardsStore(db).ensure_indexes()  # runs again and lists nothing twice
    ids, _ = RewardsStore(db).catalog.page("com_a", "gift", limit=10)
    assert ids == ["rwd_2", "rwd_1"]
    assert RewardsStore(db).catalog.log.head(stream_of("com_a", "gift"))[0] == 2
