"""Bulk data the public API has no bulk path for, written straight into the running stack's store.

Registering a volunteer costs a bcrypt hash (about a quarter of a second at the stack's cost),
so a test that needs a thousand volunteers seeds them; what it tests still goes through HTTP.
"""
import os
import uuid

import pymongo

from services.shared.clock import now
from services.shared.config import db_name
from tests.support import mongo_url


def seed_volunteers(community_id, count):
    """``count`` volunteers of a community, without logins; returns their ids."""
    suffix = uuid.uuid4().hex[:10]
    volunteers = [{"_id": f"vol_seed{suffix}{n:05d}", "community_id": community_id,
                   "name": f"v{n}", "phone": f"139{n:08d}", "username": f"seed{suffix}{n}",
                   "created_at": now()} for n in range(count)]
    with pymongo.MongoClient(mongo_url()) as client:
        database = client[db_name({"DB_PREFIX": os.environ.get("TIMEBANK_DB_PREFIX")},
                                  "volunteer")]
        database.volunteers.insert_many(volunteers)
    return [volunteer["_id"] for volunteer in volunteers]
