import datetime as dt

import jwt
import pytest
from pymongo.errors import ServerSelectionTimeoutError
from werkzeug.test import EnvironBuilder

from services.gateway.auth import TOKEN_LIFETIME, Sessions, Tokens
from services.shared.errors import ServiceUnavailable, Unauthenticated
from tests.unit.fakes import FakeDatabase

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


# --- item 14: tokens that end before they expire ---------------------------------------------

@pytest.fixture
def sessions():
    return Sessions(FakeDatabase())


def test_a_token_names_itself_and_the_users_token_generation(sessions):
    tokens = Tokens(SECRET, sessions)
    token, _ = tokens.issue(STAFF, generation=3)
    claims = tokens.claims(request_with(f"Bearer {token}"))
    assert claims["gen"] == 3 and len(claims["jti"]) == 32
    assert tokens.issue(STAFF)[0] != tokens.issue(STAFF)[0]  # each token its own jti


def test_a_signed_out_token_is_revoked_and_others_still_work(sessions):
    tokens = Tokens(SECRET, sessions)
    first, second = tokens.issue_for(STAFF)[0], tokens.issue_for(STAFF)[0]
    tokens.sign_out(request_with(f"Bearer {first}"))
    assert refused(tokens, f"Bearer {first}") == "token_revoked"
    assert tokens.actor(request_with(f"Bearer {second}")) == STAFF
    # Another gateway process, sharing only the database, refuses it too.
    assert refused(Tokens(SECRET, sessions), f"Bearer {first}") == "token_revoked"


def test_ending_a_users_tokens_ends_all_issued_before(sessions):
    tokens = Tokens(SECRET, sessions)
    before = [tokens.issue_for(STAFF)[0] for _ in range(2)]
    other_user = tokens.issue_for(ADMIN)[0]
    assert sessions.end_all(STAFF["user_id"], "password_changed") == 1
    for token in before:
        assert refused(tokens, f"Bearer {token}") == "token_revoked"
    after = tokens.issue_for(STAFF)[0]
    assert tokens.actor(request_with(f"Bearer {after}")) == STAFF
    assert tokens.actor(request_with(f"Bearer {other_user}")) == ADMIN
    sessions.end_all(STAFF["user_id"], "disabled")
    assert refused(tokens, f"Bearer {after}") == "token_revoked"


def test_a_token_from_before_jti_and_gen_can_still_sign_out(sessions):
    legacy = jwt.encode({"sub": "usr_1", "role": "center_staff",
                         "exp": dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)},
                        SECRET, algorithm="HS256")
    tokens = Tokens(SECRET, sessions)
    assert tokens.actor(request_with(f"Bearer {legacy}"))["user_id"] == "usr_1"
    tokens.sign_out(request_with(f"Bearer {legacy}"))
    assert refused(tokens, f"Bearer {legacy}") == "token_revoked"


class UnreachableCollection:
    def find_one(self, *args, **kwargs):
        raise ServerSelectionTimeoutError("no store")


def test_an_unreachable_session_store_is_503_not_500():
    tokens = Tokens(SECRET, Sessions(FakeDatabase(revoked_tokens=UnreachableCollection())))
    token, _ = tokens.issue(STAFF)
    with pytest.raises(ServiceUnavailable):
        tokens.actor(request_with(f"Bearer {token}"))
