"""Transactional-outbox relay: events are stored with the change, then published with confirms.

"Write to the database, then dispatch the event" loses the event when the process dies between
the two. Instead a service stores the event document in its own ``outbox`` collection as part of
the change (idempotently, under the event's id), and this relay publishes it to the service's
nameko event exchange and deletes it only after the broker confirmed it. A message that no queue
is bound for yet (``mandatory`` publish returned it) stays in the outbox and is tried again, so
an event is never dropped because its consumer has not started yet. Consumers deduplicate by the
domain key the event carries, so publishing twice (a crash after publish, before delete; two
relay processes taking the same message) is safe.

Each message stands on its own: one that fails is given its own next attempt, exponentially
later with jitter (``attempts``, ``next_attempt_at`` on the message), and the messages after it
still go out. Only relays write those fields, and FerretDB's unlocked read-modify-write can at
worst lose one relay's increment when two fail the same message at once: a shorter wait, never
a lost or resurrected message (the update never inserts; an add never updates).

An event is published at most once per id, however often a retried decision adds it: after
publishing, the relay records the id in ``outbox_published`` *before* deleting the message, and
both ``add`` and the relay look the id up there (by ``_id``, the one lookup FerretDB indexes).
An add that raced past that check re-inserts a message the relay then drops unpublished. Keeping
published messages in ``outbox`` with a state instead would make the relay's find scan all of
history, since FerretDB pushes no filter but ``_id`` down to an index; ``outbox`` holds only what
is still to be published, so the relay's scan stays as small as the backlog.
"""
import logging
import random
from datetime import timedelta

import eventlet
from amqp.exceptions import ConnectionError as AmqpConnectionError
from eventlet.event import Event
from kombu.exceptions import OperationalError
from nameko.amqp.publish import Publisher, UndeliverableMessage
from nameko.extensions import DependencyProvider
from nameko.standalone.events import get_event_exchange
from prometheus_client import Counter, Gauge
from pymongo.errors import DuplicateKeyError, PyMongoError

from services.shared.clock import now
from services.shared.config import db_name
from services.shared.metrics import Metrics, ServiceMetrics
from services.shared.storage import connect

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
BATCH = 500
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 60.0

# The broker or the store is away: the whole pass stops, no message is to blame.
UNAVAILABLE = (PyMongoError, OSError, OperationalError, AmqpConnectionError)


def retry_delay(attempts, rng=random.random):
    """Seconds before attempt ``attempts + 1``: doubling from 1 s up to 60 s, jittered down to
    half so that messages (and relays) that failed together do not retry together."""
    ceiling = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** (attempts - 1))
    return ceiling * (0.5 + 0.5 * rng())


class OutboxWriter:
    """What workers see: ``add`` queues one event for publishing, once ever per event id."""

    def __init__(self, collection, published, wake):
        self.collection = collection
        self.published = published
        self._wake = wake

    def add(self, event_id, event_type, payload):
        if self.published.find_one({"_id": event_id}) is not None:
            return  # a retried change: its event went out already
        queued_at = now()
        try:
            self.collection.insert_one({"_id": event_id, "type": event_type, "payload": payload,
                                        "queued_at": queued_at, "attempts": 0,
                                        "next_attempt_at": queued_at})
        except DuplicateKeyError:
            pass  # already queued by an earlier attempt of the same change
        self._wake()


class OutboxMetrics:
    """Outbox counters and gauge, on the service's own registry."""

    def __init__(self, registry, service_name, outbox):
        self.service_name = service_name
        self.messages = Counter(
            "timebank_outbox_messages", "Outbox messages handled, by outcome "
            "(published, undeliverable, failed, already_published)",
            ["service", "outcome"], registry=registry)
        backed_off = Gauge(
            "timebank_outbox_backed_off_messages",
            "Messages in the outbox that failed at least once and wait for their next attempt",
            ["service"], registry=registry)
        backed_off.labels(service_name).set_function(lambda: self._count_failed(outbox))

    def count(self, outcome):
        self.messages.labels(self.service_name, outcome).inc()

    @staticmethod
    def _count_failed(outbox):
        try:
            return outbox.count_documents({"attempts": {"$gt": 0}})
        except PyMongoError:
            return float("nan")  # the store is away; /metrics still answers


class Relay:
    """Publishes due messages from the outbox; knows nothing of nameko, so tests drive it."""

    def __init__(self, outbox, published, publisher, exchange, metrics,
                 clock=now, rng=random.random):
        self.outbox = outbox
        self.published = published
        self.publisher = publisher
        self.exchange = exchange
        self.metrics = metrics
        self.clock = clock
        self.rng = rng
        self.passes = 0  # for tests: how many passes have run

    def relay_once(self):
        """One pass over the due messages, oldest first; returns how many it handled.

        Every message handled is either gone from the outbox or due later, so the next pass
        never starts with the same one.
        """
        # $not/$gt also matches messages queued before next_attempt_at existed. The outbox holds
        # only unpublished messages, so the scan (nothing is pushed down) stays small; ordered
        # here since FerretDB has no $natural sort.
        due = self.outbox.find({"next_attempt_at": {"$not": {"$gt": self.clock()}}})
        batch = sorted(due.limit(BATCH), key=lambda m: m["queued_at"])
        for message in batch:
            self._relay(message)
        return len(batch)

    def _relay(self, message):
        if self.published.find_one({"_id": message["_id"]}) is not None:
            self.outbox.delete_one({"_id": message["_id"]})  # re-added by a racing retry
            self.metrics.count("already_published")
            return
        try:
            self.publisher.publish(
                message["payload"], exchange=self.exchange, routing_key=message["type"],
                message_id=message["_id"],
            )
        except UNAVAILABLE:
            raise
        except UndeliverableMessage:
            self._retry_later(message, "undeliverable", "no queue is bound for its type")
            return
        except Exception as exc:  # this message's own fault (e.g. refused by the broker)
            log.exception("outbox message %s failed", message["_id"])
            self._retry_later(message, "failed", repr(exc))
            return
        try:
            self.published.insert_one({"_id": message["_id"], "type": message["type"],
                                       "published_at": self.clock()})
        except DuplicateKeyError:
            pass  # another relay published it too; consumers dedupe
        self.outbox.delete_one({"_id": message["_id"]})
        self.metrics.count("published")

    def _retry_later(self, message, outcome, reason):
        attempts = message.get("attempts", 0) + 1
        delay = retry_delay(attempts, self.rng)
        self.outbox.update_one({"_id": message["_id"]}, {"$set": {
            "attempts": attempts, "last_error": f"{outcome}: {reason}",
            "next_attempt_at": self.clock() + timedelta(seconds=delay),
        }})
        self.metrics.count(outcome)
        log.warning("outbox message %s %s (%s); attempt %d, next in %.1fs",
                    message["_id"], outcome, reason, attempts, delay)

    def run(self, running, wait_for_work, pause):
        """Relay until ``running()`` is false. Between passes it waits for an add or the poll
        interval, except right after a full batch; after an outage it pauses. So it never spins:
        a pass that found nothing due, or only messages that failed again, is followed by a wait.
        """
        full_batch = False
        while running():
            if not full_batch:
                wait_for_work(POLL_SECONDS)
            try:
                full_batch = self.relay_once() >= BATCH
                self.passes += 1
            except UNAVAILABLE as exc:
                full_batch = False
                log.warning("outbox relay will retry: %s", exc)
                pause(POLL_SECONDS)
            except Exception:  # keep relaying whatever went wrong
                full_batch = False
                log.exception("outbox relay failed; will retry")
                pause(POLL_SECONDS)


class Outbox(DependencyProvider):
    def __init__(self, service):
        self.service = service

    def setup(self):
        config = self.container.config
        self.client = connect(config["MONGO_URL"])
        database = self.client[db_name(config, self.service)]
        self.collection = database["outbox"]
        self.published = database["outbox_published"]
        self.exchange = get_event_exchange(self.container.service_name, config)
        self.publisher = Publisher(config["AMQP_URI"], mandatory=True, use_confirms=True)
        self.pending = Event()
        self.running = False
        self.thread = None
        self.relay = None
        self.writer = OutboxWriter(self.collection, self.published, self.wake)

    def start(self):
        metrics = next((d.metrics for d in self.container.dependencies
                        if isinstance(d, Metrics)), None) or ServiceMetrics(self.service)
        self.relay = Relay(self.collection, self.published, self.publisher, self.exchange,
                           OutboxMetrics(metrics.registry, self.container.service_name,
                                         self.collection))
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
        self.relay.run(lambda: self.running, self._wait_for_work, eventlet.sleep)

    def _wait_for_work(self, timeout):
        with eventlet.Timeout(timeout, False):
            self.pending.wait()
        self.pending = Event()

    @property
    def relay_attempts(self):
        """For tests: how many passes the relay has completed."""
        return self.relay.passes if self.relay is not None else 0

    def relay_once(self):
        return self.relay.relay_once()
