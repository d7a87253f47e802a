"""Wrong on-site sign-in codes are throttled per volunteer and per activity (sign_in.py with
throttle.sign_in_budgets), with worker_factory on the in-memory store."""
from datetime import timedelta
from unittest.mock import call

import pytest

from services.shared.errors import RuleViolation, TooManyAttempts
from tests.unit.test_sign_in import FANG, current_code
from tests.unit.test_worker_volunteer import STAFF, STARTS, VOLUNTEER, service  # noqa: F401

WRONG = {"code": "not-it"}  # five characters: never a code


def clock(service, moment):
    service.clock = lambda: moment


def wrong_tries(service, actor, times):
    for _ in range(times):
        with pytest.raises(RuleViolation) as refused:
            service.check_in(actor, "act_1", WRONG)
        assert refused.value.code == "wrong_code"


def test_five_wrong_codes_lock_the_volunteer_for_five_minutes_right_code_included(service):
    clock(service, STARTS)
    code = current_code(service)
    wrong_tries(service, VOLUNTEER, 5)
    assert service.metrics.count.call_args_list.count(call("sign_in_wrong_code")) == 5
    for attempt in (WRONG, {"code": code}):
        with pytest.raises(TooManyAttempts) as locked:
            service.check_in(VOLUNTEER, "act_1", attempt)
        assert locked.value.retry_after == 300
    # Another volunteer's right code is not held up by this one's guesses.
    assert service.check_in(FANG, "act_1", {"code": code})["volunteer_id"] == "vol_2"
    clock(service, STARTS + timedelta(minutes=5, seconds=1))
    assert service.check_in(VOLUNTEER, "act_1", {"code": code})["volunteer_id"] == "vol_1"


def test_a_right_code_gives_its_place_back(service):
    clock(service, STARTS)
    code = current_code(service)
    wrong_tries(service, VOLUNTEER, 4)
    service.check_in(VOLUNTEER, "act_1", {"code": code})
    clock(service, STARTS + timedelta(minutes=10))  # the same 15-minute window
    assert service.check_out(VOLUNTEER, "act_1", {"code": code})["minutes"] == 10
    with pytest.raises(TooManyAttempts):  # the fifth wrong one locked: the sixth is refused
        wrong_tries(service, VOLUNTEER, 2)


def test_a_crowd_locks_the_activity_for_a_minute_each_time_without_growing(service):
    service.config.update(SIGN_IN_FAILURES_PER_ACTIVITY=3, SIGN_IN_FAILURES_PER_VOLUNTEER=10)
    clock(service, STARTS)
    code = current_code(service)
    for lock in range(2):
        wrong_tries(service, VOLUNTEER, 2)
        wrong_tries(service, FANG, 1)
        with pytest.raises(TooManyAttempts) as locked:  # the right code too, from anyone
            service.check_in(FANG, "act_1", {"code": code})
        assert locked.value.retry_after == 60  # the second lock no longer than the first
        clock(service, STARTS + timedelta(seconds=61 * (lock + 1)))
    assert service.check_in(FANG, "act_1", {"code": code})["volunteer_id"] == "vol_2"

