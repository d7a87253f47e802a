"""Unit tier: no broker, no store. Store-backed code runs on tests.unit.fakes."""
import pytest

from tests.unit.fakes import FakeDatabase


@pytest.fixture
def db():
    return FakeDatabase()
