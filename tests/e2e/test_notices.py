"""A volunteer's notices through HTTP on the running stack: hours approved (with the points they
earned), hours rejected (with the reason), a gift ready for pickup (with its code), newest
first; the same notices page by page; staff of the community see them without the pickup code,
another volunteer does not see them at all. (Points expiring within 30 days cannot be made
through the API, earned points last two calendar years: tests/unit/test_notices.py covers them.)"""
import uuid

from tests.e2e.conftest import earn, working_day_slot
from tests.support import wait_until

B = "/api/v1"


def notices(api, center, token=None, **params):
    response = api.get(f"{B}/volunteers/{center['volunteer_id']}/notices",
                       token=token or center["volunteer"], params=params)
    assert response.status_code == 200, response.text
    return response.json()


def every_page(api, center, limit):
    items, cursor, pages = [], None, 0
    while True:
        page = notices(api, center, limit=limit, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor, pages = page["next_cursor"], pages + 1
        if cursor is None:
            return items, pages
        assert pages < 50, "the pages never end"


def rejected_record(api, center, reason):
    starts_at, ends_at = working_day_slot()
    activity = api.created(f"{B}/activities", {
        "center_id": center["center_id"], "title": "为老送餐", "category": "elder_care",
        "starts_at": starts_at, "ends_at": ends_at}, center["staff"])
    sheet = api.created(f"{B}/activities/{activity['id']}/hours", {
        "entries": [{"volunteer_id": center["volunteer_id"], "minutes": 90}]}, center["staff"])
    record_id = sheet["records"][0]["id"]
    rejected = api.post(f"{B}/hours/{record_id}/reject", {"reason": reason},
                        token=center["staff"])
    assert rejected.status_code == 200, rejected.text
    return record_id


def ready_gift(api, center):
    gift = api.created(f"{B}/rewards", {"kind": "gift", "title": "大米 5kg", "cost_points": 10,
                                        "stock": 3}, center["staff"],
                       headers={"Idempotency-Key": uuid.uuid4().hex})
    redemption = api.created(f"{B}/redemptions", {
        "reward_id": gift["id"], "volunteer_id": center["volunteer_id"], "quantity": 1},
        center["volunteer"], headers={"Idempotency-Key": uuid.uuid4().hex})
    assert redemption["status"] == "confirmed"
    return redemption


def test_a_volunteer_sees_each_notice_newest_first_page_by_page(api, admin, center):
    approved_id = earn(api, center, 120)  # 20 points
    rejected_id = rejected_record(api, center, "当天未到场")
    redemption = ready_gift(api, center)

    wait_until(lambda: notices(api, center)["items"][2].get("points") is not None, timeout=15,
               message="the approval's points in its notice")
    items = notices(api, center)["items"]
    assert [n["kind"] for n in items] == ["redemption_ready", "hours_rejected", "hours_approved"]
    ready, rejected, approved = items
    assert (ready["redemption_id"], ready["reward_title"], ready["pickup_code"]) == (
        redemption["id"], "大米 5kg", redemption["pickup_code"])
    assert (rejected["record_id"], rejected["reason"], rejected["minutes"],
            rejected["activity_title"], rejected["category"]) == (
        rejected_id, "当天未到场", 90, "为老送餐", "elder_care")
    assert (approved["record_id"], approved["minutes"], approved["points"],
            approved["activity_title"]) == (approved_id, 120, 20, "社区议事协商")
    assert [n["at"] for n in items] == sorted((n["at"] for n in items), reverse=True)

    one_by_one, pages = every_page(api, center, limit=1)
    assert one_by_one == items and pages >= 3

    staff_view = notices(api, center, token=center["staff"])["items"]
    assert [n["kind"] for n in staff_view] == [n["kind"] for n in items]
    assert staff_view[0]["pickup_code"] is None  # the code collects the gift: its volunteer's


def test_another_volunteer_cannot_read_them_and_bad_paging_is_400(api, center):
    other = api.created(f"{B}/volunteers", {
        "community_id": center["community_id"], "name": "王芳", "phone": "13900000000",
        "username": f"wang{center['suffix']}", "password": "wang-pass-123"}, center["staff"])
    token = api.login(f"wang{center['suffix']}", "wang-pass-123")
    refused = api.get(f"{B}/volunteers/{center['volunteer_id']}/notices", token=token)
    assert refused.status_code in (403, 404), refused.text
    assert api.get(f"{B}/volunteers/{other['id']}/notices", token=token).json() == {
        "items": [], "next_cursor": None}
    bad = api.get(f"{B}/volunteers/{center['volunteer_id']}/notices",
                  token=center["volunteer"], params={"cursor": "nonsense"})
    assert bad.status_code == 400 and "cursor" in bad.json()["error"]["fields"], bad.text
