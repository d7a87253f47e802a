"""The outbox relay on in-memory collections with a fake publisher (no broker, no store)."""
from datetime import timedelta

import pytest
from kombu.exceptions import OperationalError
from nameko.amqp.publish import UndeliverableMessage
from nameko.testing.services import worker_factory

from services.shared import outbox as outbox_module
from services.shared.clock import now
from services.shared.metrics import ServiceMetrics
from services.shared.outbox import (MAX_RETRY_SECONDS, OutboxMetrics, OutboxWriter, Relay,
                                    retry_delay)
from services.volunteer.service import VolunteerService
from services.volunteer.storage import VolunteerStore
from tests.unit.fakes import FakeCollection, FakeDatabase

STAFF = {"user_id": "wang", "role": "center_staff", "center_id": "ctr_1", "community_id": "com_1"}


class FakePublisher:
    """Routes every type but those in ``unbound``; ``down`` makes it fail like a lost broker."""

    def __init__(self):
        self.unbound = set()
        self.down = False
        self.attempts = []   # message ids, each publish tried
        self.delivered = []  # message ids, each publish that went through

    def publish(self, payload, exchange, routing_key, message_id):
        self.attempts.append(message_id)
        if self.down:
            raise OperationalError("[Errno 111] Connection refused")
        if routing_key in self.unbound:
            raise UndeliverableMessage()
        self.delivered.append(message_id)


class Clock:
    """Real time moved forward on demand: the writer stamps with the real clock."""

    def __init__(self):
        self.offset = timedelta()

    def __call__(self):
        return now() + self.offset

    def advance(self, seconds):
        self.offset += timedelta(seconds=seconds)


def make_relay():
    """A relay with its writer and registry attached, on fresh fake collections."""
    registry = ServiceMetrics("volunteer").registry
    outbox, published = FakeCollection(), FakeCollection()
    relay = Relay(outbox, published, FakePublisher(), exchange=None,
                  metrics=OutboxMetrics(registry, "volunteer", outbox),
                  clock=Clock(), rng=lambda: 1.0)
    relay.writer = OutboxWriter(outbox, published, wake=lambda: None)
    relay.registry = registry
    return relay


@pytest.fixture
def relay():
    return make_relay()


def add(relay, event_id):
    event_type = event_id.split(":", 1)[0]
    relay.writer.add(event_id, event_type, {"event_id": event_id})


def metric(relay, outcome=None):
    if outcome is None:
        return relay.registry.get_sample_value("timebank_outbox_backed_off_messages",
                                               {"service": "volunteer"})
    return relay.registry.get_sample_value("timebank_outbox_messages_total",
                                           {"service": "volunteer", "outcome": outcome})


def test_an_undeliverable_message_does_not_hold_back_the_ones_after_it(relay):
    relay.publisher.unbound.add("nobody_listens")
    add(relay, "nobody_listens:1")  # oldest: tried first
    add(relay, "hours_approved:hrs_1")
    add(relay, "hours_approved:hrs_2")

    assert relay.relay_once() == 3
    assert relay.publisher.delivered == ["hours_approved:hrs_1", "hours_approved:hrs_2"]
    [stuck] = relay.outbox.find({})
    assert stuck["_id"] == "nobody_listens:1" and stuck["attempts"] == 1
    assert stuck["next_attempt_at"] > relay.clock()
    assert (metric(relay, "undeliverable"), metric(relay, "published"), metric(relay)) == \
        (1, 2, 1)

    add(relay, "hours_approved:hrs_3")  # a later approval is not stuck behind it either
    relay.relay_once()
    assert relay.publisher.delivered[-1] == "hours_approved:hrs_3"
    assert relay.publisher.attempts.count("nobody_listens:1") == 1  # still waiting its turn


def test_a_failing_message_backs_off_exponentially_on_its_own(relay):
    relay.publisher.unbound.add("nobody_listens")
    add(relay, "nobody_listens:1")
    waits = []
    for attempt in range(1, 10):
        relay.relay_once()
        relay.relay_once()  # not due yet: not tried again
        assert relay.publisher.attempts.count("nobody_listens:1") == attempt
        message = relay.outbox.find_one({"_id": "nobody_listens:1"})
        assert message["attempts"] == attempt
        wait = (message["next_attempt_at"] - relay.clock()).total_seconds()
        waits.append(round(wait))
        relay.clock.advance(wait + 0.01)
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]  # rng 1.0: the top of each range


def test_retry_delays_are_jittered_within_half_of_their_ceiling():
    assert [retry_delay(n, rng=lambda: 0.0) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert retry_delay(30, rng=lambda: 0.0) == MAX_RETRY_SECONDS / 2  # never shrinks to ~0


def test_a_message_goes_out_once_its_queue_is_bound(relay):
    relay.publisher.unbound.add("hours_approved")
    add(relay, "hours_approved:hrs_1")
    relay.relay_once()
    relay.publisher.unbound.clear()  # the consumer starts and binds its queue
    relay.clock.advance(MAX_RETRY_SECONDS)
    relay.relay_once()
    assert relay.publisher.delivered == ["hours_approved:hrs_1"]
    assert list(relay.outbox.find({})) == [] and metric(relay) == 0


def test_an_event_is_added_and_published_at_most_once(relay):
    add(relay, "hours_approved:hrs_1")
    relay.relay_once()
    add(relay, "hours_approved:hrs_1")  # a retried approval, after the event went out
    relay.relay_once()
    assert relay.publisher.attempts == ["hours_approved:hrs_1"]
    assert list(relay.outbox.find({})) == []


def test_a_re_add_that_raced_the_relay_is_dropped_unpublished(relay):
    add(relay, "hours_approved:hrs_1")
    relay.relay_once()
    # The retry looked before the relay recorded the event, and inserted after it deleted it.
    relay.outbox.insert_one({"_id": "hours_approved:hrs_1", "type": "hours_approved",
                             "payload": {}, "queued_at": now(), "next_attempt_at": now()})
    relay.relay_once()
    assert relay.publisher.attempts == ["hours_approved:hrs_1"]
    assert list(relay.outbox.find({})) == [] and metric(relay, "already_published") == 1


def test_a_broker_outage_blames_no_message(relay):
    add(relay, "hours_approved:hrs_1")
    relay.publisher.down = True
    with pytest.raises(OperationalError):
        relay.relay_once()
    message = relay.outbox.find_one({"_id": "hours_approved:hrs_1"})
    assert message["attempts"] == 0 and message["next_attempt_at"] <= relay.clock()


class Loop:
    """Drives Relay.run for a number of passes, recording its waits and pauses."""

    def __init__(self, relay, passes):
        self.relay, self.passes, self.log, self.iterations = relay, passes, [], 0

    def running(self):
        self.iterations += 1
        return self.iterations <= self.passes

    def wait_for_work(self, timeout):
        assert timeout > 0
        self.log.append("wait")

    def pause(self, seconds):
        assert seconds > 0
        self.log.append("pause")

    def run(self):
        self.relay.run(self.running, self.wait_for_work, self.pause)
        return self.log


def test_the_relay_waits_between_passes_when_messages_keep_failing(relay):
    relay.publisher.unbound.add("nobody_listens")
    add(relay, "nobody_listens:1")
    assert Loop(relay, passes=5).run() == ["wait"] * 5
    assert relay.publisher.attempts == ["nobody_listens:1"]  # backed off, not retried hot

    relay.publisher.down = True
    relay.clock.advance(MAX_RETRY_SECONDS)
    assert Loop(relay, passes=2).run() == ["wait", "pause", "wait", "pause"]


def test_only_a_full_batch_is_followed_by_a_pass_without_waiting(relay, monkeypatch):
    monkeypatch.setattr(outbox_module, "BATCH", 2)
    for n in range(3):
        add(relay, f"hours_approved:hrs_{n}")
    loop = Loop(relay, passes=3)
    real_pass = relay.relay_once

    def logged_pass():
        loop.log.append(real_pass())
        return loop.log[-1]
    relay.relay_once = logged_pass
    assert loop.run() == ["wait", 2, 1, "wait", 0]
    assert len(relay.publisher.delivered) == 3


def test_a_retried_approval_publishes_its_event_once():
    """The volunteer service's retries (a request, the recovery timer) go through one outbox."""
    relay = make_relay()
    store = VolunteerStore(FakeDatabase())
    store.ensure_indexes()
    service = worker_factory(VolunteerService, store=store, config={"BCRYPT_ROUNDS": 4},
                             outbox=relay.writer)
    store.hours.insert_one({
        "_id": "hrs_1", "activity_id": "act_1", "center_id": "ctr_1", "community_id": "com_1",
        "category": "elder_care", "activity_starts_at": now(), "volunteer_id": "vol_1",
        "minutes": 150, "logged_by": "wang", "logged_at": now()})

    service.approve_hours(STAFF, "hrs_1")
    relay.relay_once()
    service.approve_hours(STAFF, "hrs_1")  # the client retries after a lost answer
    relay.relay_once()
    assert relay.publisher.delivered == ["hours_approved:hrs_1"]
