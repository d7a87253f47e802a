"""The MongoDB adapter every service uses: one client per container, one database per service.

A service declares ``store = MongoStore("points", PointsStore)``; workers get a ``PointsStore``
(a small object with domain methods over that database), never the raw client.
"""
import logging

import pymongo
from nameko.extensions import DependencyProvider
from pymongo.errors import DuplicateKeyError, PyMongoError

from services.shared.config import db_name
from services.shared.errors import NotFound

log = logging.getLogger(__name__)

# Fail fast when the store is unreachable: a request should answer 503 in seconds, not hang.
CLIENT_OPTIONS = dict(serverSelectionTimeoutMS=5000, connectTimeoutMS=5000, tz_aware=True)


def connect(mongo_url):
    return pymongo.MongoClient(mongo_url, **CLIENT_OPTIONS)


class MongoStore(DependencyProvider):
    def __init__(self, service, wrapper):
        self.service = service
        self.wrapper = wrapper
        self.client = None
        self.store = None

    def setup(self):
        config = self.container.config
        self.client = connect(config["MONGO_URL"])
        self.store = self.wrapper(self.client[db_name(config, self.service)])

    def start(self):
        # Indexes are part of correctness (unique keys), so a service does not serve without them.
        self.store.ensure_indexes()

    def stop(self):
        self.client.close()

    def kill(self):
        self.client.close()

    def get_dependency(self, worker_ctx):
        return self.store


def ping(client):
    """True when the store answers, for readiness checks."""
    try:
        client.admin.command("ping")
        return True
    except PyMongoError as exc:
        log.warning("store ping failed: %s", exc)
        return False


def get_or_404(collection, doc_id, what):
    """The document with ``_id`` doc_id, or NotFound naming ``what``."""
    doc = collection.find_one({"_id": doc_id})
    if doc is None:
        raise NotFound(f"{what} {doc_id} not found")
    return doc


def insert_or_replay(collection, doc):
    """Insert ``doc``; when its ``_id`` exists (a retried request), return the stored one.

    Returns (document, created). The stored document is None when the insert clashed on another
    unique key than ``_id``.
    """
    try:
        collection.insert_one(doc)
        return doc, True
    except DuplicateKeyError:
        return collection.find_one({"_id": doc["_id"]}), False
