import json

import pytest
from nameko.exceptions import RemoteError
from werkzeug import exceptions as http_errors

from services.shared import errors
from services.shared.web import response_for_error


def answer(exc):
    response = response_for_error(exc)
    assert response.mimetype == "application/json"
    return response.status_code, json.loads(response.get_data())


@pytest.mark.parametrize("cls, status", [
    (errors.InvalidInput, 400), (errors.Unauthenticated, 401), (errors.Forbidden, 403),
    (errors.NotFound, 404), (errors.Conflict, 409), (errors.InsufficientPoints, 409),
    (errors.OutOfStock, 409), (errors.RuleViolation, 422), (errors.ServiceUnavailable, 503),
])
def test_timebank_errors_answer_their_status_and_shape(cls, status):
    exc = cls("not quite", fields={"points": ["available 5"]})
    assert answer(exc) == (status, {"error": {
        "code": cls.default_code, "message": "not quite", "fields": {"points": ["available 5"]}}})


def test_a_specific_code_is_kept():
    status, body = answer(errors.Conflict("used", code="idempotency_key_reused"))
    assert (status, body["error"]["code"]) == (409, "idempotency_key_reused")
    assert body["error"]["fields"] == {}


@pytest.mark.parametrize("exc_type", ["ServerSelectionTimeoutError", "AutoReconnect",
                                      "UnknownService"])
def test_unreachable_dependency_is_503(exc_type):
    status, body = answer(RemoteError(exc_type, "localhost:27017: connection refused"))
    assert status == 503
    assert body["error"]["code"] == "service_unavailable"
    assert "27017" not in body["error"]["message"]


def test_other_remote_errors_are_500():
    status, body = answer(RemoteError("KeyError", "'x'"))
    assert (status, body["error"]["code"]) == (500, "internal_error")


@pytest.mark.parametrize("exc, status, code", [
    (http_errors.NotFound(), 404, "not_found"),
    (http_errors.MethodNotAllowed(valid_methods=["GET"]), 405, "method_not_allowed"),
])
def test_routing_errors_answer_json(exc, status, code):
    got_status, body = answer(exc)
    assert (got_status, body["error"]["code"]) == (status, code)
    assert body["error"]["message"]
    assert body["error"]["fields"] == {}


def test_405_names_the_allowed_methods():
    response = response_for_error(http_errors.MethodNotAllowed(valid_methods=["GET", "POST"]))
    assert response.headers.get("Allow") == "GET, POST"


def test_unexpected_errors_are_500_without_details():
    status, body = answer(ValueError("secret internals"))
    assert (status, body["error"]["code"]) == (500, "internal_error")
    assert "secret" not in body["error"]["message"]
