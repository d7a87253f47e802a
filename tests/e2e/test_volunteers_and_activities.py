"""Issue 8 through HTTP: one number one volunteer, masked ID cards, finding volunteers, capacity,
overlapping hours, an activity's lists and approving it at once until the points are there."""
import random
import uuid

from tests.e2e.conftest import new_community
from tests.support import wait_until

V1 = "/api/v1"
ID_CARD = "11010519491231002X"


def fresh_phone():
    return "139" + "".join(random.choices("0123456789", k=8))


def register(api, staff, community_id, name="李伟", phone=None, **extra):
    return api.post(f"{V1}/volunteers", dict({
        "community_id": community_id, "name": name, "phone": phone or fresh_phone(),
        "username": f"v{uuid.uuid4().hex[:12]}", "password": "li-pass-123"}, **extra),
        token=staff)


def new_activity(api, staff, center_id, starts, ends, capacity=None):
    return api.created(f"{V1}/activities", {
        "center_id": center_id, "title": "探访独居老人", "category": "elder_care",
        "starts_at": starts, "ends_at": ends, "capacity": capacity}, staff)["id"]


def log(api, staff, activity_id, *volunteer_ids, minutes=60):
    return api.post(f"{V1}/activities/{activity_id}/hours", {"entries": [
        {"volunteer_id": v, "minutes": minutes} for v in volunteer_ids]}, token=staff)


def test_one_number_is_one_volunteer_per_community_and_id_cards_answer_masked(api, admin):
    community, _, staff, _ = new_community(api, admin)
    phone = fresh_phone()
    first = register(api, staff, community["id"], phone=phone, id_card=ID_CARD)
    assert first.status_code == 201, first.text
    assert first.json()["id_card"] == "*" * 14 + "002X"
    again = register(api, staff, community["id"], name="王芳", phone=f"+86 {phone}")
    assert again.status_code == 409, again.text
    error = again.json()["error"]
    assert (error["code"], error["fields"]["volunteer_id"]) == ("phone_taken", [first.json()["id"]])
    assert ID_CARD not in api.get(f"{V1}/volunteers/{first.json()['id']}", token=staff).text
    for field, value in (("phone", "12345678901"), ("id_card", "110105194912310021")):
        bad = register(api, staff, community["id"], **{field: value})
        assert bad.status_code == 400 and field in bad.json()["error"]["fields"], bad.text
    other, _, other_staff, _ = new_community(api, admin)
    assert register(api, other_staff, other["id"], phone=phone).status_code == 201


def test_staff_find_volunteers_by_name_and_phone(api, admin):
    community, _, staff, _ = new_community(api, admin)
    phones = [fresh_phone() for _ in range(3)]
    ids = [api.created(f"{V1}/volunteers", {
        "community_id": community["id"], "name": name, "phone": phone,
        "username": f"v{uuid.uuid4().hex[:12]}", "password": "li-pass-123"}, staff)["id"]
        for name, phone in zip(("李伟", "李娜", "王芳"), phones)]

    def search(**args):
        response = api.get(f"{V1}/volunteers", token=staff,
                           params=dict(community_id=community["id"], **args))
        assert response.status_code == 200, response.text
        return response.json()

    assert [v["id"] for v in search(q="李")["items"]] == [ids[1], ids[0]]
    assert [v["id"] for v in search(q="李伟")["items"]] == [ids[0]]
    assert [v["id"] for v in search(q=phones[2])["items"]] == [ids[2]]
    page = search(limit="2")
    assert len(page["items"]) == 2
    assert [v["id"] for v in search(limit="2", cursor=page["next_cursor"])["items"]] == [ids[0]]
    _, _, stranger, _ = new_community(api, admin)
    assert api.get(f"{V1}/volunteers", token=stranger,
                   params={"community_id": community["id"]}).status_code == 404


def test_capacity_and_overlapping_hours_are_refused_with_422(api, admin):
    community, center, staff, _ = new_community(api, admin)
    volunteers = [register(api, staff, community["id"]).json()["id"] for _ in range(3)]
    small = new_activity(api, staff, center["id"], "2026-03-01T09:00:00+08:00",
                         "2026-03-01T12:00:00+08:00", capacity=2)
    full = log(api, staff, small, *volunteers)
    assert full.status_code == 422 and full.json()["error"]["code"] == "capacity_exceeded"
    assert "capacity" in full.json()["error"]["fields"]
    logged = log(api, staff, small, *volunteers[:2])
    assert logged.status_code == 201, logged.text
    record_id = logged.json()["records"][0]["id"]
    overlapping = new_activity(api, staff, center["id"], "2026-03-01T11:00:00+08:00",
                               "2026-03-01T13:00:00+08:00")
    refused = log(api, staff, overlapping, volunteers[2], volunteers[0])
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "overlapping_hours"
    assert record_id in error["fields"]["entries"]["1"]["volunteer_id"][0]
    # all or none: the volunteer without a clash holds nothing from the refused sheet
    assert log(api, staff, overlapping, volunteers[2]).status_code == 201


def test_an_activitys_lists_and_approving_it_at_once_until_the_points_are_there(api, admin):
    community, center, staff, _ = new_community(api, admin)
    volunteers = [register(api, staff, community["id"]).json()["id"] for _ in range(3)]
    earlier = new_activity(api, staff, center["id"], "2026-02-01T09:00:00+08:00",
                           "2026-02-01T12:00:00+08:00")
    activity_id = new_activity(api, staff, center["id"], "2026-02-02T09:00:00+08:00",
                               "2026-02-02T12:00:00+08:00")
    listed = api.get(f"{V1}/activities", token=staff, params={"center_id": center["id"]})
    assert [a["id"] for a in listed.json()["items"]] == [activity_id, earlier]
    records = log(api, staff, activity_id, *volunteers, minutes=120).json()["records"]
    rejected = api.post(f"{V1}/hours/{records[2]['id']}/reject", {"reason": "不在场"},
                        token=staff)
    assert rejected.status_code == 200, rejected.text

    approved = api.post(f"{V1}/activities/{activity_id}/approve", token=staff)
    assert approved.status_code == 200 and approved.json() == {"approved": 2}, approved.text
    assert api.post(f"{V1}/activities/{activity_id}/approve", token=staff).json() == \
        {"approved": 0}
    hours = api.get(f"{V1}/activities/{activity_id}/hours", token=staff, params={"limit": "2"})
    assert hours.status_code == 200, hours.text
    rest = api.get(f"{V1}/activities/{activity_id}/hours", token=staff,
                   params={"cursor": hours.json()["next_cursor"]}).json()
    statuses = {r["id"]: (r["status"], r["decided_by"])
                for r in hours.json()["items"] + rest["items"]}
    assert {statuses[r["id"]][0] for r in records[:2]} == {"approved"}
    assert statuses[records[2]["id"]][0] == "rejected"
    profile = api.get(f"{V1}/volunteers/{volunteers[0]}", token=staff).json()
    assert profile["approved_minutes"] == 120

    def credited(volunteer_id):
        statement = api.get(f"{V1}/volunteers/{volunteer_id}/statement", token=staff).json()
        return [e for e in statement["items"] if e["points"] > 0]

    for volunteer_id in volunteers[:2]:
        [credit] = wait_until(lambda: credited(volunteer_id), timeout=20,
                              message="the approved hours credited")
        assert credit["points"] > 0
    assert credited(volunteers[2]) == []
