"""The outbox relay on the real broker and store: one message never holds back the others."""
import uuid
from datetime import timedelta

import pytest
import requests
from kombu import Connection, Queue
from nameko.standalone.events import get_event_exchange
from prometheus_client.parser import text_string_to_metric_families

from services.points.service import PointsService
from services.shared.clock import now
from services.volunteer.service import VolunteerService
from tests.integration.test_hours_to_points import log_one, setup_center
from tests.support import integration_amqp_uri, wait_until


def outbox_of(container):
    return next(d for d in container.extensions if type(d).__name__ == "Outbox")


def outbox_samples(container):
    """{(metric sample name, outcome label or None): value} from the service's /metrics."""
    text = requests.get(f"http://{container.config['WEB_SERVER_ADDRESS']}/metrics",
                        timeout=5).text
    return {(sample.name, sample.labels.get("outcome")): sample.value
            for family in text_string_to_metric_families(text)
            if family.name.startswith("timebank_outbox") for sample in family.samples}


@pytest.fixture
def watch_approvals():
    """A queue of our own on the volunteer service's events: every hours_approved published."""
    with Connection(integration_amqp_uri()) as conn:
        channel = conn.channel()
        exchange = get_event_exchange("volunteer", {})
        queue = Queue(f"test-outbox-{uuid.uuid4().hex}", exchange, routing_key="hours_approved",
                      exclusive=True)(channel)
        exchange(channel).declare()
        queue.declare()
        seen = []

        def published_ids():
            while (message := queue.get(no_ack=True)) is not None:
                seen.append(message.properties.get("message_id"))
            return seen
        yield published_ids


def test_an_unroutable_event_does_not_hold_back_a_later_approval(start, rpc):
    volunteer = start(VolunteerService)
    start(PointsService)
    staff, volunteer_id, activity_id = setup_center(rpc)
    outbox = outbox_of(volunteer)
    # An older event of a type no queue is bound for: the broker returns it on every try.
    outbox.collection.insert_one({
        "_id": "nobody_listens:1", "type": "nobody_listens", "payload": {"event_id": "x"},
        "queued_at": now() - timedelta(minutes=1)})

    record_id = log_one(rpc, staff, activity_id, volunteer_id, 60)
    rpc.volunteer.approve_hours(staff, record_id)
    wait_until(lambda: rpc.points.get_balance(volunteer_id)["balance"] == 10, timeout=20,
               message="credit despite an unroutable event ahead of it")

    stuck = outbox.collection.find_one({"_id": "nobody_listens:1"})
    assert stuck["attempts"] >= 1 and stuck["next_attempt_at"] > stuck["queued_at"]
    samples = outbox_samples(volunteer)
    assert samples[("timebank_outbox_messages_total", "undeliverable")] >= 1
    assert samples[("timebank_outbox_messages_total", "published")] >= 1
    assert samples[("timebank_outbox_backed_off_messages", None)] == 1


def test_a_retried_approval_does_not_publish_its_event_again(start, rpc, watch_approvals):
    volunteer = start(VolunteerService)
    staff, volunteer_id, activity_id = setup_center(rpc)
    outbox = outbox_of(volunteer)
    record_id = log_one(rpc, staff, activity_id, volunteer_id, 60)
    event_id = f"hours_approved:{record_id}"

    rpc.volunteer.approve_hours(staff, record_id)
    wait_until(lambda: event_id in watch_approvals(), message="the event published")

    rpc.volunteer.approve_hours(staff, record_id)  # a client retry after a lost answer
    passes = outbox.relay_attempts
    # passes + 1 may have begun before the retry; passes + 2 ran wholly after it
    wait_until(lambda: outbox.relay_attempts >= passes + 2, message="two more relay passes")
    assert watch_approvals().count(event_id) == 1
