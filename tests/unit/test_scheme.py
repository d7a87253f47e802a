import pytest

from services.points.scheme import BASE_RULE, Rule, credit_for


@pytest.mark.parametrize("minutes, points", [
    (150, 25), (60, 10), (59, 9), (6, 1), (5, 0), (0, 0), (61, 10), (480, 80),
])
def test_ten_points_per_hour_rounded_down_per_record(minutes, points):
    credit = credit_for(minutes)
    assert credit.points == points
    assert type(credit.points) is int


def test_credit_names_rule_version_and_arithmetic():
    credit = credit_for(150)
    assert credit.rule_version == BASE_RULE.version == "base-v1"
    for number in ("150", "10", "60", "25"):
        assert number in credit.arithmetic
    assert credit.arithmetic.endswith("= 25")


def test_another_rule_uses_its_own_rate_and_version():
    credit = credit_for(90, Rule(version="v2", points_per_hour=12))
    assert (credit.points, credit.rule_version) == (18, "v2")
    assert "12" in credit.arithmetic


@pytest.mark.parametrize("minutes", [1.5, 60.0, -1, "60", None])
def test_rejects_anything_but_a_non_negative_int(minutes):
    with pytest.raises(ValueError):
        credit_for(minutes)


@pytest.mark.parametrize("minutes", [True, False])
def test_rejects_bools(minutes):
    with pytest.raises(ValueError):
        credit_for(minutes)
