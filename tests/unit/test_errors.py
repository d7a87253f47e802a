"""Errors must cross nameko's RPC boundary as their own class, code, message and fields."""
import json

import pytest
from nameko.exceptions import RemoteError, deserialize, serialize

from services.shared import errors

ALL_ERRORS = [
    errors.TimebankError, errors.InvalidInput, errors.Unauthenticated, errors.Forbidden,
    errors.NotFound, errors.Conflict, errors.InsufficientPoints, errors.OutOfStock,
    errors.RuleViolation, errors.ServiceUnavailable,
]


def over_the_wire(exc):
    return deserialize(json.loads(json.dumps(serialize(exc))))


@pytest.mark.parametrize("cls", ALL_ERRORS)
def test_round_trip_keeps_class_code_message_and_fields(cls):
    original = cls("something went wrong", code="special_code",
                   fields={"points": ["available 5"], "entries": {"0": ["bad"]}})
    arrived = over_the_wire(original)
    assert type(arrived) is cls
    assert arrived.code == "special_code"
    assert arrived.message == "something went wrong"
    assert arrived.fields == {"points": ["available 5"], "entries": {"0": ["bad"]}}
    assert arrived.status == original.status


@pytest.mark.parametrize("cls", ALL_ERRORS)
def test_round_trip_keeps_the_default_code(cls):
    arrived = over_the_wire(cls("plain"))
    assert type(arrived) is cls
    assert (arrived.code, arrived.fields) == (cls.default_code, {})


def test_unregistered_errors_arrive_as_remote_error():
    arrived = over_the_wire(ValueError("boom"))
    assert isinstance(arrived, RemoteError)
    assert arrived.exc_type == "ValueError"


@pytest.mark.parametrize("cls, status, code", [
    (errors.InvalidInput, 400, "invalid_input"), (errors.Unauthenticated, 401, "unauthenticated"),
    (errors.Forbidden, 403, "forbidden"), (errors.NotFound, 404, "not_found"),
    (errors.Conflict, 409, "conflict"), (errors.InsufficientPoints, 409, "insufficient_points"),
    (errors.OutOfStock, 409, "out_of_stock"), (errors.RuleViolation, 422, "rule_violation"),
    (errors.ServiceUnavailable, 503, "service_unavailable"),
])
def test_status_and_default_code(cls, status, code):
    assert (cls.status, cls().code) == (status, code)
