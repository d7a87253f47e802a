"""A sheet that crashed between storing its records and taking their places and times is
settled by the recovery timer, so a later sheet cannot overlap its records."""
import datetime as dt

import pytest

from services.shared.errors import RuleViolation
from tests.unit.test_volunteers_and_activities import activity
from tests.unit.test_worker_volunteer import STAFF, service, sheet  # noqa: F401 - fixture


class Crash(Exception):
    pass


def crash_once(monkeypatch, obj, name):
    real = getattr(obj, name)
    state = {"crashed": False}

    def crashing(*args, **kwargs):
        if not state["crashed"]:
            state["crashed"] = True
            raise Crash(name)
        return real(*args, **kwargs)
    monkeypatch.setattr(obj, name, crashing)


def stall_markers(store):
    for marker in store.sheets_in_flight.collection.docs.values():
        marker["since"] -= dt.timedelta(minutes=5)


@pytest.mark.parametrize("step", ["take_places", "occupy_all"])
def test_a_sheet_crashed_before_its_places_or_times_is_settled_by_recovery(
        service, monkeypatch, step):
    store = service.store
    crash_once(monkeypatch, store.rosters if step == "take_places" else store.occupancy, step)
    first = activity(service, 0, 3)
    with pytest.raises(Crash):
        service.log_hours(STAFF, first, sheet("vol_1"))
    assert len(store.sheets_in_flight.collection.docs) == 1  # the record is stored, unsettled

    stall_markers(store)
    service.settle_stalled_sheets()
    assert not store.sheets_in_flight.collection.docs
    with pytest.raises(RuleViolation) as refused:  # the first record now holds its time
        service.log_hours(STAFF, activity(service, 1, 2), sheet("vol_1"))
    assert refused.value.code == "overlapping_hours"


def test_a_settled_sheet_leaves_no_marker(service):
    service.log_hours(STAFF, activity(service, 0, 3), sheet("vol_1"))
    with pytest.raises(RuleViolation):
        service.log_hours(STAFF, activity(service, 1, 2), sheet("vol_1"))
    assert not service.store.sheets_in_flight.collection.docs
