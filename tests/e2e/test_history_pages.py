"""Catalog and statement pages through HTTP: filters, cursors, and cursors a client made up.

Their cost on a large history is counted in tests/integration/test_cost_of_history.py.
"""
import pytest

from tests.e2e.conftest import earn, new_community


@pytest.fixture
def other_staff(api, admin):
    """Staff of a second community, to put a reward on another shelf."""
    return new_community(api, admin, name="朝阳社区", code="cy")[2]


def gift(api, staff, title, kind="gift"):
    return api.created("/api/v1/rewards", {"kind": kind, "title": title, "cost_points": 10,
                                           "stock": 3}, staff)["id"]


def catalog(api, token, **params):
    response = api.get("/api/v1/rewards", token=token, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_catalog_without_community_lists_the_callers_own(api, center, other_staff):
    ours = gift(api, center["staff"], "大米 5kg")
    gift(api, other_staff, "食用油")
    page = catalog(api, center["volunteer"])
    assert [item["id"] for item in page["items"]] == [ours]
    assert page["next_cursor"] is None


def test_catalog_pages_are_newest_first_and_follow_next_cursor(api, center):
    rice, oil, haircut = (gift(api, center["staff"], "大米"), gift(api, center["staff"], "食用油"),
                          gift(api, center["staff"], "理发", kind="service"))
    first = catalog(api, center["volunteer"], limit=2)
    assert [item["id"] for item in first["items"]] == [haircut, oil]
    second = catalog(api, center["volunteer"], limit=2, cursor=first["next_cursor"])
    assert [item["id"] for item in second["items"]] == [rice]
    assert second["next_cursor"] is None
    gifts = catalog(api, center["volunteer"], community_id=center["community_id"], kind="gift")
    assert [(item["id"], item["stock"]) for item in gifts["items"]] == [(oil, 3), (rice, 3)]


@pytest.mark.parametrize("cursor", ["abc", "0", "-5", "1e3", "rwd_1", "٣", "9" * 30])
@pytest.mark.parametrize("path", ["/api/v1/rewards", "/api/v1/volunteers/{id}/statement"])
def test_a_cursor_the_api_did_not_hand_out_is_400(api, center, path, cursor):
    response = api.get(path.format(id=center["volunteer_id"]), token=center["volunteer"],
                       params={"cursor": cursor})
    assert response.status_code == 400, response.text
    assert "cursor" in response.json()["error"]["fields"]


def test_a_statement_cursor_past_the_head_answers_from_the_newest_entry(api, center):
    earn(api, center, 60)
    url = f"/api/v1/volunteers/{center['volunteer_id']}/statement"
    newest = api.get(url, token=center["volunteer"]).json()
    far = api.get(url, token=center["volunteer"], params={"cursor": "30000"})
    assert far.status_code == 200, far.text
    assert far.json() == newest and len(newest["items"]) == 1


def test_the_largest_statement_page_is_served(api, center):
    url = f"/api/v1/volunteers/{center['volunteer_id']}/statement"
    assert api.get(url, token=center["volunteer"], params={"limit": 1000}).status_code == 200
    too_many = api.get(url, token=center["volunteer"], params={"limit": 1001})
    assert too_many.status_code == 400 and "limit" in too_many.json()["error"]["fields"]
