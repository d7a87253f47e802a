"""Logins and tokens through HTTP (issue 5, items 9, 12 and 14). Every test signs in with
usernames of its own, so a lock it causes touches no other test."""
import uuid

import pytest

from tests.e2e.conftest import new_community
from tests.e2e.test_api_contract import error_of
from tests.support import fresh_phone

TOKEN = "/api/v1/auth/token"
LONG_PASSWORD = "p" * 100  # 73 to 128 characters: more than bcrypt reads, less than LoginIn allows


def fresh(prefix="u"):
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def new_volunteer(api, center, username=None, password="li-pass-123", **fields):
    return api.post("/api/v1/volunteers", dict({
        "community_id": center["community_id"], "name": "王芳", "phone": fresh_phone(),
        "username": username or fresh(), "password": password}, **fields), token=center["staff"])


def sign_in(api, username, password="li-pass-123"):
    return api.post(TOKEN, {"username": username, "password": password})


def test_failed_logins_lock_the_account_even_for_the_right_password(api, center):
    username = fresh()
    assert new_volunteer(api, center, username).status_code == 201
    for _ in range(5):
        error_of(sign_in(api, username, "wrong-password"), 401, "invalid_credentials")
    locked = sign_in(api, username)
    error_of(locked, 429, "too_many_attempts")
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    error_of(sign_in(api, username.upper()), 429, "too_many_attempts")


def test_a_long_password_is_the_same_401_for_a_known_and_an_unknown_user(api, center):
    known = sign_in(api, f"li{center['suffix']}", LONG_PASSWORD)
    unknown = sign_in(api, fresh("nobody"), LONG_PASSWORD)
    error_of(known, 401, "invalid_credentials")
    assert known.json() == unknown.json()


def test_a_password_over_72_bytes_is_refused_at_registration(api, center, admin):
    error = error_of(new_volunteer(api, center, password=LONG_PASSWORD), 400, "invalid_input")
    assert "password" in error["fields"]
    error = error_of(api.post("/api/v1/users", {
        "username": fresh(), "password": "时" * 25, "role": "center_staff",
        "center_id": center["center_id"]}, token=admin), 400, "invalid_input")
    assert "password" in error["fields"]


def test_usernames_and_community_codes_clash_regardless_of_case(api, center, admin):
    username = fresh("Li")
    assert new_volunteer(api, center, username).json()["username"] == username.lower()
    error_of(new_volunteer(api, center, username.upper()), 409, "username_taken")
    error_of(api.post("/api/v1/users", {"username": username.swapcase(),
                                        "password": "staff-pass-1", "role": "center_staff",
                                        "center_id": center["center_id"]}, token=admin),
             409, "username_taken")
    assert sign_in(api, username.upper()).status_code == 200

    code = fresh("XH")
    api.created("/api/v1/communities", {"name": "新华社区", "code": code}, admin)
    error_of(api.post("/api/v1/communities", {"name": "新华社区", "code": code.lower()},
                      token=admin), 409, "code_taken")


@pytest.mark.parametrize("bad", ["\x00", "\u202e", "\u2067", "\x1b[31m", "\x85",
                                 "\u200b", "\u200e", "\u200f", "\u061c", "\ufeff"])
def test_names_with_control_characters_are_400_naming_the_field(api, center, admin, bad):
    error = error_of(new_volunteer(api, center, name=f"王{bad}芳"), 400, "invalid_input")
    assert list(error["fields"]) == ["name"]
    error = error_of(api.post("/api/v1/communities", {"name": f"社区{bad}", "code": fresh()},
                              token=admin), 400, "invalid_input")
    assert list(error["fields"]) == ["name"]


@pytest.mark.parametrize("name", ["\u200b\u200b", " \u200d "])
def test_a_name_that_shows_nothing_is_400_naming_it(api, center, name):
    error = error_of(new_volunteer(api, center, name=name), 400, "invalid_input")
    assert list(error["fields"]) == ["name"]


def test_a_volunteer_token_registers_no_volunteer_in_any_community(api, center, admin):
    other_community = new_community(api, admin)[0]
    for community_id in (center["community_id"], other_community["id"]):
        error_of(new_volunteer(api, dict(center, community_id=community_id,
                                         staff=center["volunteer"])), 403, "forbidden")


def test_a_signed_out_token_is_401(api, center):
    username = fresh()
    new_volunteer(api, center, username)
    token, other = api.login(username, "li-pass-123"), api.login(username, "li-pass-123")
    assert api.post("/api/v1/auth/logout", token=token).status_code == 200
    error_of(api.get("/api/v1/rewards", token=token), 401, "token_revoked")
    assert api.get("/api/v1/rewards", token=other).status_code == 200


def test_a_password_change_ends_the_old_tokens(api, center):
    username = fresh()
    new_volunteer(api, center, username)
    token, other = api.login(username, "li-pass-123"), api.login(username, "li-pass-123")
    error_of(api.post("/api/v1/auth/password", {"old_password": "wrong-password",
                                                "new_password": "new-pass-456"}, token=token),
             400, "invalid_input")
    changed = api.post("/api/v1/auth/password", {"old_password": "li-pass-123",
                                                 "new_password": "new-pass-456"}, token=token)
    assert changed.status_code == 200, changed.text
    for old in (token, other):
        error_of(api.get("/api/v1/rewards", token=old), 401, "token_revoked")
    assert api.get("/api/v1/rewards", token=changed.json()["access_token"]).status_code == 200
    error_of(sign_in(api, username), 401, "invalid_credentials")
    assert api.get("/api/v1/rewards", token=api.login(username, "new-pass-456")).status_code == 200


def test_disabling_a_user_ends_their_tokens(api, center, admin):
    username = fresh()
    new_volunteer(api, center, username)
    token = api.login(username, "li-pass-123")
    error_of(api.post(f"/api/v1/users/{username}/disable", token=token), 403, "forbidden")
    disabled = api.post(f"/api/v1/users/{username.upper()}/disable", token=admin)
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True, disabled.text
    error_of(api.get("/api/v1/rewards", token=token), 401, "token_revoked")
    error_of(sign_in(api, username), 403, "account_disabled")
    error_of(api.post(f"/api/v1/users/{fresh('nobody')}/disable", token=admin), 404, "not_found")
