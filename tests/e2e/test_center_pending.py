"""GET /centers/{id}/pending: how many of a center's records wait for a decision, across its
activities (the header of the center's pages), through HTTP against the stack."""
from tests.e2e.conftest import new_community, working_day_slot
from tests.support import wait_until


def pending_of(api, center, token):
    return api.get(f"/api/v1/centers/{center['center_id']}/pending", token=token)


def test_three_logged_one_approved_one_rejected_leaves_one_pending(api, admin, center):
    volunteers = [center["volunteer_id"]] + [api.created("/api/v1/volunteers", {
        "community_id": center["community_id"], "name": name, "phone": phone,
        "username": f"{user}{center['suffix']}", "password": "pass-word-1"}, center["staff"])["id"]
        for name, phone, user in (("王芳", "13900000001", "fang"), ("张强", "13900000002", "qiang"))]
    starts_at, ends_at = working_day_slot()
    activity = api.created("/api/v1/activities", {
        "center_id": center["center_id"], "title": "社区议事协商", "category": "other",
        "starts_at": starts_at, "ends_at": ends_at}, center["staff"])
    assert pending_of(api, center, center["staff"]).json()["pending"] == 0
    sheet = api.created(f"/api/v1/activities/{activity['id']}/hours", {
        "entries": [{"volunteer_id": v, "minutes": 60} for v in volunteers]}, center["staff"])
    assert pending_of(api, center, center["staff"]).json() == {
        "center_id": center["center_id"], "pending": 3}
    first, second, _ = (record["id"] for record in sheet["records"])
    assert api.post(f"/api/v1/hours/{first}/approve", token=center["staff"]).status_code == 200
    assert api.post(f"/api/v1/hours/{second}/reject", {"reason": "不在现场"},
                    token=center["staff"]).status_code == 200
    wait_until(lambda: pending_of(api, center, center["staff"]).json()["pending"] == 1,
               timeout=15, message="one record left pending")
    answer = pending_of(api, center, admin)
    assert answer.status_code == 200 and answer.json()["pending"] == 1


def test_only_the_centers_staff_and_admins_read_it(api, admin, center):
    _, _, other_staff, _ = new_community(api, admin, name="东风社区", code="df")
    assert pending_of(api, center, other_staff).status_code in (403, 404)
    assert pending_of(api, center, center["volunteer"]).status_code in (403, 404)
    assert api.get("/api/v1/centers/ctr_missing/pending", token=admin).status_code == 404
    assert api.get(f"/api/v1/centers/{center['center_id']}/pending").status_code == 401
