"""The points scheme through HTTP on the running stack: an admin publishes versions, approved
hours earn what ../shared/domain.md predicts (category, the official calendar, the daily cap),
and a version published for a date credits by it while earlier credits stay as they were.

Activities in the past are allowed (hours are logged once an activity has started), and a
version cannot take effect in the past: past-dated activities earn under domain.md's defaults,
today's under the version published for today.
"""
import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import new_community
from tests.support import wait_until

SHANGHAI = ZoneInfo("Asia/Shanghai")


def scheme_path(community_id):
    return f"/api/v1/communities/{community_id}/scheme"


def today():
    return dt.datetime.now(SHANGHAI).date()


def body(effective_from, **overrides):
    version = {"effective_from": effective_from.isoformat(), "base_points_per_hour": 10,
               "category_multipliers": {"elder_care": 1.5, "professional": 2.0,
                                        "culture_sports": 0.8},
               "weekend_holiday_multiplier": 1.2, "daily_cap_minutes": 480}
    version.update(overrides)
    return version


def error_of(response, status, code):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"], error
    return error


def credited(api, center, category, starts_at, minutes):
    """Log ``minutes`` on a new activity of exactly that length starting at ``starts_at`` (a
    volunteer's records may not overlap), approve, and return the statement entry that
    credited it."""
    activity = api.created("/api/v1/activities", {
        "center_id": center["center_id"], "title": "服务", "category": category,
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + dt.timedelta(minutes=minutes)).isoformat()}, center["staff"])
    sheet = api.created(f"/api/v1/activities/{activity['id']}/hours", {
        "entries": [{"volunteer_id": center["volunteer_id"], "minutes": minutes}]},
        center["staff"])
    record_id = sheet["records"][0]["id"]
    approved = api.post(f"/api/v1/hours/{record_id}/approve", token=center["staff"])
    assert approved.status_code == 200, approved.text
    return wait_until(lambda: entry_for(api, center, record_id), timeout=15,
                      message=f"the credit of {record_id}")


def entry_for(api, center, record_id):
    response = api.get(f"/api/v1/volunteers/{center['volunteer_id']}/statement?limit=200",
                       token=center["volunteer"])
    assert response.status_code == 200, response.text
    return next((e for e in response.json()["items"]
                 if e["kind"] == "earn" and e["ref"] == {"type": "hours", "id": record_id}), None)


def at(day, hour=9):
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), SHANGHAI)


@pytest.mark.parametrize("category, starts_at, points, rest_day", [
    ("elder_care", at("2026-11-23"), 22, False),    # a Monday: 90 min × 10/h × 1.5 = 22.5
    ("elder_care", at("2026-10-01"), 27, True),     # National Day, a Thursday: × 1.2
    ("elder_care", at("2026-11-21"), 27, True),     # a plain Saturday
    ("elder_care", at("2026-02-28"), 22, False),    # a make-up working Saturday (调休)
    ("culture_sports", at("2026-11-23"), 12, False),  # × 0.8
    ("professional", at("2026-11-23"), 30, False),  # × 2
])
def test_hours_earn_what_the_scheme_predicts(api, center, category, starts_at, points,
                                             rest_day):
    entry = credited(api, center, category, starts_at, 90)
    assert entry["points"] == points
    rule = entry["rule"]
    assert (rule["version"], rule["local_date"], rule["category"], rule["minutes"],
            rule["rest_day"], rule["rest_day_source"]) == \
        ("default", starts_at.date().isoformat(), category, 90, rest_day, "calendar")
    assert rule["arithmetic"].startswith("90 min × 10/h") and \
        rule["arithmetic"].endswith(f"→ {points}")
    assert starts_at.date().isoformat() in entry["reason"]


def test_nine_hours_in_a_day_credit_only_eight(api, center):
    first = credited(api, center, "other", at("2026-11-24", 8), 300)
    second = credited(api, center, "other", at("2026-11-24", 14), 240)
    assert (first["points"], second["points"]) == (50, 30)
    assert (second["rule"]["creditable_minutes"], second["rule"]["uncredited_minutes"]) == \
        (180, 60)
    assert "60 min beyond the daily cap of 480 min earn nothing" in second["reason"]
    other_day = credited(api, center, "other", at("2026-11-25"), 60)
    assert other_day["points"] == 10


def test_a_version_published_for_today_credits_by_it_and_leaves_earlier_credits_alone(
        api, admin, center):
    path = scheme_path(center["community_id"])
    defaults = api.get(path, token=center["volunteer"])
    assert defaults.status_code == 200, defaults.text
    assert defaults.json()["versions"] == []
    assert (defaults.json()["current"]["version"],
            defaults.json()["current"]["category_multipliers"]["elder_care"]) == ("default", 1.5)

    # Two activities of today that have started, one after the other: [midnight, now].
    midnight = dt.datetime.combine(today(), dt.time(0), SHANGHAI)
    minutes = min(60, int((dt.datetime.now(SHANGHAI) - midnight).total_seconds() // 120))
    assert minutes >= 1, "run this test later than two minutes past midnight in Shanghai"
    before = credited(api, center, "other", midnight, minutes)
    assert before["rule"]["version"] == "default"

    key = uuid.uuid4().hex
    new = body(today(), base_points_per_hour=20, weekend_holiday_multiplier=1)
    published = api.post(path, new, token=admin, key=key)
    assert published.status_code == 201, published.text
    v1 = published.json()
    assert (v1["version"], v1["effective_from"], v1["base_points_per_hour"]) == \
        ("v1", today().isoformat(), 20)
    replay = api.post(path, new, token=admin, key=key)
    assert (replay.status_code, replay.json()) == (201, v1)
    assert replay.headers.get("Idempotent-Replay") == "true"

    after = credited(api, center, "other", midnight + dt.timedelta(minutes=minutes), minutes)
    assert (after["rule"]["version"], after["points"]) == ("v1", minutes * 20 // 60)
    assert entry_for(api, center, before["ref"]["id"]) == before  # untouched

    error = error_of(api.post(path, body(today()), token=admin), 422, "version_in_force")
    assert "effective_from" in error["fields"]
    tomorrow = api.post(path, body(today() + dt.timedelta(days=1)), token=admin)
    assert tomorrow.status_code == 201 and tomorrow.json()["version"] == "v2"
    read = api.get(path, token=center["staff"]).json()
    assert read["current"]["version"] == "v1"
    assert [v["version"] for v in read["versions"]] == ["v1", "v2"]


def test_publishing_refuses_the_past_bad_fields_and_other_roles(api, admin, center):
    path = scheme_path(center["community_id"])
    error = error_of(api.post(path, body(today() - dt.timedelta(days=1)), token=admin), 422,
                     "effective_from_in_past")
    assert "effective_from" in error["fields"]
    bad = body(today(), base_points_per_hour=1.5, weekend_holiday_multiplier="a lot",
               category_multipliers={"knitting": 1, "other": 11}, daily_cap_minutes=0,
               timezone="Mars/Olympus")
    del bad["effective_from"]
    error = error_of(api.post(path, bad, token=admin), 400, "invalid_input")
    assert set(error["fields"]) == {"effective_from", "base_points_per_hour",
                                    "weekend_holiday_multiplier", "category_multipliers",
                                    "daily_cap_minutes", "timezone"}
    error_of(api.post(path, body(today()), token=center["staff"]), 403, "forbidden")
    error_of(api.post(path, body(today()), token=center["volunteer"]), 403, "forbidden")
    assert api.get(path).status_code == 401


def test_another_or_an_unknown_community_is_not_found(api, admin, center):
    other, _, other_staff, _ = new_community(api, admin)
    error_of(api.get(scheme_path(other["id"]), token=center["volunteer"]), 404, "not_found")
    error_of(api.post(scheme_path(center["community_id"]), body(today()), token=other_staff),
             404, "not_found")
    error_of(api.get(scheme_path("com_nosuch"), token=admin), 404, "not_found")
    error_of(api.post(scheme_path("com_nosuch"), body(today()), token=admin), 404, "not_found")
