"""Unit tier: no broker, no store. Store-backed code runs on tests.unit.fakes."""
import pytest

from services.points.ledger import Ledger
from tests.unit.fakes import FakeDatabase


@pytest.fixture
def db():
    return FakeDatabase()


@pytest.fixture
def ledger(db):
    """The points ledger on the in-memory store, its indexes made as MongoStore.start does."""
    ledger = Ledger(db)
    ledger.ensure_indexes()
    return ledger
