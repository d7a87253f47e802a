"""A center's gift pickups (services/rewards/gifts.py hand_over, waiting): staff find a
redemption by the pickup code a volunteer shows and hand it over; the center's waiting gifts
newest first; both read a few entries by _id, however many redemptions are stored."""
import pytest

from services.rewards import gifts
from services.shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from tests.unit.explorer import Hook, HookedDatabase
from tests.unit.test_gifts import LI, OTHER_STAFF, STAFF, ZHAO, Shelf


@pytest.fixture
def shelf():
    return Shelf()


def test_staff_hand_a_gift_over_by_its_pickup_code_once(shelf):
    shelf.gift()
    redeemed = shelf.redeem("r1")
    handed = shelf.rewards.hand_over_gift(STAFF, "ctr_1", redeemed["pickup_code"])
    assert (handed["id"], handed["status"]) == (redeemed["id"], "fulfilled")
    assert handed["pickup_code"] is None  # the code is the volunteer's to show
    again = shelf.rewards.hand_over_gift(STAFF, "ctr_1", redeemed["pickup_code"])
    assert again["status"] == "fulfilled"
    assert shelf.store.redemption(redeemed["id"])["status"] == "fulfilled"


def test_an_unknown_code_another_center_or_role_is_refused(shelf):
    shelf.gift()
    code = shelf.redeem("r1")["pickup_code"]
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(NotFound) as unknown:
        shelf.rewards.hand_over_gift(STAFF, "ctr_1", wrong)
    assert unknown.value.args[1] == "unknown_pickup_code"
    assert "pickup_code" in unknown.value.args[2]
    with pytest.raises(NotFound):
        shelf.rewards.hand_over_gift(OTHER_STAFF, "ctr_1", code)
    with pytest.raises(Forbidden):
        shelf.rewards.hand_over_gift(LI, "ctr_1", code)
    with pytest.raises(NotFound):
        shelf.rewards.center_pickups(OTHER_STAFF, "ctr_1")


def test_a_code_shared_by_two_redemptions_hands_over_the_one_still_waiting(shelf, monkeypatch):
    shelf.gift()
    monkeypatch.setattr(gifts.domain, "pickup_code", lambda: "123456")
    first = shelf.redeem("r1")
    second = shelf.redeem("r2", actor=ZHAO)
    shelf.rewards.cancel_redemption(ZHAO, second["id"])
    assert shelf.rewards.hand_over_gift(STAFF, "ctr_1", "123456")["id"] == first["id"]
    with pytest.raises(Conflict):  # the only one left was cancelled
        shelf.rewards.hand_over_gift(STAFF, "ctr_1", "123456")


def test_the_centers_waiting_gifts_newest_first_without_the_ended_ones(shelf):
    shelf.gift()
    first, second, third = (shelf.redeem(f"r{i}", actor=actor)
                            for i, actor in enumerate((LI, ZHAO, LI)))
    shelf.rewards.fulfill_redemption(STAFF, second["id"])
    page = shelf.rewards.center_pickups(STAFF, "ctr_1", limit=2)
    assert [i["id"] for i in page["items"]] == [third["id"]]  # second was handed over
    assert page["items"][0]["pickup_code"] is None
    rest = shelf.rewards.center_pickups(STAFF, "ctr_1", limit=2, cursor=page["next_cursor"])
    assert [i["id"] for i in rest["items"]] == [first["id"]] and rest["next_cursor"] is None
    with pytest.raises(InvalidInput):
        shelf.rewards.center_pickups(STAFF, "ctr_1", cursor="x")


def pickup_cost(redemptions_before):
    """Store operations of one waiting page and one hand-over by code, after that many
    redemptions at the center."""
    hook = Hook()
    shelf = Shelf(HookedDatabase("rewards", hook))
    shelf.gift()
    shelf.store.stock.append("rwd_rice", 1000, key="restock")
    shelf.ledger.credit("vol_1", 100_000, key="more", kind="grant", reason="more",
                        ref={"type": "test", "id": "more"}, by="test")
    for n in range(redemptions_before):
        shelf.redeem(f"old_{n}")
    code = shelf.redeem("last")["pickup_code"]
    start = hook.count
    shelf.rewards.center_pickups(STAFF, "ctr_1", limit=5)
    shelf.rewards.hand_over_gift(STAFF, "ctr_1", code)
    return hook.count - start


def test_a_pickup_does_not_grow_with_the_redemptions_stored():
    assert pickup_cost(40) == pickup_cost(6)


def test_gifts_still_waiting_from_before_the_pickup_lists_join_them_once(shelf, monkeypatch):
    shelf.gift()
    with monkeypatch.context() as before_the_lists:
        before_the_lists.setattr(gifts.GiftShelf, "list_at_center", lambda self, r: None)
        waiting = shelf.redeem("r1")
        handed = shelf.redeem("r2", actor=ZHAO)
        shelf.rewards.fulfill_redemption(STAFF, handed["id"])
    assert shelf.rewards.center_pickups(STAFF, "ctr_1")["items"] == []

    for _ in range(3):  # the migration, then ticks that find it finished
        shelf.rewards.list_earlier_pickups()

    assert [i["id"] for i in shelf.rewards.center_pickups(STAFF, "ctr_1")["items"]] == \
        [waiting["id"]]
    assert shelf.rewards.hand_over_gift(STAFF, "ctr_1", waiting["pickup_code"])["id"] == \
        waiting["id"]
