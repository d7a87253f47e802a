"""A volunteer's notices: the records stream of the volunteer service (newest logged first, its
top found in O(log n) lookups), and the gateway's merge of its sources (newest first, resumed
where the page stopped, points expiring within 30 days)."""
import datetime as dt
from unittest.mock import MagicMock

import pytest
from nameko.testing.services import worker_factory

from services.gateway import notice_routes
from services.gateway.notice_routes import DONE, merge, window_item
from services.gateway.service import GatewayService
from services.points.ledger import Ledger
from services.points.scheme_store import scheme_store_of
from services.points.service import PointsService
from services.shared.errors import InvalidInput, NotFound
from services.volunteer.notices import top_seq
from tests.unit.test_points_service import APPROVED
from tests.unit.test_volunteers_and_activities import activity
from tests.unit.test_worker_volunteer import (  # noqa: F401 - the service fixture
    STAFF, STAFF_B, VOLUNTEER, service, sheet)

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)


def at(minutes):
    return T0 + dt.timedelta(minutes=minutes)


# --- the volunteer service's records stream ------------------------------------------------

@pytest.mark.parametrize("top", [0, 1, 2, 3, 7, 8, 9, 100, 1025])
def test_the_top_of_a_contiguous_stream_is_found_in_logarithmic_lookups(top):
    asked = []

    def exists(seq):
        asked.append(seq)
        return seq <= top

    assert top_seq(exists) == top
    assert len(asked) <= 2 * max(top, 1).bit_length() + 2


def test_a_volunteers_records_come_newest_logged_first_with_status_and_reason(service):
    first, second, third = (activity(service, hours_from_start=4 * n) for n in range(3))
    for act in (first, second, third):
        service.log_hours(STAFF, act, sheet(("vol_2", 90)))
    records = {r["activity_id"]: r["_id"] for r in service.store.hours.find({})}
    service.approve_hours(STAFF, records[first])
    service.reject_hours(STAFF, records[second], {"reason": "没有签到"})

    page = service.hours_notices(VOLUNTEER | {"subject_id": "vol_2"}, "vol_2", 2)
    assert [(i["activity_id"], i["status"], i["reason"]) for i in page["items"]] == [
        (third, "pending", None), (second, "rejected", "没有签到")]
    assert page["more"] is True
    assert (page["items"][1]["minutes"], page["items"][1]["activity_title"]) == (90, "探访")
    rest = service.hours_notices(STAFF, "vol_2", 2, before_seq=page["items"][-1]["seq"])
    assert [(i["activity_id"], i["status"]) for i in rest["items"]] == [(first, "approved")]
    assert rest["more"] is False


def test_another_volunteer_or_community_does_not_see_the_records(service):
    with pytest.raises(NotFound):
        service.hours_notices(VOLUNTEER, "vol_2", 5)  # vol_1 asking for vol_2
    with pytest.raises(NotFound):
        service.hours_notices(STAFF_B, "vol_1", 5)


# --- the gateway's merge --------------------------------------------------------------------

def window(*items, more=False, position="-"):
    return [window_item(at(minutes), resume, notice) for minutes, resume, notice in items], \
        more, position


def test_sources_merge_newest_first_and_resume_after_what_the_page_told():
    windows = {"hours": window((50, 9, "h9"), (10, 8, "h8")),
               "statement": window((40, 5, "s5"), (30, 4, None), (20, 3, "s3"), more=True),
               "redemptions": window((45, "-+1", "r1"))}
    notices, positions, more = merge(windows, limit=3)
    assert notices == ["h9", "r1", "s5"]
    assert positions == {"hours": "9", "statement": "5", "redemptions": DONE}
    assert more is True


def test_nothing_older_than_a_source_that_goes_on_is_told_on_this_page():
    windows = {"hours": window((50, 9, "h9"), (10, 8, "h8")),
               "statement": window((40, 5, "s5"), (30, 4, None), more=True),
               "redemptions": window()}
    notices, positions, more = merge(windows, limit=10)
    assert notices == ["h9", "s5"]  # h8 (older than the statement's window) waits
    assert positions == {"hours": "9", "statement": "4", "redemptions": "-"}
    assert more is True


def test_a_record_decided_late_never_makes_its_source_skip_one():
    # Records are in the order they were logged; an old record decided last comes first in
    # time, but the running minimum keeps the source in its own order.
    windows = {"hours": window((10, 9, "h9"), (60, 8, "h8")), "statement": window((30, 2, "s2")),
               "redemptions": window()}
    notices, positions, _ = merge(windows, limit=1)
    assert notices == ["s2"]
    assert positions["hours"] == "-"


def test_the_last_page_has_no_cursor():
    windows = {"hours": window((50, 1, "h1")), "statement": window(), "redemptions": window()}
    assert merge(windows, limit=5) == (["h1"], {"hours": DONE, "statement": "-",
                                                "redemptions": "-"}, False)


def test_statement_entries_tell_credits_and_reversals_but_not_hours_or_debits():
    entry = {"at": at(0), "points": 12, "kind": "gift_in", "reason": "from 王芳", "ref": {}}
    assert notice_routes.statement_notice(entry)["kind"] == "points_credited"
    assert notice_routes.statement_notice(dict(entry, kind="reversal", points=-24))[
        "points"] == 24
    assert notice_routes.statement_notice(dict(entry, kind="earn", ref={"type": "hours"})) is None
    assert notice_routes.statement_notice(dict(entry, kind="redeem", points=-12)) is None


# --- the path ------------------------------------------------------------------------------

@pytest.fixture
def gateway():
    gateway = worker_factory(GatewayService)
    gateway.tokens.actor.return_value = VOLUNTEER
    gateway.volunteer.hours_notices.return_value = {"items": [], "more": False}
    gateway.points.statement.return_value = []
    gateway.rewards.volunteer_redemptions.return_value = {"items": [], "next_cursor": None}
    return gateway


def request(args):
    return MagicMock(args=MagicMock(to_dict=lambda: args))


def test_points_expiring_within_30_days_are_told_on_the_first_page_only(gateway, monkeypatch):
    monkeypatch.setattr(notice_routes, "now", lambda: T0)
    gateway.points.get_balance.return_value = {"expiring": [
        {"points": 30, "expires_at": (T0 + dt.timedelta(days=29)).isoformat()},
        {"points": 40, "expires_at": (T0 + dt.timedelta(days=45)).isoformat()}]}
    answer = gateway.volunteer_notices(request({}), "vol_1")
    assert answer.json == {"items": [{"kind": "points_expiring", "at": T0.isoformat(),
                                      "points": 30,
                                      "expires_at": (T0 + dt.timedelta(days=29)).isoformat()}],
                           "next_cursor": None}
    later = gateway.volunteer_notices(request({"cursor": "5.-.0"}), "vol_1")
    assert later.json["items"] == []
    assert gateway.volunteer.hours_notices.call_args.args[3] == 5


@pytest.mark.parametrize("args", [{"cursor": "x"}, {"cursor": "1.2"}, {"limit": "0"},
                                  {"limit": "51"}, {"cursor": "1.2.3.4"}])
def test_bad_paging_is_400_with_its_field(gateway, args):
    with pytest.raises(InvalidInput) as bad:
        gateway.volunteer_notices(request(args), "vol_1")
    assert list(bad.value.fields) == list(args)


# --- the points an approval earned, by the credit's key -------------------------------------

def test_the_points_of_credited_records_are_found_by_their_credit_key(db):
    ledger = Ledger(db)
    ledger.ensure_indexes()
    scheme_store_of(ledger).ensure_indexes()
    points = worker_factory(PointsService, ledger=ledger)
    points.on_hours_approved(APPROVED)
    assert points.hours_credits("vol_1", ["hrs_1", "hrs_2"]) == {"hrs_1": 25}
    assert points.hours_credits("vol_2", ["hrs_1"]) == {}  # another's record tells nothing
