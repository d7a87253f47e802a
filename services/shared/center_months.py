"""The streams of a center's month: how both center tallies (minutes in the volunteer service's
reports.py, points in the points service's center_tally.py) spread a month's records.

A month is split into SHARDS streams by record: approving a whole activity follows its records
side by side (16 at once), and on a single stream they would all race for the same next entry.
"""
import hashlib

SHARDS = 8


def month_stream(center_id, month, record_id):
    """The stream a record is tallied in: its center, month (YYYY-MM) and shard."""
    return f"{center_id}:{month}:{shard_of(record_id)}"


def shard_of(record_id):
    """The shard (0..SHARDS-1) a record's entries go to, the same in every tally."""
    return int.from_bytes(hashlib.sha256(record_id.encode()).digest()[:4], "big") % SHARDS


def month_streams(center_id, month):
    """Every stream of a center's month, for a report to walk."""
    return [f"{center_id}:{month}:{shard}" for shard in range(SHARDS)]
