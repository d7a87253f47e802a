import pytest

from services.rewards.domain import (
    check_new_reward, check_redeemable, check_stock_field, pickup_code, redemption_cost,
)
from services.shared.errors import Forbidden, InvalidInput, RuleViolation

ADMIN = {"role": "admin"}
STAFF = {"role": "center_staff", "center_id": "ctr_1"}
MERCHANT = {"role": "merchant", "merchant_id": "mer_1"}
VOLUNTEER = {"role": "volunteer", "subject_id": "vol_1"}


def reward(kind, center_id=None, merchant_id=None, stock=None):
    return {"kind": kind, "center_id": center_id, "merchant_id": merchant_id, "stock": stock}


@pytest.mark.parametrize("kind", ["gift", "service"])
@pytest.mark.parametrize("center_id", [None, "ctr_1"])
def test_staff_stock_their_own_center(kind, center_id):
    assert check_new_reward(STAFF, reward(kind, center_id=center_id)) == {"center_id": "ctr_1"}


@pytest.mark.parametrize("kind", ["gift", "service"])
def test_staff_may_not_stock_another_center(kind):
    with pytest.raises(Forbidden):
        check_new_reward(STAFF, reward(kind, center_id="ctr_2"))


@pytest.mark.parametrize("kind", ["gift", "service"])
def test_admin_adds_shelf_items_to_a_named_center(kind):
    assert check_new_reward(ADMIN, reward(kind, center_id="ctr_9")) == {"center_id": "ctr_9"}
    with pytest.raises(InvalidInput) as caught:
        check_new_reward(ADMIN, reward(kind))
    assert "center_id" in caught.value.fields


@pytest.mark.parametrize("actor", [MERCHANT, VOLUNTEER])
@pytest.mark.parametrize("kind", ["gift", "service"])
def test_others_may_not_add_shelf_items(actor, kind):
    with pytest.raises(Forbidden):
        check_new_reward(actor, reward(kind, center_id="ctr_1"))


def test_merchant_offer_belongs_to_the_merchant_adding_it():
    assert check_new_reward(MERCHANT, reward("merchant_offer")) == {"merchant_id": "mer_1"}
    # a merchant cannot place an offer under another merchant
    assert check_new_reward(MERCHANT, reward("merchant_offer", merchant_id="mer_2")) == {
        "merchant_id": "mer_1"}


def test_admin_adds_offers_to_a_named_merchant():
    assert check_new_reward(ADMIN, reward("merchant_offer", merchant_id="mer_7")) == {
        "merchant_id": "mer_7"}
    with pytest.raises(InvalidInput) as caught:
        check_new_reward(ADMIN, reward("merchant_offer"))
    assert "merchant_id" in caught.value.fields


@pytest.mark.parametrize("actor", [STAFF, VOLUNTEER])
def test_others_may_not_add_merchant_offers(actor):
    with pytest.raises(Forbidden):
        check_new_reward(actor, reward("merchant_offer", merchant_id="mer_1"))


def test_a_gift_needs_a_stock():
    with pytest.raises(InvalidInput) as caught:
        check_stock_field(reward("gift"))
    assert "stock" in caught.value.fields
    assert check_stock_field(reward("gift", stock=0)) is None
    assert check_stock_field(reward("service")) is None
    assert check_stock_field(reward("merchant_offer")) is None


@pytest.mark.parametrize("kind", ["gift", "service"])
def test_volunteer_redeems_shelf_items_for_themself(kind):
    assert check_redeemable(VOLUNTEER, {"kind": kind}, "vol_1") is None


@pytest.mark.parametrize("actor", [ADMIN, STAFF, MERCHANT, VOLUNTEER])
def test_nobody_redeems_for_another_volunteer(actor):
    with pytest.raises(Forbidden):
        check_redeemable(actor, {"kind": "gift"}, "vol_2")


@pytest.mark.parametrize("role", ["admin", "center_staff", "merchant"])
def test_only_a_volunteer_redeems_even_with_a_matching_subject(role):
    with pytest.raises(Forbidden):
        check_redeemable({"role": role, "subject_id": "vol_1"}, {"kind": "gift"}, "vol_1")


def test_merchant_offers_are_redeemed_with_a_code():
    with pytest.raises(RuleViolation) as caught:
        check_redeemable(VOLUNTEER, {"kind": "merchant_offer"}, "vol_1")
    assert caught.value.code == "use_redeem_code"
    assert caught.value.status == 422


def test_redemption_cost_is_points_times_quantity():
    assert redemption_cost({"cost_points": 30}, 3) == 90
    assert redemption_cost({"cost_points": 7}, 1) == 7


def test_pickup_code_is_six_digits():
    codes = [pickup_code() for _ in range(200)]
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(set(codes)) > 1


def test_pickup_code_keeps_leading_zeros(monkeypatch):
    from services.rewards import domain
    monkeypatch.setattr(domain.secrets, "randbelow", lambda n: 42)
    assert pickup_code() == "000042"
