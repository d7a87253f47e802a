"""A center's gift pickups through HTTP: the gifts waiting at a center (GET /centers/{id}/pickups)
and a gift handed over by the pickup code the volunteer shows (POST /centers/{id}/pickups)."""
import uuid

from tests.e2e.conftest import earn, new_community
from tests.e2e.test_gift_shelf import B, add_gift, redeem


def pickups(api, center, token=None):
    return api.get(f"{B}/centers/{center['center_id']}/pickups",
                   token=token or center["staff"])


def test_staff_see_the_waiting_gift_and_hand_it_over_by_its_pickup_code(api, admin, center):
    earn(api, center, 300)  # 50 points
    gift = add_gift(api, center)
    redemption = redeem(api, center, gift["id"]).json()
    waiting = pickups(api, center)
    assert waiting.status_code == 200, waiting.text
    assert [(i["id"], i["status"], i["pickup_code"]) for i in waiting.json()["items"]] == [
        (redemption["id"], "confirmed", None)]

    path = f"{B}/centers/{center['center_id']}/pickups"
    bad = api.post(path, {"pickup_code": "12ab"}, token=center["staff"])
    assert bad.status_code == 400 and "pickup_code" in bad.json()["error"]["fields"], bad.text
    wrong_code = "000000" if redemption["pickup_code"] != "000000" else "111111"
    unknown = api.post(path, {"pickup_code": wrong_code}, token=center["staff"])
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_pickup_code")
    _, _, other_staff, _ = new_community(api, admin)
    body = {"pickup_code": redemption["pickup_code"]}
    assert api.post(path, body, token=other_staff).status_code == 404
    assert api.post(path, body, token=center["volunteer"]).status_code == 403
    assert pickups(api, center, other_staff).status_code == 404

    handed = api.post(path, body, token=center["staff"])
    assert handed.status_code == 200, handed.text
    assert (handed.json()["id"], handed.json()["status"]) == (redemption["id"], "fulfilled")
    mine = api.get(f"{B}/volunteers/{center['volunteer_id']}/redemptions",
                   token=center["volunteer"]).json()["items"]
    assert [(i["id"], i["status"]) for i in mine] == [(redemption["id"], "fulfilled")]
    assert pickups(api, center).json()["items"] == []
    again = api.post(path, body, token=center["staff"], key=uuid.uuid4().hex)
    assert again.status_code == 200 and again.json()["status"] == "fulfilled"
