"""The gateway on the real broker and store when one of them drops (issue 5, items 3 and 15).

The shared RabbitMQ and docstore stay up (others use them): the gateway reaches one of them
through a TCP link this test runs and cuts, so to the gateway the dependency is gone (connections
dropped, new ones refused) while the volunteer service keeps working. A dependency that is down
answers 503 with Retry-After; a retry with the same Idempotency-Key afterwards returns the
outcome of the first request, which took effect once.
"""
import socket
import uuid
from urllib.parse import urlsplit, urlunsplit

import eventlet
import pytest
import requests
from nameko.rpc import rpc

from services.gateway.auth import Tokens
from services.gateway.service import GatewayService
from services.volunteer.service import VolunteerService
from tests.support import free_port, integration_amqp_uri, mongo_url, wait_until

SECRET = "integration-token-secret-of-at-least-32-bytes"
ADMIN = {"user_id": "admin", "role": "admin", "subject_id": "admin", "community_id": None,
         "center_id": None, "merchant_id": None}
# Short deadlines: a claim whose request got no answer goes stale after 2 × 3 s.
DEADLINES = {"RPC_TIMEOUT_SECONDS": 2, "GATEWAY_RPC_TIMEOUT_SECONDS": 3}


class Link:
    """A TCP port that forwards to ``target`` until cut; cut, it drops and refuses connections."""

    def __init__(self, target):
        self.target = target
        self.port = free_port()
        self.sockets = set()
        self.is_cut = True
        self.restore()

    def restore(self):
        if self.is_cut:
            self.listener = eventlet.listen(("127.0.0.1", self.port))
            self.accepting = eventlet.spawn(self._accept, self.listener)
            self.is_cut = False

    def cut(self):
        self.is_cut = True
        self.accepting.kill()
        self.listener.close()
        for sock in list(self.sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)  # its pipes see the end and close both sides
            except OSError:
                pass

    def _accept(self, listener):
        while True:
            client, _ = listener.accept()
            upstream = eventlet.connect(self.target)
            self.sockets.update((client, upstream))
            eventlet.spawn(self._pipe, client, upstream)
            eventlet.spawn(self._pipe, upstream, client)

    def _pipe(self, source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except (OSError, EOFError):  # the other side is gone
            pass
        finally:
            for sock in (source, sink):
                self.sockets.discard(sock)
                sock.close()


def through(url, link):
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    netloc[-1] = f"127.0.0.1:{link.port}"
    return urlunsplit(parts._replace(netloc="@".join(netloc)))


@pytest.fixture
def link_to():
    """link_to(url) -> a Link to that server; restored at the end, so containers can stop."""
    links = []

    def make(url):
        parts = urlsplit(url)
        links.append(Link((parts.hostname, parts.port)))
        return links[-1]
    yield make
    for link in links:
        link.restore()


class Gateway:
    def __init__(self, container):
        self.base = f"http://{container.config['WEB_SERVER_ADDRESS']}/api/v1"
        self.token = Tokens(SECRET).issue(ADMIN)[0]

    def create_community(self, body, key):
        return requests.post(f"{self.base}/communities", json=body, timeout=30, headers={
            "Authorization": f"Bearer {self.token}", "Idempotency-Key": key})


@pytest.fixture
def gateway(start):
    def start_gateway(**overrides):
        return Gateway(start(GatewayService, TIMEBANK_TOKEN_SECRET=SECRET, **DEADLINES,
                             METRICS_SERVER_ADDRESS=f"127.0.0.1:{free_port()}", **overrides))
    return start_gateway


def community():
    return {"name": "新华社区", "code": f"xh{uuid.uuid4().hex[:10]}"}


def assert_unavailable(response):
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "service_unavailable"
    assert int(response.headers["Retry-After"]) >= 1


def retried_until_decided(gateway, body, key):
    """Retry as a client told 409 request_in_progress would, until the key has an outcome."""
    def decided():
        response = gateway.create_community(body, key)
        return response if response.status_code != 409 else None
    return wait_until(decided, timeout=60, interval=0.5, message="an outcome for the key")


def test_broker_gone_is_503_and_the_retry_creates_once(start, gateway, store, link_to):
    start(VolunteerService, **DEADLINES)
    broker = link_to(integration_amqp_uri())
    api = gateway(AMQP_URI=through(integration_amqp_uri(), broker))
    body, key = community(), uuid.uuid4().hex
    linked = api.create_community(community(), uuid.uuid4().hex)
    assert linked.status_code == 201, linked.text

    broker.cut()
    assert_unavailable(api.create_community(body, key))

    broker.restore()
    created = retried_until_decided(api, body, key)
    assert created.status_code == 201, created.text
    stored = store("volunteer").communities.find({"code": body["code"]})
    assert [doc["_id"] for doc in stored] == [created.json()["id"]]


class VolunteerWhileTheGatewaysStoreDrops(VolunteerService):
    """The volunteer service, but the gateway's store drops once the first community is made."""
    store_link = None

    @rpc
    def create_community(self, actor, body, request_key=None):
        created = super().create_community(actor, body, request_key)
        link, type(self).store_link = type(self).store_link, None
        if link is not None:
            link.cut()
        return created


def test_store_dropping_during_a_request_is_503_and_the_retry_returns_it_once(
        start, gateway, store, link_to):
    docstore = link_to(mongo_url())
    VolunteerWhileTheGatewaysStoreDrops.store_link = docstore
    start(VolunteerWhileTheGatewaysStoreDrops, **DEADLINES)
    api = gateway(MONGO_URL=through(mongo_url(), docstore))
    body, key = community(), uuid.uuid4().hex

    assert_unavailable(api.create_community(body, key))  # made, but its outcome not stored
    assert store("volunteer").communities.count_documents({"code": body["code"]}) == 1

    docstore.restore()
    created = retried_until_decided(api, body, key)
    assert created.status_code == 201, created.text
    stored = list(store("volunteer").communities.find({"code": body["code"]}))
    assert [doc["_id"] for doc in stored] == [created.json()["id"]]
    again = api.create_community(body, key)
    assert (again.status_code, again.json()) == (201, created.json())
