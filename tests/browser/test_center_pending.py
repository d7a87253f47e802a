"""The center pages' header counts the records waiting for a decision across the center's
activities (待审核 N 条), and follows approvals and rejections; the API agrees."""
from playwright.sync_api import expect

from tests.browser.test_center_sheet import desk, staff_open  # noqa: F401 - fixture
from tests.e2e.conftest import working_day_slot


def test_the_header_counts_pending_records_and_follows_decisions(api, center, desk):  # noqa: F811
    volunteers = {"李伟": center["volunteer_id"]}
    for name, phone, user in (("王芳", "13900000001", "fang"), ("张强", "13900000002", "qiang")):
        volunteers[name] = api.created("/api/v1/volunteers", {
            "community_id": center["community_id"], "name": name, "phone": phone,
            "username": f"{user}{center['suffix']}", "password": "pass-word-1"},
            center["staff"])["id"]
    starts_at, ends_at = working_day_slot()
    activity = api.created("/api/v1/activities", {
        "center_id": center["center_id"], "title": "社区议事协商", "category": "other",
        "starts_at": starts_at, "ends_at": ends_at}, center["staff"])
    api.created(f"/api/v1/activities/{activity['id']}/hours", {
        "entries": [{"volunteer_id": v, "minutes": 60} for v in volunteers.values()]},
        center["staff"])

    page = desk.page
    staff_open(desk, center, "activities")
    badge = page.locator("[data-pending-count]")
    expect(badge).to_have_text("待审核 3 条")
    desk.shot("activities-pending")

    desk.open(f"activity/{activity['id']}")
    desk.wait_for_page("activity")
    expect(badge).to_have_text("待审核 3 条")
    page.get_by_role("button", name="通过 李伟").click()
    expect(page.locator("[data-record][data-status=approved]")).to_have_count(1)
    page.get_by_role("button", name="驳回 王芳").click()
    expect(page.locator("[data-record][data-status=rejected]")).to_have_count(1)
    expect(badge).to_have_text("待审核 1 条")
    desk.shot("activity-pending-after-decisions")
    answer = api.get(f"/api/v1/centers/{center['center_id']}/pending", token=center["staff"])
    assert answer.json()["pending"] == 1

    desk.open("report")  # the activity page has no menu: the report by its address
    desk.wait_for_page("report")
    expect(badge).to_have_text("待审核 1 条")
    desk.shot("report-pending")
