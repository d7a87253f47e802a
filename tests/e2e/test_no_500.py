"""Whatever a client sends, the answer is never a 500: every route of the OpenAPI document is
sent malformed bodies, wrong types and odd path values, signed in and not."""
import pytest

ODD_BODIES = [
    None, [], "text", 12, {}, {"unexpected": True},
    {"name": None, "code": 5, "community_id": [], "entries": "x", "minutes": 1.5},
    {"entries": [{"volunteer_id": "x", "minutes": 10 ** 30}]},
    {"entries": [None]}, {"reward_id": {"$gt": ""}, "volunteer_id": {"$ne": None}},
    {"username": "admin", "password": {"$ne": ""}},
    {"kind": "gift", "title": "x" * 5000, "cost_points": -1, "stock": 2 ** 63},
    {"starts_at": "not a date", "ends_at": "2026-13-45T99:00:00+08:00", "category": "x"},
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
def test_no_route_answers_500(api, admin, document, signed_in):
    token = admin if signed_in else None
    failures = []
    for method, path in routes(document):
        for value in ODD_PATH_VALUES:
            url = path.replace("{", "").replace("}", "")
            for name in ("volunteer_id", "activity_id", "record_id"):
                url = url.replace(name, value)
            bodies = ODD_BODIES if method == "POST" else [None]
            for body in bodies:
                response = api.request(method, url, token=token, json=body)
                if response.status_code >= 500 and response.status_code != 503:
                    failures.append((method, url, body, response.status_code, response.text))
                else:
                    assert response.headers["Content-Type"].startswith("application/json")
    assert failures == []
