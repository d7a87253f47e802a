"""Hours through the public API: tenancy, the rules of a sheet and repeated decisions
(issue 5, items 10, 11 and 13)."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from tests.e2e.test_api_contract import error_of


def activity_of(api, center, starts_in=timedelta(days=-1), hours=3):
    """An activity of the center: by default it started yesterday and lasted ``hours``."""
    starts = datetime.now(timezone.utc) + starts_in
    return api.created("/api/v1/activities", {
        "center_id": center["center_id"], "title": "探访独居老人", "category": "elder_care",
        "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=hours)).isoformat(),
    }, center["staff"])["id"]


def log(api, center, activity_id, *entries):
    return api.post(f"/api/v1/activities/{activity_id}/hours", token=center["staff"],
                    json={"entries": [{"volunteer_id": v, "minutes": m} for v, m in entries]})


@pytest.fixture
def other_center(api, admin):
    """Another community with a center and its staff: a tenant of its own."""
    suffix = uuid.uuid4().hex[:10]
    community = api.created("/api/v1/communities", {"name": "other", "code": f"o{suffix}"}, admin)
    center = api.created("/api/v1/centers", {"community_id": community["id"], "name": "c"}, admin)
    api.created("/api/v1/users", {"username": f"ostaff{suffix}", "password": "staff-pass-1",
                                  "role": "center_staff", "center_id": center["id"]}, admin)
    return {"community_id": community["id"], "center_id": center["id"],
            "staff": api.login(f"ostaff{suffix}", "staff-pass-1")}


def test_another_community_learns_nothing_and_logs_none_of_our_volunteers(
        api, center, other_center):
    ours = activity_of(api, center)
    [record] = log(api, center, ours, (center["volunteer_id"], 60)).json()["records"]
    theirs = activity_of(api, other_center)

    # their staff name our volunteer on their activity: answered as for a made-up id
    foreign = log(api, other_center, theirs, (center["volunteer_id"], 60))
    unknown = log(api, other_center, theirs, ("vol_nobody", 60))
    assert error_of(foreign, 400, "invalid_input") == error_of(unknown, 400, "invalid_input")
    assert foreign.json()["error"]["fields"] == \
        {"entries": {"0": {"volunteer_id": ["no such volunteer"]}}}

    # our records, activities and centers are as unknown to them as ids that do not exist
    decisions = (("GET", "/api/v1/hours/{}", None), ("POST", "/api/v1/hours/{}/approve", {}),
                 ("POST", "/api/v1/hours/{}/reject", {"reason": "r"}),
                 ("POST", "/api/v1/hours/{}/revoke", {"reason": "r"}))
    for method, path, body in decisions:
        for record_id in (record["id"], "hrs_nobody"):
            error_of(api.request(method, path.format(record_id), token=other_center["staff"],
                                 json=body), 404, "not_found")
    for activity_id in (ours, "act_nobody"):
        error_of(log(api, other_center, activity_id, (center["volunteer_id"], 60)),
                 404, "not_found")
    for center_id in (center["center_id"], "ctr_nobody"):
        error_of(api.post("/api/v1/activities", token=other_center["staff"], json={
            "center_id": center_id, "title": "t", "category": "other",
            "starts_at": "2026-11-21T09:00:00+08:00", "ends_at": "2026-11-21T10:00:00+08:00"}),
            404, "not_found")

    # within the community, a role that may not act is still told so
    error_of(api.get(f"/api/v1/hours/{record['id']}", token=center["volunteer"]),
             403, "forbidden")
    assert api.get(f"/api/v1/hours/{record['id']}", token=center["staff"]).json()["status"] \
        == "pending"


def test_a_sheet_must_fit_its_activity(api, center):
    volunteer_id = center["volunteer_id"]
    upcoming = activity_of(api, center, starts_in=timedelta(days=1))
    error_of(log(api, center, upcoming, (volunteer_id, 60)), 422, "activity_not_started")

    three_hours = activity_of(api, center)
    # the sheet: three entries of 1,440 minutes for one volunteer on a 3-hour activity
    refused = log(api, center, three_hours, *[(volunteer_id, 1440)] * 3)
    entries = error_of(refused, 400, "invalid_input")["fields"]["entries"]
    assert entries["0"] == {"minutes": ["at most 180: the activity's length in minutes"]}
    assert entries["2"]["volunteer_id"] == ["already in entry 0: one entry per volunteer"]

    first = log(api, center, three_hours, (volunteer_id, 180))
    assert first.status_code == 201, first.text
    [record] = first.json()["records"]
    again = log(api, center, three_hours, (volunteer_id, 60))
    assert error_of(again, 409, "already_logged")["fields"] == {"entries": {"0": {
        "volunteer_id": [f"already logged on this activity: hours record {record['id']}"]}}}

    # a rejected record no longer counts: the center logs the volunteer again, corrected
    api.post(f"/api/v1/hours/{record['id']}/reject", {"reason": "left at 11"},
             token=center["staff"])
    corrected = log(api, center, three_hours, (volunteer_id, 120))
    assert corrected.status_code == 201, corrected.text
    assert corrected.json()["records"][0]["id"] != record["id"]


def test_a_repeated_decision_answers_what_is_stored(api, center):
    activity_id = activity_of(api, center)
    [record] = log(api, center, activity_id, (center["volunteer_id"], 60)).json()["records"]
    path = f"/api/v1/hours/{record['id']}"
    first = api.post(f"{path}/reject", {"reason": "not present"}, token=center["staff"])
    again = api.post(f"{path}/reject", {"reason": "another reason"}, token=center["staff"])
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() == \
        {"id": record["id"], "status": "rejected", "reason": "not present"}
    assert api.get(path, token=center["staff"]).json()["reason"] == "not present"
    error_of(api.post(f"{path}/approve", token=center["staff"]), 409, "invalid_status")
