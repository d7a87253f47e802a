"""A community's storage cap: what a credit brings above it goes to the community fund as an
overflow pair, once however often the approval is delivered."""
import datetime as dt
from zoneinfo import ZoneInfo

from nameko.testing.services import worker_factory

from services.points.ledger import Ledger, fund_account
from services.points.movements import MovementStore
from services.points.scheme_store import scheme_store_of
from services.points.service import PointsService
from tests.unit.test_points_service import ADMIN, APPROVED, scheme_body


def test_what_a_credit_brings_above_the_cap_goes_to_the_fund_once(db):
    ledger = Ledger(db)
    ledger.ensure_indexes()
    scheme_store_of(ledger).ensure_indexes()
    service = worker_factory(PointsService, ledger=ledger, movement_store=MovementStore(db))
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).replace(hour=9, minute=0, second=0,
                                                                microsecond=0)
    service.publish_scheme(ADMIN, "com_1", scheme_body(today.date().isoformat(),
                                                       storage_cap_points=30))

    def approve(record_id, minutes):
        service.on_hours_approved(dict(APPROVED, record_id=record_id,
                                       event_id=f"evt_{record_id}", category="other",
                                       minutes=minutes, activity_starts_at=today.isoformat()))
        return ledger.find(f"hours:{record_id}:credit")

    first = approve("hrs_1", 120)  # 20 or 24 points: under the cap
    assert ledger.balance(fund_account("com_1")) == 0
    second = approve("hrs_2", 120)
    brought = first["gross"] + second["gross"]
    assert ledger.balance("vol_1") == 30
    assert ledger.balance(fund_account("com_1")) == brought - 30
    [out] = [e for e in ledger.statement("vol_1") if e["kind"] == "overflow"]
    [into] = ledger.statement(fund_account("com_1"))
    assert (out["delta"], into["delta"], into["kind"]) == (30 - brought, brought - 30,
                                                           "overflow")
    assert out["pair"] == into["key"] and into["pair"] == out["key"]

    approve("hrs_2", 120)  # redelivered: nothing moves again
    assert ledger.balance("vol_1") == 30
    assert ledger.balance(fund_account("com_1")) == brought - 30
