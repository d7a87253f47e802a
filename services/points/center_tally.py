"""Points earned per center and month of service, for the center's report.

The volunteer service tallies a center's approved minutes (services/volunteer/reports.py); the
points a record earned are decided here (scheme multipliers, the daily cap), so they are
tallied here too, the same way: AppendLog ``center_points``, streams
``<center>:<YYYY-MM>:<shard>`` (the activity's local month), one entry per record keyed
``credit:<record>`` and, once revoked, ``reversal:<record>`` taking the same points back. A
redelivered event therefore counts once, and a report walks only the streams of its months by
``_id``, whatever the length of the history.

The tally is the next step of the credit's chain (PointsService._credit), after the ledger's
credit: a crash between the two leaves the event unacknowledged, and its redelivery replays the
credit (same entry) and adds the tally. A reversal is placed in the stream of the credit's tally
entry (the revocation event names no center nor month). Each side writes its own fact, then
looks for the other's: the credit looks for the ledger's reversal after tallying itself, the
reversal for the credit's tally after the ledger's reversal, so whichever comes second adds the
reversal's tally (once, under its key).

The points counted are what the record earned (``gross``): a credit that paid back a debt, or
whose points went above the storage cap to the fund, still earned them.
"""
import datetime as dt
import logging
import re
import weakref

import eventlet
from marshmallow import fields, validate

from services.points import scheme
from services.points.movements import SERVICE_ACTOR
from services.shared import migrations
from services.shared.appendlog import AppendLog
from services.shared.center_months import month_stream, month_streams
from services.shared.contracts import Contract, Id
from services.shared.errors import NotFound
from services.shared.migrations import PagedMigration

log = logging.getLogger(__name__)

MAX_MONTHS = 60  # what one report may ask for (reports.MAX_MONTHS)
WALK_CONCURRENCY = 16
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


def month_of(starts_at):
    """The activity's local month, as the report's months are (both Asia/Shanghai)."""
    return scheme.local_date(starts_at).strftime("%Y-%m")


def credit_key(record_id):
    return f"credit:{record_id}"


def reversal_key(record_id):
    return f"reversal:{record_id}"


def ledger_reversal_key(record_id):
    return f"hours:{record_id}:reversal"  # PointsService._reverse's key on the ledger


class CenterPointsQuery(Contract):
    """RPC points.center_points: a center and the months of its report."""
    center_id = Id(required=True)
    months = fields.List(fields.String(validate=validate.Regexp(MONTH_PATTERN)),
                         required=True, validate=validate.Length(min=1, max=MAX_MONTHS))


class CenterPointsTally:
    def __init__(self, db):
        self.log = AppendLog(db, "center_points")

    def ensure_indexes(self):
        self.log.ensure_indexes()

    def add_credit(self, event, credit):
        """Tally what ``credit`` (the record's ledger entry) earned, once per record."""
        record_id = event["record_id"]
        starts_at = event["activity_starts_at"]
        stream = month_stream(event["center_id"], month_of(starts_at), record_id)
        entry, _ = self.log.append(
            stream, credit.get("gross", credit["delta"]), key=credit_key(record_id), floor=None,
            fields={"record_id": record_id, "volunteer_id": event["volunteer_id"],
                    "category": event["category"], "activity_starts_at": starts_at})
        return entry

    def add_reversal(self, record_id):
        """Take back the record's tallied points, once. Nothing when its credit is not tallied
        yet: that credit's run looks for the reversal once it has tallied itself."""
        credited = self.log.find_by_key(credit_key(record_id))
        if credited is None:
            return None
        entry, _ = self.log.append(
            credited["stream"], -credited["delta"], key=reversal_key(record_id), floor=None,
            fields={name: credited[name] for name in
                    ("record_id", "volunteer_id", "category", "activity_starts_at")})
        return entry

    def points_by_record(self, center_id, months):
        """[{record_id, volunteer_id, category, activity_starts_at, points}] of the center's
        records served in ``months`` whose points stand (a revoked record nets to nothing):
        the streams of those months walked by ``_id``, side by side."""
        streams = [stream for month in dict.fromkeys(months)
                   for stream in month_streams(center_id, month)]
        walked = eventlet.GreenPool(WALK_CONCURRENCY).imap(
            lambda stream: self.log.entries_of(stream, newest_first=False), streams)
        by_record = {}
        for entry in (entry for entries in walked for entry in entries):
            record = by_record.setdefault(entry["record_id"], {
                "record_id": entry["record_id"], "volunteer_id": entry["volunteer_id"],
                "category": entry["category"],
                "activity_starts_at": _utc(entry["activity_starts_at"]).isoformat(),
                "points": 0})
            record["points"] += entry["delta"]
        return [record for record in by_record.values() if record["points"]]


def _utc(moment):
    # The store hands datetimes back in UTC, naive unless its client is tz_aware.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


_tallies = weakref.WeakKeyDictionary()


def center_tally_of(ledger):
    """The tally on the ledger's database, one per ledger (like scheme_store_of). Its unique
    keys are made when the container starts (PointsService.center_tally_indexes)."""
    tally = _tallies.get(ledger)
    if tally is None:
        tally = _tallies.setdefault(ledger, CenterPointsTally(ledger.accounts.entries.database))
    return tally


def tally_credit(ledger, event, credit):
    """The credit's next step: its tally, then a reversal the ledger stored meanwhile."""
    tally = center_tally_of(ledger)
    tally.add_credit(event, credit)
    if ledger.find(ledger_reversal_key(event["record_id"])) is not None:
        tally.add_reversal(event["record_id"])


def tally_reversal(ledger, record_id):
    """The reversal's next step, after the ledger's reversal entry."""
    center_tally_of(ledger).add_reversal(record_id)


# --- credits stored before this tally existed ------------------------------------------------

BACKFILL = "earlier_credits"
BACKFILL_INTERVAL_SECONDS = 1  # a page a tick, in the background
HOURS_CREDIT_KEY = re.compile(r"^hours:(?P<record_id>.+):credit$")


class EarlierCredits:
    """Brings credits of hours stored before the tally into it, once per database: the ledger
    walked in ``_id`` order a page a tick (shared.migrations.PagedMigration). The ledger knows
    neither a record's center nor its activity's start, so each untallied credit asks the
    volunteer service (``records(record_ids) -> {record id: {center_id, category,
    activity_starts_at}}``). Every addition is keyed by record, as live credits' are: a page
    handled twice, or beside a live redelivery, adds nothing twice."""

    def __init__(self, ledger, records, page_size=None):
        self.ledger = ledger
        self.tally = center_tally_of(ledger)
        self.records = records
        self.migration = PagedMigration(self.tally.log.migrations, BACKFILL, [
            ("ledger", ledger.accounts.entries, self.credits)], page_size or migrations.PAGE_SIZE)

    def tick(self):
        return self.migration.tick()

    def credits(self, page):
        credits = {}
        for entry in page:
            matched = HOURS_CREDIT_KEY.match(entry.get("key", ""))
            if matched and "seq" in entry and not entry.get("refused"):
                credits[matched["record_id"]] = entry
        untallied = [record_id for record_id in credits
                     if self.tally.log.find_by_key(credit_key(record_id)) is None]
        found = self.records(untallied) if untallied else {}
        for record_id in untallied:
            record = found.get(record_id)
            if record is None:
                log.error("credit of hours %s names no record: left out of center reports",
                          record_id)
                continue
            tally_credit(self.ledger, dict(record, record_id=record_id,
                                           volunteer_id=credits[record_id]["stream"]),
                         credits[record_id])
        return True


def records_through(volunteer):
    """EarlierCredits' ``records`` through the volunteer service's RPCs: each record, then its
    activity (once per activity), side by side. A record it does not know is left out."""
    def record_or_none(record_id):
        try:
            return volunteer.get_hours(SERVICE_ACTOR, record_id)
        except NotFound:
            return None

    def records(record_ids):
        pool = eventlet.GreenPool(WALK_CONCURRENCY)
        found = dict(zip(record_ids, pool.imap(record_or_none, record_ids)))
        activity_ids = list({r["activity_id"] for r in found.values() if r is not None})
        activities = dict(zip(activity_ids, pool.imap(volunteer.get_activity, activity_ids)))
        out = {}
        for record_id, record in found.items():
            if record is not None:
                activity = activities[record["activity_id"]]
                out[record_id] = {
                    "center_id": activity["center_id"], "category": activity["category"],
                    "activity_starts_at": dt.datetime.fromisoformat(activity["starts_at"])}
        return out
    return records
