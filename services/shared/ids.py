"""Identifiers. Ids derived from an idempotency key make a retried request find its own records."""
import hashlib
import uuid


def new_id(prefix):
    return f"{prefix}_{uuid.uuid4().hex}"


def derived_id(prefix, *parts):
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f"{prefix}_{digest}"


def id_for_request(prefix, request_key, *parts):
    """A stable id when the request carries an idempotency key, a fresh one otherwise."""
    return derived_id(prefix, request_key, *parts) if request_key else new_id(prefix)
