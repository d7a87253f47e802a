import datetime as dt


def now():
    """The current time, timezone-aware UTC: every stored timestamp has an offset."""
    return dt.datetime.now(dt.timezone.utc)
