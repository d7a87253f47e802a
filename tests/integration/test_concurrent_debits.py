"""50 concurrent debits through the real broker against a balance that covers exactly 10, on the
real store: exactly 10 succeed, the balance ends at 0, and the debits really raced (they ran at
the same time in the points service and lost insert races on the account's next entry)."""
import uuid

import pytest

from services.points.ledger import Ledger
from services.points.service import PointsService
from services.shared import appendlog
from services.shared.errors import InsufficientPoints

DEBITS, COVERED, EACH = 50, 10, 5


class RaceWitness:
    """What the points service did while the debits ran, seen from inside its process (the
    integration tier runs the container in the test's process)."""

    def __init__(self):
        self.running = 0
        self.most_at_once = 0
        self.lost_races = 0  # an insert of entry n+1 lost to another writer: retried


@pytest.fixture
def witness(monkeypatch):
    seen = RaceWitness()
    debit, pause = Ledger.debit, appendlog._pause

    def watched_debit(self, *args, **kwargs):
        seen.running += 1
        seen.most_at_once = max(seen.most_at_once, seen.running)
        try:
            return debit(self, *args, **kwargs)
        finally:
            seen.running -= 1

    def counted_pause(seconds):
        seen.lost_races += 1  # AppendLog backs off only before retrying a lost insert
        pause(seconds)

    monkeypatch.setattr(Ledger, "debit", watched_debit)
    # Bound when a log is built (AppendLog.__init__): patched before the container starts.
    monkeypatch.setattr(appendlog, "_pause", counted_pause)
    return seen


def test_fifty_concurrent_debits_against_a_balance_covering_ten(witness, start, store, rpc):
    start(PointsService)
    account = f"vol_{uuid.uuid4().hex}"
    Ledger(store("points")).credit(account, COVERED * EACH, f"start:{account}", kind="earn",
                                   reason="test", ref={"type": "test", "id": account}, by="test")

    replies = [rpc.points.debit.call_async({
        "account": account, "points": EACH, "key": f"redemption:{account}:{i}",
        "kind": "redeem", "reason": "race", "ref_type": "redemption", "ref_id": f"r{i}",
        "by": account}) for i in range(DEBITS)]
    outcomes = []
    for reply in replies:
        try:
            reply.result()
            outcomes.append("debited")
        except InsufficientPoints:
            outcomes.append("refused")

    assert outcomes.count("debited") == COVERED
    assert outcomes.count("refused") == DEBITS - COVERED
    assert rpc.points.get_balance(account)["balance"] == 0
    entries = rpc.points.statement({"account": account, "limit": 100})
    assert [e["points"] for e in entries].count(-EACH) == COVERED
    assert all(e["balance_after"] >= 0 for e in entries)
    assert Ledger(store("points")).accounts.verify(account)
    # The race happened: debits ran side by side and lost inserts to each other.
    assert witness.most_at_once > 1, "the debits never ran at the same time"
    assert witness.lost_races > 0, "no debit ever lost the race for the next entry"
    print(f"\nrace: up to {witness.most_at_once} debits at once, "
          f"{witness.lost_races} lost inserts retried")
