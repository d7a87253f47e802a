"""The points ledger: one append-only account per volunteer.

A balance is the ``total_after`` of the account's last entry and equals the sum of its entries.
Entries are never edited or deleted; a credit is undone by a reversal entry. Each entry has a
``key`` naming its cause, so the same approval, debit or refund never lands twice.
"""
from pymongo.errors import DuplicateKeyError

from services.shared.appendlog import AppendLog, FloorBreached
from services.shared.errors import InsufficientPoints


class Ledger:
    def __init__(self, db):
        self.accounts = AppendLog(db, "ledger")
        self.parked = db.parked_events  # events that failed validation, kept for inspection
        # Revocations that arrived before their approval's credit: _id = the hours record.
        self.waiting_revocations = db.waiting_revocations

    def ensure_indexes(self):
        self.accounts.ensure_indexes()

    def balance(self, account):
        return self.accounts.total(account)

    def credit(self, account, points, key, **entry):
        """Add ``points`` (>= 0) once for ``key``; returns (entry, created)."""
        return self.accounts.append(account, points, key, floor=None, fields=entry)

    def debit(self, account, points, key, **entry):
        """Take ``points`` once for ``key`` unless the balance would go below zero."""
        try:
            return self.accounts.append(account, -points, key, floor=0, fields=entry)
        except FloorBreached as exc:
            raise InsufficientPoints(
                f"balance {exc.total} does not cover {points} points",
                fields={"points": [f"available {exc.total}"]})

    def reverse(self, account, key, plan):
        """Append once for ``key`` what ``plan(balance) -> (delta <= 0, entry)`` decides."""
        return self.accounts.append_planned(account, key, plan, floor=0)

    def wait_for_credit(self, record_id, revocation_payload):
        try:
            self.waiting_revocations.insert_one({"_id": record_id,
                                                 "payload": revocation_payload})
        except DuplicateKeyError:
            pass  # a redelivery of the same revocation

    def waiting_revocation(self, record_id):
        return self.waiting_revocations.find_one({"_id": record_id})

    def find(self, key):
        return self.accounts.find_by_key(key)

    def statement(self, account, limit=None, before_seq=None, since=None, until=None):
        return self.accounts.entries_of(account, before_seq=before_seq, limit=limit,
                                        since=since, until=until)
