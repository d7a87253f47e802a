"""Transactional-outbox relay: events are stored with the change, then published with confirms.

"Write to the database, then dispatch the event" loses the event when the process dies between
the two. Instead a service stores the event document in its own ``outbox`` collection as part of
the change (idempotently, under the event's id), and this relay publishes it to the service's
nameko event exchange and deletes it only after the broker confirmed it. A message that no queue
is bound for yet (``mandatory`` publish returned it) stays in the outbox and is tried again, so
an event is never dropped because its consumer has not started yet. Consumers deduplicate by the
domain key the event carries, so publishing twice (a crash after publish, before delete) is safe.
"""
import logging

import eventlet
from eventlet.event import Event
from nameko.amqp.publish import Publisher, UndeliverableMessage
from nameko.extensions import DependencyProvider
from nameko.standalone.events import get_event_exchange
from pymongo.errors import DuplicateKeyError, PyMongoError

from services.shared.clock import now
from services.shared.config import db_name
from services.shared.storage import connect

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0


class OutboxWriter:
    """What workers see: ``add`` queues one event for publishing."""

    def __init__(self, collection, wake):
        self.collection = collection
        self._wake = wake

    def add(self, event_id, event_type, payload):
        try:
            self.collection.insert_one({"_id": event_id, "type": event_type, "payload": payload,
                                        "queued_at": now()})
        except DuplicateKeyError:
            pass  # already queued by an earlier attempt of the same change
        self._wake()


class Outbox(DependencyProvider):
    def __init__(self, service):
        self.service = service

    def setup(self):
        config = self.container.config
        self.client = connect(config["MONGO_URL"])
        self.collection = self.client[db_name(config, self.service)]["outbox"]
        self.exchange = get_event_exchange(self.container.service_name, config)
        self.publisher = Publisher(config["AMQP_URI"], mandatory=True, use_confirms=True)
        self.pending = Event()
        self.running = False
        self.thread = None
        self.relay_attempts = 0  # for tests and metrics: how often the relay has run
        self.writer = OutboxWriter(self.collection, self.wake)

    def start(self):
        self.running = True
        self.thread = self.container.spawn_managed_thread(self.relay_forever)

    def stop(self):
        self.running = False
        self.wake()
        if self.thread is not None:
            self.thread.wait()
        self.client.close()

    def kill(self):
        self.running = False
        if self.thread is not None:
            self.thread.kill()
        self.client.close()

    def get_dependency(self, worker_ctx):
        return self.writer

    def wake(self):
        if not self.pending.ready():
            self.pending.send(True)

    def relay_forever(self):
        while self.running:
            with eventlet.Timeout(POLL_SECONDS, False):
                self.pending.wait()
            self.pending = Event()
            self.relay_attempts += 1
            try:
                self.relay_once()
            except (PyMongoError, OSError, UndeliverableMessage) as exc:
                log.warning("outbox relay will retry: %s", exc)
                eventlet.sleep(POLL_SECONDS)
            except Exception:  # keep relaying whatever one message does
                log.exception("outbox relay failed; will retry")
                eventlet.sleep(POLL_SECONDS)

    def relay_once(self):
        """Publish what is in the outbox, oldest first; returns how many were published."""
        published = 0
        # The outbox holds only unpublished messages, so it stays small; order them here since
        # FerretDB has no $natural sort and sorting in the store would not use an index there.
        batch = sorted(self.collection.find({}).limit(500), key=lambda m: m["queued_at"])
        for message in batch:
            self.publisher.publish(
                message["payload"], exchange=self.exchange, routing_key=message["type"],
                message_id=message["_id"],
            )
            self.collection.delete_one({"_id": message["_id"]})
            published += 1
        return published
