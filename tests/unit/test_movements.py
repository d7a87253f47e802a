"""Gifts of points, donations to a community fund, grants from it and overflow: the points
service's movement RPCs with worker_factory, a real Ledger on the in-memory store."""
import datetime as dt
import json

import pytest
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder

from services.gateway.auth import Tokens
from services.gateway.idempotency import IdempotencyStore
from services.gateway.service import GatewayService

from services.points.ledger import fund_account
from services.points.movements import (COMPLETED, IN_PROGRESS, REFUSED, MovementStore,
                                       Movements, in_key, out_key)
from services.points.service import PointsService
from services.shared.errors import (Conflict, Forbidden, InsufficientPoints, InvalidInput,
                                    NotFound, RuleViolation)
from tests.unit.fakes import FakeDatabase

LI = {"user_id": "usr_li", "role": "volunteer", "subject_id": "vol_li", "community_id": "com_1"}
MEI = {"user_id": "usr_mei", "role": "volunteer", "subject_id": "vol_mei",
       "community_id": "com_1"}
STAFF = {"user_id": "usr_wang", "role": "center_staff", "center_id": "ctr_1",
         "community_id": "com_1"}
OTHER_STAFF = dict(STAFF, user_id="usr_zhao", center_id="ctr_9", community_id="com_9")
ADMIN = {"user_id": "admin", "role": "admin"}
EXPIRY_A, EXPIRY_B = "2098-12-31", "2099-12-31"


class Volunteers:
    """The volunteer service as the points service calls it."""
    known = {"vol_li": "com_1", "vol_mei": "com_1", "vol_far": "com_9"}
    communities = {"com_1", "com_9"}

    def get_volunteer(self, actor, volunteer_id):
        if volunteer_id not in self.known:
            raise NotFound(f"volunteer {volunteer_id} not found")
        return {"id": volunteer_id, "community_id": self.known[volunteer_id]}

    def get_community(self, community_id):
        if community_id not in self.communities:
            raise NotFound(f"community {community_id} not found")
        return {"id": community_id}


@pytest.fixture
def moves(db):
    return MovementStore(db)


@pytest.fixture
def points(ledger, moves):
    return worker_factory(PointsService, ledger=ledger, movement_store=moves,
                          volunteer=Volunteers())


def earn(ledger, account, lots, key="start"):
    """Points of given expiry dates, as earlier credits left them."""
    ledger.credit(account, sum(lots.values()), key, lots=lots, kind="earn", reason="test",
                  ref={"type": "test", "id": key}, by="test")


def gift(points, amount, key="idk_1", actor=LI, to="vol_mei", **extra):
    return points.transfer(actor, dict({"from_volunteer_id": actor.get("subject_id"),
                                        "to_volunteer_id": to, "points": amount}, **extra),
                           request_key=key)


def entries_keyed(ledger, key):
    return [e for e in ledger.accounts.entries.docs.values() if e.get("key") == key
            and not e.get("refused")]


# --- gifts -----------------------------------------------------------------------------------

def test_a_gift_moves_exactly_its_points_and_both_sides_name_each_other(points, ledger):
    earn(ledger, "vol_li", {EXPIRY_A: 30})
    answer = gift(points, 20, note="for grandma")
    assert (answer["status"], answer["points"], answer["from_volunteer_id"],
            answer["to_volunteer_id"]) == (COMPLETED, 20, "vol_li", "vol_mei")
    assert (ledger.balance("vol_li"), ledger.balance("vol_mei")) == (10, 20)
    movement = answer["id"]
    out, into = ledger.find(out_key(movement)), ledger.find(in_key(movement))
    assert (out["kind"], out["delta"], into["kind"], into["delta"]) == \
        ("gift_out", -20, "gift_in", 20)
    assert (out["pair"], into["pair"]) == (in_key(movement), out_key(movement))
    for entry in (out, into):
        assert entry["movement"] == movement
        assert entry["ref"] == {"type": "transfer", "id": movement}
        assert (entry["by"], entry["reason"]) == ("usr_li", "for grandma")
    assert (out["counterparty"], into["counterparty"]) == ("vol_mei", "vol_li")


def test_gifted_points_keep_their_expiry_dates(points, ledger):
    earn(ledger, "vol_li", {EXPIRY_A: 20, EXPIRY_B: 10})
    gift(points, 25)  # the oldest first: 20 of A, 5 of B
    assert ledger.state("vol_mei")["lots"] == {EXPIRY_A: 20, EXPIRY_B: 5}
    assert ledger.state("vol_li")["lots"] == {EXPIRY_B: 5}


def test_a_retried_gift_changes_nothing(points, ledger):
    earn(ledger, "vol_li", {EXPIRY_A: 30})
    first = gift(points, 20)
    again = gift(points, 20)
    assert again == first
    assert (ledger.balance("vol_li"), ledger.balance("vol_mei")) == (10, 20)
    assert len(entries_keyed(ledger, out_key(first["id"]))) == 1
    assert len(entries_keyed(ledger, in_key(first["id"]))) == 1


def test_a_gift_beyond_the_balance_is_refused_for_good(points, ledger, moves):
    earn(ledger, "vol_li", {EXPIRY_A: 10})
    with pytest.raises(InsufficientPoints):
        gift(points, 20)
    earn(ledger, "vol_li", {EXPIRY_A: 50}, key="later")  # points arrive before the retry
    with pytest.raises(InsufficientPoints):
        gift(points, 20)
    assert (ledger.balance("vol_li"), ledger.balance("vol_mei")) == (60, 0)
    [record] = moves.records.find({})
    movements = Movements(ledger, moves)
    assert movements.status(record) == (REFUSED, "insufficient_points")
    assert moves.pending.collection.find_one({}) is None


@pytest.mark.parametrize("actor", [MEI, STAFF, ADMIN])
def test_only_the_sender_gives_their_points(points, ledger, actor):
    earn(ledger, "vol_li", {EXPIRY_A: 30})
    with pytest.raises(Forbidden):
        points.transfer(actor, {"from_volunteer_id": "vol_li", "to_volunteer_id": "vol_far",
                                "points": 5})
    assert ledger.balance("vol_li") == 30


def test_a_volunteer_cannot_gift_to_themself(points, ledger):
    earn(ledger, "vol_li", {EXPIRY_A: 30})
    with pytest.raises(RuleViolation) as refused:
        gift(points, 5, to="vol_li")
    assert "to_volunteer_id" in refused.value.fields
    assert ledger.statement("vol_li")[0]["key"] == "start"


def test_the_receiver_must_exist_in_any_community(points, ledger):
    earn(ledger, "vol_li", {EXPIRY_A: 30})
    with pytest.raises(NotFound) as unknown:
        gift(points, 5, to="vol_nobody")
    assert "to_volunteer_id" in unknown.value.fields
    assert ledger.balance("vol_li") == 30
    gift(points, 5, key="idk_far", to="vol_far")  # 通存通兑: another community is fine
    assert ledger.balance("vol_far") == 5


@pytest.mark.parametrize("body, field", [
    ({"to_volunteer_id": "vol_mei", "points": 0}, "points"),
    ({"to_volunteer_id": "vol_mei", "points": 2.5}, "points"),
    ({"to_volunteer_id": "vol_mei", "points": "5"}, "points"),
    ({"points": 5}, "to_volunteer_id"),
])
def test_bad_input_names_its_field(points, body, field):
    with pytest.raises(InvalidInput) as refused:
        points.transfer(LI, dict(body, from_volunteer_id="vol_li"))
    assert field in refused.value.fields


# --- the community fund ----------------------------------------------------------------------

def test_a_donation_moves_points_to_the_communitys_fund(points, ledger):
    earn(ledger, "vol_li", {EXPIRY_A: 30})
    answer = points.donate(LI, "com_1", {"volunteer_id": "vol_li", "points": 12}, "idk_d")
    assert (answer["status"], answer["community_id"]) == (COMPLETED, "com_1")
    assert (ledger.balance("vol_li"), ledger.balance(fund_account("com_1"))) == (18, 12)
    out, into = ledger.find(out_key(answer["id"])), ledger.find(in_key(answer["id"]))
    assert (out["kind"], into["kind"]) == ("donate", "donate")
    assert out["ref"]["type"] == into["ref"]["type"] == "donation"


def test_donations_go_to_ones_own_community_and_only_by_oneself(points, ledger):
    earn(ledger, "vol_li", {EXPIRY_A: 30})
    with pytest.raises(NotFound):
        points.donate(LI, "com_9", {"volunteer_id": "vol_li", "points": 5})
    with pytest.raises(Forbidden):
        points.donate(STAFF, "com_1", {"volunteer_id": "vol_li", "points": 5})
    assert ledger.balance("vol_li") == 30


def fill_fund(ledger, points=100):
    ledger.credit(fund_account("com_1"), points, "fund:start", kind="donate", reason="test",
                  ref={"type": "test", "id": "start"}, by="test")


def test_a_grant_names_who_approved_it_and_why(points, ledger):
    fill_fund(ledger)
    answer = points.grant(STAFF, "com_1", {"to_volunteer_id": "vol_mei", "points": 40,
                                           "reason": "独居老人 winter help"}, "idk_g")
    assert (answer["status"], answer["approved_by"], answer["reason"]) == \
        (COMPLETED, "usr_wang", "独居老人 winter help")
    assert (ledger.balance(fund_account("com_1")), ledger.balance("vol_mei")) == (60, 40)
    for key in (out_key(answer["id"]), in_key(answer["id"])):
        entry = ledger.find(key)
        assert (entry["kind"], entry["approved_by"], entry["by"], entry["reason"]) == \
            ("grant", "usr_wang", "usr_wang", "独居老人 winter help")


def test_a_grant_beyond_the_fund_is_refused_and_moves_nothing(points, ledger):
    fill_fund(ledger, 30)
    with pytest.raises(InsufficientPoints):
        points.grant(ADMIN, "com_1", {"to_volunteer_id": "vol_mei", "points": 31,
                                      "reason": "too much"})
    assert (ledger.balance(fund_account("com_1")), ledger.balance("vol_mei")) == (30, 0)


@pytest.mark.parametrize("actor, to, error", [
    (LI, "vol_mei", Forbidden),             # a volunteer of the community
    (OTHER_STAFF, "vol_mei", NotFound),     # staff of another community
    (STAFF, "vol_far", NotFound),           # a receiver of another community
    (STAFF, "vol_nobody", NotFound),
])
def test_only_staff_or_admins_grant_to_volunteers_of_the_community(points, ledger, actor, to,
                                                                   error):
    fill_fund(ledger)
    with pytest.raises(error):
        points.grant(actor, "com_1", {"to_volunteer_id": to, "points": 5, "reason": "help"})
    assert ledger.balance(fund_account("com_1")) == 100


def test_a_grant_needs_a_reason(points):
    with pytest.raises(InvalidInput) as refused:
        points.grant(STAFF, "com_1", {"to_volunteer_id": "vol_mei", "points": 5, "reason": ""})
    assert "reason" in refused.value.fields


def test_an_admin_grants_only_from_a_community_that_exists(points):
    with pytest.raises(NotFound):
        points.grant(ADMIN, "com_none", {"to_volunteer_id": "vol_mei", "points": 5,
                                         "reason": "help"})


def test_the_fund_page_is_newest_first_with_a_cursor(points, ledger):
    earn(ledger, "vol_li", {EXPIRY_A: 30})
    for n in range(3):
        points.donate(LI, "com_1", {"volunteer_id": "vol_li", "points": n + 1}, f"idk_{n}")
    first = points.fund(STAFF, {"community_id": "com_1", "limit": 2})
    assert first["balance"] == 6
    assert [i["points"] for i in first["items"]] == [3, 2]
    assert first["items"][0]["counterparty"] == "vol_li"
    assert first["items"][0]["by"] == "usr_li"
    rest = points.fund(ADMIN, {"community_id": "com_1", "limit": 2,
                               "cursor": first["next_cursor"]})
    assert [i["points"] for i in rest["items"]] == [1] and rest["next_cursor"] is None


@pytest.mark.parametrize("actor, error", [(LI, Forbidden), (OTHER_STAFF, NotFound)])
def test_the_fund_is_for_its_staff_and_admins(points, actor, error):
    with pytest.raises(error):
        points.fund(actor, {"community_id": "com_1"})


def test_a_bad_fund_cursor_is_invalid_input(points):
    with pytest.raises(InvalidInput) as refused:
        points.fund(STAFF, {"community_id": "com_1", "cursor": "abc"})
    assert "cursor" in refused.value.fields


# --- overflow --------------------------------------------------------------------------------

def test_overflow_sends_the_excess_to_the_fund_once_per_credit(points, ledger):
    earn(ledger, "vol_li", {EXPIRY_A: 30})
    first = points._overflow("vol_li", "com_1", 8, "hours:hrs_1:credit", "usr_wang")
    again = points._overflow("vol_li", "com_1", 8, "hours:hrs_1:credit", "usr_wang")
    assert first["id"] == again["id"] == "overflow:hours:hrs_1:credit"
    assert first["status"] == COMPLETED
    assert (ledger.balance("vol_li"), ledger.balance(fund_account("com_1"))) == (22, 8)
    assert ledger.find(out_key(first["id"]))["kind"] == "overflow"


def test_an_overflow_the_balance_no_longer_covers_is_an_answer_not_an_error(points, ledger):
    earn(ledger, "vol_li", {EXPIRY_A: 3})
    answer = points._overflow("vol_li", "com_1", 8, "hours:hrs_1:credit", "usr_wang")
    assert (answer["status"], answer["failure"]) == (REFUSED, "insufficient_points")


# --- crashes between the two sides -----------------------------------------------------------

class CreditFails(Exception):
    pass


def age_markers(moves):
    for marker in moves.pending.collection.docs.values():
        marker["since"] = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


def test_a_crash_between_the_two_sides_is_finished_by_the_recovery_timer(points, ledger, moves,
                                                                          monkeypatch):
    earn(ledger, "vol_li", {EXPIRY_A: 30})

    def die(*args, **kwargs):
        raise CreditFails()
    monkeypatch.setattr(ledger, "credit", die)
    with pytest.raises(CreditFails):
        gift(points, 20)
    monkeypatch.undo()
    [record] = moves.records.find({})
    assert Movements(ledger, moves).status(record) == (IN_PROGRESS, None)
    assert (ledger.balance("vol_li"), ledger.balance("vol_mei")) == (10, 0)

    points.resume_stalled_movements()  # too early: the marker is not stalled yet
    assert ledger.balance("vol_mei") == 0
    age_markers(moves)
    points.resume_stalled_movements()
    assert (ledger.balance("vol_li"), ledger.balance("vol_mei")) == (10, 20)
    assert Movements(ledger, moves).status(record) == (COMPLETED, None)
    assert moves.pending.collection.find_one({}) is None


def test_a_crash_before_the_record_is_finished_from_the_marker(points, ledger, moves,
                                                              monkeypatch):
    """The marker carries the movement: recovery completes it instead of abandoning it."""
    earn(ledger, "vol_li", {EXPIRY_A: 30})
    records = moves.records

    def die(doc):
        raise CreditFails()
    monkeypatch.setattr(records, "insert_one", die)
    with pytest.raises(CreditFails):
        gift(points, 20)
    monkeypatch.undo()
    assert records.find_one({}) is None
    age_markers(moves)
    points.resume_stalled_movements()
    assert (ledger.balance("vol_li"), ledger.balance("vol_mei")) == (10, 20)
    assert gift(points, 20)["status"] == COMPLETED  # the client's retry finds it done
    assert ledger.balance("vol_mei") == 20


def test_a_movement_id_asked_again_with_other_terms_is_a_conflict(points, ledger):
    earn(ledger, "vol_li", {EXPIRY_A: 30})
    gift(points, 5)
    with pytest.raises(Conflict):
        gift(points, 6)
    assert ledger.balance("vol_mei") == 5


# --- the gateway's paths ---------------------------------------------------------------------

@pytest.fixture
def gateway():
    return worker_factory(GatewayService, tokens=Tokens("unit-test-secret-of-at-least-32-bytes"),
                          idempotency=IdempotencyStore(FakeDatabase()))


def http(gateway, principal, method, path, body=None, key=None):
    headers = {"Authorization": f"Bearer {gateway.tokens.issue(principal)[0]}"}
    if key:
        headers["Idempotency-Key"] = key
    return EnvironBuilder(path=path, method=method, headers=headers,
                          data=json.dumps(body) if body is not None else None).get_request()


GATEWAY_LI = dict(LI, center_id=None, merchant_id=None)
GATEWAY_STAFF = dict(STAFF, subject_id=None, merchant_id=None)


@pytest.mark.parametrize("body, field", [
    ({"from_volunteer_id": "vol_li", "to_volunteer_id": "vol_mei", "points": -1}, "points"),
    ({"from_volunteer_id": "vol_li", "to_volunteer_id": "vol_mei"}, "points"),
    ({"from_volunteer_id": "vol_li", "to_volunteer_id": "vol_mei", "points": 1, "x": 1}, "x"),
])
def test_the_gateway_refuses_a_bad_transfer_before_any_call(gateway, body, field):
    with pytest.raises(InvalidInput) as refused:
        gateway.transfer(http(gateway, GATEWAY_LI, "POST", "/api/v1/transfers", body))
    assert field in refused.value.fields
    gateway.points.transfer.assert_not_called()


def test_a_transfer_runs_once_per_idempotency_key(gateway):
    gateway.points.transfer.return_value = {"id": "mov_1", "status": COMPLETED, "points": 5}
    body = {"from_volunteer_id": "vol_li", "to_volunteer_id": "vol_mei", "points": 5}
    first = gateway.transfer(http(gateway, GATEWAY_LI, "POST", "/api/v1/transfers", body, "k"))
    again = gateway.transfer(http(gateway, GATEWAY_LI, "POST", "/api/v1/transfers", body, "k"))
    assert first.status_code == again.status_code == 201
    assert json.loads(again.data) == json.loads(first.data)
    assert gateway.points.transfer.call_count == 1
    assert gateway.points.transfer.call_args.args[2]  # the request key: the movement's id


def test_a_grant_without_a_reason_is_refused_at_the_gateway(gateway):
    with pytest.raises(InvalidInput) as refused:
        gateway.grant(http(gateway, GATEWAY_STAFF, "POST", "/api/v1/communities/com_1/fund/grants",
                           {"to_volunteer_id": "vol_mei", "points": 5}), "com_1")
    assert "reason" in refused.value.fields
    gateway.points.grant.assert_not_called()


def test_the_fund_page_passes_its_limit_and_cursor(gateway):
    gateway.points.fund.return_value = {"balance": 0, "items": [], "next_cursor": None}
    gateway.get_fund(http(gateway, GATEWAY_STAFF, "GET",
                          "/api/v1/communities/com_1/fund?limit=5&cursor=9"), "com_1")
    query = gateway.points.fund.call_args.args[1]
    assert query == {"community_id": "com_1", "limit": 5, "cursor": "9"}
    with pytest.raises(InvalidInput) as refused:
        gateway.get_fund(http(gateway, GATEWAY_STAFF, "GET",
                              "/api/v1/communities/com_1/fund?limit=0"), "com_1")
    assert "limit" in refused.value.fields
