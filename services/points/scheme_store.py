"""The points service's own records of the scheme: published versions and the daily cap's room.

Both are append-only logs (services.shared.appendlog) in the points database, so every decision
rests on an insert under a unique ``_id`` — the one atomic guard FerretDB and MongoDB share:

- ``scheme_versions``: one stream per community; entry n is version ``"v<n>"``. A version is
  never edited, so an in-process copy of a community's versions is current exactly when entry
  n+1 does not exist: one ``_id`` lookup per credit instead of re-reading the versions.
- ``daily_minutes``: one stream per (volunteer, local date) of the creditable minutes used.
  A record's allocation is planned against the very entry it is appended after, so two
  consumers racing for the same day cannot both take the same room: the insert of entry n
  decides, the loser re-plans against the winner's total. The allocation is keyed by the hours
  record, so a redelivered approval finds it again (with the version it was decided under)
  instead of allocating twice. A revocation appends a negative entry keyed by the record: the
  room is free for later approvals, while earlier credits stay as they were.
"""
import datetime as dt
import uuid
import weakref

from nameko.extensions import DependencyProvider

from services.points import scheme as rules
from services.shared import clock
from services.shared.appendlog import AppendLog, entry_id
from services.shared.config import db_name
from services.shared.errors import InvalidInput, KeyReused, RuleViolation
from services.shared.storage import connect


class DayLog(AppendLog):
    """The daily cap's log: a stream per volunteer and day holds a few entries (a share per
    record of the day, a release per revocation), so it is walked from its first entry
    instead of keeping a head hint: an append costs its claim and its entry, one lookup per
    entry of the day and no hint read or write. Every decision is still AppendLog's (the
    insert of entry n under its unique ``_id``, the key's claim)."""

    def last_entry(self, stream):
        seq, last = 0, {}
        while True:
            nxt = self.entries.find_one({"_id": entry_id(stream, seq + 1)})
            if nxt is None:
                return seq, last
            seq, last = seq + 1, nxt

    def _advance_hint(self, stream, doc):
        pass  # no hint: see the class


class SchemeStore:
    def __init__(self, db):
        self.versions_log = AppendLog(db, "scheme_versions")
        self.daily = DayLog(db, "daily_minutes")
        self._versions = {}  # community -> tuple of (Scheme, entry), in publication order

    def ensure_indexes(self):
        self.versions_log.ensure_indexes()
        self.daily.ensure_indexes()

    # --- versions ----------------------------------------------------------------------------

    def published(self, community_id):
        """The community's versions as (Scheme, entry) pairs, oldest first. Costs one ``_id``
        lookup when the cached copy is current, one more per version published since."""
        known = self._versions.get(community_id, ())
        fresh = []
        while True:
            doc = self.versions_log.entries.find_one(
                {"_id": entry_id(community_id, len(known) + len(fresh) + 1)})
            if doc is None:
                break
            fresh.append((rules.scheme_from_document(doc["scheme"]), doc))
        if fresh:
            known = known + tuple(fresh)
            # Racing readers may store copies of different lengths: each is a true prefix, and
            # the next lookup extends a short one.
            self._versions[community_id] = known
        return known

    def versions(self, community_id):
        return [version for version, _ in self.published(community_id)]

    def publish(self, community_id, document, by, request_key=None, now=None):
        """Append a new version from ``document`` (SchemeIn fields, effective_from a date);
        returns (Scheme, entry, created). Refused (422) when effective_from lies before today
        in the version's time zone, or names a date on which a version is already in force."""
        now = now or clock.now()
        timezone = document.get("timezone") or self._zone_in_force(community_id, now)
        fields = {k: v for k, v in document.items() if v is not None}
        fields["timezone"] = timezone
        try:  # the fields alone, before the version's name is known
            rules.scheme_from_document(dict(fields, version="v0"))
        except rules.SchemeError as error:
            raise InvalidInput("invalid scheme", fields={k: [v] for k, v in error.fields.items()})
        key = f"publish:{community_id}:{request_key or uuid.uuid4().hex}"

        def plan(total, previous=None):
            earlier = self.versions(community_id)[:total]
            version = rules.scheme_from_document(dict(fields, version=f"v{total + 1}"))
            _check_publishable(version, earlier, now)
            return 1, {"scheme": rules.scheme_to_document(version), "published_by": by,
                       "community_id": community_id}

        entry, created = self.versions_log.append_planned(community_id, key, plan, floor=None,
                                                          claimed_delta=1, now=now)
        return rules.scheme_from_document(entry["scheme"]), entry, created

    def _zone_in_force(self, community_id, now):
        versions = self.versions(community_id)
        today = now.astimezone(rules.zone(rules.DEFAULT_TIMEZONE)).date()
        return rules.version_in_force(versions, today).timezone

    # --- the daily cap -----------------------------------------------------------------------

    @staticmethod
    def day_stream(volunteer_id, day):
        return f"{volunteer_id}/{day.isoformat()}"

    def allocate(self, volunteer_id, day, record_id, minutes, version):
        """The record's share of the day's cap under ``version``: the entry (``delta`` =
        creditable minutes, ``version`` it was decided under), decided once per record."""
        def plan(total, previous=None):
            creditable, uncredited = rules.allocate_cap(max(total, 0), minutes,
                                                        version.daily_cap_minutes)
            return creditable, {"record_id": record_id, "minutes": minutes,
                                "uncredited_minutes": uncredited, "version": version.version,
                                "daily_cap_minutes": version.daily_cap_minutes}

        entry, _ = self.daily.append_planned(self.day_stream(volunteer_id, day),
                                             allocation_key(record_id), plan, floor=0)
        if entry["minutes"] != minutes:
            raise KeyReused(f"hours record {record_id} was allocated for {entry['minutes']} "
                            f"minutes, not {minutes}",
                            fields={"minutes": [f"allocated for {entry['minutes']}"]})
        return entry

    def release(self, record_id):
        """Free the room a revoked record took, once; later approvals of the day may use it.
        Nothing to free for a record credited before the daily cap was kept."""
        allocation = self.daily.find_by_key(allocation_key(record_id))
        if allocation is None or not allocation["delta"]:
            return None
        entry, _ = self.daily.append(allocation["stream"], -allocation["delta"],
                                     key=f"hours:{record_id}:release", floor=0,
                                     fields={"record_id": record_id})
        return entry


def allocation_key(record_id):
    return f"hours:{record_id}:allocation"


def _check_publishable(version, earlier, now):
    today = now.astimezone(rules.zone(version.timezone)).date()
    if version.effective_from < today:
        raise RuleViolation(
            "a scheme version cannot take effect in the past", code="effective_from_in_past",
            fields={"effective_from": [f"must be {today.isoformat()} or later "
                                       f"({version.timezone})"]})
    if any(v.effective_from == version.effective_from <= today for v in earlier):
        raise RuleViolation(
            "a version is already in force from that date and never changes",
            code="version_in_force",
            fields={"effective_from": [f"a version is in force from "
                                       f"{version.effective_from.isoformat()}"]})


_stores = weakref.WeakKeyDictionary()


def scheme_store_of(ledger):
    """The SchemeStore on the ledger's database, one per ledger (a ledger lives as long as its
    service container), so the cached versions outlive each worker. Its unique keys are
    created when the container starts (SchemeLogIndexes)."""
    store = _stores.get(ledger)
    if store is None:
        store = _stores.setdefault(ledger, SchemeStore(ledger.accounts.entries.database))
    return store


class SchemeLogIndexes(DependencyProvider):
    """Creates the scheme logs' unique keys when the points container starts: the logs'
    correctness rests on them, so the service does not serve without them. Workers reach the
    logs through scheme_store_of(ledger), not through this."""

    def start(self):
        client = connect(self.container.config["MONGO_URL"])
        try:
            SchemeStore(client[db_name(self.container.config, "points")]).ensure_indexes()
        finally:
            client.close()

    def get_dependency(self, worker_ctx):
        return None


def scheme_out(version, entry=None):
    """A version as the API shows it: multipliers as JSON numbers (exact: at most 4 places)."""
    out = rules.scheme_to_document(version)
    out["category_multipliers"] = {c: _number(m)
                                   for c, m in version.category_multipliers.items()}
    out["weekend_holiday_multiplier"] = _number(version.weekend_holiday_multiplier)
    if version is rules.DEFAULT_SCHEME:
        out["effective_from"] = None
    if entry is not None:
        out["published_at"] = entry["at"].astimezone(dt.timezone.utc).isoformat()
        out["published_by"] = entry.get("published_by")
    return out


def _number(decimal):
    return int(decimal) if decimal == decimal.to_integral_value() else float(decimal)
