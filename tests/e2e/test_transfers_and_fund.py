"""Gifts of points (转赠) and the community fund through HTTP on the running stack: each moves
exactly what it says on both sides, a retry under the same Idempotency-Key changes nothing, and
what the balance does not cover is 409 and moves nothing."""
import uuid

import pytest

from tests.e2e.conftest import balance
from tests.support import wait_until

B = "/api/v1"


def earn(api, center, minutes=150):
    """Approved hours for the center's volunteer; returns the balance once the credit landed
    (whatever the community's scheme makes of them)."""
    activity = api.created(f"{B}/activities", {
        "center_id": center["center_id"], "title": "社区环境清洁", "category": "environment",
        "starts_at": "2026-11-18T09:00:00+08:00", "ends_at": "2026-11-18T12:00:00+08:00"},
        center["staff"])
    sheet = api.created(f"{B}/activities/{activity['id']}/hours", {
        "entries": [{"volunteer_id": center["volunteer_id"], "minutes": minutes}]},
        center["staff"])
    before = balance(api, center)["balance"]
    approved = api.post(f"{B}/hours/{sheet['records'][0]['id']}/approve", token=center["staff"])
    assert approved.status_code == 200, approved.text
    return wait_until(lambda: balance(api, center)["balance"] > before and
                      balance(api, center)["balance"], message="points credited")


@pytest.fixture
def mei(api, center):
    """A second volunteer of the same community: the receiver."""
    suffix = uuid.uuid4().hex[:8]
    volunteer = api.created(f"{B}/volunteers", {
        "community_id": center["community_id"], "name": "王美", "phone": "13900000000",
        "username": f"mei{suffix}", "password": "mei-pass-123"}, center["staff"])
    return {"volunteer_id": volunteer["id"], "volunteer": api.login(f"mei{suffix}",
                                                                    "mei-pass-123")}


def points_of(api, who):
    return balance(api, who)["balance"]


def statement(api, who):
    response = api.get(f"{B}/volunteers/{who['volunteer_id']}/statement",
                       token=who["volunteer"])
    assert response.status_code == 200, response.text
    return response.json()["items"]


def fund(api, center, token=None):
    response = api.get(f"{B}/communities/{center['community_id']}/fund",
                       token=token or center["staff"])
    assert response.status_code == 200, response.text
    return response.json()


def gift(api, center, mei, points, key=None):
    return api.post(f"{B}/transfers", {"from_volunteer_id": center["volunteer_id"],
                                       "to_volunteer_id": mei["volunteer_id"],
                                       "points": points, "note": "给妈妈"},
                    token=center["volunteer"], key=key)


def test_a_gift_moves_exactly_its_points_and_a_retry_changes_nothing(api, center, mei):
    start = earn(api, center)
    key = uuid.uuid4().hex
    sent = gift(api, center, mei, start - 1, key=key)
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert (body["status"], body["points"], body["from_volunteer_id"],
            body["to_volunteer_id"]) == ("completed", start - 1, center["volunteer_id"],
                                         mei["volunteer_id"])
    assert (points_of(api, center), points_of(api, mei)) == (1, start - 1)

    [gift_out] = [e for e in statement(api, center) if e["kind"] == "gift_out"]
    [gift_in] = [e for e in statement(api, mei) if e["kind"] == "gift_in"]
    assert (gift_out["points"], gift_in["points"]) == (-(start - 1), start - 1)
    assert gift_out["ref"] == gift_in["ref"] == {"type": "transfer", "id": body["id"]}

    again = gift(api, center, mei, start - 1, key=key)
    assert again.status_code == 201 and again.json() == body
    assert again.headers.get("Idempotent-Replay") == "true"
    assert (points_of(api, center), points_of(api, mei)) == (1, start - 1)
    assert len([e for e in statement(api, mei) if e["kind"] == "gift_in"]) == 1


def test_a_gift_beyond_the_balance_is_409_and_moves_nothing(api, center, mei):
    start = earn(api, center)
    refused = gift(api, center, mei, start + 1, key=uuid.uuid4().hex)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "insufficient_points"
    assert (points_of(api, center), points_of(api, mei)) == (start, 0)
    assert not [e for e in statement(api, center) if e["kind"] == "gift_out"]


def test_who_may_give_to_whom(api, center, mei):
    earn(api, center)
    body = {"from_volunteer_id": center["volunteer_id"], "to_volunteer_id": mei["volunteer_id"],
            "points": 1}
    as_receiver = api.post(f"{B}/transfers", body, token=mei["volunteer"])
    assert as_receiver.status_code == 403, as_receiver.text
    to_nobody = api.post(f"{B}/transfers", dict(body, to_volunteer_id="vol_nobody"),
                         token=center["volunteer"])
    assert to_nobody.status_code == 404, to_nobody.text
    assert "to_volunteer_id" in to_nobody.json()["error"]["fields"]
    to_self = api.post(f"{B}/transfers", dict(body, to_volunteer_id=center["volunteer_id"]),
                       token=center["volunteer"])
    assert to_self.status_code == 422, to_self.text
    for bad, field in [({"points": 0}, "points"), ({"points": "1"}, "points"),
                       ({"points": 1.5}, "points"), ({"to_volunteer_id": None},
                                                     "to_volunteer_id")]:
        response = api.post(f"{B}/transfers", dict(body, **bad), token=center["volunteer"])
        assert response.status_code == 400, (bad, response.text)
        assert field in response.json()["error"]["fields"]


def test_a_donation_and_a_grant_move_exactly_what_they_say(api, center, mei):
    start = earn(api, center)
    donated = api.post(f"{B}/communities/{center['community_id']}/fund/donations",
                       {"volunteer_id": center["volunteer_id"], "points": start},
                       token=center["volunteer"], key=uuid.uuid4().hex)
    assert donated.status_code == 201, donated.text
    assert points_of(api, center) == 0
    assert fund(api, center)["balance"] == start

    grant_key = uuid.uuid4().hex
    reason = "独居老人冬季慰问"
    granted = api.post(f"{B}/communities/{center['community_id']}/fund/grants",
                       {"to_volunteer_id": mei["volunteer_id"], "points": start - 2,
                        "reason": reason}, token=center["staff"], key=grant_key)
    assert granted.status_code == 201, granted.text
    assert (granted.json()["reason"], granted.json()["status"]) == (reason, "completed")
    assert granted.json()["approved_by"]
    replayed = api.post(f"{B}/communities/{center['community_id']}/fund/grants",
                        {"to_volunteer_id": mei["volunteer_id"], "points": start - 2,
                         "reason": reason}, token=center["staff"], key=grant_key)
    assert replayed.json() == granted.json()
    assert points_of(api, mei) == start - 2

    page = fund(api, center)
    assert page["balance"] == 2
    newest = page["items"][0]
    assert (newest["kind"], newest["points"], newest["reason"]) == ("grant", -(start - 2), reason)
    assert newest["approved_by"] == granted.json()["approved_by"]
    assert newest["counterparty"] == mei["volunteer_id"]
    assert [i["kind"] for i in page["items"]] == ["grant", "donate"]
    [received] = [e for e in statement(api, mei) if e["kind"] == "grant"]
    assert (received["points"], received["reason"]) == (start - 2, reason)


def test_a_grant_the_fund_cannot_cover_is_409_and_moves_nothing(api, center, mei):
    response = api.post(f"{B}/communities/{center['community_id']}/fund/grants",
                        {"to_volunteer_id": mei["volunteer_id"], "points": 1,
                         "reason": "help"}, token=center["staff"])
    assert response.status_code == 409, response.text
    assert (fund(api, center)["balance"], points_of(api, mei)) == (0, 0)


def test_the_fund_is_for_its_staff_and_admins(api, admin, center):
    assert fund(api, center, admin)["balance"] == 0
    as_volunteer = api.get(f"{B}/communities/{center['community_id']}/fund",
                           token=center["volunteer"])
    assert as_volunteer.status_code == 403, as_volunteer.text
    grant_as_volunteer = api.post(f"{B}/communities/{center['community_id']}/fund/grants",
                                  {"to_volunteer_id": center["volunteer_id"], "points": 1,
                                   "reason": "me"}, token=center["volunteer"])
    assert grant_as_volunteer.status_code == 403, grant_as_volunteer.text
    bad_cursor = api.get(f"{B}/communities/{center['community_id']}/fund?cursor=x",
                         token=center["staff"])
    assert bad_cursor.status_code == 400 and "cursor" in bad_cursor.json()["error"]["fields"]
