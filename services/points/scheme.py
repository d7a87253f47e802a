"""The participation-points scheme as plain arithmetic (integers only, never floats).

Base rule: 1 approved hour = 10 points; the credit of one hours record is rounded down to a
whole point. Multipliers, holidays, daily caps and versioned schemes build on ``Rule`` later;
every credit records the rule version and the arithmetic that produced it.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    version: str = "base-v1"
    points_per_hour: int = 10


BASE_RULE = Rule()


@dataclass(frozen=True)
class Credit:
    points: int
    rule_version: str
    arithmetic: str


def credit_for(minutes, rule=BASE_RULE):
    if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 0:
        raise ValueError("minutes must be a non-negative integer")
    points = minutes * rule.points_per_hour // 60
    return Credit(points, rule.version,
                  f"floor({minutes} min × {rule.points_per_hour} pt/h ÷ 60) = {points}")
