"""One-off migrations that walk older collections in the background, a page at a time.

A migration is a list of stages, each a collection walked in ``_id`` order and a handler for a
page of its documents. Its progress is one document (``_id`` = the migration's name: the stage
and the last ``_id`` handled), so a restart goes on where it stopped; its end is one insert
(``<name>:done``), so every later start costs one lookup. Handlers must add what they add under
unique keys: a crash between a page and its progress, or two replicas walking the same page,
then only repeats inserts that find their key taken.
"""
from pymongo.errors import DuplicateKeyError

from services.shared.clock import now

PAGE_SIZE = 200


class PagedMigration:
    def __init__(self, migrations, name, stages, page_size=PAGE_SIZE):
        """``stages``: [(stage name, collection, handle(page) -> bool)]; a handler answers
        False when it could not finish the page now (a busy stream): the next tick redoes it."""
        self.migrations = migrations
        self.name = name
        self.stages = stages
        self.page_size = page_size
        self.pause_after_read = None  # integration tests hold racing runners here
        self._finished = False

    @property
    def done_id(self):
        return f"{self.name}:done"

    def finished(self):
        if not self._finished:
            self._finished = self.migrations.find_one({"_id": self.done_id}) is not None
        return self._finished

    def tick(self):
        """Handle the next page; True once the migration is finished (here or elsewhere)."""
        if self.finished():
            return True
        progress = self.migrations.find_one({"_id": self.name}) or {}
        names = [stage[0] for stage in self.stages]
        index = names.index(progress["stage"]) if progress.get("stage") in names else 0
        after = progress.get("after") if progress.get("stage") == names[index] else None
        name, collection, handle = self.stages[index]
        query = {} if after is None else {"_id": {"$gt": after}}
        page = list(collection.find(query, sort=[("_id", 1)], limit=self.page_size))
        if self.pause_after_read is not None:
            self.pause_after_read()
        if page and not handle(page):
            return False
        if len(page) == self.page_size:
            self._save(name, page[-1]["_id"])
        elif index + 1 < len(self.stages):
            self._save(self.stages[index + 1][0], None)
        else:
            self._finish()
        return self._finished

    def run_to_end(self):
        """Every page now (tests, benchmarks and operators; services tick from a timer)."""
        while not self.tick():
            pass

    def _save(self, stage, after):
        # A racing runner may write an older position: that only repeats keyed work.
        try:
            self.migrations.replace_one({"_id": self.name}, {"stage": stage, "after": after,
                                                             "at": now()}, upsert=True)
        except DuplicateKeyError:
            pass  # two first upserts at once; either position is fine

    def _finish(self):
        try:
            self.migrations.insert_one({"_id": self.done_id, "at": now()})
        except DuplicateKeyError:
            pass  # another runner finished it too
        self._finished = True
