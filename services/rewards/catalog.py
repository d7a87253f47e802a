"""The catalog's index: which rewards a page lists, found by ``_id`` lookups only.

FerretDB pushes nothing but ``_id`` lookups down to its index, so a find on ``community_id`` and
``kind`` with a sort reads and sorts the whole rewards collection. Instead each reward is listed
in four append-only streams (``shared.appendlog``): its community and kind, its community, every
community with its kind, and everything (for admins). Entry n of a stream names the n-th reward
added to it, so a page is the stream's head plus one lookup per item, newest first, with the
entry's seq as the cursor. The entry's key is derived from the stream and the reward, so a
retried create lists the reward once.
"""
from services.shared.appendlog import AppendLog

EVERY = "*"  # stands for "any community" or "any kind" in a stream name


def stream_of(community_id=None, kind=None):
    return f"{community_id or EVERY}/{kind or EVERY}"


class Catalog:
    def __init__(self, db):
        self.log = AppendLog(db, "catalog")
        self.migrations = db.migrations

    def ensure_indexes(self):
        self.log.ensure_indexes()

    def add(self, reward):
        """List ``reward`` in each stream a catalog query may read; once, however often run."""
        for community_id in (reward["community_id"], None):
            for kind in (reward["kind"], None):
                stream = stream_of(community_id, kind)
                self.log.append(stream, 1, key=f"{stream}/{reward['_id']}", floor=None,
                                fields={"reward_id": reward["_id"]})

    def page(self, community_id, kind, limit, before_seq=None):
        """``(reward ids, next cursor)``: up to ``limit`` ids newest first, below ``before_seq``.

        Costs the head (about two lookups) and limit + 1 lookups, however large the catalog.
        """
        entries = self.log.entries_of(stream_of(community_id, kind), before_seq=before_seq,
                                      limit=limit + 1)
        page = entries[:limit]
        next_cursor = page[-1]["seq"] if len(entries) > limit else None
        return [e["reward_id"] for e in page], next_cursor

    def backfill(self, rewards):
        """List the rewards created before this index existed; once per database.

        A one-off full read; done again after a crash part-way, which the keys make harmless.
        """
        if self.migrations.find_one({"_id": "catalog_index"}) is not None:
            return
        for reward in sorted(rewards.find({}), key=lambda r: (str(r.get("created_at")), r["_id"])):
            self.add(reward)
        self.migrations.replace_one({"_id": "catalog_index"}, {"done": True}, upsert=True)
