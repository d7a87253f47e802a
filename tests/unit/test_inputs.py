"""The gateway refuses hostile bodies and query numbers at the boundary (issue 5, items 9, 13)."""
import json

import pytest
from werkzeug.test import EnvironBuilder

from services.gateway.inputs import MAX_DEPTH, UnsupportedMediaType, query_limit, read_json
from services.shared import contracts
from services.shared.contracts import load
from services.shared.errors import InvalidInput
from services.shared.web import response_for_error


def request(data=b"", content_type=None, query=None):
    headers = {"Content-Type": content_type} if content_type else {}
    return EnvironBuilder(method="POST", data=data, headers=headers,
                          query_string=query).get_request()


def refusal(exc_type, req, schema=None):
    with pytest.raises(exc_type) as caught:
        read_json(req, schema)
    answer = response_for_error(caught.value)
    return answer.status_code, json.loads(answer.get_data())["error"]


def test_deep_nesting_is_400_not_a_recursion_error():
    for depth in (MAX_DEPTH + 1, 1000, 100_000):
        status, error = refusal(InvalidInput, request(b"[" * depth + b"]" * depth))
        assert status == 400 and "_body" in error["fields"], depth


@pytest.mark.parametrize("raw, fields", [
    (b'{"name": "\\ud800", "code": "c"}', {"name": ["not valid Unicode text "
                                                      "(it holds a lone surrogate)"]}),
    (b'{"entries": [{"volunteer_id": "x\\udfff", "minutes": 1}]}',
     {"entries": {"0": {"volunteer_id": ["not valid Unicode text (it holds a lone surrogate)"]}}}),
    (b'{"\\ud800": 1}', {"\\ud800": ["not valid Unicode text (it holds a lone surrogate)"]}),
])
def test_a_lone_surrogate_is_400_naming_the_field(raw, fields):
    status, error = refusal(InvalidInput, request(raw))
    assert status == 400 and error["fields"] == fields
    json.dumps(error, ensure_ascii=False).encode("utf-8")  # the answer itself encodes


def test_a_pair_of_surrogates_is_one_character_and_fine():
    assert read_json(request(b'{"name": "\\ud83d\\ude00"}')) == {"name": "\U0001F600"}


def test_invalid_utf8_is_400_not_replacement_characters():
    status, error = refusal(InvalidInput, request(b'{"name": "\xff\xfe"}', "application/json"))
    assert status == 400 and error["fields"] == {"_body": ["invalid UTF-8 at byte 10"]}


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_json_numbers_are_400(constant):
    status, error = refusal(InvalidInput, request(b'{"minutes": ' + constant + b"}"))
    assert status == 400


def test_numbers_beyond_pythons_digit_limit_get_a_plain_message():
    status, error = refusal(InvalidInput, request(b'{"minutes": 1' + b"0" * 5000 + b"}"))
    assert status == 400
    assert error["fields"] == {"_body": ["a number has too many digits"]}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=latin-1", "text/json"])
def test_a_body_of_another_type_is_415(content_type):
    status, error = refusal(UnsupportedMediaType, request(b'{"a": 1}', content_type))
    assert (status, error["code"]) == (415, "unsupported_media_type")
    assert "Content-Type" in error["fields"]


@pytest.mark.parametrize("content_type", [None, "application/json",
                                          "application/json; charset=utf-8",
                                          "Application/JSON; charset=UTF-8"])
def test_json_with_or_without_a_type_is_read(content_type):
    assert read_json(request(b'{"a": 1}', content_type)) == {"a": 1}


def test_an_empty_body_needs_no_type():
    assert read_json(request(b"", "application/x-www-form-urlencoded")) == {}


@pytest.mark.parametrize("limit", ["²", "٣", "３", " 3", "3 ", "+3", "3_0", "9" * 5000, "0", "201"])
def test_query_limit_takes_ascii_digits_only(limit):
    with pytest.raises(InvalidInput) as caught:
        query_limit(request(query={"limit": limit}))
    assert "limit" in caught.value.fields


def test_query_limit_reads_plain_numbers():
    assert query_limit(request(query={"limit": "25"})) == 25
    assert query_limit(request()) == 50


@pytest.mark.parametrize("limit", ["²", "٣", "1e2", "9" * 5000])
def test_statement_limit_takes_ascii_digits_only(limit):
    with pytest.raises(InvalidInput) as caught:
        load(contracts.StatementArgs(), {"limit": limit})
    assert "limit" in caught.value.fields


@pytest.mark.parametrize("cost", [2 ** 63, 10 ** 30, contracts.MAX_COST_POINTS + 1])
def test_cost_points_beyond_the_bound_are_400(cost):
    with pytest.raises(InvalidInput) as caught:
        load(contracts.RewardIn(), {"kind": "gift", "title": "rice", "cost_points": cost})
    assert "cost_points" in caught.value.fields


def test_a_movement_of_an_int64_overflowing_amount_is_refused():
    with pytest.raises(InvalidInput) as caught:
        load(contracts.PointsMovementSchema(), {
            "account": "vol_1", "points": 2 ** 63, "key": "k", "kind": "debit", "reason": "",
            "ref_type": "redemption", "ref_id": "rdm_1", "by": "u"})
    assert "points" in caught.value.fields


@pytest.mark.parametrize("field, value", [
    ("starts_at", "0001-01-01T00:00+14:00"), ("ends_at", "9999-12-31T23:59-14:00"),
    ("starts_at", "1999-12-31T23:59:59+00:00"), ("ends_at", "2101-01-01T00:00:00+00:00"),
])
def test_times_outside_the_years_2000_to_2100_are_400(field, value):
    body = {"center_id": "ctr_1", "title": "t", "category": "other",
            "starts_at": "2026-11-21T09:00:00+08:00", "ends_at": "2026-11-21T12:00:00+08:00"}
    with pytest.raises(InvalidInput) as caught:
        load(contracts.ActivityIn(), {**body, field: value})
    assert caught.value.fields == {field: ["a time in the years 2000 to 2100"]}


@pytest.mark.parametrize("field", ["from", "to"])
def test_statement_bounds_outside_the_years_are_400(field):
    with pytest.raises(InvalidInput) as caught:
        load(contracts.StatementArgs(), {field: "0001-01-01T00:00+14:00"})
    assert field in caught.value.fields
