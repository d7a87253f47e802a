"""Races forced on the real broker and store: the racing requests are held at one point (after
they have read, before they write) until all of them have arrived, so the race surely happened;
then the unique ``_id`` must let exactly one through.

A test asserts ``race.all_met`` (every party passed the barrier together) besides its own
outcomes: a barrier that timed out fails the request it held, and a race that was never run
(a step moved, a hook no longer called) fails the test instead of passing it unraced.
"""
import itertools
import threading

from pymongo.errors import DuplicateKeyError

from services.shared.storage import MongoStore

BARRIER_SECONDS = 20


def service_store(container):
    """The store a running service's workers use (its ``store``, not its other MongoStores such
    as ``listings``): the test puts its held collections there."""
    return next(d for d in container.dependencies
                if isinstance(d, MongoStore) and d.attr_name == "store").store


class HeldRace:
    """A hook that holds its first ``parties`` calls until all have arrived; later calls (a
    retry after a lost race) pass straight through."""

    def __init__(self, parties=2):
        self.parties = parties
        self._barrier = threading.Barrier(parties)
        self._calls = itertools.count()
        self._met = itertools.count()
        self.met = 0  # calls that passed the barrier together

    def __call__(self):
        if next(self._calls) < self.parties:
            self._barrier.wait(timeout=BARRIER_SECONDS)  # broken unless all got here
            self.met = next(self._met) + 1

    @property
    def all_met(self):
        return self.met == self.parties


class HeldInserts:
    """A collection whose ``insert_one`` of documents ``holds(doc)`` picks waits at a HeldRace,
    counting the inserts the unique ``_id`` refused; everything else goes to the collection."""

    def __init__(self, collection, holds, parties=2):
        self._collection = collection
        self._holds = holds
        self.race = HeldRace(parties)
        self.refused = 0

    def __getattr__(self, name):
        return getattr(self._collection, name)

    def insert_one(self, doc, *args, **kwargs):
        if self._holds(doc):
            self.race()
        try:
            return self._collection.insert_one(doc, *args, **kwargs)
        except DuplicateKeyError:
            self.refused += 1
            raise


def outcomes(calls, refused_as):
    """Each async RPC's result, or the ``refused_as`` error it raised (any other error fails)."""
    results = []
    for call in calls:
        try:
            results.append(call.result())
        except refused_as as refused:
            results.append(refused)
    return results
