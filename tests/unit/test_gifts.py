"""The gift shelf (services/rewards/gifts.py) on the in-memory store: a gift's limit per volunteer,
its validity window, fulfil / cancel / expiry of a redemption (each once, excluding each other),
the expiry timer driven by an injected clock, and a volunteer's redemptions list."""
import datetime as dt

import pytest
from nameko.testing.services import worker_factory

from services.points.ledger import Ledger
from services.points.movements import MovementStore
from services.points.service import PointsService
from services.rewards import gifts
from services.rewards.service import RewardsService
from services.rewards.storage import RewardsStore
from services.shared.errors import Conflict, InvalidInput, NotFound, RuleViolation
from tests.unit.explorer import Hook, HookedDatabase
from tests.unit.fakes import FakeDatabase

LI = {"user_id": "usr_li", "role": "volunteer", "subject_id": "vol_1", "community_id": "com_1"}
ZHAO = {"user_id": "usr_zhao", "role": "volunteer", "subject_id": "vol_2",
        "community_id": "com_1"}
STAFF = {"user_id": "wang", "role": "center_staff", "center_id": "ctr_1", "community_id": "com_1"}
OTHER_STAFF = {"user_id": "chen", "role": "center_staff", "center_id": "ctr_2",
               "community_id": "com_1"}
ADMIN = {"user_id": "admin", "role": "admin"}
COST, STOCK = 20, 5
# A Tuesday morning in Shanghai: pickup_days=2 means until the end of Thursday there.
T0 = dt.datetime(2026, 11, 17, 2, 0, tzinfo=dt.timezone.utc)


class Clock:
    def __init__(self, moment=T0):
        self.moment = moment

    def __call__(self):
        return self.moment


class Shelf:
    """The rewards service over a real points service, both on in-memory stores."""

    def __init__(self, rewards_db=None):
        self.clock = Clock()
        self.ledger = Ledger(FakeDatabase())
        self.ledger.ensure_indexes()
        self.points = worker_factory(PointsService, ledger=self.ledger,
                                     movement_store=MovementStore(FakeDatabase()))
        self.store = RewardsStore(rewards_db or FakeDatabase())
        self.store.ensure_indexes()
        self.rewards = worker_factory(RewardsService, store=self.store, points=self.points)
        self.rewards.clock = self.clock
        for volunteer in ("vol_1", "vol_2"):
            self.ledger.credit(volunteer, 100, key=f"start:{volunteer}", kind="grant",
                               reason="start", ref={"type": "test", "id": "start"}, by="test")

    def gift(self, reward_id="rwd_rice", **terms):
        self.store.rewards.insert_one(dict({
            "_id": reward_id, "kind": "gift", "title": "大米 5kg", "description": None,
            "cost_points": COST, "community_id": "com_1", "center_id": "ctr_1",
            "merchant_id": None, "tracks_stock": True, "created_by": "wang"},
            **gifts.terms_of(terms)))
        self.store.stock.append(reward_id, STOCK, key=f"{reward_id}:initial")
        return reward_id

    def redeem(self, key, reward_id="rwd_rice", actor=LI, quantity=1):
        return self.rewards.redeem(actor, {"reward_id": reward_id,
                                           "volunteer_id": actor["subject_id"],
                                           "quantity": quantity}, request_key=key)

    def balance(self, volunteer="vol_1"):
        return self.ledger.balance(volunteer)

    def stock(self, reward_id="rwd_rice"):
        return self.store.stock.total(reward_id)


@pytest.fixture
def shelf():
    return Shelf()


# --- terms ------------------------------------------------------------------------------------

def test_a_volunteer_cannot_pass_the_limit_and_gets_it_back_when_a_redemption_ends(shelf):
    shelf.gift(per_volunteer_limit=1)
    first = shelf.redeem("idk_1")
    with pytest.raises(RuleViolation) as refused:
        shelf.redeem("idk_2")
    assert refused.value.code == "limit_reached"
    assert (shelf.balance(), shelf.stock()) == (100 - COST, STOCK - 1)  # nothing of the second
    assert shelf.redeem("idk_3", actor=ZHAO)["status"] == "confirmed"  # per volunteer
    shelf.rewards.cancel_redemption(LI, first["id"])
    assert shelf.redeem("idk_4")["status"] == "confirmed"  # the allowance came back


def test_a_quantity_over_the_limit_is_refused_whole(shelf):
    shelf.gift(per_volunteer_limit=2)
    with pytest.raises(RuleViolation):
        shelf.redeem("idk_1", quantity=3)
    assert (shelf.balance(), shelf.stock()) == (100, STOCK)


def test_outside_the_validity_window_a_redemption_is_422_and_stores_nothing(shelf):
    shelf.gift(valid_from=T0 + dt.timedelta(days=1), valid_until=T0 + dt.timedelta(days=2))
    with pytest.raises(RuleViolation) as early:
        shelf.redeem("idk_1")
    shelf.clock.moment = T0 + dt.timedelta(days=2)
    with pytest.raises(RuleViolation) as late:
        shelf.redeem("idk_2")
    assert (early.value.status, early.value.code) == (422, "not_yet_valid")
    assert late.value.code == "no_longer_valid"
    assert shelf.store.redemptions.docs == {}
    shelf.clock.moment = T0 + dt.timedelta(days=1, hours=1)
    assert shelf.redeem("idk_3")["status"] == "confirmed"


def test_terms_are_checked_when_the_gift_is_added():
    with pytest.raises(InvalidInput) as backwards:
        gifts.check_terms({"kind": "gift", "valid_from": T0, "valid_until": T0})
    with pytest.raises(InvalidInput) as not_a_gift:
        gifts.check_terms({"kind": "service", "pickup_days": 3})
    assert "valid_until" in backwards.value.fields and "pickup_days" in not_a_gift.value.fields
    for kind in ("gift", "service"):  # a quota nobody would enforce is refused, not stored
        with pytest.raises(InvalidInput) as no_quota:
            gifts.check_terms({"kind": kind, "daily_quota": 5})
        assert list(no_quota.value.fields) == ["daily_quota"]
    gifts.check_terms({"kind": "merchant_offer", "daily_quota": 5})


# --- fulfil and cancel -----------------------------------------------------------------------

def test_staff_of_the_center_fulfil_once_and_no_one_else_can(shelf):
    shelf.gift()
    rid = shelf.redeem("idk_1")["id"]
    for stranger in (OTHER_STAFF, LI, ZHAO):
        with pytest.raises(NotFound):
            shelf.rewards.fulfill_redemption(stranger, rid)
    done = shelf.rewards.fulfill_redemption(STAFF, rid)
    again = shelf.rewards.fulfill_redemption(STAFF, rid)
    assert done["status"] == again["status"] == "fulfilled"
    assert done["pickup_code"] is None  # staff never see the code
    with pytest.raises(Conflict) as late:
        shelf.rewards.cancel_redemption(LI, rid)
    assert late.value.code == "already_fulfilled"
    assert (shelf.balance(), shelf.stock()) == (100 - COST, STOCK - 1)


def test_cancel_gives_points_and_stock_back_once_as_new_entries(shelf):
    shelf.gift()
    rid = shelf.redeem("idk_1", quantity=2)["id"]
    assert (shelf.balance(), shelf.stock()) == (100 - 2 * COST, STOCK - 2)
    first = shelf.rewards.cancel_redemption(LI, rid)
    second = shelf.rewards.cancel_redemption(STAFF, rid)
    assert first["status"] == second["status"] == "cancelled"
    assert (shelf.balance(), shelf.stock()) == (100, STOCK)
    refund = shelf.ledger.find(gifts.refund_key(rid))
    assert (refund["kind"], refund["delta"]) == ("refund", 2 * COST)
    assert shelf.ledger.accounts.verify("vol_1") and shelf.store.stock.verify("rwd_rice")
    assert len(shelf.ledger.statement("vol_1")) == 3  # start, redeem, refund: nothing edited
    with pytest.raises(Conflict) as late:
        shelf.rewards.fulfill_redemption(STAFF, rid)
    assert late.value.code == "already_cancelled"


def test_a_failed_redemption_cannot_be_ended(shelf):
    shelf.gift()
    with pytest.raises(Conflict):
        shelf.redeem("idk_1", quantity=STOCK + 1)
    (rid,) = shelf.store.redemptions.docs
    with pytest.raises(Conflict) as refused:
        shelf.rewards.cancel_redemption(LI, rid)
    assert refused.value.code == "redemption_failed"


def test_a_crash_between_deciding_and_giving_back_is_finished_by_recovery(shelf, monkeypatch):
    shelf.gift(per_volunteer_limit=1)
    rid = shelf.redeem("idk_1")["id"]

    def die(*args, **kwargs):
        raise SystemExit("killed after the decision")
    monkeypatch.setattr(gifts.GiftShelf, "_give_back", die)
    with pytest.raises(SystemExit):
        shelf.rewards.cancel_redemption(LI, rid)
    monkeypatch.undo()
    assert shelf.balance() == 100 - COST  # decided, not given back yet
    monkeypatch.setattr(shelf.store.gifts.closing, "stalled", lambda: [rid])
    shelf.rewards.finish_stalled_endings()
    assert (shelf.balance(), shelf.stock()) == (100, STOCK)
    assert shelf.store.gifts.closing.collection.docs == {}
    assert shelf.redeem("idk_2")["status"] == "confirmed"  # the allowance came back too


# --- expiry ------------------------------------------------------------------------------------

def test_an_uncollected_gift_expires_after_its_pickup_day_and_gives_everything_back(shelf):
    shelf.gift(pickup_days=2, per_volunteer_limit=1)
    out = shelf.redeem("idk_1")
    assert out["pickup_day"] == "2026-11-19"
    shelf.clock.moment = dt.datetime(2026, 11, 19, 15, 59, tzinfo=dt.timezone.utc)  # 23:59 local
    assert shelf.rewards._gift_shelf().expire_uncollected() == 0
    shelf.clock.moment = dt.datetime(2026, 11, 19, 16, 0, tzinfo=dt.timezone.utc)  # midnight
    assert shelf.rewards._gift_shelf().expire_uncollected() == 1
    assert shelf.rewards._gift_shelf().expire_uncollected() == 0
    assert shelf.store.redemption(out["id"])["status"] == "expired"
    assert (shelf.balance(), shelf.stock()) == (100, STOCK)
    with pytest.raises(Conflict) as late:
        shelf.rewards.fulfill_redemption(STAFF, out["id"])
    assert late.value.code == "already_expired"
    assert shelf.rewards.cancel_redemption(LI, out["id"])["status"] == "expired"
    assert shelf.redeem("idk_2")["status"] == "confirmed"


def test_a_collected_or_cancelled_gift_never_expires(shelf):
    shelf.gift(pickup_days=1)
    fulfilled = shelf.redeem("idk_1")["id"]
    cancelled = shelf.redeem("idk_2")["id"]
    shelf.rewards.fulfill_redemption(STAFF, fulfilled)
    shelf.rewards.cancel_redemption(LI, cancelled)
    shelf.clock.moment = T0 + dt.timedelta(days=5)
    assert shelf.rewards._gift_shelf().expire_uncollected() == 0
    assert shelf.store.redemption(fulfilled)["status"] == "fulfilled"
    assert (shelf.balance(), shelf.stock()) == (100 - COST, STOCK - 1)


def test_staff_handing_over_after_the_pickup_period_find_it_expired(shelf):
    shelf.gift(pickup_days=1)
    rid = shelf.redeem("idk_1")["id"]
    shelf.clock.moment = T0 + dt.timedelta(days=3)  # before the timer ran
    with pytest.raises(Conflict) as late:
        shelf.rewards.fulfill_redemption(STAFF, rid)
    assert late.value.code == "already_expired"
    assert (shelf.balance(), shelf.stock()) == (100, STOCK)


def test_a_redemption_still_under_way_holds_its_day_open_until_its_saga_ends(shelf):
    shelf.gift(pickup_days=1)
    shelf.rewards.points = None  # the points service is down: the saga stops before its debit
    with pytest.raises(Exception):
        shelf.redeem("idk_1")
    shelf.clock.moment = T0 + dt.timedelta(days=3)
    assert shelf.rewards._gift_shelf().expire_uncollected() == 0
    shelf.rewards.points = shelf.points
    shelf.redeem("idk_1")  # the client's retry finishes the saga: confirmed
    assert shelf.rewards._gift_shelf().expire_uncollected() == 1
    assert (shelf.balance(), shelf.stock()) == (100, STOCK)


def expiry_tick_cost(redemptions_before):
    """Store operations of an expiry tick that finds nothing new, after ``redemptions_before``
    redemptions expired over the previous days."""
    hook = Hook()
    shelf = Shelf(HookedDatabase("rewards", hook))
    shelf.gift(pickup_days=1)
    shelf.store.stock.append("rwd_rice", 1000, key="restock")
    shelf.ledger.credit("vol_1", 100_000, key="more", kind="grant", reason="more",
                        ref={"type": "test", "id": "more"}, by="test")
    for n in range(redemptions_before):
        shelf.clock.moment = T0 + dt.timedelta(days=n % 5, minutes=n)
        shelf.redeem(f"idk_{n}")
    shelf.clock.moment = T0 + dt.timedelta(days=8)
    shelf.rewards.expire_uncollected_gifts()
    shelf.clock.moment += dt.timedelta(hours=1)
    start = hook.count
    shelf.rewards.expire_uncollected_gifts()
    return hook.count - start


def test_the_expiry_tick_does_not_grow_with_the_redemptions_stored():
    assert expiry_tick_cost(40) == expiry_tick_cost(2) <= 6


# --- the list ----------------------------------------------------------------------------------

def test_a_volunteers_redemptions_newest_first_with_status_and_code_for_them_only(shelf):
    shelf.gift()
    ids = []
    for n in range(4):
        shelf.clock.moment = T0 + dt.timedelta(minutes=n)
        ids.append(shelf.redeem(f"idk_{n}")["id"])
    shelf.rewards.fulfill_redemption(STAFF, ids[0])
    shelf.rewards.cancel_redemption(LI, ids[1])
    shelf.redeem("idk_other", actor=ZHAO)
    first = shelf.rewards.volunteer_redemptions(LI, "vol_1", limit=3)
    rest = shelf.rewards.volunteer_redemptions(LI, "vol_1", limit=3,
                                               cursor=first["next_cursor"])
    items = first["items"] + rest["items"]
    assert [i["id"] for i in items] == ids[::-1] and rest["next_cursor"] is None
    assert [i["status"] for i in items] == ["confirmed", "confirmed", "cancelled", "fulfilled"]
    assert items[0]["reward_title"] == "大米 5kg" and items[0]["points"] == COST
    assert items[0]["pickup_code"] and items[2]["pickup_code"] is None
    staff_view = shelf.rewards.volunteer_redemptions(STAFF, "vol_1")["items"]
    assert all(i["pickup_code"] is None for i in staff_view)
    with pytest.raises(InvalidInput):
        shelf.rewards.volunteer_redemptions(LI, "vol_1", cursor="0")


def test_a_redemption_listed_but_never_stored_is_skipped(shelf):
    shelf.gift()
    shelf.store.gifts.listings.append("vol_1", 1, key="rdm_ghost:listed", floor=None,
                                      fields={"redemption_id": "rdm_ghost"})
    rid = shelf.redeem("idk_1")["id"]
    assert [i["id"] for i in shelf.rewards.volunteer_redemptions(LI, "vol_1")["items"]] == [rid]
