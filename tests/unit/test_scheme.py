import datetime as dt
from decimal import Decimal
from types import MappingProxyType

import chinese_calendar
import pytest

from services.points.scheme import (
    BASE_RULE, CALENDAR, DEFAULT_SCHEME, WEEKEND_FALLBACK, Rule, Scheme, SchemeError,
    allocate_cap, credit, credit_for, is_rest_day, local_date, scheme_from_document,
    scheme_to_document, version_in_force,
)
from services.shared.contracts import CATEGORIES


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


# --- The versioned scheme -----------------------------------------------------------------

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
WORKING_TUESDAY = dt.datetime(2024, 10, 8, 9, 0, tzinfo=SHANGHAI)    # first day back after 国庆
PLAIN_SATURDAY = dt.datetime(2024, 6, 15, 9, 0, tzinfo=SHANGHAI)
NATIONAL_DAY_TUESDAY = dt.datetime(2024, 10, 1, 9, 0, tzinfo=SHANGHAI)
MAKE_UP_SATURDAY = dt.datetime(2024, 10, 12, 9, 0, tzinfo=SHANGHAI)  # 调休: a working day


def at(day, hour=9):
    return dt.datetime.combine(day, dt.time(hour), SHANGHAI)


def version(name, effective_from, **overrides):
    return Scheme(version=name, effective_from=dt.date.fromisoformat(effective_from), **overrides)


def test_default_scheme_is_domain_md():
    assert DEFAULT_SCHEME.base_points_per_hour == 10
    assert dict(DEFAULT_SCHEME.category_multipliers) == {
        "elder_care": Decimal("1.5"), "disability_care": Decimal("1.5"),
        "professional": Decimal("2"), "environment": Decimal("1"),
        "culture_sports": Decimal("0.8"), "other": Decimal("1"),
    }
    assert DEFAULT_SCHEME.weekend_holiday_multiplier == Decimal("1.2")
    assert DEFAULT_SCHEME.daily_cap_minutes == 480
    assert DEFAULT_SCHEME.storage_cap_points is None
    assert DEFAULT_SCHEME.min_minutes_for_merchants is None
    assert DEFAULT_SCHEME.timezone == "Asia/Shanghai"
    assert all(type(m) is Decimal for m in DEFAULT_SCHEME.category_multipliers.values())


def test_the_issues_example_word_for_word():
    result = credit(90, "elder_care", WORKING_TUESDAY, DEFAULT_SCHEME)
    assert result.points == 22
    assert result.arithmetic == "90 min × 10/h × 1.5 = 22.5 → 22"
    assert result.scheme_version == "default"


@pytest.mark.parametrize("minutes, category, starts_at, points", [
    (6, "other", WORKING_TUESDAY, 1),              # exactly 1
    (5, "other", WORKING_TUESDAY, 0),              # 0.833…
    (59, "other", WORKING_TUESDAY, 9),             # 9.833…
    (4, "elder_care", WORKING_TUESDAY, 1),         # 1 exactly
    (3, "elder_care", WORKING_TUESDAY, 0),         # 0.75
    (75, "culture_sports", WORKING_TUESDAY, 10),   # 10 exactly
    (74, "culture_sports", WORKING_TUESDAY, 9),    # 9.866…
    (3, "professional", WORKING_TUESDAY, 1),       # 1 exactly
    (2, "professional", WORKING_TUESDAY, 0),       # 0.666…
    (90, "elder_care", PLAIN_SATURDAY, 27),        # 27 exactly
    (89, "elder_care", PLAIN_SATURDAY, 26),        # 26.7
    # Exact where floats are not: 35 × 10 / 60 × 1.2 is 6.999999999999999 in binary.
    (35, "other", PLAIN_SATURDAY, 7),
    (55, "professional", PLAIN_SATURDAY, 22),
    (0, "other", WORKING_TUESDAY, 0),
])
def test_one_records_credit_is_floored_once_at_the_end(minutes, category, starts_at, points):
    result = credit(minutes, category, starts_at, DEFAULT_SCHEME)
    assert result.points == points
    assert type(result.points) is int
    assert result.arithmetic.endswith(f"→ {points}")


def test_a_value_that_does_not_terminate_is_shown_cut_not_rounded():
    assert credit(7, "other", WORKING_TUESDAY, DEFAULT_SCHEME).arithmetic == \
        "7 min × 10/h × 1 = 1.166… → 1"
    assert credit(59, "other", WORKING_TUESDAY, DEFAULT_SCHEME).arithmetic == \
        "59 min × 10/h × 1 = 9.833… → 9"


WORKDAY_AND_REST_DAY_POINTS_FOR_AN_HOUR = {
    "elder_care": (15, 18), "disability_care": (15, 18), "professional": (20, 24),
    "environment": (10, 12), "culture_sports": (8, 9), "other": (10, 12),
}


def test_the_category_table_below_is_every_category():
    assert set(WORKDAY_AND_REST_DAY_POINTS_FOR_AN_HOUR) == set(CATEGORIES)


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_on_a_working_day_and_a_rest_day(category):
    on_workday, on_rest_day = WORKDAY_AND_REST_DAY_POINTS_FOR_AN_HOUR[category]
    workday = credit(60, category, WORKING_TUESDAY, DEFAULT_SCHEME)
    rest_day = credit(60, category, PLAIN_SATURDAY, DEFAULT_SCHEME)
    assert (workday.points, rest_day.points) == (on_workday, on_rest_day)
    assert workday.category_multiplier == rest_day.category_multiplier \
        == DEFAULT_SCHEME.category_multipliers[category]
    assert (workday.rest_day_multiplier, rest_day.rest_day_multiplier) == (None, Decimal("1.2"))


def test_an_unknown_category_is_refused():
    with pytest.raises(ValueError):
        credit(60, "gardening", WORKING_TUESDAY, DEFAULT_SCHEME)


def test_a_plain_weekend_is_a_rest_day():
    assert is_rest_day(PLAIN_SATURDAY.date()) == (True, CALENDAR)
    assert is_rest_day(dt.date(2024, 6, 16)) == (True, CALENDAR)
    result = credit(60, "environment", PLAIN_SATURDAY, DEFAULT_SCHEME)
    assert (result.points, result.rest_day, result.rest_day_source) == (12, True, CALENDAR)
    assert result.arithmetic == "60 min × 10/h × 1 × 1.2 (rest day) = 12 → 12"


def test_a_statutory_holiday_on_a_weekday_is_a_rest_day():
    assert NATIONAL_DAY_TUESDAY.weekday() == 1
    assert is_rest_day(NATIONAL_DAY_TUESDAY.date()) == (True, CALENDAR)
    result = credit(90, "elder_care", NATIONAL_DAY_TUESDAY, DEFAULT_SCHEME)
    assert (result.points, result.rest_day) == (27, True)
    assert result.arithmetic == "90 min × 10/h × 1.5 × 1.2 (rest day) = 27 → 27"


def test_a_make_up_working_saturday_is_a_working_day():
    assert MAKE_UP_SATURDAY.weekday() == 5
    assert chinese_calendar.is_workday(MAKE_UP_SATURDAY.date())  # what the State Council said
    assert is_rest_day(MAKE_UP_SATURDAY.date()) == (False, CALENDAR)
    result = credit(60, "environment", MAKE_UP_SATURDAY, DEFAULT_SCHEME)
    assert (result.points, result.rest_day, result.rest_day_multiplier) == (10, False, None)
    assert "1.2" not in result.arithmetic


@pytest.mark.parametrize("day, rest_day", [
    (dt.date(2099, 10, 3), True),    # a Saturday
    (dt.date(2099, 10, 4), True),    # a Sunday
    (dt.date(2099, 10, 1), False),   # a Thursday: National Day, but nobody has published 2099
    (dt.date(2003, 10, 1), False),   # before the package's first year, also a Wednesday
])
def test_a_year_the_calendar_does_not_cover_falls_back_to_saturday_and_sunday(day, rest_day):
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_holiday(day)
    assert is_rest_day(day) == (rest_day, WEEKEND_FALLBACK)


def test_a_fallback_credit_says_so():
    result = credit(60, "environment", at(dt.date(2099, 10, 3)), DEFAULT_SCHEME)
    assert (result.points, result.rest_day, result.rest_day_source) == (12, True, WEEKEND_FALLBACK)
    assert "calendar does not cover the year" in result.arithmetic
    weekday = credit(60, "environment", at(dt.date(2099, 10, 1)), DEFAULT_SCHEME)
    assert (weekday.points, weekday.rest_day_source) == (10, WEEKEND_FALLBACK)


def test_a_newer_calendar_is_used_without_a_code_change(monkeypatch):
    # Stand-in for an upgraded package that knows 2099 declares a Thursday a holiday.
    monkeypatch.setattr(chinese_calendar, "is_holiday", lambda day: day == dt.date(2099, 10, 1))
    assert is_rest_day(dt.date(2099, 10, 1)) == (True, CALENDAR)


def test_is_rest_day_wants_a_date():
    with pytest.raises(ValueError):
        is_rest_day(WORKING_TUESDAY)


@pytest.mark.parametrize("already, minutes, cap, expected", [
    (0, 60, 480, (60, 0)),
    (420, 60, 480, (60, 0)),      # exactly reaches the cap
    (421, 60, 480, (59, 1)),
    (450, 60, 480, (30, 30)),
    (480, 60, 480, (0, 60)),
    (500, 60, 480, (0, 60)),      # a cap lowered by a later version never gives back minutes
    (0, 600, 480, (480, 120)),
    (0, 0, 480, (0, 0)),
])
def test_allocate_cap(already, minutes, cap, expected):
    assert allocate_cap(already, minutes, cap) == expected


@pytest.mark.parametrize("args", [(-1, 60, 480), (0, -1, 480), (0, 60, 1.5), (True, 60, 480)])
def test_allocate_cap_refuses_what_is_not_a_count_of_minutes(args):
    with pytest.raises(ValueError):
        allocate_cap(*args)


def credit_day_in_approval_order(records, scheme=DEFAULT_SCHEME):
    """What the points service will do for one volunteer and local day."""
    used, results = 0, []
    for minutes, category, starts_at in records:
        creditable, _ = allocate_cap(used, minutes, scheme.daily_cap_minutes)
        used += creditable
        results.append(credit(minutes, category, starts_at, scheme, creditable))
    return results


def test_the_daily_cap_across_three_records_of_one_day_in_approval_order():
    morning, afternoon, evening = credit_day_in_approval_order([
        (300, "elder_care", at(dt.date(2024, 10, 8), 8)),
        (240, "environment", at(dt.date(2024, 10, 8), 14)),
        (60, "professional", at(dt.date(2024, 10, 8), 19)),
    ])
    assert (morning.points, morning.creditable_minutes, morning.uncredited_minutes) == (75, 300, 0)
    # The record that crosses the cap earns only the 180 minutes left and says what earned nothing.
    assert (afternoon.points, afternoon.creditable_minutes, afternoon.uncredited_minutes) \
        == (30, 180, 60)
    assert afternoon.arithmetic == ("180 of 240 min (60 min beyond the daily cap of 480 min "
                                    "earn nothing) × 10/h × 1 = 30 → 30")
    assert (evening.points, evening.creditable_minutes, evening.uncredited_minutes) == (0, 0, 60)
    assert evening.arithmetic.endswith("= 0 → 0")


def test_the_cap_follows_the_order_of_approval_not_of_the_activity():
    evening_first = credit_day_in_approval_order([
        (60, "professional", at(dt.date(2024, 10, 8), 19)),
        (300, "elder_care", at(dt.date(2024, 10, 8), 8)),
        (240, "environment", at(dt.date(2024, 10, 8), 14)),
    ])
    assert [r.points for r in evening_first] == [20, 75, 20]
    assert [r.uncredited_minutes for r in evening_first] == [0, 0, 120]


def test_a_scheme_with_its_own_cap():
    short_days = version("short-days", "2024-01-01", daily_cap_minutes=240)
    first, second = credit_day_in_approval_order(
        [(180, "other", WORKING_TUESDAY), (120, "other", WORKING_TUESDAY)], short_days)
    assert (first.points, second.points, second.uncredited_minutes) == (30, 10, 60)


def test_one_record_beyond_the_cap_is_capped_when_nothing_else_was_credited():
    result = credit(600, "other", WORKING_TUESDAY, DEFAULT_SCHEME)
    assert (result.points, result.creditable_minutes, result.uncredited_minutes) == (80, 480, 120)


@pytest.mark.parametrize("creditable", [61, -1, 1.0])
def test_creditable_minutes_must_fit_inside_the_record(creditable):
    with pytest.raises(ValueError):
        credit(60, "other", WORKING_TUESDAY, DEFAULT_SCHEME, creditable)


V1 = version("v1", "2024-01-01")
V2 = version("v2", "2024-07-01", base_points_per_hour=12,
             category_multipliers={"elder_care": "2"})


@pytest.mark.parametrize("on, expected", [
    (dt.date(2023, 12, 31), DEFAULT_SCHEME),  # before any version: the defaults
    (dt.date(2024, 1, 1), V1),                # on its first day
    (dt.date(2024, 6, 30), V1),               # the day before v2: v2 is from tomorrow
    (dt.date(2024, 7, 1), V2),
    (dt.date(2030, 1, 1), V2),
])
def test_version_in_force(on, expected):
    assert version_in_force([V2, V1], on) is expected
    assert version_in_force([V1, V2], on) is expected


def test_version_in_force_with_no_versions_is_the_default():
    assert version_in_force([], dt.date(2024, 1, 1)) is DEFAULT_SCHEME


def test_of_two_versions_from_one_date_the_later_published_wins():
    correction = version("v2-corrected", "2024-07-01")
    assert version_in_force([V1, V2, correction], dt.date(2024, 7, 1)) is correction


def test_a_day_that_crosses_versions_is_credited_by_the_local_date():
    # 23:59 and 00:00 in Shanghai: the same UTC date, two local dates, two versions.
    before = credit(60, "elder_care", dt.datetime(2024, 6, 30, 15, 59, tzinfo=dt.timezone.utc),
                    [V1, V2])
    after = credit(60, "elder_care", dt.datetime(2024, 6, 30, 16, 0, tzinfo=dt.timezone.utc),
                   [V1, V2])
    assert (before.scheme_version, before.local_date, before.points) == \
        ("v1", dt.date(2024, 6, 30), 18)     # a Sunday: 10 × 1.5 × 1.2
    assert (after.scheme_version, after.local_date, after.points) == \
        ("v2", dt.date(2024, 7, 1), 24)      # a Monday: 12 × 2
    assert after.arithmetic == "60 min × 12/h × 2 = 24 → 24"


def test_a_scheme_changed_between_logging_and_approval_credits_by_the_activitys_date():
    # Logged for 20 June, v2 published for 1 July, approved on 5 July: v1 still applies, and
    # credit takes no approval time at all, so nothing else could decide.
    activity = dt.datetime(2024, 6, 20, 9, 0, tzinfo=SHANGHAI)
    assert credit(90, "elder_care", activity, [V1, V2]).scheme_version == "v1"
    assert credit(90, "elder_care", activity, [V1, V2]).points == 22
    # Logged for 2 July under v2, even though v2 did not exist when the hours were logged.
    later = credit(90, "elder_care", dt.datetime(2024, 7, 2, 9, 0, tzinfo=SHANGHAI), [V1, V2])
    assert (later.scheme_version, later.points) == ("v2", 36)


def test_a_late_evening_utc_time_is_the_next_local_date():
    # 17:00 UTC on Monday 30 September is 01:00 on 1 October (National Day) in Shanghai.
    starts_at = dt.datetime(2024, 9, 30, 17, 0, tzinfo=dt.timezone.utc)
    assert local_date(starts_at, "Asia/Shanghai") == dt.date(2024, 10, 1)
    assert local_date(starts_at, "UTC") == dt.date(2024, 9, 30)
    shanghai = credit(60, "other", starts_at, DEFAULT_SCHEME)
    assert (shanghai.local_date, shanghai.rest_day, shanghai.points) == \
        (dt.date(2024, 10, 1), True, 12)
    utc_community = version("utc", "2024-01-01", timezone="UTC")
    assert credit(60, "other", starts_at, utc_community).points == 10


def test_a_version_is_chosen_by_the_local_date_in_its_own_time_zone():
    starts_at = dt.datetime(2024, 6, 30, 17, 0, tzinfo=dt.timezone.utc)  # 1 July in Shanghai
    utc_from_july = version("utc-july", "2024-07-01", timezone="UTC")
    assert credit(60, "other", starts_at, [V1, utc_from_july]).scheme_version == "v1"


def test_local_date_refuses_a_naive_time():
    with pytest.raises(ValueError):
        local_date(dt.datetime(2024, 10, 1, 9, 0))


# --- Loading a scheme document -------------------------------------------------------------

def test_a_scheme_round_trips_through_its_document():
    for scheme in (DEFAULT_SCHEME, V2, version("full", "2025-01-01", storage_cap_points=90000,
                                              min_minutes_for_merchants=300)):
        document = scheme_to_document(scheme)
        assert all(type(m) is str for m in document["category_multipliers"].values())
        assert scheme_from_document(document) == scheme


def test_a_document_names_what_differs_and_keeps_the_defaults_for_the_rest():
    scheme = scheme_from_document({
        "version": "2025", "effective_from": "2025-01-01",
        "category_multipliers": {"culture_sports": "1.25"},
        "weekend_holiday_multiplier": "1.5", "daily_cap_minutes": 360,
    })
    assert scheme.effective_from == dt.date(2025, 1, 1)
    assert scheme.category_multipliers["culture_sports"] == Decimal("1.25")
    assert scheme.category_multipliers["elder_care"] == Decimal("1.5")
    assert list(scheme.category_multipliers) == list(CATEGORIES)
    assert isinstance(scheme.category_multipliers, MappingProxyType)
    assert (scheme.base_points_per_hour, scheme.timezone) == (10, "Asia/Shanghai")
    assert credit(60, "culture_sports", PLAIN_SATURDAY, scheme).points == 18  # 10 × 1.25 × 1.5


@pytest.mark.parametrize("change, field", [
    ({"version": ""}, "version"),
    ({"effective_from": "2025-02-30"}, "effective_from"),
    ({"effective_from": dt.datetime(2025, 1, 1)}, "effective_from"),
    ({"base_points_per_hour": 10.0}, "base_points_per_hour"),
    ({"base_points_per_hour": True}, "base_points_per_hour"),
    ({"base_points_per_hour": -1}, "base_points_per_hour"),
    ({"category_multipliers": {"elder_care": 1.5}}, "category_multipliers"),   # a float
    ({"category_multipliers": {"elder_care": "-0.5"}}, "category_multipliers"),
    ({"category_multipliers": {"elder_care": "NaN"}}, "category_multipliers"),
    ({"category_multipliers": {"elder_care": "1.33333"}}, "category_multipliers"),
    ({"category_multipliers": {"elder_care": "11"}}, "category_multipliers"),
    ({"category_multipliers": {"gardening": "1"}}, "category_multipliers"),
    ({"category_multipliers": ["elder_care"]}, "category_multipliers"),
    ({"weekend_holiday_multiplier": "one"}, "weekend_holiday_multiplier"),
    ({"daily_cap_minutes": 0}, "daily_cap_minutes"),
    ({"daily_cap_minutes": 1441}, "daily_cap_minutes"),
    ({"storage_cap_points": 0}, "storage_cap_points"),
    ({"min_minutes_for_merchants": -5}, "min_minutes_for_merchants"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": "../etc/passwd"}, "timezone"),
    ({"daily_cap_minute": 300}, "daily_cap_minute"),
])
def test_a_bad_document_names_the_field(change, field):
    document = {"version": "v9", "effective_from": "2025-01-01", **change}
    with pytest.raises(SchemeError) as refused:
        scheme_from_document(document)
    assert field in refused.value.fields


def test_a_document_needs_its_version_and_date():
    with pytest.raises(SchemeError) as refused:
        scheme_from_document({})
    assert set(refused.value.fields) == {"version", "effective_from"}
    with pytest.raises(SchemeError):
        scheme_from_document(["version"])


def test_a_version_never_changes_once_made():
    with pytest.raises(AttributeError):
        V1.base_points_per_hour = 20
    with pytest.raises(TypeError):
        V1.category_multipliers["elder_care"] = Decimal(3)
