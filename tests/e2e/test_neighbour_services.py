"""Services between neighbours (以服务换服务) through HTTP on the running stack: a volunteer
offers a service with two sessions, a neighbour books one (the points leave at booking), the
provider marks it delivered (the provider's statement shows an earn naming the booking), a
second booking cancelled gives the points back and frees its session, and the provider cannot
book their own service."""
import uuid

import pytest

from tests.e2e.conftest import balance, earn

B = "/api/v1"
NINE, TEN = "2030-03-02T09:00:00+08:00", "2030-03-02T10:00:00+08:00"


@pytest.fixture
def zhao(api, center):
    """A second volunteer of the community: the provider."""
    suffix = uuid.uuid4().hex[:8]
    volunteer = api.created(f"{B}/volunteers", {
        "community_id": center["community_id"], "name": "赵强",
        "phone": f"139{uuid.uuid4().int % 10**8:08d}", "username": f"zhao{suffix}",
        "password": "zhao-pass-123"}, center["staff"])
    return {"volunteer_id": volunteer["id"],
            "volunteer": api.login(f"zhao{suffix}", "zhao-pass-123")}


def book(api, who, service_id, slot, key=None):
    return api.post(f"{B}/redemptions", {"reward_id": service_id,
                                         "volunteer_id": who["volunteer_id"], "slot": slot},
                    token=who["volunteer"], key=key or uuid.uuid4().hex)


def sessions(api, token, service_id, community_id):
    page = api.get(f"{B}/rewards", token=token,
                   params={"community_id": community_id, "kind": "service"}).json()
    [service] = [s for s in page["items"] if s["id"] == service_id]
    return {s["starts_at"]: s["free"] for s in service["sessions"]}


def test_a_neighbours_service_booked_delivered_and_cancelled(api, center, zhao):
    earn(api, center, 300)  # Li holds 50 points
    li = center
    service = api.created(f"{B}/rewards", {
        "kind": "service", "title": "上门修理水龙头", "cost_points": 20, "location": "3号楼",
        "duration_minutes": 60, "slots": [NINE, TEN]}, zhao["volunteer"],
        headers={"Idempotency-Key": uuid.uuid4().hex})
    assert (service["provider_volunteer_id"], service["stock"]) == (zhao["volunteer_id"], 2)

    own = book(api, zhao, service["id"], NINE)
    assert own.status_code == 422 and own.json()["error"]["code"] == "own_service", own.text

    key = uuid.uuid4().hex
    booked = book(api, li, service["id"], NINE, key=key)
    assert booked.status_code == 201, booked.text
    booking = booked.json()
    assert (booking["status"], booking["points"]) == ("confirmed", 20)
    assert book(api, li, service["id"], NINE, key=key).json() == booking  # replayed
    assert balance(api, li)["balance"] == 30
    assert sessions(api, li["volunteer"], service["id"], li["community_id"]) == {
        "2030-03-02T01:00:00+00:00": False, "2030-03-02T02:00:00+00:00": True}

    taken = book(api, li, service["id"], NINE)
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "out_of_stock"

    receiver_delivers = api.post(f"{B}/redemptions/{booking['id']}/fulfill",
                                 token=li["volunteer"])
    assert receiver_delivers.status_code == 403, receiver_delivers.text
    delivered = api.post(f"{B}/redemptions/{booking['id']}/fulfill", token=zhao["volunteer"],
                         key=uuid.uuid4().hex)
    assert delivered.status_code == 200 and delivered.json()["status"] == "fulfilled", \
        delivered.text
    entries = api.get(f"{B}/volunteers/{zhao['volunteer_id']}/statement",
                      token=zhao["volunteer"]).json()["items"]
    assert [(e["kind"], e["points"], e["ref"]) for e in entries] == [
        ("earn", 20, {"type": "booking", "id": booking["id"]})]
    assert balance(api, zhao)["balance"] == 20
    late_cancel = api.post(f"{B}/redemptions/{booking['id']}/cancel", token=li["volunteer"])
    assert late_cancel.status_code == 409, late_cancel.text

    second = book(api, li, service["id"], TEN).json()
    assert balance(api, li)["balance"] == 10
    cancelled = api.post(f"{B}/redemptions/{second['id']}/cancel", token=li["volunteer"],
                         key=uuid.uuid4().hex)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", \
        cancelled.text
    assert balance(api, li)["balance"] == 30
    assert sessions(api, li["volunteer"], service["id"], li["community_id"])[
        "2030-03-02T02:00:00+00:00"] is True
    assert balance(api, zhao)["balance"] == 20  # a cancelled session earns nothing
