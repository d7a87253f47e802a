"""The store itself: lookups by _id, which every hot path relies on, must not scan."""
import json

from tests.support import wait_until


def plan_of_id_lookup(db):
    db.lookups.find_one({"_id": "missing"})  # EXPLAIN alone may plan with a stale schema
    explain = db.command("explain", {"find": "lookups", "filter": {"_id": "missing"}})
    return json.dumps(explain.get("queryPlanner", {}), default=str), explain


def test_a_lookup_by_id_uses_an_index(store):
    db = store("docstore_probe")
    db.lookups.insert_many([{"_id": f"acct:{n}"} for n in range(50)])

    def indexed():
        plan, explain = plan_of_id_lookup(db)
        if "ferretdbVersion" in explain.get("serverInfo", {}):  # FerretDB on SQLite
            return "USING INDEX" in plan
        return "COLLSCAN" not in plan  # MongoDB: IDHACK / EXPRESS_IXSCAN

    wait_until(indexed, timeout=10, message="an indexed plan for find by _id")
