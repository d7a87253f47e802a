"""The gateway's sign-in routes (issue 5, items 12 and 14) with worker_factory: the volunteer
service is a mock, the gateway's own session store the in-memory fake."""
import json

import pytest
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder

from services.gateway.auth import Sessions, Tokens
from services.gateway.service import GatewayService
from services.shared.errors import Unauthenticated
from tests.unit.fakes import FakeDatabase

LI = {"user_id": "li", "role": "volunteer", "subject_id": "vol_1", "community_id": "com_1",
      "center_id": None, "merchant_id": None}
ADMIN = {"user_id": "admin", "role": "admin", "subject_id": "admin", "community_id": None,
         "center_id": None, "merchant_id": None}


@pytest.fixture
def gateway():
    return worker_factory(GatewayService, tokens=Tokens("unit-test-secret-of-at-least-32-bytes",
                                                        Sessions(FakeDatabase())))


def request(token=None, body=None, path="/api/v1/x", remote_addr="10.1.2.3", headers=()):
    headers = dict(headers)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return EnvironBuilder(path=path, method="POST", headers=headers,
                          data=json.dumps(body) if body is not None else None,
                          environ_base={"REMOTE_ADDR": remote_addr}).get_request()


def sign_in(gateway, principal):
    gateway.volunteer.authenticate.return_value = principal
    response = gateway.issue_token(request(body={"username": principal["user_id"],
                                                 "password": "pw"}))
    return json.loads(response.data)["access_token"]


def refused(gateway, token):
    with pytest.raises(Unauthenticated) as caught:
        gateway.tokens.actor(request(token))
    return caught.value.code


def test_the_volunteer_service_hears_the_peer_address_not_x_forwarded_for(gateway):
    gateway.volunteer.authenticate.return_value = LI
    gateway.issue_token(request(body={"username": "li", "password": "pw"},
                                headers={"X-Forwarded-For": "1.1.1.1"}))
    assert gateway.volunteer.authenticate.call_args.args == ("li", "pw", "10.1.2.3")
    gateway.volunteer.register_volunteer.return_value = {"id": "vol_2"}
    gateway.register_volunteer(request(body={
        "community_id": "com_1", "name": "n", "phone": "13800000000", "username": "self1",
        "password": "li-pass-123"}))
    assert gateway.volunteer.register_volunteer.call_args.args[3] == "10.1.2.3"


def test_sign_out_ends_the_presented_token_only(gateway):
    token, other = sign_in(gateway, LI), sign_in(gateway, LI)
    assert json.loads(gateway.sign_out(request(token)).data) == {"signed_out": True}
    assert refused(gateway, token) == "token_revoked"
    assert gateway.tokens.actor(request(other)) == LI


def test_a_password_change_ends_every_earlier_token_and_answers_a_new_one(gateway):
    old, other = sign_in(gateway, LI), sign_in(gateway, LI)
    gateway.volunteer.change_password.return_value = LI
    response = gateway.change_password(request(old, {"old_password": "li-pass-123",
                                                     "new_password": "new-pass-456"}))
    assert gateway.volunteer.change_password.call_args.args[0] == LI
    assert refused(gateway, old) == refused(gateway, other) == "token_revoked"
    fresh = json.loads(response.data)["access_token"]
    assert gateway.tokens.actor(request(fresh)) == LI
    assert gateway.tokens.actor(request(sign_in(gateway, LI))) == LI


def test_disabling_a_user_ends_their_tokens(gateway):
    admin, li = sign_in(gateway, ADMIN), sign_in(gateway, LI)
    gateway.volunteer.disable_user.return_value = {"id": "li", "username": "li",
                                                   "disabled": True}
    response = gateway.disable_user(request(admin), "li")
    assert json.loads(response.data)["disabled"] is True
    assert refused(gateway, li) == "token_revoked"
    assert gateway.tokens.actor(request(admin)) == ADMIN


class GatewayDied(BaseException):
    """The gateway process dies (nothing in it can catch a SIGKILL)."""


def test_old_tokens_end_even_if_the_gateway_dies_right_after_the_password_changed(
        gateway, monkeypatch):
    old = sign_in(gateway, LI)
    gateway.volunteer.change_password.return_value = LI

    def die(user_id, reason):
        raise GatewayDied()
    monkeypatch.setattr(gateway.tokens.sessions, "end_all", die)
    with pytest.raises(GatewayDied):  # the password changed; the tokens were not ended yet
        gateway.change_password(request(old, {"old_password": "li-pass-123",
                                              "new_password": "new-pass-456"}))
    monkeypatch.undo()
    assert gateway.tokens.actor(request(old)) == LI  # until recovery runs
    sessions = gateway.tokens.sessions
    monkeypatch.setattr(sessions.endings, "stalled", lambda: [
        m["_id"] for m in sessions.endings.collection.find({})])  # as if 30 s had passed
    gateway.end_stalled_token_endings()
    assert refused(gateway, old) == "token_revoked"
    assert sessions.endings.collection.find_one({}) is None


def test_a_refused_password_change_ends_no_token(gateway):
    from services.shared.errors import InvalidInput
    token = sign_in(gateway, LI)
    gateway.volunteer.change_password.side_effect = InvalidInput(
        "the old password is wrong", fields={"old_password": ["does not match"]})
    with pytest.raises(InvalidInput):
        gateway.change_password(request(token, {"old_password": "wrong-pass-1",
                                                "new_password": "new-pass-456"}))
    assert gateway.tokens.actor(request(token)) == LI
    assert gateway.tokens.sessions.endings.collection.find_one({}) is None


def test_a_disable_whose_answer_was_lost_still_ends_the_tokens(gateway, monkeypatch):
    from services.shared.errors import ServiceUnavailable
    admin, li = sign_in(gateway, ADMIN), sign_in(gateway, LI)
    gateway.volunteer.disable_user.side_effect = ServiceUnavailable("no answer in time")
    with pytest.raises(ServiceUnavailable):
        gateway.disable_user(request(admin), "LI")  # any case names the same login
    sessions = gateway.tokens.sessions
    monkeypatch.setattr(sessions.endings, "stalled", lambda: [
        m["_id"] for m in sessions.endings.collection.find({})])
    gateway.end_stalled_token_endings()
    assert refused(gateway, li) == "token_revoked"
    assert gateway.tokens.actor(request(admin)) == ADMIN


def test_a_login_with_the_old_password_racing_a_password_change_is_ended_by_it(gateway):
    """The old password is checked; before the login's token is made, the change lands and
    ends the user's tokens. The login's token must be one of those it ends."""
    def authenticate_while_the_password_changes(username, password, address):
        gateway.tokens.sessions.end_all("li", "password_changed")  # the change finishes now
        return LI
    gateway.volunteer.authenticate.side_effect = authenticate_while_the_password_changes
    response = gateway.issue_token(request(body={"username": "Li", "password": "old-pass"}))
    assert refused(gateway, json.loads(response.data)["access_token"]) == "token_revoked"
