"""The admin's lists (shared/listings.py, volunteer/admin_lists.py, RewardsService.list_merchants)
on the in-memory store: written on create, once per thing, paged newest first by _id alone."""
from unittest.mock import MagicMock

import pytest
from nameko.testing.services import worker_factory

from services.rewards.service import RewardsService
from services.rewards.storage import RewardsStore
from services.shared.errors import Forbidden, InvalidInput, NotFound
from services.shared.listings import Listings
from services.volunteer.service import VolunteerService
from services.volunteer.storage import VolunteerStore
from tests.unit.fakes import FakeDatabase

ADMIN = {"user_id": "admin", "role": "admin"}
STAFF = {"user_id": "wang", "role": "center_staff", "center_id": "ctr_1", "community_id": "com_1"}


def test_a_page_is_newest_first_and_its_cursor_leads_on():
    listings = Listings(FakeDatabase())
    listings.ensure_indexes()
    for n in range(5):
        listings.add("s", f"id{n}")
    ids, cursor = listings.page("s", 2)
    assert (ids, cursor) == (["id4", "id3"], "4")
    ids, cursor = listings.page("s", 2, cursor)
    assert (ids, cursor) == (["id2", "id1"], "2")
    assert listings.page("s", 2, cursor) == (["id0"], None)


def test_a_thing_added_twice_is_listed_once():
    listings = Listings(FakeDatabase())
    listings.ensure_indexes()
    listings.add("s", "a")
    listings.add("s", "a")
    assert listings.page("s", 10) == (["a"], None)


@pytest.fixture
def volunteer():
    store = VolunteerStore(FakeDatabase())
    store.ensure_indexes()
    listings = Listings(FakeDatabase())
    listings.ensure_indexes()
    return worker_factory(VolunteerService, store=store, listings=listings,
                          outbox=MagicMock(), config={"BCRYPT_ROUNDS": 4})


def test_communities_and_centers_are_listed_when_created_once_per_request(volunteer):
    first = volunteer.create_community(ADMIN, {"name": "一", "code": "one"}, "key-1")
    again = volunteer.create_community(ADMIN, {"name": "一", "code": "one"}, "key-1")
    second = volunteer.create_community(ADMIN, {"name": "二", "code": "two"}, "key-2")
    assert again["id"] == first["id"]
    listed = volunteer.list_communities(ADMIN, {})
    assert [c["id"] for c in listed["items"]] == [second["id"], first["id"]]
    assert listed["next_cursor"] is None

    center = volunteer.create_center(ADMIN, {"community_id": first["id"], "name": "中心"}, "k3")
    assert [c["id"] for c in volunteer.list_centers(ADMIN, first["id"], {})["items"]] == \
        [center["id"]]
    assert volunteer.list_centers(ADMIN, second["id"], {})["items"] == []


def test_logins_are_listed_by_center_with_their_disabled_state(volunteer):
    community = volunteer.create_community(ADMIN, {"name": "一", "code": "one"}, "k1")
    center = volunteer.create_center(ADMIN, {"community_id": community["id"], "name": "c"}, "k2")
    for name in ("zhang", "liwei"):
        volunteer.create_user(ADMIN, {"username": name, "password": "password-1",
                                      "role": "center_staff", "center_id": center["id"]}, name)
    volunteer.disable_user(ADMIN, "zhang")
    page = volunteer.list_logins(ADMIN, {"center_id": center["id"], "limit": "1"})
    assert [(u["username"], u["role"], u["disabled"]) for u in page["items"]] == \
        [("liwei", "center_staff", False)]
    rest = volunteer.list_logins(ADMIN, {"center_id": center["id"], "cursor": page["next_cursor"]})
    assert [(u["username"], u["disabled"]) for u in rest["items"]] == [("zhang", True)]


def test_logins_of_a_merchant_are_listed_under_it(volunteer):
    community = volunteer.create_community(ADMIN, {"name": "一", "code": "one"}, "k1")
    volunteer.rewards.get_merchant.return_value = {"id": "mer_1",
                                                   "community_id": community["id"]}
    volunteer.create_user(ADMIN, {"username": "shop", "password": "password-1",
                                  "role": "merchant", "merchant_id": "mer_1"}, "k2")
    assert [u["username"] for u in volunteer.list_logins(
        ADMIN, {"merchant_id": "mer_1"})["items"]] == ["shop"]


def test_the_lists_are_the_admins_and_refuse_bad_queries(volunteer):
    community = volunteer.create_community(ADMIN, {"name": "一", "code": "one"}, "k1")
    with pytest.raises(Forbidden):
        volunteer.list_communities(STAFF, {})
    with pytest.raises(Forbidden):
        volunteer.list_centers(STAFF, community["id"], {})
    with pytest.raises(NotFound):
        volunteer.list_centers(ADMIN, "com_nowhere", {})
    with pytest.raises(InvalidInput) as both:
        volunteer.list_logins(ADMIN, {"center_id": "a", "merchant_id": "b"})
    assert "center_id" in both.value.fields
    with pytest.raises(InvalidInput):
        volunteer.list_logins(ADMIN, {})
    with pytest.raises(InvalidInput) as bad:
        volunteer.list_communities(ADMIN, {"limit": "0", "cursor": "x"})
    assert set(bad.value.fields) == {"limit", "cursor"}


def test_merchants_are_listed_by_community_when_admitted():
    listings = Listings(FakeDatabase())
    listings.ensure_indexes()
    rewards = worker_factory(RewardsService, store=RewardsStore(FakeDatabase()),
                             listings=listings)
    first = rewards.create_merchant(ADMIN, {"community_id": "com_1", "name": "甲"}, "k1")
    rewards.create_merchant(ADMIN, {"community_id": "com_1", "name": "甲"}, "k1")  # a retry
    second = rewards.create_merchant(ADMIN, {"community_id": "com_1", "name": "乙"}, "k2")
    rewards.create_merchant(ADMIN, {"community_id": "com_2", "name": "丙"}, "k3")
    page = rewards.list_merchants(ADMIN, {"community_id": "com_1"})
    assert [m["id"] for m in page["items"]] == [second["id"], first["id"]]
    with pytest.raises(Forbidden):
        rewards.list_merchants(STAFF, {"community_id": "com_1"})


def _until_finished(tick, ticks=20):
    for _ in range(ticks):
        tick()
    return tick


def test_communities_centers_and_logins_stored_before_the_lists_join_them_once(volunteer):
    store = volunteer.store
    store.communities.insert_one({"_id": "com_old", "name": "旧", "code": "old"})
    store.centers.insert_one({"_id": "ctr_old", "community_id": "com_old", "name": "旧中心"})
    store.users.insert_one({"_id": "oldstaff",
                            "role": "center_staff", "center_id": "ctr_old",
                            "community_id": "com_old", "merchant_id": None})
    store.users.insert_one({"_id": "oldshop", "role": "merchant",
                            "center_id": None, "community_id": "com_old",
                            "merchant_id": "mer_old"})
    assert volunteer.list_communities(ADMIN, {})["items"] == []

    _until_finished(volunteer.list_earlier_tenancy)
    _until_finished(volunteer.list_earlier_tenancy)  # finished: lists nothing twice

    assert [c["id"] for c in volunteer.list_communities(ADMIN, {})["items"]] == ["com_old"]
    assert [c["id"] for c in volunteer.list_centers(ADMIN, "com_old", {})["items"]] == \
        ["ctr_old"]
    assert [u["username"] for u in volunteer.list_logins(
        ADMIN, {"center_id": "ctr_old"})["items"]] == ["oldstaff"]
    volunteer.rewards.get_merchant.return_value = {"id": "mer_old", "community_id": "com_old"}
    assert [u["username"] for u in volunteer.list_logins(
        ADMIN, {"merchant_id": "mer_old"})["items"]] == ["oldshop"]


def test_merchants_stored_before_the_lists_join_them_once():
    listings = Listings(FakeDatabase())
    listings.ensure_indexes()
    store = RewardsStore(FakeDatabase())
    rewards = worker_factory(RewardsService, store=store, listings=listings)
    store.merchants.insert_one({"_id": "mer_old", "community_id": "com_1", "name": "老店"})
    live = rewards.create_merchant(ADMIN, {"community_id": "com_1", "name": "新店"}, "k1")

    _until_finished(rewards.list_earlier_merchants)

    page = rewards.list_merchants(ADMIN, {"community_id": "com_1"})
    assert sorted(m["id"] for m in page["items"]) == sorted(["mer_old", live["id"]])
