"""Helpers every test tier shares."""
import os
import random
import socket
import time

import pymongo

LOCAL_TEST_AMQP = "amqp://guest:guest@127.0.0.1:5672/timebank-test"


def wait_until(predicate, timeout=15.0, interval=0.05, message="condition"):
    """Poll ``predicate`` until it returns a truthy value (returned) or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} not met within {timeout:g}s (last: {value!r})")
        time.sleep(interval)


def fresh_phone():
    """A mainland mobile number no other test used: one number is one volunteer per community."""
    return f"139{random.randrange(10 ** 8):08d}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def integration_amqp_uri():
    """The broker for integration tests: a vhost of their own unless told otherwise."""
    return os.environ.get("TEST_AMQP_URI") or os.environ.get("AMQP_URI") or LOCAL_TEST_AMQP


def mongo_url():
    return os.environ.get("MONGO_URL") or "mongodb://127.0.0.1:27017/"


class TouchedDatabases(pymongo.monitoring.CommandListener):
    """Records every database a command of this process is sent to, so a test can drop its own
    databases by name. Listing them instead (listDatabases) makes FerretDB compute every
    database's size: its cost grows with the whole store, and on a store busy with other
    writers it waits on their locks for minutes."""

    def __init__(self):
        self.names = set()

    def started(self, event):
        self.names.add(event.database_name)

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass

    def drop_prefixed(self, prefix):
        """Drop every database touched so far whose name starts with ``prefix_``."""
        client = pymongo.MongoClient(mongo_url())
        try:
            for name in sorted(n for n in self.names if n.startswith(prefix + "_")):
                client.drop_database(name)
        finally:
            client.close()


# Registered once, before any client is made: pymongo gives global listeners to the clients
# created after registration, service containers' clients included (they run in this process).
TOUCHED_DATABASES = TouchedDatabases()
pymongo.monitoring.register(TOUCHED_DATABASES)
