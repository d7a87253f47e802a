"""The admin's lists through HTTP: communities, a community's centers and merchants, a center's
and a merchant's logins (with role and disabled state), paged newest first; admin only."""
import uuid

import pytest

from tests.e2e.conftest import new_community
from tests.e2e.test_api_contract import error_of

API = "/api/v1"


def pages(api, path, token, limit, **params):
    """Every item of a list, page by page, following next_cursor."""
    cursor, items = None, []
    while True:
        query = dict(params, limit=limit, **({"cursor": cursor} if cursor else {}))
        response = api.get(f"{API}{path}", token=token, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= limit
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def newest_communities(api, admin, wanted):
    """The first pages of GET /communities until every id of ``wanted`` has been seen (others
    create communities meanwhile: ours are near the top, not necessarily on top)."""
    cursor, seen = None, []
    for _ in range(20):
        response = api.get(f"{API}/communities", token=admin,
                           params={"limit": 50, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        seen += [c["id"] for c in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if set(wanted) <= set(seen) or cursor is None:
            break
    return seen


def test_communities_are_listed_newest_first(api, admin):
    suffix = uuid.uuid4().hex[:10]
    first = api.created(f"{API}/communities", {"name": "列表一", "code": f"la{suffix}"}, admin)
    second = api.created(f"{API}/communities", {"name": "列表二", "code": f"lb{suffix}"}, admin)
    seen = newest_communities(api, admin, [first["id"], second["id"]])
    assert seen.index(second["id"]) < seen.index(first["id"])
    assert len(seen) == len(set(seen))  # no community twice across pages


def test_a_communitys_centers_merchants_and_logins(api, admin):
    community, center, _, suffix = new_community(api, admin, name="列表社区", code="ls")
    second_center = api.created(f"{API}/centers", {"community_id": community["id"],
                                                   "name": "第二中心"}, admin)
    centers = pages(api, f"/communities/{community['id']}/centers", admin, 1)
    assert [c["id"] for c in centers] == [second_center["id"], center["id"]]

    key = uuid.uuid4().hex  # a retried create lists the merchant once
    merchant = api.created(f"{API}/merchants", {"community_id": community["id"],
                                                "name": "列表商家"}, admin, key=key)
    api.created(f"{API}/merchants", {"community_id": community["id"], "name": "列表商家"},
                admin, key=key)
    merchants = pages(api, "/merchants", admin, 50, community_id=community["id"])
    assert [(m["id"], m["name"]) for m in merchants] == [(merchant["id"], "列表商家")]

    api.created(f"{API}/users", {"username": f"till{suffix}", "password": "till-pass-1",
                                 "role": "merchant", "merchant_id": merchant["id"]}, admin)
    api.created(f"{API}/users", {"username": f"desk{suffix}", "password": "desk-pass-1",
                                 "role": "center_staff", "center_id": center["id"]}, admin)
    assert api.post(f"{API}/users/desk{suffix}/disable", {}, token=admin).status_code == 200

    staff = pages(api, "/users", admin, 1, center_id=center["id"])
    assert [(u["username"], u["role"], u["disabled"]) for u in staff] == [
        (f"desk{suffix}", "center_staff", True), (f"staff{suffix}", "center_staff", False)]
    tills = pages(api, "/users", admin, 50, merchant_id=merchant["id"])
    assert [(u["username"], u["role"], u["disabled"]) for u in tills] == [
        (f"till{suffix}", "merchant", False)]
    # The disabled login cannot sign in.
    error_of(api.post(f"{API}/auth/token", {"username": f"desk{suffix}",
                                            "password": "desk-pass-1"}), 403, "account_disabled")


@pytest.mark.parametrize("path", ["/communities", "/communities/{community}/centers",
                                  "/merchants?community_id={community}",
                                  "/users?center_id={center}"])
def test_the_lists_are_the_admins(api, admin, center, path):
    url = API + path.format(community=center["community_id"], center=center["center_id"])
    error_of(api.get(url), 401, "unauthenticated")
    for token in (center["staff"], center["volunteer"]):
        error_of(api.get(url, token=token), 403, "forbidden")


def test_bad_list_queries_are_400_with_the_field(api, admin, center):
    for path, field in [("/communities?limit=0", "limit"), ("/communities?cursor=abc", "cursor"),
                        ("/merchants", "community_id"),
                        ("/users", "center_id"),
                        (f"/users?center_id={center['center_id']}&merchant_id=m", "center_id"),
                        (f"/communities/{center['community_id']}/centers?limit=x", "limit")]:
        error = error_of(api.get(API + path, token=admin), 400, "invalid_input")
        assert field in error["fields"], (path, error)
    error_of(api.get(f"{API}/communities/com_nowhere/centers", token=admin), 404, "not_found")
    error_of(api.get(f"{API}/merchants?community_id=com_nowhere", token=admin), 404,
             "not_found")
    error_of(api.get(f"{API}/users?merchant_id=mer_nowhere", token=admin), 404, "not_found")


def test_one_community_for_the_admin(api, admin, center):
    path = f"{API}/communities/{center['community_id']}"
    community = api.get(path, token=admin).json()
    assert (community["id"], community["name"]) == (center["community_id"], "新华社区")
    error_of(api.get(path, token=center["staff"]), 403, "forbidden")
    error_of(api.get(f"{API}/communities/com_nowhere", token=admin), 404, "not_found")
