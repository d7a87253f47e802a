"""The one saga runner (rewards/saga.py) with steps of its own: what it gives back and settles,
in which order, and how a marked redemption is resumed or abandoned."""
from unittest.mock import MagicMock

import pytest

from services.rewards import saga
from services.shared.appendlog import AppendLog
from services.shared.errors import Conflict, InsufficientPoints, ServiceUnavailable
from services.shared.inflight import InFlight
from tests.unit.fakes import FakeDatabase


class Recorder:
    """Steps that note what they did; ``fail`` names the step that fails and how."""

    def __init__(self, fail=None):
        self.done = []
        self.fail = fail or {}

    def step(self, name, failures=()):
        def take():
            self.done.append(f"take {name}")
            return self.fail.get(name)
        return saga.Step(take, failures, give_back=lambda: self.done.append(f"back {name}"),
                         settle=lambda: self.done.append(f"settle {name}"))


def runner(db, steps_for):
    return saga.Saga(db.redemptions, db.outcomes, InFlight(db.pending), steps_for, "confirmed",
                     "redemption_", MagicMock())


@pytest.fixture
def db():
    return FakeDatabase()


def three_steps(recorder):
    return lambda redemption: [recorder.step("a", ("a_failed",)),
                               recorder.step("b", ("b_failed",)),
                               recorder.step("c", ("c_failed",))]


def test_success_takes_every_step_then_settles_and_unmarks(db):
    recorder = Recorder()
    s = runner(db, three_steps(recorder))
    redemption = s.begin("r1", lambda: {"_id": "r1"}, lambda r: recorder.done.append("listed"))
    assert s.outcome(redemption)["status"] == "confirmed"
    assert recorder.done == ["listed", "take a", "take b", "take c",
                             "settle a", "settle b", "settle c"]
    assert db.pending.find_one({}) is None
    recorder.done.clear()
    assert s.outcome(redemption)["status"] == "confirmed"  # decided: nothing runs again
    assert recorder.done == []


def test_a_failure_gives_back_the_steps_before_it_latest_first(db):
    recorder = Recorder(fail={"c": "c_failed"})
    s = runner(db, three_steps(recorder))
    outcome = s.run({"_id": "r1"})
    assert (outcome["status"], outcome["failure"]) == ("failed", "c_failed")
    assert recorder.done == ["take a", "take b", "take c", "back b", "back a"]


def test_an_unknown_stored_failure_gives_back_every_step(db):
    """An outcome stored by an older version, with a failure no step names now."""
    db.outcomes.insert_one({"_id": "r1", "status": "failed", "failure": "legacy", "at": None})
    recorder = Recorder()
    runner(db, three_steps(recorder)).run({"_id": "r1"})
    assert recorder.done == ["back c", "back b", "back a"]


def test_a_step_that_raises_leaves_the_redemption_marked_for_recovery(db):
    def down():
        raise ServiceUnavailable("points did not answer")
    s = runner(db, lambda r: [saga.Step(down)])
    redemption = s.begin("r1", lambda: {"_id": "r1"}, lambda r: None)
    with pytest.raises(ServiceUnavailable):
        s.outcome(redemption)
    assert db.pending.find_one({"_id": "r1"}) is not None and db.outcomes.find_one({}) is None


def test_recovery_abandons_a_redemption_never_stored(db):
    s = runner(db, lambda r: pytest.fail("no step runs"))
    InFlight(db.pending).mark("r1")  # the request died between its marker and its insert
    assert s.resume("r1") is None
    assert db.pending.find_one({}) is None
    with pytest.raises(Conflict) as refused:  # its late insert finds it abandoned
        s.begin("r1", lambda: {"_id": "r1"}, lambda r: None)
    assert refused.value.code == "request_abandoned"


def test_log_and_debit_steps_keep_their_keys(db):
    stock = AppendLog(db, "stock")
    stock.ensure_indexes()
    stock.append("rice", 1, key="rice:initial")
    points = MagicMock()
    points.debit.side_effect = InsufficientPoints("no")
    steps = [saga.log_step(stock, "rice", 1, key="r1:take", floor=0, failure="out_of_stock",
                           fields={"reason": "redeemed"}, back_key="r1:return"),
             saga.debit_step(points, {"key": "redemption:r1"})]
    outcome = runner(db, lambda r: steps).run({"_id": "r1"})
    assert outcome["failure"] == "insufficient_points"
    assert stock.find_by_key("r1:take")["delta"] == -1
    assert stock.find_by_key("r1:return")["delta"] == 1 and stock.total("rice") == 1
    # A second redemption finds no stock: out_of_stock, and nothing to give back.
    stock.append("rice", -1, key="elsewhere")
    take_r2 = saga.log_step(stock, "rice", 1, key="r2:take", floor=0, failure="out_of_stock",
                            fields={}, back_key="r2:return")
    outcome = runner(db, lambda r: [take_r2]).run({"_id": "r2"})
    assert outcome["failure"] == "out_of_stock" and stock.find_by_key("r2:return") is None
