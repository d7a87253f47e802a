import datetime as dt

import pytest
from werkzeug.test import EnvironBuilder

from services.gateway.auth import TOKEN_LIFETIME, Tokens
from services.shared.errors import Unauthenticated

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
STAFF = {"user_id": "usr_1", "role": "center_staff", "subject_id": None,
         "community_id": "com_1", "center_id": "ctr_1", "merchant_id": None}
ADMIN = {"user_id": "usr_0", "role": "admin", "subject_id": None, "community_id": None,
         "center_id": None, "merchant_id": None}


def request_with(authorization=None):
    headers = {"Authorization": authorization} if authorization is not None else {}
    return EnvironBuilder(headers=headers).get_request()


def refused(tokens, authorization):
    with pytest.raises(Unauthenticated) as caught:
        tokens.actor(request_with(authorization))
    assert caught.value.status == 401
    return caught.value.code


def test_issued_token_names_its_principal():
    tokens = Tokens(SECRET)
    token, expires_at = tokens.issue(STAFF)
    assert tokens.actor(request_with(f"Bearer {token}")) == STAFF
    assert tokens.actor(request_with(f"bearer {token}")) == STAFF
    remaining = expires_at - dt.datetime.now(dt.timezone.utc)
    assert TOKEN_LIFETIME - dt.timedelta(minutes=1) < remaining <= TOKEN_LIFETIME


def test_missing_header():
    tokens = Tokens(SECRET)
    assert refused(tokens, None) == "unauthenticated"
    assert tokens.actor(request_with(), required=False) is None


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwdw==", "Bearer", "Token abc"])
def test_wrong_scheme_is_refused(authorization):
    refused(Tokens(SECRET), authorization)


def test_tampered_token_is_invalid():
    tokens = Tokens(SECRET)
    staff_header, _, staff_signature = tokens.issue(STAFF)[0].rpartition(".")
    admin_header = tokens.issue(ADMIN)[0].rpartition(".")[0]
    assert refused(tokens, f"Bearer {admin_header}.{staff_signature}") == "invalid_token"
    assert refused(tokens, "Bearer not.a.jwt") == "invalid_token"


def test_token_of_another_secret_is_invalid():
    token, _ = Tokens("another-secret-that-is-also-long-enough-xx").issue(STAFF)
    assert refused(Tokens(SECRET), f"Bearer {token}") == "invalid_token"


def test_expired_token():
    tokens = Tokens(SECRET)
    issued = dt.datetime.now(dt.timezone.utc) - TOKEN_LIFETIME - dt.timedelta(minutes=1)
    token, expires_at = tokens.issue(STAFF, now=issued)
    assert expires_at < dt.datetime.now(dt.timezone.utc)
    assert refused(tokens, f"Bearer {token}") == "token_expired"


def test_token_nearly_expired_still_works():
    tokens = Tokens(SECRET)
    issued = dt.datetime.now(dt.timezone.utc) - TOKEN_LIFETIME + dt.timedelta(minutes=1)
    token, _ = tokens.issue(STAFF, now=issued)
    assert tokens.actor(request_with(f"Bearer {token}")) == STAFF
