"""Partner merchants (services/rewards/merchants.py) on the in-memory store: the real rewards and
points services (worker_factory), the volunteer service and the scheme answered by stand-ins."""
import datetime as dt

import pytest
from nameko.testing.services import worker_factory

from services.points.ledger import Ledger
from services.points.movements import MovementStore
from services.points.service import PointsService
from services.rewards import merchants
from services.rewards.service import RewardsService
from services.rewards.storage import RewardsStore
from services.shared.clock import now
from services.shared.errors import Conflict, Forbidden, InsufficientPoints, NotFound, \
    RuleViolation, TooManyAttempts
from tests.unit.fakes import FakeDatabase

LI = {"user_id": "usr_li", "role": "volunteer", "subject_id": "vol_1", "community_id": "com_1"}
WANG = {"user_id": "usr_wang", "role": "volunteer", "subject_id": "vol_2",
        "community_id": "com_1"}
SHOP = {"user_id": "usr_shop", "role": "merchant", "merchant_id": "mer_1",
        "community_id": "com_1"}
OTHER_SHOP = {"user_id": "usr_other", "role": "merchant", "merchant_id": "mer_2",
              "community_id": "com_1"}
STAFF = {"user_id": "usr_staff", "role": "center_staff", "center_id": "ctr_1",
         "community_id": "com_1"}


class Volunteers:
    def __init__(self):
        self.minutes = {"vol_1": 600, "vol_2": 600}

    def get_volunteer(self, actor, volunteer_id):
        return {"id": volunteer_id, "community_id": "com_1",
                "approved_minutes": self.minutes[volunteer_id]}

    def masked_volunteer_name(self, volunteer_id):
        return {"vol_1": "李*明", "vol_2": "王*"}[volunteer_id]


class Points:
    """The points service as the rewards service calls it: the real one, but the scheme."""

    def __init__(self, service):
        self.service = service
        self.min_minutes = None

    def __getattr__(self, name):
        return getattr(self.service, name)

    def get_scheme(self, actor, community_id):
        return {"current": {"min_minutes_for_merchants": self.min_minutes,
                            "timezone": "Asia/Shanghai"}}


class Shop:
    def __init__(self):
        self.ledger = Ledger(FakeDatabase())
        self.ledger.ensure_indexes()
        points = worker_factory(PointsService, ledger=self.ledger,
                                movement_store=MovementStore(FakeDatabase()))
        self.points = Points(points)
        self.store = RewardsStore(FakeDatabase())
        self.store.ensure_indexes()
        self.volunteers = Volunteers()
        self.service = worker_factory(RewardsService, store=self.store, points=self.points,
                                      volunteer=self.volunteers)
        self.store.merchants.insert_one({"_id": "mer_1", "community_id": "com_1",
                                         "name": "老王面馆"})
        self.store.merchants.insert_one({"_id": "mer_2", "community_id": "com_1",
                                         "name": "Other"})
        self.offer("rwd_noodles", "mer_1", 30)
        self.offer("rwd_tea", "mer_2", 10)
        self.credit("vol_1", 100)

    def offer(self, reward_id, merchant_id, cost, daily_quota=None):
        self.store.rewards.insert_one({
            "_id": reward_id, "kind": "merchant_offer", "title": f"{reward_id} title",
            "cost_points": cost, "community_id": "com_1", "merchant_id": merchant_id,
            "center_id": None, "tracks_stock": False, "daily_quota": daily_quota})

    def credit(self, account, points, cause="start"):
        self.ledger.credit(account, points, key=f"test:{account}:{cause}", kind="grant",
                           reason=cause, ref={"type": "test", "id": cause}, by="test")

    def code(self, actor=LI, key=None):
        return self.service.issue_redeem_code(actor, actor["subject_id"], key)["code"]

    def redeem(self, code, reward_id="rwd_noodles", actor=SHOP, key=None, **extra):
        return self.service.redeem_at_merchant(actor, dict(code=code, reward_id=reward_id,
                                                           **extra), key)

    def balance(self, account="vol_1"):
        return self.ledger.balance(account)

    def owed(self, merchant_id="mer_1"):
        return self.store.merchant.owed.total(merchant_id)


@pytest.fixture
def shop():
    return Shop()


# --- codes -------------------------------------------------------------------------------------

def test_a_code_has_no_look_alike_characters_and_expires_in_five_minutes(shop):
    answer = shop.service.issue_redeem_code(LI, "vol_1")
    code = answer["code"]
    assert 6 <= len(code) <= 8 and not set(code) & set("01OIL")
    assert set(merchants.CODE_ALPHABET) & set("01OILoil") == set()
    expires = dt.datetime.fromisoformat(answer["expires_at"])
    assert dt.timedelta(minutes=4) < expires - now() <= dt.timedelta(minutes=5)
    codes = {shop.code() for _ in range(50)}
    assert len(codes) == 50  # drawn afresh each time, not derived from the volunteer


def test_only_the_volunteer_asks_for_their_code_and_sees_its_image(shop):
    with pytest.raises(Forbidden):
        shop.service.issue_redeem_code(WANG, "vol_1")
    code = shop.code()
    assert shop.service.get_redeem_code(LI, "vol_1", code.lower())["code"] == code
    with pytest.raises(NotFound):
        shop.service.get_redeem_code(WANG, "vol_2", code)


def test_the_same_idempotency_key_gives_the_same_code(shop):
    assert shop.code(key="k1") == shop.code(key="k1")
    assert shop.code(key="k1") != shop.code(key="k2")


def test_below_the_communitys_minimum_hours_the_code_is_refused_with_what_is_missing(shop):
    shop.points.min_minutes = 300
    shop.volunteers.minutes["vol_1"] = 100
    with pytest.raises(RuleViolation) as refused:
        shop.code()
    assert refused.value.code == "not_enough_hours"
    assert "3 小时 20 分钟" in refused.value.message and "3 h 20 min" in refused.value.message
    shop.volunteers.minutes["vol_1"] = 300
    assert shop.code()


def test_the_merchants_community_minimum_is_checked_at_the_counter(shop):
    code = shop.code()  # 600 approved minutes, no minimum in the volunteer's community
    shop.points.min_minutes = 12 * 60  # the merchant's community asks for 12 hours
    with pytest.raises(RuleViolation) as refused:
        shop.redeem(code)
    assert "还差 2 小时" in refused.value.message
    assert shop.balance() == 100


# --- redemption at the counter -------------------------------------------------------------

def test_a_redemption_debits_the_volunteer_and_is_owed_to_the_merchant(shop):
    out = shop.redeem(shop.code())
    assert (out["status"], out["points"], out["volunteer_id"]) == ("completed", 30, "vol_1")
    assert shop.balance() == 70 and shop.owed() == 30
    entry = shop.ledger.accounts.find_by_key(f"redemption:{out['id']}")
    assert entry["kind"] == "redeem" and entry["delta"] == -30


def test_a_code_is_used_once(shop):
    code = shop.code()
    shop.redeem(code)
    with pytest.raises(Conflict) as refused:
        shop.redeem(code)
    assert refused.value.code == "code_used"
    assert shop.balance() == 70


def test_a_retry_with_the_same_key_replays_and_debits_once(shop):
    code = shop.code()
    first = shop.redeem(code, key="idk")
    assert shop.redeem(code, key="idk") == first
    assert shop.balance() == 70
    with pytest.raises(Conflict) as reused:
        shop.redeem(shop.code(), key="idk")
    assert reused.value.code == "idempotency_key_reused"


def test_a_merchant_redeems_its_own_offers_only(shop):
    with pytest.raises(Forbidden):
        shop.redeem(shop.code(), reward_id="rwd_tea")
    with pytest.raises(Forbidden):
        shop.redeem(shop.code(), actor=STAFF)


def test_not_enough_points_is_409_and_leaves_the_code_usable(shop):
    shop.offer("rwd_feast", "mer_1", 150)
    code = shop.code()
    with pytest.raises(InsufficientPoints) as refused:
        shop.redeem(code, reward_id="rwd_feast")
    assert "50 more" in refused.value.message
    assert shop.balance() == 100
    assert shop.redeem(code)["status"] == "completed"  # the same code, an offer it covers


def test_a_debit_refused_after_the_check_fails_the_redemption_and_returns_nothing(shop):
    code = shop.code()
    real_balance = shop.points.get_balance
    shop.points.get_balance = lambda account: dict(real_balance(account), available=10**6)
    shop.offer("rwd_feast", "mer_1", 150)
    with pytest.raises(InsufficientPoints):
        shop.redeem(code, reward_id="rwd_feast")
    assert shop.balance() == 100 and shop.owed() == 0


def test_an_expired_code_is_refused_with_its_reason(shop, monkeypatch):
    code = shop.code()
    later = now() + dt.timedelta(minutes=5, seconds=1)
    monkeypatch.setattr(merchants, "now", lambda: later)
    with pytest.raises(RuleViolation) as refused:
        shop.redeem(code)
    assert refused.value.code == "code_expired" and "expired" in refused.value.message
    assert shop.balance() == 100


def test_a_daily_quota_is_held_per_offer_and_local_day(shop):
    shop.offer("rwd_lunch", "mer_1", 10, daily_quota=2)
    shop.redeem(shop.code(), reward_id="rwd_lunch")
    shop.redeem(shop.code(), reward_id="rwd_lunch")
    code = shop.code()
    with pytest.raises(Conflict) as refused:
        shop.redeem(code, reward_id="rwd_lunch")
    assert refused.value.code == "daily_quota_reached"
    assert shop.balance() == 80 and shop.owed() == 20
    assert shop.redeem(code)["status"] == "completed"  # the code was not consumed


def test_a_failed_redemption_gives_the_days_quota_back(shop):
    shop.offer("rwd_lunch", "mer_1", 10, daily_quota=1)
    code = shop.code()
    shop.redeem(code)  # the code is used on another offer
    shop.store.merchant.code_states.delete_one({"_id": "nothing"})
    stored = shop.store.merchant.codes.find_one({"_id": code})
    # A redemption that passed the checks but lost the code to another: quota comes back.
    rid = "mrd_lost"
    shop.store.merchant.redemptions.insert_one({
        "_id": rid, "code": code, "reward_id": "rwd_lunch", "title": "t",
        "merchant_id": "mer_1", "volunteer_id": stored["volunteer_id"], "points": 10,
        "daily_quota": 1, "day": "2026-11-20", "timezone": "Asia/Shanghai", "by": "x",
        "created_at": now()})
    outcome = shop.service._merchant_saga().run(shop.store.merchant.redemptions.find_one(
        {"_id": rid}))
    assert outcome["failure"] == "code_used"
    assert shop.store.merchant.quota.total(merchants.quota_stream("rwd_lunch", "2026-11-20")) == 0


# --- guessing ----------------------------------------------------------------------------------

def test_wrong_codes_are_counted_and_the_merchant_is_stopped_past_the_limit(shop):
    for _ in range(merchants.WRONG_CODES_PER_MERCHANT):
        with pytest.raises(RuleViolation) as wrong:
            shop.redeem("ABCDEFG")
        assert wrong.value.code == "invalid_code"
    with pytest.raises(TooManyAttempts) as stopped:
        shop.redeem(shop.code())  # even a right code: the till waits
    assert 1 <= stopped.value.retry_after <= merchants.GUESS_WINDOW_SECONDS
    shop.service.metrics.count.assert_any_call("redeem_code_wrong")
    assert [c.args for c in shop.service.metrics.count.call_args_list].count(
        ("redeem_code_wrong",)) == merchants.WRONG_CODES_PER_MERCHANT
    assert shop.redeem(shop.code(), actor=OTHER_SHOP, reward_id="rwd_tea")  # per merchant


def test_right_codes_do_not_use_up_the_merchants_budget(shop):
    shop.credit("vol_1", 10_000, "more")
    for _ in range(merchants.WRONG_CODES_PER_MERCHANT + 2):
        shop.redeem(shop.code())


def test_a_code_is_burnt_after_three_tries_naming_another_volunteer(shop):
    code = shop.code()
    for _ in range(merchants.WRONG_TRIES_PER_CODE):
        with pytest.raises(RuleViolation) as wrong:
            shop.redeem(code, volunteer_id="vol_2")
        assert wrong.value.code == "code_mismatch"
    with pytest.raises(RuleViolation) as burnt:
        shop.redeem(code, volunteer_id="vol_1")
    assert burnt.value.code == "code_burnt"
    assert shop.balance() == 100


def test_a_known_code_the_volunteer_cannot_afford_is_no_wrong_try(shop):
    shop.offer("rwd_feast", "mer_1", 150)
    code = shop.code()
    for _ in range(merchants.WRONG_CODES_PER_MERCHANT + 1):
        with pytest.raises(InsufficientPoints):
            shop.redeem(code, reward_id="rwd_feast")
    assert shop.redeem(code)["status"] == "completed"


# --- voids ------------------------------------------------------------------------------------

def test_a_void_gives_the_points_back_once_and_lowers_what_is_owed(shop):
    out = shop.redeem(shop.code())
    voided = shop.service.cancel_redemption(SHOP, out["id"])
    assert voided["status"] == "cancelled"
    assert shop.service.cancel_redemption(SHOP, out["id"])["status"] == "cancelled"
    assert shop.balance() == 100 and shop.owed() == 0
    refund = shop.ledger.accounts.find_by_key(f"redemption:{out['id']}:void")
    assert refund["kind"] == "refund" and refund["delta"] == 30


def test_only_that_merchant_voids_and_only_within_24_hours(shop, monkeypatch):
    out = shop.redeem(shop.code())
    with pytest.raises(Forbidden):
        shop.service.cancel_redemption(OTHER_SHOP, out["id"])
    later = now() + dt.timedelta(hours=24, seconds=1)
    monkeypatch.setattr(merchants, "now", lambda: later)
    with pytest.raises(RuleViolation) as refused:
        shop.service.cancel_redemption(SHOP, out["id"])
    assert refused.value.code == "void_window_passed"
    assert shop.balance() == 70 and shop.owed() == 30


def test_a_void_stopped_after_its_marker_is_finished_by_recovery(shop):
    out = shop.redeem(shop.code())
    # The void passed its checks and was marked; then the process died.
    shop.store.merchant.pending_voids.collection.insert_one({
        "_id": out["id"], "by": "usr_shop", "since": now() - dt.timedelta(minutes=1)})
    shop.service.resume_merchant_sagas()
    assert shop.balance() == 100 and shop.owed() == 0
    assert shop.service.cancel_redemption(SHOP, out["id"])["status"] == "cancelled"
    assert shop.balance() == 100


# --- statement --------------------------------------------------------------------------------

def test_the_statement_shows_per_day_and_offer_what_was_redeemed_voided_and_owed(shop):
    shop.credit("vol_1", 1000, "more")
    shop.offer("rwd_tofu", "mer_1", 7)
    first = shop.redeem(shop.code())
    shop.redeem(shop.code())
    shop.redeem(shop.code(), reward_id="rwd_tofu")
    shop.service.cancel_redemption(SHOP, first["id"])
    statement = shop.service.merchant_statement(SHOP, "mer_1", {})
    rows = {r["reward_id"]: r for r in statement["items"]}
    assert (rows["rwd_noodles"]["redeemed"], rows["rwd_noodles"]["voided"],
            rows["rwd_noodles"]["owed_points"]) == (2, 1, 30)
    assert rows["rwd_tofu"]["owed_points"] == 7
    assert statement["totals"]["owed_points"] == statement["total_owed"] == 37
    text = merchants.statement_csv(statement)
    assert text.startswith("\ufeffday,reward_id") and text.endswith("37\r\n")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    with pytest.raises(NotFound):
        shop.service.merchant_statement(OTHER_SHOP, "mer_1", {})
    assert shop.service.merchant_statement(STAFF, "mer_1", {})["total_owed"] == 37


def test_the_statement_reads_only_the_days_asked_for(shop):
    shop.redeem(shop.code())
    empty = shop.service.merchant_statement(SHOP, "mer_1", {"from": "2030-01-01",
                                                            "to": "2030-01-31"})
    assert empty["items"] == [] and empty["total_owed"] == 30


def test_the_volunteers_list_of_redemptions_shows_merchant_redemptions_with_their_status(shop):
    first = shop.redeem(shop.code(key="k1"), key="r1")
    second = shop.redeem(shop.code(key="k2"), key="r2")
    shop.service.cancel_redemption(SHOP, first["id"])
    page = shop.service.volunteer_redemptions(LI, "vol_1")
    assert [(item["id"], item["status"], item["reward_kind"], item["points"])
            for item in page["items"]] == [
        (second["id"], "completed", "merchant_offer", 30),
        (first["id"], "cancelled", "merchant_offer", 30)]
    assert page["items"][0]["reward_title"] == "rwd_noodles title"


def test_a_merchant_redemption_listed_then_abandoned_by_recovery_is_left_out_of_the_list(shop):
    """A crash between the volunteer's list entry and the redemption's insert: recovery stores
    the id as abandoned, and the list skips it instead of failing on every later page."""
    kept = shop.redeem(shop.code(key="k1"), key="r1")
    lost = shop.redeem(shop.code(key="k2"), key="r2")
    # What the abandoning recovery leaves under a listed id (the redemption never stored).
    shop.store.merchant.redemptions.delete_one({"_id": lost["id"]})
    shop.store.merchant.redemptions.insert_one({"_id": lost["id"], "abandoned": True,
                                                "at": now()})
    page = shop.service.volunteer_redemptions(LI, "vol_1")
    assert [item["id"] for item in page["items"]] == [kept["id"]]


def test_a_counter_saga_stored_half_way_by_the_earlier_code_is_finished_by_recovery(shop):
    """What the counter's saga before rewards/saga.py left at a crash (its marker, the
    redemption, the day's quota and the code taken under their keys, no outcome) is finished
    under the same keys, once: debited, owed, unmarked."""
    shop.offer("rwd_lunch", "mer_1", 10, daily_quota=2)
    code = shop.code()
    m = shop.store.merchant
    m.pending.collection.insert_one({"_id": "mrd_old", "since": None})
    m.redemptions.insert_one({
        "_id": "mrd_old", "code": code, "reward_id": "rwd_lunch", "title": "lunch",
        "merchant_id": "mer_1", "volunteer_id": "vol_1", "points": 10, "daily_quota": 2,
        "day": "2026-11-20", "timezone": "Asia/Shanghai", "by": "usr_shop",
        "created_at": now()})
    stream = merchants.quota_stream("rwd_lunch", "2026-11-20")
    m.quota.append(stream, -1, key="mrd_old:quota", floor=-2,
                   fields={"redemption_id": "mrd_old"})
    m.decide_code(code, redemption_id="mrd_old")
    shop.service.resume_merchant_sagas()
    assert m.outcomes.find_one({"_id": "mrd_old"})["status"] == "completed"
    assert m.quota.total(stream) == -1 and shop.owed() == 10
    assert shop.ledger.find("redemption:mrd_old")["delta"] == -10 and shop.balance() == 90
    assert m.pending.collection.find_one({}) is None
