"""The gateway when a dependency is down or slow (issue 5, items 3, 4, 15 and 13's key scope).

The handlers run with worker_factory; what they call is either a mock that raises what the real
library raises, or the real TimedServiceProxy over a stand-in for nameko's proxy. Errors are
answered by ``response_for_error``, as the gateway's HTTP handler does.
"""
import datetime as dt
import json
import socket
from types import SimpleNamespace

import amqp.exceptions
import eventlet
import kombu.exceptions
import pytest
from eventlet.event import Event
from nameko.exceptions import RemoteError, deserialize, serialize
from nameko.testing.services import worker_factory
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError
from werkzeug.test import EnvironBuilder

from services.gateway import idempotency
from services.gateway.auth import Tokens
from services.gateway.idempotency import STALE_CLAIM, IdempotencyStore
from services.gateway.service import GatewayService
from services.shared import errors
from services.shared.rpc import TimedServiceProxy
from services.shared.web import response_for_error
from tests.unit.fakes import FakeCollection, FakeDatabase

ADMIN = {"user_id": "admin", "role": "admin", "subject_id": "admin", "community_id": None,
         "center_id": None, "merchant_id": None}
COMMUNITY = {"name": "新华社区", "code": "xinhua"}
REFUSED = "127.0.0.1:27017: [Errno 111] Connection refused"


class DroppingCollection(FakeCollection):
    """A collection of a store that can drop: every operation fails while ``down``."""

    def __init__(self):
        super().__init__()
        self.down = False

    def _reach(self):
        if self.down:
            raise ServerSelectionTimeoutError(REFUSED)

    def insert_one(self, doc):
        self._reach()
        return super().insert_one(doc)

    def find_one(self, query=None, projection=None):
        self._reach()
        return super().find_one(query, projection)

    def replace_one(self, query, replacement, upsert=False):
        self._reach()
        return super().replace_one(query, replacement, upsert)

    def delete_one(self, query):
        self._reach()
        return super().delete_one(query)


class Communities:
    """Stands in for the volunteer service: like it, derives the record from the request key."""

    def __init__(self):
        self.records = {}
        self.request_keys = []

    def create_community(self, actor, body, request_key):
        self.request_keys.append(request_key)
        number = len(self.records) + 1
        return self.records.setdefault(request_key, dict(body, id=f"com_{number}"))


class Clock:
    """The idempotency records' clock, moved by the test."""

    def __init__(self):
        self.at = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.timezone.utc)

    def __call__(self):
        return self.at

    def advance(self, by):
        self.at += by


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(idempotency, "now", clock)
    return clock


@pytest.fixture
def requests_store():
    return DroppingCollection()


@pytest.fixture
def gateway(requests_store, clock):
    return make_gateway(requests_store)


def make_gateway(requests_store, **dependencies):
    return worker_factory(
        GatewayService, tokens=Tokens("unit-test-secret-of-at-least-32-bytes"),
        idempotency=IdempotencyStore(FakeDatabase(idempotent_requests=requests_store)),
        **dependencies)


def request(gateway, body, key=None, principal=ADMIN, path="/api/v1/communities"):
    headers = {"Content-Type": "application/json"}
    if principal is not None:
        headers["Authorization"] = f"Bearer {gateway.tokens.issue(principal)[0]}"
    if key:
        headers["Idempotency-Key"] = key
    return EnvironBuilder(path=path, method="POST", headers=headers,
                          data=json.dumps(body)).get_request()


def answer(handler, req):
    """What the client gets: the handler's response, or its error as the HTTP handler maps it."""
    try:
        return handler(req)
    except Exception as exc:  # noqa: BLE001 - every error becomes a response, as in the server
        return response_for_error(exc)


def status_code_and_retry_after(response):
    return response.status_code, json.loads(response.data).get("error", {}).get("code"), \
        response.headers.get("Retry-After")


def over_the_wire(exc):
    return deserialize(json.loads(json.dumps(serialize(exc))))


# --- item 15: a dependency that is down is 503 with Retry-After, never 500 --------------------

@pytest.mark.parametrize("broker_error", [
    kombu.exceptions.OperationalError("[Errno 111] Connection refused"),
    amqp.exceptions.ConnectionForced("(0, 0): (320) CONNECTION_FORCED - broker shutdown"),
    ConnectionRefusedError(111, "Connection refused"),
    socket.timeout("timed out"),
], ids=["kombu-operational", "amqp-connection-forced", "refused", "socket-timeout"])
@pytest.mark.parametrize("key", [None, "k-broker"])
def test_a_broker_that_is_down_is_503_with_retry_after(gateway, broker_error, key):
    gateway.volunteer.create_community.side_effect = broker_error
    response = answer(gateway.create_community, request(gateway, COMMUNITY, key))
    status, code, retry_after = status_code_and_retry_after(response)
    assert (status, code) == (503, "service_unavailable")
    assert int(retry_after) >= 1
    assert "Errno" not in response.get_data(as_text=True)


@pytest.mark.parametrize("remote_type", ["OperationalError", "ConnectionForced",
                                         "ServerSelectionTimeoutError", "Contended"])
def test_a_dependency_down_inside_a_service_is_503_with_retry_after(gateway, remote_type):
    gateway.volunteer.create_community.side_effect = RemoteError(remote_type, "down")
    response = answer(gateway.create_community, request(gateway, COMMUNITY, "k-remote"))
    assert status_code_and_retry_after(response)[0::2] == (503, "5")


def test_a_store_down_before_the_request_is_503_and_runs_nothing(gateway, requests_store):
    requests_store.down = True
    response = answer(gateway.create_community, request(gateway, COMMUNITY, "k-store"))
    assert status_code_and_retry_after(response) == (503, "service_unavailable", "5")
    gateway.volunteer.create_community.assert_not_called()


def test_a_store_that_drops_during_the_request_is_503_and_the_retry_finds_the_outcome(
        gateway, requests_store, clock):
    """The work is done but its outcome cannot be stored: 503; the retry returns that work."""
    communities = Communities()

    def create_then_store_drops(*args):
        created = communities.create_community(*args)
        requests_store.down = True
        return created

    gateway.volunteer.create_community.side_effect = create_then_store_drops
    first = answer(gateway.create_community, request(gateway, COMMUNITY, "k-drop"))
    assert status_code_and_retry_after(first)[:2] == (503, "service_unavailable")
    assert first.headers.get("Retry-After")

    requests_store.down = False
    gateway.volunteer.create_community.side_effect = communities.create_community
    clock.advance(STALE_CLAIM)  # the first run is surely over
    retried = answer(gateway.create_community, request(gateway, COMMUNITY, "k-drop"))
    assert retried.status_code == 201
    assert json.loads(retried.data) == {**COMMUNITY, "id": "com_1"}
    assert len(communities.records) == 1 and len(set(communities.request_keys)) == 1
    replayed = answer(gateway.create_community, request(gateway, COMMUNITY, "k-drop"))
    assert (replayed.status_code, replayed.headers.get("Idempotent-Replay")) == (201, "true")


@pytest.mark.parametrize("store_error", [ServerSelectionTimeoutError(REFUSED),
                                         AutoReconnect("connection reset")])
def test_the_stores_errors_are_503(store_error):
    response = response_for_error(store_error)
    assert status_code_and_retry_after(response) == (503, "service_unavailable", "5")


# --- item 4, HTTP side: Busy over RPC is 503 with Retry-After ---------------------------------

def test_busy_arriving_over_rpc_is_503_with_retry_after(gateway):
    busy = over_the_wire(errors.Busy("item rwd_1 is busy"))
    assert type(busy) is errors.Busy
    gateway.rewards.redeem.side_effect = [busy, {"id": "rdm_1", "status": "confirmed"}]
    body = {"reward_id": "rwd_1", "volunteer_id": "vol_1", "quantity": 1}
    first = answer(gateway.redeem, request(gateway, body, "k-busy", path="/api/v1/redemptions"))
    assert status_code_and_retry_after(first) == (503, "busy", "1")
    # Busy is the service's answer: its run is over, so the retry runs at once.
    again = answer(gateway.redeem, request(gateway, body, "k-busy", path="/api/v1/redemptions"))
    assert again.status_code == 201
    assert gateway.rewards.redeem.call_args_list[0].args[2] == \
        gateway.rewards.redeem.call_args_list[1].args[2]


# --- item 3: one run at a time per key; a retry after an unknown outcome finds the outcome ----

class Unanswered:
    """Stands in for nameko's proxy: requests are sent and no reply ever comes."""

    def __init__(self):
        self.sent = []

    def __getattr__(self, method):
        def call_async(*args):
            self.sent.append((method, args))
            return SimpleNamespace(result=lambda: Event().wait())
        return SimpleNamespace(call_async=call_async)


def test_a_request_that_got_no_reply_keeps_its_claim_until_its_run_is_surely_over(
        requests_store, clock):
    silent = Unanswered()
    gateway = make_gateway(requests_store,
                           volunteer=TimedServiceProxy(silent, "volunteer", timeout=0.01))
    first = answer(gateway.create_community, request(gateway, COMMUNITY, "k-slow"))
    stale_in = int(STALE_CLAIM.total_seconds())
    assert status_code_and_retry_after(first) == (503, "service_unavailable", str(stale_in))

    early = answer(gateway.create_community, request(gateway, COMMUNITY, "k-slow"))
    assert status_code_and_retry_after(early) == (409, "request_in_progress", "1")
    assert len(silent.sent) == 1  # not run beside the first

    clock.advance(STALE_CLAIM)
    communities = Communities()
    gateway.volunteer = SimpleNamespace(create_community=communities.create_community)
    late = answer(gateway.create_community, request(gateway, COMMUNITY, "k-slow"))
    assert late.status_code == 201
    assert communities.request_keys == [silent.sent[0][1][2]]  # the same request key


@pytest.mark.timeout(20)  # greenthreads wait on each other: a bug must fail, not hang
def test_the_originals_late_failure_does_not_free_the_key_of_the_retry_now_running(
        gateway, clock):
    """original runs, goes stale; a retry takes over; the original fails; a third waits."""
    release_original, release_retry = Event(), Event()
    runs = []

    def run(actor, body, request_key):
        runs.append(request_key)
        if len(runs) > 2:  # a third run, beside the retry: what must not happen
            return dict(body, id="com_2")
        outcome = (release_original, release_retry)[len(runs) - 1].wait()
        if isinstance(outcome, Exception):
            raise outcome
        return dict(body, id="com_1")

    gateway.volunteer.create_community.side_effect = run
    send = lambda: answer(gateway.create_community,  # noqa: E731
                          request(gateway, COMMUNITY, "k-race"))
    original = eventlet.spawn(send)
    eventlet.sleep(0)
    assert status_code_and_retry_after(send())[:2] == (409, "request_in_progress")

    clock.advance(STALE_CLAIM)
    retry = eventlet.spawn(send)
    eventlet.sleep(0)
    release_original.send(over_the_wire(errors.ServiceUnavailable("points did not answer")))
    assert original.wait().status_code == 503

    third = send()
    assert status_code_and_retry_after(third)[:2] == (409, "request_in_progress")
    assert len(runs) == 2

    release_retry.send({"ok": True})
    assert retry.wait().status_code == 201
    assert send().status_code == 201 and len(runs) == 2
    assert runs[0] == runs[1]


def test_a_service_that_answers_5xx_lets_the_retry_run_at_once(gateway):
    gateway.volunteer.create_community.side_effect = [
        over_the_wire(errors.ServiceUnavailable("the store is down")), dict(COMMUNITY, id="com_1")]
    first = answer(gateway.create_community, request(gateway, COMMUNITY, "k-5xx"))
    assert first.status_code == 503 and first.headers.get("Retry-After")
    assert answer(gateway.create_community,
                  request(gateway, COMMUNITY, "k-5xx")).status_code == 201


def test_a_throttled_answer_is_not_stored_as_the_keys_outcome(gateway):
    """429 says "not now", not what the request did: the same key may run once the wait is over
    (stored, it would answer 429 for ever, without even a Retry-After)."""
    gateway.volunteer.create_community.side_effect = [
        over_the_wire(errors.TooManyAttempts("too many attempts", retry_after=30)),
        dict(COMMUNITY, id="com_1")]
    first = answer(gateway.create_community, request(gateway, COMMUNITY, "k-429"))
    assert first.status_code == 429 and first.headers.get("Retry-After") == "30"
    assert answer(gateway.create_community,
                  request(gateway, COMMUNITY, "k-429")).status_code == 201


# --- item 13: anonymous callers' keys do not share one scope ----------------------------------

def registration(username):
    return {"community_id": "com_1", "name": "李伟", "phone": "13800000000",
            "username": username, "password": "li-pass-123"}


def test_anonymous_registrations_with_the_same_key_are_separate(gateway):
    gateway.volunteer.register_volunteer.side_effect = \
        lambda actor, body, key, *_: {"id": f"vol_{body['username']}", "username": body["username"]}
    li, wang = [answer(gateway.register_volunteer,
                       request(gateway, registration(username), "1", principal=None,
                               path="/api/v1/volunteers"))
                for username in ("liwei", "wang")]
    assert (li.status_code, wang.status_code) == (201, 201)
    assert json.loads(wang.data)["id"] == "vol_wang"  # not li's record, not a 409
    keys = [c.args[2] for c in gateway.volunteer.register_volunteer.call_args_list]
    assert len(set(keys)) == 2


# --- deadlines: the gateway outwaits the services; a request never starts after its deadline --

class Unreachable:
    """Stands in for nameko's proxy when the broker is gone: sending fails as kombu fails."""

    def __getattr__(self, method):
        def call_async(*args):
            raise kombu.exceptions.OperationalError("[Errno 111] Connection refused")
        return SimpleNamespace(call_async=call_async)


def test_a_send_that_fails_is_unavailable_with_its_outcome_unknown():
    proxy = TimedServiceProxy(Unreachable(), "volunteer", timeout=1)
    with pytest.raises(errors.NoReply) as caught:
        proxy.create_community(ADMIN, COMMUNITY, "idk_1")
    assert caught.value.status == 503 and "Errno" not in caught.value.message


class CalleeStoreDown:
    """Stands in for nameko's proxy when the callee answers that its own store is down."""

    def __getattr__(self, method):
        def call_async(*args):
            return SimpleNamespace(result=lambda: (_ for _ in ()).throw(
                RemoteError("AutoReconnect", "connection closed")))
        return SimpleNamespace(call_async=call_async)


def test_an_outage_two_hops_away_is_still_503(gateway):
    """rewards -> points, the points store down: rewards passes it on as ServiceUnavailable,
    which the gateway answers 503; a RemoteError passed on arrived as a bare "RemoteError" (500).
    """
    proxy = TimedServiceProxy(CalleeStoreDown(), "volunteer", timeout=1)
    with pytest.raises(errors.ServiceUnavailable) as first_hop:
        proxy.get_community("com_1")
    gateway.rewards.create_merchant.side_effect = over_the_wire(first_hop.value)
    response = answer(gateway.create_merchant, request(
        gateway, {"community_id": "com_1", "name": "Bakery"}, path="/api/v1/merchants"))
    assert status_code_and_retry_after(response) == (503, "service_unavailable", "5")


class Container:
    def __init__(self, config):
        self.config = config
        self.shared_extensions = {}


def bound_deadline(proxy_provider, config):
    container = Container(config)  # held: extensions keep only a weak reference
    bound = proxy_provider.bind(container, "dependency")
    bound.setup()
    return bound.timeout, bound.options["expiration"]


@pytest.mark.parametrize("config", [{}, {"RPC_TIMEOUT_SECONDS": 10},
                                    {"RPC_TIMEOUT_SECONDS": 2, "GATEWAY_RPC_TIMEOUT_SECONDS": 3}])
def test_the_gateway_waits_longer_than_the_calls_its_services_make(config):
    from services.rewards.service import RewardsService
    gateway_deadline, gateway_expiry = bound_deadline(GatewayService.rewards, config)
    service_deadline, service_expiry = bound_deadline(RewardsService.points, config)
    assert gateway_deadline > service_deadline
    # a request still queued when its caller gave up expires instead of running late
    assert (gateway_expiry, service_expiry) == (gateway_deadline, service_deadline)
