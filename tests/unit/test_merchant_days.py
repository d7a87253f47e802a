"""The till's list of a merchant's redemptions of one local day (rewards/merchant_days.py):
written where the counter saga settles and where a void finishes, read off that day's stream."""
import datetime as dt

import pytest

from services.rewards import merchants
from services.shared.clock import now
from services.shared.errors import InvalidInput, NotFound, RuleViolation
from tests.unit.test_merchants import OTHER_SHOP, SHOP, STAFF, shop  # noqa: F401 (fixture)


def today(shop):
    return shop.service.merchant_day_redemptions(SHOP, "mer_1", {})


def test_the_days_list_shows_each_redemption_newest_first_and_a_void_on_its_row(shop):
    first = shop.redeem(shop.code(key="k1"), key="r1")
    second = shop.redeem(shop.code(key="k2"), key="r2")
    shop.service.cancel_redemption(SHOP, first["id"])
    listed = today(shop)
    assert [(i["id"], i["status"], i["points"], i["title"]) for i in listed["items"]] == [
        (second["id"], "completed", 30, "rwd_noodles title"),
        (first["id"], "cancelled", 30, "rwd_noodles title")]
    assert listed["items"][1]["voided_at"] and listed["items"][1]["voidable_until"] is None
    assert listed["items"][0]["voidable_until"] > listed["items"][0]["created_at"]
    assert listed["date"] == now().astimezone(dt.timezone(dt.timedelta(hours=8))).date() \
        .isoformat() and listed["next_cursor"] is None
    # The day's stream nets what the day left owed.
    stream = f"mer_1@{listed['date']}"
    assert shop.store.merchant.days.head(stream)[1] == 30 == shop.owed()


def test_a_rerun_of_settling_or_voiding_lists_nothing_twice(shop):
    out = shop.redeem(shop.code())
    redemption = shop.store.merchant.redemptions.find_one({"_id": out["id"]})
    shop.service._settle_merchant_redemption(redemption)  # what recovery would rerun
    shop.service.cancel_redemption(SHOP, out["id"])
    shop.service._finish_void(redemption, shop.store.merchant.voids.find_one({"_id": out["id"]}))
    assert [i["id"] for i in today(shop)["items"]] == [out["id"]]
    assert shop.store.merchant.days.head(f"mer_1@{redemption['day']}") == (2, 0)


def test_other_days_and_other_merchants_are_not_read(shop):
    shop.redeem(shop.code())
    assert shop.service.merchant_day_redemptions(SHOP, "mer_1", {"date": "2030-01-01"})[
        "items"] == []
    assert shop.service.merchant_day_redemptions(STAFF, "mer_1", {})["items"] != []
    with pytest.raises(NotFound):
        shop.service.merchant_day_redemptions(OTHER_SHOP, "mer_1", {})
    with pytest.raises(InvalidInput) as bad:
        shop.service.merchant_day_redemptions(SHOP, "mer_1", {"date": "yesterday",
                                                              "limit": "0"})
    assert set(bad.value.fields) == {"date", "limit"}


def test_a_long_day_is_read_page_by_page(shop):
    shop.credit("vol_1", 1000, "more")
    made = [shop.redeem(shop.code(key=f"k{n}"), key=f"r{n}")["id"] for n in range(3)]
    first = shop.service.merchant_day_redemptions(SHOP, "mer_1", {"limit": "2"})
    rest = shop.service.merchant_day_redemptions(SHOP, "mer_1", {
        "limit": "2", "cursor": first["next_cursor"]})
    assert [i["id"] for i in first["items"] + rest["items"]] == made[::-1]
    assert rest["next_cursor"] is None


def test_a_void_past_the_window_is_refused_and_the_row_stays_completed(shop, monkeypatch):
    out = shop.redeem(shop.code())
    later = now() + dt.timedelta(hours=25)
    monkeypatch.setattr(merchants, "now", lambda: later)
    with pytest.raises(RuleViolation):
        shop.service.cancel_redemption(SHOP, out["id"])
    assert [i["status"] for i in today(shop)["items"]] == ["completed"]


def test_a_page_after_voids_skips_their_entries_and_still_fills_up(shop):
    shop.credit("vol_1", 1000, "more")
    made = [shop.redeem(shop.code(key=f"k{n}"), key=f"r{n}")["id"] for n in range(2)]
    for rid in made:
        shop.service.cancel_redemption(SHOP, rid)
    page = shop.service.merchant_day_redemptions(SHOP, "mer_1", {"limit": "1"})
    assert [(i["id"], i["status"]) for i in page["items"]] == [(made[1], "cancelled")]
    rest = shop.service.merchant_day_redemptions(SHOP, "mer_1", {
        "limit": "1", "cursor": page["next_cursor"]})
    assert [i["id"] for i in rest["items"]] == [made[0]]
