"""Idempotency-Key for every POST that creates records or moves points or stock.

The first request with a key claims it; its answer is stored, and the same key with the same
body replays that answer without calling anything. The same key with another body is 409. The
key (scoped by caller and path) is also handed to the service as ``request_key``: services derive
their record ids from it, so even a request whose answer was never stored (the gateway died, or a
dependency timed out) creates nothing twice when it is retried.
"""
import datetime as dt
import hashlib
import json

from pymongo.errors import DuplicateKeyError

from services.shared.clock import now
from services.shared.errors import Conflict

# A claim whose request has not answered for this long is taken over by a retry.
STALE_CLAIM = dt.timedelta(seconds=60)
MAX_KEY_LENGTH = 200


def body_fingerprint(body):
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class IdempotencyStore:
    def __init__(self, db):
        self.requests = db.idempotent_requests

    def ensure_indexes(self):
        pass  # looked up by _id only

    @staticmethod
    def scope(user_id, method, path, key):
        return "idk_" + hashlib.sha256(
            "\x1f".join([user_id or "-", method, path, key]).encode()).hexdigest()[:40]

    def claim(self, scoped_key, fingerprint):
        """None when the request should run; the stored (status, body) when it is a replay."""
        claim = {"_id": scoped_key, "fingerprint": fingerprint, "state": "running",
                 "claimed_at": now()}
        try:
            self.requests.insert_one(claim)
            return None
        except DuplicateKeyError:
            stored = self.requests.find_one({"_id": scoped_key})
        if stored is None:  # released between our insert and read: run it
            return self.claim(scoped_key, fingerprint)
        if stored["fingerprint"] != fingerprint:
            raise Conflict("this Idempotency-Key was used with another request body",
                           code="idempotency_key_reused")
        if stored["state"] == "done":
            return stored["status"], json.loads(stored["body"])
        if now() - stored["claimed_at"] < STALE_CLAIM:
            raise Conflict("a request with this Idempotency-Key is still in progress",
                           code="request_in_progress")
        # A stale claim: the earlier attempt died. Take it over and run again; the services
        # dedupe by the same request key, so even two retries racing here create nothing twice.
        self.requests.replace_one({"_id": scoped_key}, claim)
        return None

    def complete(self, scoped_key, fingerprint, status, body):
        self.requests.replace_one({"_id": scoped_key}, {
            "fingerprint": fingerprint, "state": "done", "status": status,
            "body": json.dumps(body, ensure_ascii=False), "claimed_at": now()})

    def release(self, scoped_key):
        self.requests.delete_one({"_id": scoped_key})
