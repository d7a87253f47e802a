"""Whatever a client sends, the answer is never a 500: every route of the OpenAPI document is
sent malformed bodies, wrong types and odd path values, signed in and not."""
import json
import re
import uuid

import pytest

from tests.e2e.conftest import admin_password

ODD_BODIES = [
    None, [], "text", 12, {}, {"unexpected": True},
    {"name": None, "code": 5, "community_id": [], "entries": "x", "minutes": 1.5},
    {"entries": [{"volunteer_id": "x", "minutes": 10 ** 30}]},
    {"entries": [None]}, {"reward_id": {"$gt": ""}, "volunteer_id": {"$ne": None}},
    {"username": "admin", "password": {"$ne": ""}},
    {"kind": "gift", "title": "x" * 5000, "cost_points": -1, "stock": 2 ** 63},
    {"starts_at": "not a date", "ends_at": "2026-13-45T99:00:00+08:00", "category": "x"},
    {"name": "\ud800", "title": "x\udfff", "reason": "\ud800", "username": "\ud800"},
    {"cost_points": 2 ** 63, "quantity": 10 ** 30, "starts_at": "0001-01-01T00:00+14:00"},
]
ODD_PATH_VALUES = ["x", "vol_" + "0" * 32, "%24where", "a:b", "..", "ü"]


def routes(document):
    for path, operations in document["paths"].items():
        for method in operations:
            yield method.upper(), path


@pytest.fixture(scope="module")
def document(api):
    return api.get("/api/v1/openapi.json").json()


@pytest.mark.parametrize("signed_in", [False, True])
def test_no_route_answers_500(api, document, signed_in):
    failures = []
    for method, path in routes(document):
        # A token per route: POST /auth/logout ends the one it is sent with.
        token = api.login("admin", admin_password()) if signed_in else None
        for value in ODD_PATH_VALUES:
            url = path.replace("{", "").replace("}", "")
            for name in ("volunteer_id", "activity_id", "record_id", "username"):
                url = url.replace(name, value)
            bodies = ODD_BODIES if method == "POST" else [None]
            for body in bodies:
                response = api.request(method, url, token=token, json=body)
                if response.status_code >= 500 and response.status_code != 503:
                    failures.append((method, url, body, response.status_code, response.text))
                else:
                    assert response.headers["Content-Type"].startswith("application/json")
    assert failures == []


# --- Hostile inputs (issue 5, items 9 and 13) ----------------------------------------------
# Each request carries one hostile thing in an otherwise sound request, from callers allowed to
# act on the tenant's records, so it travels as far as it can (to the store and back). Every
# answer must be a refusal in the error shape whose words are for people, not internals.

INTERNALS = re.compile(r"Traceback|Exception|[A-Z][a-z]+Error\b|set_int_max_str_digits|"
                       r"\b(?:volunteer|points|rewards|gateway)\.[a-z_]+\b")


def nested(depth):
    value = []
    for _ in range(depth):
        value = [value]
    return value


HOSTILE_VALUES = {
    "integer": [2 ** 63, 10 ** 30, -(2 ** 63) - 1],
    "string": ["\ud800", "x\udfff"],
    "date-time": ["0001-01-01T00:00+14:00", "9999-12-31T23:59-14:00"],
    "array": [nested(200)],
}
# Percent-encoded as they arrive: "²", "٣", an int past Python's digit limit; a lone surrogate
# and a byte that is not UTF-8; a time that overflows in UTC.
HOSTILE_QUERY_VALUES = {
    "integer": ["%C2%B2", "%D9%A3", "9" * 5000],
    "string": ["%ED%A0%80", "%FF", "0001-01-01T00:00%2B14:00"],
}
# Bodies no route may take: each answers 400 (or 415) whatever the route's schema.
HOSTILE_RAW_BODIES = [
    (b"[" * 1000 + b"]" * 1000, "application/json"),
    (b'{"name": "\xff\xfe"}', "application/json"),
    (b'{"name": "x"}', "text/plain"),
    (b'{"name": "x"}', "application/x-www-form-urlencoded"),
    (b'{"minutes": NaN}', "application/json"),
    (b'{"minutes": 1' + b"0" * 5000 + b"}", "application/json"),
]
OVERSIZE = "x" * 9000  # eventlet's limit on a request line and on one header line is 8 KB


def problem(response, refusal_expected):
    """What is wrong with an answer to hostile input, or None."""
    if response.status_code >= 500 and response.status_code != 503:
        return "a server error"
    if not response.headers.get("Content-Type", "").startswith("application/json"):
        return "not JSON"
    if response.status_code < 400:
        return "accepted" if refusal_expected else None
    error = response.json().get("error") or {}
    if set(error) != {"code", "message", "fields"} or not error["message"]:
        return "not the error shape"
    if INTERNALS.search(json.dumps(error, ensure_ascii=False)):
        return "names internals"
    return None


class Caller:
    """A signed-in caller; signs in again when a route (POST /auth/logout) ended the token."""

    def __init__(self, api, username, password):
        self.api, self.username, self.password = api, username, password
        self.token = api.login(username, password)

    def refresh(self):
        if self.api.get("/api/v1/rewards", token=self.token).status_code == 401:
            self.token = self.api.login(self.username, self.password)


@pytest.fixture(scope="module")
def tenant(api, admin):
    """A community of its own with a center, its staff, a volunteer and a fresh admin, and
    records each may act on; shared by the passes below, which only send refused requests."""
    suffix = uuid.uuid4().hex[:10]
    community = api.created("/api/v1/communities", {"name": "新华社区", "code": f"h{suffix}"},
                            admin)
    center = api.created("/api/v1/centers", {"community_id": community["id"], "name": "中心"},
                         admin)
    for username, role, extra in ((f"adm{suffix}", "admin", {}),
                                  (f"staff{suffix}", "center_staff", {"center_id": center["id"]})):
        api.created("/api/v1/users", {"username": username, "password": "sound-pass-1",
                                      "role": role, **extra}, admin)
    staff = Caller(api, f"staff{suffix}", "sound-pass-1")
    volunteer = api.created("/api/v1/volunteers", {
        "community_id": community["id"], "name": "李伟", "phone": "13800000000",
        "username": f"li{suffix}", "password": "sound-pass-1"}, staff.token)
    activity = api.created("/api/v1/activities", {
        "center_id": center["id"], "title": "探访独居老人", "category": "elder_care",
        "starts_at": "2026-11-21T09:00:00+08:00", "ends_at": "2026-11-21T12:00:00+08:00"},
        staff.token)
    sheet = api.created(f"/api/v1/activities/{activity['id']}/hours", {
        "entries": [{"volunteer_id": volunteer["id"], "minutes": 30}]}, staff.token)
    gift = api.created("/api/v1/rewards", {"kind": "gift", "title": "大米 5kg", "cost_points": 1,
                                           "stock": 5, "center_id": center["id"]}, staff.token)
    return {
        "community_id": community["id"], "center_id": center["id"],
        "volunteer_id": volunteer["id"], "activity_id": activity["id"],
        "record_id": sheet["records"][0]["id"], "reward_id": gift["id"],
        "callers": [Caller(api, f"adm{suffix}", "sound-pass-1"), staff,
                    Caller(api, f"li{suffix}", "sound-pass-1")],
    }


def sound_value(name, schema, tenant):
    """A value the route would take for this field (ids of the tenant's own records)."""
    fresh = uuid.uuid4().hex[:10]
    known = {
        "community_id": tenant["community_id"], "center_id": tenant["center_id"],
        "volunteer_id": tenant["volunteer_id"], "reward_id": tenant["reward_id"],
        "username": f"n{fresh}", "code": f"c{fresh}", "password": "sound-pass-1",
        "phone": "13800000000", "minutes": 30, "quantity": 1, "cost_points": 1,
        "starts_at": "2026-11-21T09:00:00+08:00", "ends_at": "2026-11-21T10:00:00+08:00",
    }
    if name in known:
        return known[name]
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("type") == "integer":
        return max(1, schema.get("minimum", 1))
    if schema.get("type") == "array":
        return []
    return "x"


def resolve(schema, document):
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def body_schema(document, path):
    operation = document["paths"][path]["post"]
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    return resolve(content["schema"], document) if content else None


def sound_body(schema, document, tenant):
    body = {}
    for name, field in schema.get("properties", {}).items():
        field = resolve(field, document)
        if field.get("type") == "array" and "$ref" in field.get("items", {}):
            body[name] = [sound_body(resolve(field["items"], document), document, tenant)]
        elif name in schema.get("required", []) or field.get("type") == "array":
            body[name] = sound_value(name, field, tenant)
    return body


def hostile_bodies(schema, document, tenant):
    """(field path, body): a sound body with one field, maybe nested, made hostile."""
    for name, field in schema.get("properties", {}).items():
        field = resolve(field, document)
        kind = field.get("format") if field.get("format") == "date-time" else field.get("type")
        for value in HOSTILE_VALUES.get(kind, []):
            yield name, {**sound_body(schema, document, tenant), name: value}
        items = resolve(field.get("items", {}), document)
        for inner, item in hostile_bodies(items, document, tenant) if "properties" in items \
                else []:
            yield f"{name}.0.{inner}", {**sound_body(schema, document, tenant), name: [item]}


def tenant_url(path, tenant):
    """The route with the tenant's own records in it (never a real username: disabling)."""
    for name in ("volunteer_id", "activity_id", "record_id"):
        path = path.replace("{%s}" % name, tenant[name])
    return path.replace("{username}", f"nobody{uuid.uuid4().hex[:8]}")


def test_no_hostile_field_value_is_taken_or_answers_500(api, document, tenant):
    failures = []
    for method, path in routes(document):
        schema = body_schema(document, path) if method == "POST" else None
        if schema is None:
            continue
        for caller in tenant["callers"]:
            for field, body in hostile_bodies(schema, document, tenant):
                response = api.request(method, tenant_url(path, tenant), token=caller.token,
                                       json=body)
                if what := problem(response, refusal_expected=True):
                    failures.append((what, method, path, caller.username, field,
                                     response.status_code, response.text[:300]))
            caller.refresh()
    assert failures == []


def test_no_hostile_query_value_answers_500(api, document, tenant):
    failures = []
    for method, path in routes(document):
        parameters = document["paths"][path][method.lower()].get("parameters", [])
        for parameter in (p for p in parameters if p["in"] == "query"):
            for value in HOSTILE_QUERY_VALUES.get(parameter["schema"]["type"], []):
                url = f"{tenant_url(path, tenant)}?{parameter['name']}={value}"
                for caller in tenant["callers"]:
                    response = api.request(method, url, token=caller.token)
                    if what := problem(response, refusal_expected=False):
                        failures.append((what, method, url[:80], caller.username,
                                         response.status_code, response.text[:300]))
    assert failures == []


def test_no_route_takes_a_hostile_body(api, document, tenant):
    caller = tenant["callers"][0]
    failures = []
    for method, path in routes(document):
        if method != "POST":
            continue
        for data, content_type in HOSTILE_RAW_BODIES:
            response = api.request(method, tenant_url(path, tenant), token=caller.token,
                                   data=data, headers={"Content-Type": content_type})
            reads_a_body = body_schema(document, path) is not None
            if what := problem(response, refusal_expected=reads_a_body):
                failures.append((what, path, data[:40], content_type, response.status_code,
                                 response.text[:300]))
        caller.refresh()
    assert failures == []


def test_a_chunked_body_is_read_like_any_other(api, document, tenant):
    caller = tenant["callers"][0]
    differences = []
    for method, path in routes(document):
        if method != "POST" or body_schema(document, path) is None:
            continue
        data = json.dumps({"unexpected": True}).encode()
        plain = api.request(method, tenant_url(path, tenant), token=caller.token, data=data,
                            headers={"Content-Type": "application/json"})
        chunked = api.request(method, tenant_url(path, tenant), token=caller.token,
                              data=iter([data[:5], data[5:]]),
                              headers={"Content-Type": "application/json"})
        if (chunked.status_code, chunked.text) != (plain.status_code, plain.text):
            differences.append((path, plain.status_code, plain.text[:200],
                                chunked.status_code, chunked.text[:200]))
        caller.refresh()
    assert differences == []


def test_an_oversize_url_or_header_answers_in_the_error_shape(api, document, tenant):
    caller = tenant["callers"][0]
    failures = []
    for method, path in routes(document):
        url = tenant_url(path, tenant)
        for response in (api.request(method, f"{url}?pad={OVERSIZE}", token=caller.token),
                         api.request(method, url, token=caller.token,
                                     headers={"X-Pad": OVERSIZE})):
            if what := problem(response, refusal_expected=True):
                failures.append((what, method, path, response.status_code, response.text[:200]))
    assert failures == []
