"""Services between neighbours (rewards/bookings.py): offers, bookings, delivery, cancellation,
on the real rewards and points services over the in-memory store."""
import datetime as dt
from unittest.mock import MagicMock
from zoneinfo import ZoneInfo

import pytest
from nameko.testing.services import worker_factory

from services.points.ledger import Ledger, fund_account
from services.points.movements import MovementStore
from services.points.service import PointsService
from services.rewards import bookings
from services.rewards.service import RewardsService
from services.rewards.storage import RewardsStore
from services.shared.errors import Conflict, Forbidden, InsufficientPoints, InvalidInput, \
    NotFound, OutOfStock, RuleViolation, ServiceUnavailable
from services.shared.inflight import InFlight
from tests.unit.fakes import FakeDatabase
from tests.unit.test_points_service import ADMIN, scheme_body

ZHAO = {"user_id": "usr_zhao", "role": "volunteer", "subject_id": "vol_zhao",
        "community_id": "com_1"}  # the provider
LI = {"user_id": "usr_li", "role": "volunteer", "subject_id": "vol_li", "community_id": "com_1"}
WU = {"user_id": "usr_wu", "role": "volunteer", "subject_id": "vol_wu", "community_id": "com_1"}
STAFF = {"user_id": "usr_wang", "role": "center_staff", "center_id": "ctr_1",
         "community_id": "com_1"}
OTHER_STAFF = {"user_id": "usr_ma", "role": "center_staff", "center_id": "ctr_2",
               "community_id": "com_2"}
NINE = "2030-03-02T09:00:00+08:00"
NINE_UTC = "2030-03-02T01:00:00+00:00"
TEN_UTC = "2030-03-02T02:00:00+00:00"
COST = 20


class Points:
    """The points service as the rewards service calls it; ``down`` makes it unreachable."""

    def __init__(self):
        self.ledger = Ledger(FakeDatabase())
        self.ledger.ensure_indexes()
        self.service = worker_factory(PointsService, ledger=self.ledger,
                                      movement_store=MovementStore(FakeDatabase()))
        self.down = False

    def __getattr__(self, name):
        def call(*args, **kwargs):
            if self.down:
                raise ServiceUnavailable("points did not answer")
            return getattr(self.service, name)(*args, **kwargs)
        return call

    def give(self, account, points):
        self.ledger.credit(account, points, key=f"start:{account}", kind="grant", reason="start",
                           ref={"type": "test", "id": account}, by="test")

    def balance(self, account):
        return self.ledger.balance(account)


@pytest.fixture
def points():
    points = Points()
    points.give("vol_li", 50)
    points.give("vol_wu", 50)
    return points


@pytest.fixture
def rewards(db, points):
    store = RewardsStore(db)
    store.ensure_indexes()
    volunteer = MagicMock()
    volunteer.get_center.side_effect = lambda center_id: {"id": center_id,
                                                          "community_id": "com_1"}
    return worker_factory(RewardsService, store=store, points=points, volunteer=volunteer)


def offer(rewards, actor=ZHAO, key="idk_offer", **terms):
    body = {"kind": "service", "title": "修理水龙头", "cost_points": COST, "location": "3号楼",
            "duration_minutes": 60, "slots": [NINE, "2030-03-02T10:00:00+08:00"], **terms}
    return rewards.create_reward(actor, body, request_key=key)


def book(rewards, reward_id, actor=LI, slot=NINE, key="idk_book", **more):
    body = {"reward_id": reward_id, "volunteer_id": actor["subject_id"], "slot": slot, **more}
    return rewards.redeem(actor, body, request_key=key)


def free(rewards, reward_id):
    return {s["starts_at"]: s["free"] for s in rewards.get_reward(reward_id)["sessions"]}


# --- offering --------------------------------------------------------------------------------

def test_a_volunteer_offers_a_service_of_their_own(rewards):
    service = offer(rewards)
    assert (service["provider_volunteer_id"], service["center_id"]) == ("vol_zhao", None)
    assert (service["community_id"], service["location"], service["duration_minutes"]) == (
        "com_1", "3号楼", 60)
    assert free(rewards, service["id"]) == {NINE_UTC: True, TEN_UTC: True}
    assert service["stock"] == 2
    assert offer(rewards) == service  # the same Idempotency-Key: the same offer, stocked once
    assert rewards.store.stock.total(f"{service['id']}@{NINE_UTC}") == 1


def test_staff_offer_for_their_own_center_only(rewards):
    service = offer(rewards, STAFF, key="idk_center")
    assert (service["provider_volunteer_id"], service["center_id"]) == (None, "ctr_1")
    with pytest.raises(Forbidden):
        offer(rewards, STAFF, key="idk_other", center_id="ctr_2")
    with pytest.raises(InvalidInput):  # a volunteer's service is their own, not a center's
        offer(rewards, ZHAO, key="idk_vol_center", center_id="ctr_1")


@pytest.mark.parametrize("terms, field", [
    ({"slots": [NINE, "2030-03-02T01:00:00Z"]}, "slots"),  # one instant twice
    ({"slots": ["2020-01-01T09:00:00+08:00"]}, "slots"),
    ({"stock": 3}, "stock"),
    ({"pickup_days": 3}, "pickup_days"),
])
def test_an_offer_with_impossible_terms_is_400(rewards, terms, field):
    with pytest.raises(InvalidInput) as refused:
        offer(rewards, **terms)
    assert field in refused.value.fields


# --- booking ---------------------------------------------------------------------------------

def test_a_booking_takes_the_slot_and_the_receivers_points(rewards, points):
    service = offer(rewards)
    booking = book(rewards, service["id"], slot="2030-03-02T01:00:00Z")  # the same instant
    assert (booking["status"], booking["points"], booking["slot"]) == ("confirmed", COST,
                                                                       NINE_UTC)
    assert points.balance("vol_li") == 50 - COST
    assert free(rewards, service["id"]) == {NINE_UTC: False, TEN_UTC: True}
    assert book(rewards, service["id"]) == booking  # replayed: once
    assert points.balance("vol_li") == 50 - COST


def test_the_provider_cannot_book_their_own_service(rewards, points):
    points.give("vol_zhao", 50)
    service = offer(rewards)
    with pytest.raises(RuleViolation) as refused:
        book(rewards, service["id"], actor=ZHAO)
    assert refused.value.code == "own_service"
    assert points.balance("vol_zhao") == 50 and free(rewards, service["id"])[NINE_UTC]


def test_a_session_that_has_begun_cannot_be_booked(rewards, points, monkeypatch):
    service = offer(rewards)
    monkeypatch.setattr(bookings, "now", lambda: dt.datetime.fromisoformat(NINE_UTC))
    with pytest.raises(RuleViolation) as refused:
        book(rewards, service["id"])
    assert (refused.value.code, list(refused.value.fields)) == ("slot_passed", ["slot"])
    assert points.balance("vol_li") == 50 and free(rewards, service["id"])[NINE_UTC]
    assert book(rewards, service["id"], slot=TEN_UTC, key="idk_10")["status"] == "confirmed"


def test_a_slot_is_booked_once(rewards, points):
    service = offer(rewards)
    book(rewards, service["id"])
    with pytest.raises(OutOfStock):
        book(rewards, service["id"], actor=WU, key="idk_wu")
    assert points.balance("vol_wu") == 50  # the loser paid nothing
    assert book(rewards, service["id"], actor=WU, slot=TEN_UTC, key="idk_wu_10")["status"] \
        == "confirmed"


def test_a_refused_debit_frees_the_slot(rewards, points):
    service = offer(rewards, cost_points=60)
    with pytest.raises(InsufficientPoints):
        book(rewards, service["id"])
    assert free(rewards, service["id"])[NINE_UTC]


@pytest.mark.parametrize("more, field", [
    ({"slot": None}, "slot"), ({"slot": "2030-03-02T11:00:00+08:00"}, "slot"),
    ({"quantity": 2}, "quantity")])
def test_a_booking_names_one_offered_slot(rewards, more, field):
    service = offer(rewards)
    with pytest.raises(InvalidInput) as refused:
        book(rewards, service["id"], **more)
    assert field in refused.value.fields


def test_the_same_key_for_another_slot_is_409(rewards):
    service = offer(rewards)
    book(rewards, service["id"])
    with pytest.raises(Conflict) as refused:
        book(rewards, service["id"], slot=TEN_UTC)
    assert refused.value.code == "idempotency_key_reused"


# --- delivered or cancelled ------------------------------------------------------------------

def earned(points, account, rid):
    return [e for e in points.ledger.statement(account)
            if e["kind"] == "earn" and e["ref"] == {"type": "booking", "id": rid}]


def test_delivery_pays_the_provider_an_earn_naming_the_booking_once(rewards, points):
    service = offer(rewards)
    rid = book(rewards, service["id"])["id"]
    assert rewards.fulfill_redemption(ZHAO, rid)["status"] == "fulfilled"
    assert rewards.fulfill_redemption(ZHAO, rid)["status"] == "fulfilled"  # again: the same
    assert [e["delta"] for e in earned(points, "vol_zhao", rid)] == [COST]
    assert points.balance("vol_li") == 50 - COST
    assert rewards.store.redemption(rid)["status"] == "fulfilled"
    assert not free(rewards, service["id"])[NINE_UTC]


def test_a_centers_service_earns_for_its_communitys_fund(rewards, points):
    service = offer(rewards, STAFF, key="idk_center")
    rid = book(rewards, service["id"])["id"]
    rewards.fulfill_redemption(STAFF, rid)
    assert [e["delta"] for e in earned(points, fund_account("com_1"), rid)] == [COST]


def test_a_delivery_above_the_providers_storage_cap_sends_the_excess_to_the_fund_once(
        rewards, points):
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    points.service.publish_scheme(ADMIN, "com_1", scheme_body(today, storage_cap_points=30))
    points.give("vol_zhao", 25)
    rid = book(rewards, offer(rewards)["id"])["id"]
    rewards.fulfill_redemption(ZHAO, rid)  # 25 + 20 earned: 15 above the cap
    fund = fund_account("com_1")
    assert (points.balance("vol_zhao"), points.balance(fund)) == (30, 15)
    [earn] = earned(points, "vol_zhao", rid)
    [out] = [e for e in points.ledger.statement("vol_zhao") if e["kind"] == "overflow"]
    [into] = points.ledger.statement(fund)
    assert (earn["delta"], out["delta"], into["delta"], into["kind"]) == (COST, -15, 15,
                                                                          "overflow")
    assert out["pair"] == into["key"] and into["pair"] == out["key"]
    # Delivered again, and the end carried out again (recovery): nothing more moves.
    rewards.fulfill_redemption(ZHAO, rid)
    bookings.carry_out(rewards, rid, rewards.store.bookings.closures.find_one({"_id": rid}))
    assert (points.balance("vol_zhao"), points.balance(fund)) == (30, 15)
    assert len(points.ledger.statement(fund)) == 1


def test_only_the_provider_marks_it_delivered(rewards, points):
    service = offer(rewards)
    rid = book(rewards, service["id"])["id"]
    with pytest.raises(Forbidden):
        rewards.fulfill_redemption(LI, rid)  # the receiver
    for stranger in (WU, STAFF, OTHER_STAFF):
        with pytest.raises(NotFound):
            rewards.fulfill_redemption(stranger, rid)
    assert not earned(points, "vol_zhao", rid)


def test_a_cancellation_gives_the_points_back_and_frees_the_slot(rewards, points):
    service = offer(rewards)
    rid = book(rewards, service["id"])["id"]
    assert rewards.cancel_redemption(LI, rid)["status"] == "cancelled"
    refund = points.ledger.find(f"refund:redemption:{rid}")
    assert (refund["kind"], refund["delta"], points.balance("vol_li")) == ("refund", COST, 50)
    assert free(rewards, service["id"])[NINE_UTC]
    assert book(rewards, service["id"], actor=WU, key="idk_wu")["status"] == "confirmed"
    with pytest.raises(Conflict) as refused:
        rewards.fulfill_redemption(ZHAO, rid)  # cancelled: never delivered too
    assert refused.value.code == "already_cancelled"
    assert not earned(points, "vol_zhao", rid)


@pytest.mark.parametrize("who", [ZHAO, STAFF])
def test_the_provider_or_staff_may_cancel(rewards, points, who):
    rid = book(rewards, offer(rewards)["id"])["id"]
    rewards.cancel_redemption(who, rid)
    assert points.balance("vol_li") == 50


def test_a_delivered_booking_cannot_be_cancelled(rewards, points):
    rid = book(rewards, offer(rewards)["id"])["id"]
    rewards.fulfill_redemption(ZHAO, rid)
    with pytest.raises(Conflict) as refused:
        rewards.cancel_redemption(LI, rid)
    assert refused.value.code == "already_fulfilled"
    assert points.balance("vol_li") == 50 - COST


def test_a_delivery_stopped_after_its_decision_is_finished_by_recovery(rewards, points,
                                                                        monkeypatch):
    rid = book(rewards, offer(rewards)["id"])["id"]
    points.down = True
    with pytest.raises(ServiceUnavailable):
        rewards.fulfill_redemption(ZHAO, rid)
    with pytest.raises(Conflict):  # decided, though not carried out: a cancel loses
        rewards.cancel_redemption(LI, rid)
    assert not earned(points, "vol_zhao", rid)
    points.down = False
    monkeypatch.setattr(InFlight, "stalled", lambda self, older_than=None, limit=500: [
        m["_id"] for m in self.collection.find({})])
    rewards.finish_stalled_bookings()
    assert [e["delta"] for e in earned(points, "vol_zhao", rid)] == [COST]
    assert rewards.store.redemption(rid)["status"] == "fulfilled"
    assert rewards.store.bookings.closing.collection.find_one({}) is None


def test_a_pending_booking_cannot_end(rewards, points):
    service = offer(rewards)
    points.down = True
    with pytest.raises(ServiceUnavailable):
        book(rewards, service["id"])
    (rid,) = list(rewards.store.redemptions.docs)
    with pytest.raises(Conflict) as refused:
        rewards.cancel_redemption(LI, rid)
    assert refused.value.code == "redemption_pending"


def test_the_catalog_shows_a_service_with_its_sessions(rewards):
    service = offer(rewards)
    book(rewards, service["id"])
    [listed] = rewards.list_rewards("com_1", "service")["items"]
    assert listed["sessions"] == [{"starts_at": NINE_UTC, "free": False},
                                  {"starts_at": TEN_UTC, "free": True}]
    assert dt.datetime.fromisoformat(listed["sessions"][0]["starts_at"]) == \
        dt.datetime.fromisoformat(NINE)
