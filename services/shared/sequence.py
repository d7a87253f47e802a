"""Counting with numbered documents ``<prefix>:1``, ``<prefix>:2``, … under unique ``_id``s.

A counter document would lose increments under concurrency (FerretDB updates read, modify and
write back without a lock). Here every event inserts the next numbered document instead: the
insert is atomic on MongoDB and FerretDB alike, so two events never take the same number, and
whoever takes number n decides what the n-th event means (e.g. the fifth failed login locks the
account). Numbers are taken in order (an insert at n follows a seen n-1), so the stored ones are
always 1..last and the last is found with a few lookups by ``_id``.
"""
from pymongo.errors import DuplicateKeyError


def numbered_id(prefix, n):
    return f"{prefix}:{n}"


def last_number(collection, prefix, start=0):
    """The highest n whose ``<prefix>:<n>`` is stored, 0 when none is.

    ``start`` is a number known to be stored (or 0): the search gallops up from it and then
    bisects, so it costs one lookup when nothing was added since and O(log n) otherwise.
    """
    def stored(n):
        return collection.find_one({"_id": numbered_id(prefix, n)}, {"_id": 1}) is not None

    low, step = start, 1
    high = low + step
    while stored(high):
        low, step = high, step * 2
        high = low + step
    while high - low > 1:  # low is stored, high is not
        middle = (low + high) // 2
        low, high = (middle, high) if stored(middle) else (low, middle)
    return low


def insert_next(collection, prefix, fields, start=0):
    """Insert ``fields`` as the next numbered document; returns the number it took."""
    n = last_number(collection, prefix, start) + 1
    while True:
        try:
            collection.insert_one(dict(fields, _id=numbered_id(prefix, n), n=n))
            return n
        except DuplicateKeyError:
            n += 1  # a concurrent writer took n; n is stored, so n + 1 keeps the numbers dense
