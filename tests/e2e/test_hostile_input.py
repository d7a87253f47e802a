"""A hostile client gets a 4xx in the API's error shape, never a 500 or an empty answer
(issue 5, items 9 and 13), through the running stack."""
import json
import os
import socket
import uuid

import pytest

from tests.e2e.conftest import BASE_URL

API = "/api/v1"
METRICS_URL = os.environ.get("TIMEBANK_GATEWAY_METRICS_URL", "http://127.0.0.1:9100/metrics")
NOT_TEXT = "not valid Unicode text (it holds a lone surrogate)"
ACTIVITY = {"title": "探访独居老人", "category": "elder_care",
            "starts_at": "2026-11-21T09:00:00+08:00", "ends_at": "2026-11-21T12:00:00+08:00"}


def refused(response, status, code="invalid_input"):
    """The error of a refusal: its status, JSON body, code and a message for people."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code and error["message"], error
    return error


def community(suffix=None):
    return {"name": "新华社区", "code": f"h{suffix or uuid.uuid4().hex[:12]}"}


def raw_post(api, path, data, token, content_type="application/json"):
    headers = {"Content-Type": content_type} if content_type else {}
    return api.request("POST", f"{API}{path}", token=token, data=data, headers=headers)


def test_a_body_nested_1000_deep_is_400(api, admin):
    for depth in (1000, 100_000):
        error = refused(raw_post(api, "/communities", b"[" * depth + b"]" * depth, admin), 400)
        assert "_body" in error["fields"]


def test_a_lone_surrogate_is_400_naming_the_field(api, admin, center):
    error = refused(api.post(f"{API}/communities", {**community(), "name": "\ud800"},
                             token=admin), 400)
    assert error["fields"] == {"name": [NOT_TEXT]}
    activity = api.created(f"{API}/activities", {**ACTIVITY, "center_id": center["center_id"]},
                           center["staff"])
    error = refused(api.post(f"{API}/activities/{activity['id']}/hours", {"entries": [
        {"volunteer_id": "\udfff", "minutes": 30}]}, token=center["staff"]), 400)
    assert error["fields"] == {"entries": {"0": {"volunteer_id": [NOT_TEXT]}}}


@pytest.mark.parametrize("cost", [2 ** 63, 10 ** 30])
def test_points_beyond_what_the_store_holds_are_400(api, center, cost):
    gift = {"kind": "gift", "title": "大米 5kg", "cost_points": cost, "stock": 3,
            "center_id": center["center_id"]}
    error = refused(api.post(f"{API}/rewards", gift, token=center["staff"]), 400)
    assert list(error["fields"]) == ["cost_points"]


@pytest.mark.parametrize("field, value", [("starts_at", "0001-01-01T00:00+14:00"),
                                          ("ends_at", "9999-12-31T23:59-14:00")])
def test_times_that_overflow_in_utc_are_400(api, center, field, value):
    body = {**ACTIVITY, "center_id": center["center_id"], field: value}
    error = refused(api.post(f"{API}/activities", body, token=center["staff"]), 400)
    assert list(error["fields"]) == [field]


@pytest.mark.parametrize("limit", ["²", "٣", "３"])
def test_query_numbers_are_ascii_digits_only(api, center, limit):
    error = refused(api.get(f"{API}/rewards", params={"limit": limit},
                            token=center["staff"]), 400)
    assert list(error["fields"]) == ["limit"]
    error = refused(api.get(f"{API}/volunteers/{center['volunteer_id']}/statement",
                            params={"limit": limit}, token=center["volunteer"]), 400)
    assert list(error["fields"]) == ["limit"]


def test_an_over_long_url_is_414_in_the_error_shape(api, admin):
    refused(api.get(f"{API}/rewards?cursor={'x' * 9000}", token=admin), 414, "uri_too_long")


def test_an_over_long_header_is_431_in_the_error_shape(api, admin):
    refused(api.get(f"{API}/rewards", token=admin, headers={"X-Padding": "x" * 9000}),
            431, "headers_too_large")


@pytest.mark.parametrize("head", [
    b"GARBAGE\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /api/v1/communities HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
])
def test_a_malformed_request_is_400_in_the_error_shape(head):
    status, headers, body = send_raw(head)
    assert status == 400 and headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["message"]


def send_raw(data):
    host, port = BASE_URL.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def test_invalid_utf8_is_400_not_stored_with_replacement_characters(api, admin):
    body = json.dumps(community(), ensure_ascii=False).encode().replace("新".encode(), b"\xff")
    error = refused(raw_post(api, "/communities", body, admin), 400)
    assert list(error["fields"]) == ["_body"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_of_another_type_is_415(api, admin, content_type):
    body = json.dumps(community())
    error = refused(raw_post(api, "/communities", body, admin, content_type), 415,
                    "unsupported_media_type")
    assert list(error["fields"]) == ["Content-Type"]


@pytest.mark.parametrize("content_type", [None, "application/json; charset=utf-8"])
def test_json_is_read_with_a_charset_or_without_a_type(api, admin, content_type):
    body = community()
    response = raw_post(api, "/communities", json.dumps(body), admin, content_type)
    assert response.status_code == 201, response.text
    assert response.json()["code"] == body["code"]


def chunks(data, size=7):
    for start in range(0, len(data), size):
        yield data[start:start + size]


def test_a_chunked_body_is_read(api, admin):
    body = community()
    response = raw_post(api, "/communities", chunks(json.dumps(body).encode()), admin)
    assert response.status_code == 201, response.text
    assert response.json()["code"] == body["code"]


def test_a_chunked_body_is_bounded_like_any_other(api, admin):
    too_big = json.dumps({**community(), "name": "x" * (3 * 1024 * 1024)}).encode()
    error = refused(raw_post(api, "/communities", chunks(too_big, 64 * 1024), admin), 400)
    assert error["fields"] == {"_body": [f"at most {2 * 1024 * 1024} bytes"]}
    # A valid object followed by 3 MiB of spaces: cut at the limit it would parse, and be served.
    padded = json.dumps(community()).encode() + b" " * (3 * 1024 * 1024)
    error = refused(raw_post(api, "/communities", chunks(padded, 64 * 1024), admin), 400)
    assert error["fields"] == {"_body": [f"at most {2 * 1024 * 1024} bytes"]}


def test_gateway_metrics_are_served_off_the_public_port(api, admin):
    refused(api.get("/metrics"), 404, "not_found")
    metrics = api.get(METRICS_URL)
    assert metrics.status_code == 200
    assert 'entrypoint="issue_token"' in metrics.text


def test_a_number_past_pythons_digit_limit_gets_a_plain_message(api, admin):
    body = b'{"name": "x", "code": 1' + b"0" * 5000 + b"}"
    error = refused(raw_post(api, "/communities", body, admin), 400)
    assert error["fields"] == {"_body": ["a number has too many digits"]}
