"""The conventions of ../shared/api.md: auth, error shape, idempotency, health, OpenAPI."""
import uuid

import pytest

from tests.e2e.conftest import earn
from tests.e2e.seed import seed_volunteers


def error_of(response, status, code):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


def test_health_and_readiness(api):
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz").json()
    assert ready == {"ready": True, "checks": {"broker": True, "store": True}}


def test_openapi_document_lists_the_contract(api):
    document = api.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    for path in ("/api/v1/auth/token", "/api/v1/communities", "/api/v1/volunteers/{volunteer_id}",
                 "/api/v1/volunteers/{volunteer_id}/balance", "/api/v1/activities/{activity_id}/hours",
                 "/api/v1/hours/{record_id}/approve", "/api/v1/rewards", "/api/v1/redemptions"):
        assert path in document["paths"], path
    hours = document["paths"]["/api/v1/activities/{activity_id}/hours"]["post"]
    assert hours["requestBody"]["content"]["application/json"]["schema"]


@pytest.mark.parametrize("headers,code", [
    ({}, "unauthenticated"),
    ({"Authorization": "Basic abc"}, "unauthenticated"),
    ({"Authorization": "Bearer not-a-token"}, "invalid_token"),
])
def test_a_missing_or_bad_token_is_401(api, headers, code):
    error_of(api.get("/api/v1/rewards", headers=headers), 401, code)


def test_wrong_password_is_401(api, center):
    # Not admin's: five failures lock an account, and every test signs in as admin.
    response = api.post("/api/v1/auth/token", {"username": f"li{center['suffix']}",
                                               "password": "wrong-password"})
    error_of(response, 401, "invalid_credentials")


def test_bad_input_is_400_naming_the_field(api, center):
    activity = api.created("/api/v1/activities", {
        "center_id": center["center_id"], "title": "t", "category": "other",
        "starts_at": "2026-11-21T09:00:00+08:00", "ends_at": "2026-11-21T10:00:00+08:00"},
        center["staff"])
    response = api.post(f"/api/v1/activities/{activity['id']}/hours",
                        {"entries": [{"volunteer_id": center["volunteer_id"], "minutes": 1.5}]},
                        token=center["staff"])
    error = error_of(response, 400, "invalid_input")
    assert "minutes" in error["fields"]["entries"]["0"]

    response = api.post("/api/v1/activities", token=center["staff"], data="{not json",
                        headers={"Content-Type": "application/json"})
    error_of(response, 400, "invalid_input")

    response = api.post("/api/v1/activities", {"center_id": center["center_id"], "title": "t",
                                                "category": "knitting",
                                                "starts_at": "2026-11-21T09:00:00",
                                                "ends_at": "2026-11-21T08:00:00+08:00"},
                        token=center["staff"])
    assert set(error_of(response, 400, "invalid_input")["fields"]) == {"category", "starts_at"}


def test_roles_and_tenants_are_enforced(api, center, admin):
    error_of(api.post("/api/v1/communities", {"name": "x", "code": f"c{uuid.uuid4().hex[:8]}"},
                      token=center["volunteer"]), 403, "forbidden")
    # staff of another community cannot even learn that this volunteer exists
    other = api.created("/api/v1/communities", {"name": "other",
                                                "code": f"o{uuid.uuid4().hex[:8]}"}, admin)
    other_center = api.created("/api/v1/centers", {"community_id": other["id"], "name": "c"},
                               admin)
    username = f"ostaff{uuid.uuid4().hex[:8]}"
    api.created("/api/v1/users", {"username": username, "password": "staff-pass-1",
                                  "role": "center_staff", "center_id": other_center["id"]}, admin)
    other_staff = api.login(username, "staff-pass-1")
    error_of(api.get(f"/api/v1/volunteers/{center['volunteer_id']}/balance", token=other_staff),
             404, "not_found")
    error_of(api.post("/api/v1/activities", {  # another community's center: as if unknown
        "center_id": center["center_id"], "title": "t", "category": "other",
        "starts_at": "2026-11-21T09:00:00+08:00", "ends_at": "2026-11-21T10:00:00+08:00"},
        token=other_staff), 404, "not_found")


def test_unknown_paths_and_methods_answer_json(api):
    error_of(api.get("/api/v1/nothing-here"), 404, "not_found")
    error_of(api.request("DELETE", "/api/v1/communities"), 405, "method_not_allowed")


def test_idempotency_key_replays_and_refuses_another_body(api, admin):
    key = uuid.uuid4().hex
    body = {"name": "Replay", "code": f"r{key[:10]}"}
    first = api.post("/api/v1/communities", body, token=admin, key=key)
    again = api.post("/api/v1/communities", body, token=admin, key=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replay") == "true"
    error_of(api.post("/api/v1/communities", dict(body, name="Other"), token=admin, key=key),
             409, "idempotency_key_reused")


def test_a_retried_redemption_debits_once(api, center):
    earn(api, center, 150)  # 25 points
    gift = api.created("/api/v1/rewards", {"kind": "gift", "title": "毛巾", "cost_points": 10,
                                           "stock": 5}, center["staff"])
    body = {"reward_id": gift["id"], "volunteer_id": center["volunteer_id"], "quantity": 1}
    key = uuid.uuid4().hex
    first = api.created("/api/v1/redemptions", body, center["volunteer"], key=key)
    again = api.created("/api/v1/redemptions", body, center["volunteer"], key=key)
    assert again["id"] == first["id"]
    balance = api.get(f"/api/v1/volunteers/{center['volunteer_id']}/balance",
                      token=center["volunteer"]).json()
    assert balance["balance"] == 15


def test_every_service_serves_metrics(api):
    for port in (9101, 9102, 9103):
        response = api.get(f"http://127.0.0.1:{port}/metrics")
        assert response.status_code == 200
        assert "timebank_entrypoint_calls_total" in response.text
    gateway = api.get("http://127.0.0.1:9100/metrics").text  # not on the public API port
    assert 'entrypoint="issue_token"' in gateway


def test_a_sheet_takes_up_to_1000_entries_at_once(api, center):
    activity = api.created("/api/v1/activities", {
        "center_id": center["center_id"], "title": "大扫除", "category": "environment",
        "starts_at": "2026-11-21T09:00:00+08:00", "ends_at": "2026-11-21T10:00:00+08:00"},
        center["staff"])
    # A volunteer is logged once per activity, so the sheet names 1000 volunteers.
    entries = [{"volunteer_id": v, "minutes": 30}
               for v in seed_volunteers(center["community_id"], 1000)]
    sheet = api.created(f"/api/v1/activities/{activity['id']}/hours",
                        {"entries": entries}, center["staff"])
    assert len(sheet["records"]) == 1000
    assert len({r["id"] for r in sheet["records"]}) == 1000
    assert {r["status"] for r in sheet["records"]} == {"pending"}
    too_many = api.post(f"/api/v1/activities/{activity['id']}/hours",
                        {"entries": entries + entries[:1]}, token=center["staff"])
    assert "entries" in error_of(too_many, 400, "invalid_input")["fields"]
