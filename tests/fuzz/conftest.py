"""Fuzzing tier: a tenant of its own in the running stack, signed in as every role.

Everything the fuzzer may change is in this tenant: its community (scheme versions), center,
merchant, volunteers and logins. Each role has a main login (its token stays valid for the whole
run) and a spare one for the operations that end or re-key a session (logout, password change).
"""
import dataclasses

import pytest

from tests.e2e.conftest import (  # noqa: F401 (the fixtures admin and api)
    admin, admin_password, api, earn, new_community, working_day_slot)
from tests.support import fresh_phone

ROLES = ("admin", "center_staff", "volunteer", "merchant")
PASSWORD = "fuzz-pass-1"


@dataclasses.dataclass
class Login:
    username: str
    password: str
    token: str


@dataclasses.dataclass
class Tenant:
    logins: dict          # role -> Login (the main one)
    spares: dict          # role -> Login (logout and password change act on these)
    path_ids: dict        # path or query parameter name -> real ids to try now and then


def _staff_login(api, admin, suffix, name, **fields):
    api.created("/api/v1/users", {"username": f"{name}{suffix}", "password": PASSWORD,
                                  **fields}, admin)
    return Login(f"{name}{suffix}", PASSWORD, api.login(f"{name}{suffix}", PASSWORD))


def _volunteer_login(api, staff, community_id, name):
    username = f"{name}{fresh_phone()}"
    volunteer = api.created("/api/v1/volunteers", {
        "community_id": community_id, "name": "模糊测试", "phone": fresh_phone(),
        "username": username, "password": PASSWORD}, staff)
    return volunteer["id"], Login(username, PASSWORD, api.login(username, PASSWORD))


@pytest.fixture(scope="session")
def tenant(api, admin):  # noqa: F811 (fixtures imported above)
    community, center, staff, suffix = new_community(api, admin, name="模糊社区", code="fz")
    community_id, center_id = community["id"], center["id"]
    merchant = api.created("/api/v1/merchants", {"community_id": community_id,
                                                 "name": "模糊商家"}, admin)
    volunteer_id, volunteer = _volunteer_login(api, staff, community_id, "fz")
    spare_volunteer_id, spare_volunteer = _volunteer_login(api, staff, community_id, "fzs")
    staff_login = Login(f"staff{suffix}", "staff-pass-1", staff)
    merchant_fields = {"role": "merchant", "merchant_id": merchant["id"]}
    staff_fields = {"role": "center_staff", "center_id": center_id}
    logins = {"admin": Login("admin", admin_password(), admin), "center_staff": staff_login,
              "volunteer": volunteer,
              "merchant": _staff_login(api, admin, suffix, "fzm", **merchant_fields)}
    spares = {"admin": _staff_login(api, admin, suffix, "fza", role="admin"),
              "center_staff": _staff_login(api, admin, suffix, "fzss", **staff_fields),
              "volunteer": spare_volunteer,
              "merchant": _staff_login(api, admin, suffix, "fzms", **merchant_fields)}
    # The one login POST /users/{username}/disable may reach: disabling any other would end a
    # session this run (or another test) still uses.
    victim = _staff_login(api, admin, suffix, "fzv", **staff_fields).username

    # Points to spend, an approved and a pending hours record, a gift and a redemption of it, a
    # merchant offer, a one-time code and points in the community fund: real objects for the
    # path parameters and for the id fields of bodies, so redemptions, transfers, hours, fund
    # donations and grants can succeed.
    as_center = {"center_id": center_id, "staff": staff, "volunteer_id": volunteer_id,
                 "volunteer": volunteer.token}
    approved_record = earn(api, as_center, 480)
    starts_at, ends_at = working_day_slot()
    activity = api.created("/api/v1/activities", {
        "center_id": center_id, "title": "模糊测试活动", "category": "other",
        "starts_at": starts_at, "ends_at": ends_at}, staff)
    pending = api.created(f"/api/v1/activities/{activity['id']}/hours", {
        "entries": [{"volunteer_id": volunteer_id, "minutes": 60}]}, staff)["records"][0]
    gift = api.created("/api/v1/rewards", {"kind": "gift", "title": "模糊礼品",
                                           "cost_points": 1, "stock": 100}, staff)
    offer = api.created("/api/v1/rewards", {"kind": "merchant_offer", "title": "模糊优惠",
                                            "cost_points": 1, "merchant_id": merchant["id"]},
                        logins["merchant"].token)
    redemption = api.created("/api/v1/redemptions", {
        "reward_id": gift["id"], "volunteer_id": volunteer_id, "quantity": 1},
        volunteer.token, key=f"fuzz-seed-{suffix}")
    api.created(f"/api/v1/communities/{community_id}/fund/donations", {
        "volunteer_id": volunteer_id, "points": 10}, volunteer.token, key=f"fuzz-fund-{suffix}")
    code = api.created(f"/api/v1/volunteers/{volunteer_id}/redeem-codes", None,
                       volunteer.token)["code"]
    certificate = api.get(f"/api/v1/volunteers/{volunteer_id}/certificate.pdf",
                          token=volunteer.token)
    assert certificate.status_code == 200, certificate.text
    return Tenant(logins=logins, spares=spares, path_ids={
        "community_id": [community_id], "center_id": [center_id],
        "merchant_id": [merchant["id"]],
        "volunteer_id": [volunteer_id, spare_volunteer_id],
        "activity_id": [activity["id"]],
        "record_id": [pending["id"], approved_record],
        "reward_id": [gift["id"], offer["id"]],
        "redemption_id": [redemption["id"]],
        "code": [code, certificate.headers["X-Certificate-Code"]],
        "username": [victim],
    })
