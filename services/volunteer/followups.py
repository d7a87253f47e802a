"""What follows an activity's approval, for all its records at once (approve_activity).

Each record's follow-up is the one ``VolunteerService._follow_decision`` does (its minutes
tally, its event through the outbox, its center's month tally, then its marker removed); here
the same documents are written in a few batched inserts instead of ~8 single writes per record,
which on the store cost one synchronous write each:

- the tallies (append-only logs) claim every key in one unordered insert and append every
  entry chained to the head read for its stream: entries of different streams in one
  unordered insert, several entries of one stream in one ordered insert. Each entry is still
  decided by its unique ``_id`` and key, exactly as AppendLog.append decides it;
- the events go to the outbox in one insert, then the relay is woken once.

Whatever the fast path does not decide (a key claimed before, an entry another writer took, a
record a crash left half-followed) is followed record by record through the single path, which
replays what is done and completes the rest. A crash part-way leaves the records' in-flight
markers, which the recovery timer follows the same way.
"""
from pymongo.errors import BulkWriteError

from services.shared import clock, contracts
from services.shared.appendlog import GENESIS_HASH, entry_hash, entry_id, stored_instant
from services.shared.outbox import OutboxWriter
from services.volunteer import domain, pending, reports
from services.volunteer.indexes import insert_each


def follow_decisions(store, outbox, decisions, follow_one):
    """Follow ``decisions`` (step-1 decision documents this call stored) in batches; a record
    the fast path leaves undecided goes to ``follow_one(record, step)``."""
    records = store._each(lambda d: store.hours.find_one({"_id": d["record_id"]}), decisions)
    followed = [(record, decision, domain.decision_effects(record, decision))
                for record, decision in zip(records, decisions) if record is not None]
    followed = [(record, decision, effects) for record, decision, effects in followed
                if effects is not None]
    if not followed:
        return
    undecided, hints = append_each(store, store.service_minutes, [
        (record["volunteer_id"], minutes, key, None)
        for record, _, (key, minutes, _, _) in followed])
    queue_events(store, outbox, [event_message(record, effects)
                                 for record, _, effects in followed])
    undecided_in_centers, center_hints = append_each(store, store.center_minutes, [
        (reports.month_stream(record["center_id"], reports.month_of(record["activity_starts_at"]),
                              record["_id"]), minutes, key, reports.tally_fields(record))
        for record, _, (key, minutes, _, _) in followed])
    # Each record leaves its center's pending count (keyed "decided:<record>").
    undecided_in_pending, pending_hints = append_each(
        store, pending.tally(store), pending.decided_items([record for record, _, _ in followed]))
    # The events are queued: what is left (head hints, markers) no longer delays a credit.
    store._each(lambda hint: hint(), hints + center_hints + pending_hints)
    step = domain.DECISION_STEP[domain.APPROVED]
    undecided |= undecided_in_centers
    undecided |= {key.split(":", 1)[1] for key in undecided_in_pending}  # by record id
    store._each(lambda item: follow_one(item[0], step)
                if item[2][0] in undecided or item[0]["_id"] in undecided
                else store.in_flight.done(f"{item[0]['_id']}:{step}"), followed)


def event_message(record, effects):
    """(event id, type, payload) of a decision's event, as _follow_decision queues it."""
    _, _, event_type, event = effects
    event_id = f"{event_type}:{record['_id']}"
    return event_id, event_type, contracts.EVENT_SCHEMAS[event_type]().dump(
        dict(event, event_id=event_id))


def queue_events(store, outbox, messages):
    """Queue each (event id, type, payload) once ever, as OutboxWriter.add does: an event
    published already is not queued again. The store's writer gets one insert for all."""
    if not isinstance(outbox, OutboxWriter):  # a stand-in (unit tests) takes them one by one
        for message in messages:
            outbox.add(*message)
        return
    published = store._each(lambda m: outbox.published.find_one({"_id": m[0]}), messages)
    queued_at = clock.now()
    insert_each(outbox.collection, [
        {"_id": event_id, "type": event_type, "payload": payload, "queued_at": queued_at,
         "attempts": 0, "next_attempt_at": queued_at}
        for (event_id, event_type, payload), done in zip(messages, published) if done is None])
    outbox._wake()


def append_each(store, log, items):
    """Append each (stream, delta, key, fields) to the append-only ``log`` (no floor), in
    batches. Returns (the keys left undecided, for the single path, AppendLog.append, to replay
    or complete; a callable per stream appended to that advances its head hint). Entries are
    built exactly as AppendLog.append builds them (hash chain)."""
    by_stream = {}
    for item in items:
        by_stream.setdefault(item[0], []).append(item)
    heads = dict(zip(by_stream, store._each(log.last_entry, list(by_stream))))
    claimed = {claim["_id"] for claim in insert_each(log.keys, [
        {"_id": key, "stream": stream, "delta": delta, "from_seq": heads[stream][0]}
        for stream, delta, key, _ in items])}
    at = stored_instant(clock.now())
    chains = {}
    for stream, stream_items in by_stream.items():
        seq, previous = heads[stream]
        for _, delta, key, fields in stream_items:
            if key not in claimed:
                break  # the rest of this stream's chain would follow an undecided key
            doc = dict(fields or {})
            doc.update(_id=entry_id(stream, seq + 1), stream=stream, seq=seq + 1, delta=delta,
                       total_after=previous.get("total_after", 0) + delta, key=key, at=at)
            doc["hash"] = entry_hash(doc, previous.get("hash", GENESIS_HASH))
            chains.setdefault(stream, []).append(doc)
            seq, previous = seq + 1, doc
    stored = {doc["_id"] for doc in insert_each(
        log.entries, [chain[0] for chain in chains.values() if len(chain) == 1])}
    for chain in (chain for chain in chains.values() if len(chain) > 1):
        stored |= {doc["_id"] for doc in insert_chain(log.entries, chain)}
    appended = [[doc for doc in chain if doc["_id"] in stored] for chain in chains.values()]
    # Each stream's head hint, as AppendLog advances it after an append (a hint may lag:
    # readers probe forward from it).
    hints = [lambda last=docs[-1]: log._advance_hint(last["stream"], last)
             for docs in appended if docs]
    appended_keys = {doc["key"] for docs in appended for doc in docs}
    return {key for _, _, key, _ in items} - appended_keys, hints


def insert_chain(collection, docs):
    """Insert consecutive entries of one stream in order, stopping at the first clash (the
    entries after it are chained to one that is not ours); returns those inserted."""
    try:
        collection.insert_many(docs, ordered=True)
        return list(docs)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != 11000 for error in errors):
            raise
        return docs[:min(error["index"] for error in errors)]

