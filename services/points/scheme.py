"""The participation-points scheme as plain arithmetic (integers only, never floats).

Base rule: 1 approved hour = 10 points; the credit of one hours record is rounded down to a
whole point (``credit_for``, what the points service uses today). ``Scheme`` and ``credit``
below add domain.md's versioned scheme: category and rest-day multipliers on the official
calendar and the daily cap. Every credit records the version and the arithmetic behind it.
"""
import datetime as _dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

from services.shared.contracts import CATEGORIES


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


# --- The versioned participation-points scheme (domain.md) ----------------------------------
#
# Everything below is pure: dates and times come in as arguments, nothing reads the clock or
# the store. Multipliers are exact decimals (Decimal, built from their string form) and the
# credit is computed as a Fraction and floored once, so no float ever touches a point.

DEFAULT_TIMEZONE = "Asia/Shanghai"
MAX_MULTIPLIER = Decimal(10)
MAX_MULTIPLIER_PLACES = 4  # "1.25" yes, "1.33333333" no: a published rate people can read
MAX_POINTS_PER_HOUR = 1000
MINUTES_PER_DAY = 24 * 60
MAX_VERSION_LENGTH = 64
CALENDAR = "calendar"
WEEKEND_FALLBACK = "weekend_fallback"


class SchemeError(ValueError):
    """A scheme document that cannot be used; ``fields`` maps each bad field to its reason."""

    def __init__(self, fields):
        super().__init__("invalid scheme: " + "; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = dict(fields)


def _multiplier(value):
    """An exact multiplier from its string form (or an int/Decimal); floats are refused because
    their binary value is not the number that was published."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError("must be a decimal written as a string or an integer")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError("is not a decimal number") from None
    if not number.is_finite() or not 0 <= number <= MAX_MULTIPLIER:
        raise ValueError(f"must lie between 0 and {MAX_MULTIPLIER}")
    if number.normalize().as_tuple().exponent < -MAX_MULTIPLIER_PLACES:
        raise ValueError(f"may have at most {MAX_MULTIPLIER_PLACES} decimal places")
    return number


def _whole(value, low, high=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer")
    if value < low or (high is not None and value > high):
        raise ValueError(f"must lie between {low} and {high}" if high is not None
                         else f"must be at least {low}")
    return value


def zone(key):
    """The ZoneInfo of an IANA name; ValueError naming what is wrong."""
    if not isinstance(key, str) or not key:
        raise ValueError("must be an IANA time zone name")
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {key!r}") from None


def _effective_date(value):
    # A datetime is a date too, but its time and zone would silently shift the day.
    if isinstance(value, _dt.datetime):
        raise ValueError("must be a calendar date (YYYY-MM-DD), not a date and time")
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("must be a date written YYYY-MM-DD")


def _show(number):
    """A multiplier as people write it: 1.5, 2, 0.8."""
    return format(Decimal(number).normalize(), "f")


def _show_exact(value):
    """A Fraction as a decimal: exact when it terminates, else cut to three places and marked
    (cut, not rounded, so the floor that follows is visibly right)."""
    whole, rest = divmod(value.numerator, value.denominator)
    if rest == 0:
        return str(whole)
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator == 1:
        return _show(Decimal(value.numerator) / Decimal(value.denominator))
    return f"{whole}.{rest * 1000 // value.denominator:03d}…"


def _default_multipliers():
    return {"elder_care": Decimal("1.5"), "disability_care": Decimal("1.5"),
            "professional": Decimal("2.0"), "environment": Decimal("1.0"),
            "culture_sports": Decimal("0.8"), "other": Decimal("1.0")}


@dataclass(frozen=True)
class Scheme:
    """One version of a community's scheme. A version never changes once published."""

    version: str
    effective_from: _dt.date
    base_points_per_hour: int = 10
    # Read-only mapping category → Decimal; every category of contracts.CATEGORIES is present.
    category_multipliers: MappingProxyType = field(
        default_factory=lambda: MappingProxyType(_default_multipliers()), hash=False)
    weekend_holiday_multiplier: Decimal = Decimal("1.2")
    daily_cap_minutes: int = 8 * 60
    storage_cap_points: int | None = None
    min_minutes_for_merchants: int | None = None
    timezone: str = DEFAULT_TIMEZONE

    def __post_init__(self):
        problems = {}

        def check(name, convert, *args):
            try:
                object.__setattr__(self, name, convert(getattr(self, name), *args))
            except ValueError as error:
                problems[name] = str(error)

        check("version", _version_id)
        check("effective_from", _effective_date)
        check("base_points_per_hour", _whole, 0, MAX_POINTS_PER_HOUR)
        check("category_multipliers", _category_multipliers)
        check("weekend_holiday_multiplier", _multiplier)
        check("daily_cap_minutes", _whole, 1, MINUTES_PER_DAY)
        if self.storage_cap_points is not None:
            check("storage_cap_points", _whole, 1)
        if self.min_minutes_for_merchants is not None:
            check("min_minutes_for_merchants", _whole, 0)
        try:
            zone(self.timezone)
        except ValueError as error:
            problems["timezone"] = str(error)
        if problems:
            raise SchemeError(problems)

    def multiplier_for(self, category):
        try:
            return self.category_multipliers[category]
        except KeyError:
            raise ValueError(f"unknown category {category!r}") from None


def _version_id(value):
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_VERSION_LENGTH:
        raise ValueError(f"must be a non-empty name of at most {MAX_VERSION_LENGTH} characters")
    return value


def _category_multipliers(given):
    """Categories a scheme leaves out keep domain.md's default, so a stored version still loads
    after a category is added to the contract."""
    if not hasattr(given, "items"):
        raise ValueError("must map categories to multipliers")
    unknown = sorted(set(given) - set(CATEGORIES), key=str)
    if unknown:
        raise ValueError(f"unknown categories {unknown}; known: {list(CATEGORIES)}")
    merged = _default_multipliers()
    for category, value in given.items():
        try:
            merged[category] = _multiplier(value)
        except ValueError as error:
            raise ValueError(f"{category} {error}") from None
    return MappingProxyType({category: merged[category] for category in CATEGORIES})


DEFAULT_SCHEME = Scheme(version="default", effective_from=_dt.date.min)

_FIELDS = ("version", "effective_from", "base_points_per_hour", "category_multipliers",
           "weekend_holiday_multiplier", "daily_cap_minutes", "storage_cap_points",
           "min_minutes_for_merchants", "timezone")
_REQUIRED = ("version", "effective_from")


def scheme_from_document(document):
    """The Scheme a stored (or published) plain dict describes; fields it leaves out take the
    defaults. Raises SchemeError naming every bad field."""
    if not isinstance(document, dict):
        raise SchemeError({"scheme": "must be an object"})
    problems = {name: "unknown field" for name in document if name not in _FIELDS}
    problems.update({name: "is required" for name in _REQUIRED if name not in document})
    if problems:
        raise SchemeError(problems)
    return Scheme(**document)


def scheme_to_document(scheme):
    """The plain dict to store: decimals as strings, the date as YYYY-MM-DD (BSON has neither
    an exact decimal type we want to depend on nor a date without time)."""
    return {
        "version": scheme.version,
        "effective_from": scheme.effective_from.isoformat(),
        "base_points_per_hour": scheme.base_points_per_hour,
        "category_multipliers": {c: str(m) for c, m in scheme.category_multipliers.items()},
        "weekend_holiday_multiplier": str(scheme.weekend_holiday_multiplier),
        "daily_cap_minutes": scheme.daily_cap_minutes,
        "storage_cap_points": scheme.storage_cap_points,
        "min_minutes_for_merchants": scheme.min_minutes_for_merchants,
        "timezone": scheme.timezone,
    }


def version_in_force(versions, on_date):
    """The version whose effective_from is the latest on or before ``on_date``; the default
    scheme when none is. Of two versions from the same date the later published one wins."""
    chosen = None
    for version in versions:
        if version.effective_from <= on_date and (
                chosen is None or version.effective_from >= chosen.effective_from):
            chosen = version
    return chosen or DEFAULT_SCHEME


def local_date(starts_at, timezone=DEFAULT_TIMEZONE):
    """The calendar date in ``timezone`` of an aware instant."""
    if not isinstance(starts_at, _dt.datetime) or starts_at.utcoffset() is None:
        raise ValueError("starts_at must be a timezone-aware datetime")
    return starts_at.astimezone(zone(timezone)).date()


def scheme_for_activity(versions, starts_at):
    """The version in force on the activity's local date. Each version's own time zone says
    which local date it sees, so a version that moves the zone is judged by its zone."""
    versions = list(versions)
    in_force = [v for v in versions if v.effective_from <= local_date(starts_at, v.timezone)]
    return version_in_force(in_force, _dt.date.max)


def is_rest_day(on_date):
    """(rest_day, source) on the State Council's calendar: a make-up working Saturday is a
    working day, a statutory holiday on a weekday a rest day. For a year the installed
    chinese-calendar does not know yet, Saturday and Sunday, with source "weekend_fallback"
    so the caller can log and count it; upgrading the package needs no code change."""
    if isinstance(on_date, _dt.datetime) or not isinstance(on_date, _dt.date):
        raise ValueError("on_date must be a date")
    try:
        return chinese_calendar.is_holiday(on_date), CALENDAR
    except NotImplementedError:
        return on_date.weekday() >= 5, WEEKEND_FALLBACK


def allocate_cap(already_credited_minutes, minutes, cap):
    """(creditable, uncredited) minutes of one record, given what earlier-approved records of
    the same volunteer and local day already used of the daily cap."""
    _whole(already_credited_minutes, 0)
    _whole(minutes, 0)
    _whole(cap, 0)
    creditable = min(minutes, max(cap - already_credited_minutes, 0))
    return creditable, minutes - creditable


@dataclass(frozen=True)
class SchemeCredit:
    points: int
    scheme_version: str
    local_date: _dt.date
    category: str
    minutes: int
    creditable_minutes: int
    uncredited_minutes: int
    base_points_per_hour: int
    category_multiplier: Decimal
    rest_day: bool
    rest_day_source: str
    rest_day_multiplier: Decimal | None  # None when the day was a working day
    arithmetic: str
    daily_cap_minutes: int | None = None


def credit(minutes, category, starts_at, scheme, creditable_minutes=None):
    """The points one approved record earns under ``scheme`` (a Scheme, or the community's
    versions, of which the one in force on the activity's local date is used).

    ``creditable_minutes`` is what allocate_cap left of the daily cap for this record; when
    not given, the record is taken as the first of its day."""
    if not isinstance(scheme, Scheme):
        scheme = scheme_for_activity(scheme, starts_at)
    _whole(minutes, 0)
    category_multiplier = scheme.multiplier_for(category)
    day = local_date(starts_at, scheme.timezone)
    if creditable_minutes is None:
        creditable_minutes, _ = allocate_cap(0, minutes, scheme.daily_cap_minutes)
    if _whole(creditable_minutes, 0) > minutes:
        raise ValueError("creditable_minutes cannot exceed minutes")
    uncredited = minutes - creditable_minutes
    rest_day, source = is_rest_day(day)

    exact = Fraction(creditable_minutes * scheme.base_points_per_hour, 60)
    exact *= Fraction(category_multiplier)
    factors = f" × {scheme.base_points_per_hour}/h × {_show(category_multiplier)}"
    rest_day_multiplier = None
    if rest_day:
        rest_day_multiplier = scheme.weekend_holiday_multiplier
        exact *= Fraction(rest_day_multiplier)
        label = "rest day" if source == CALENDAR else "weekend; calendar does not cover the year"
        factors += f" × {_show(rest_day_multiplier)} ({label})"
    points = exact.numerator // exact.denominator  # one floor, at the end

    counted = f"{minutes} min"
    if uncredited:
        counted = (f"{creditable_minutes} of {minutes} min ({uncredited} min beyond the daily "
                   f"cap of {scheme.daily_cap_minutes} min earn nothing)")
    return SchemeCredit(
        points=points, scheme_version=scheme.version, local_date=day, category=category,
        minutes=minutes, creditable_minutes=creditable_minutes, uncredited_minutes=uncredited,
        base_points_per_hour=scheme.base_points_per_hour,
        category_multiplier=category_multiplier, rest_day=rest_day, rest_day_source=source,
        rest_day_multiplier=rest_day_multiplier,
        arithmetic=f"{counted}{factors} = {_show_exact(exact)} → {points}",
        daily_cap_minutes=scheme.daily_cap_minutes,
    )


CATEGORY_NAMES = {"elder_care": "elder care", "disability_care": "disability care",
                  "professional": "professional service",
                  "environment": "environment and sanitation",
                  "culture_sports": "culture and sports", "other": "other service"}


def credit_reason(earned):
    """What a volunteer reads on the statement for one credit."""
    day = earned.local_date.isoformat()
    if earned.rest_day:
        day += (", a rest day" if earned.rest_day_source == CALENDAR
                else ", a weekend (the official calendar does not cover it yet)")
    reason = (f"service hours approved: {earned.minutes} min of "
              f"{CATEGORY_NAMES.get(earned.category, earned.category)} on {day}, "
              f"scheme {earned.scheme_version}")
    if earned.uncredited_minutes:
        reason += (f"; {earned.uncredited_minutes} min beyond the daily cap of "
                   f"{earned.daily_cap_minutes} min earn nothing")
    return reason


def rule_of(earned):
    """The rule an entry records: the version, the arithmetic and what it was applied to."""
    return {"version": earned.scheme_version, "arithmetic": earned.arithmetic,
            "local_date": earned.local_date.isoformat(), "category": earned.category,
            "minutes": earned.minutes, "creditable_minutes": earned.creditable_minutes,
            "uncredited_minutes": earned.uncredited_minutes, "rest_day": earned.rest_day,
            "rest_day_source": earned.rest_day_source}
