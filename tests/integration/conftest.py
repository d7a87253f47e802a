"""Integration tier: service containers on the real RabbitMQ (a test vhost) and the real store.

Each test gets databases of its own (a fresh DB prefix), dropped afterwards.
"""
import uuid

import pymongo
import pytest
from amqp.exceptions import NotFound
from kombu import Connection
from nameko.events import EventHandler
from nameko.standalone.rpc import ClusterRpcProxy

from tests.support import TOUCHED_DATABASES, free_port, integration_amqp_uri, mongo_url


@pytest.fixture
def db_prefix():
    prefix = f"it{uuid.uuid4().hex[:10]}"
    yield prefix
    TOUCHED_DATABASES.drop_prefixed(prefix)


@pytest.fixture
def service_config(db_prefix):
    """A fresh config per container: each gets its own web server port."""
    def make(**overrides):
        config = {
            "AMQP_URI": integration_amqp_uri(),
            "MONGO_URL": mongo_url(),
            "DB_PREFIX": db_prefix,
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
            "RPC_TIMEOUT_SECONDS": 10,
            "BCRYPT_ROUNDS": 4,
            "TIMEBANK_ADMIN_PASSWORD": "integration-admin-pw",
            "max_workers": 20,
        }
        config.update(overrides)
        return config
    return make


def purge_event_queues(container):
    """Empty the durable queues the container's event handlers will consume.

    Every test shares the test vhost, and a queue outlives the container that declared it: an
    event another test published while no consumer ran would otherwise reach this test's service
    (with this test's database) and muddle what it counts.
    """
    handlers = [e for e in container.entrypoints if isinstance(e, EventHandler)]
    if not handlers:
        return
    with Connection(container.config["AMQP_URI"]) as connection:
        for handler in handlers:
            name = (f"evt-{handler.source_service}-{handler.event_type}--"
                    f"{container.service_name}.{handler.method_name}")
            channel = connection.channel()
            try:
                channel.queue_purge(name)
            except NotFound:
                pass  # not declared yet: nothing left over
            finally:
                if channel.is_open:  # NotFound closes the channel on the broker's side
                    channel.close()


@pytest.fixture
def start(db_prefix, container_factory, service_config):
    """start(ServiceClass) -> a running container on the real broker and store.

    The containers are killed when this fixture ends, before ``db_prefix`` drops their
    databases: nameko's autouse ``fast_teardown`` makes ``container_factory`` the last fixture
    torn down, and a timer of a container still running would write a dropped database back."""
    started = []

    def start_service(cls, **overrides):
        container = container_factory(cls, service_config(**overrides))
        purge_event_queues(container)
        container.start()
        started.append(container)
        return container
    yield start_service
    for container in started:
        container.kill()


@pytest.fixture
def rpc(service_config):
    with ClusterRpcProxy(service_config(), timeout=30) as proxy:
        yield proxy


@pytest.fixture
def store(db_prefix):
    """Direct access to a service's database, for assertions on what was stored."""
    client = pymongo.MongoClient(mongo_url(), tz_aware=True)
    yield lambda service: client[f"{db_prefix}_{service}"]
    client.close()


ADMIN = {"user_id": "admin", "role": "admin"}
