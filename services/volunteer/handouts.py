"""What a center hands out: the service certificate and the center's report (entrypoints of
the volunteer service, mixed into VolunteerService).

Every read here is by ``_id`` (the only lookup FerretDB serves from an index), and bounded by
what is asked about: a certificate walks the volunteer's own minutes tally and the records it
names; a report walks its center's tally of the months in range (reports.py); a check of a code
reads the certificate and the revocations of the records on it.
"""
import base64
import logging

from eventlet import tpool
from nameko.rpc import rpc
from nameko.timer import timer
from pymongo.errors import DuplicateKeyError

from services.shared import contracts
from services.shared.clock import now
from services.shared.contracts import load
from services.shared.errors import Busy, NotFound, RuleViolation
from services.shared.inflight import RECOVERY_INTERVAL_SECONDS
from services.volunteer import certificate, domain, reports

log = logging.getLogger(__name__)

DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:8000"
EARLIER_DECISIONS_TALLIED = "earlier_decisions_tallied"  # the backfill's marker


class Handouts:
    # --- the service certificate -------------------------------------------------------------

    @rpc
    def issue_certificate(self, actor, volunteer_id):
        """The volunteer's certificate: ``{code, issued_at, pdf}`` (pdf in base64). Self, staff
        of its community or an admin; 422 no_approved_hours when there is nothing to certify."""
        actor = load(contracts.ActorSchema(), actor)
        volunteer = self.store.get(self.store.volunteers, volunteer_id, "volunteer")
        if not domain.may_read_volunteer(actor, volunteer):
            raise NotFound(f"volunteer {volunteer_id} not found")
        records = self._approved_records_of(volunteer_id)
        if not records:
            raise RuleViolation("this volunteer has no approved hours to certify yet",
                                code="no_approved_hours")
        state = certificate.certified_state(volunteer, records)
        # One code per certified state: the first download's claim wins any race, and a crash
        # between the two inserts is completed by the next download of the same state.
        claim, _ = self.store.insert_or_replay(self.store.certificate_states, {
            "_id": state, "code": certificate.new_code(), "issued_at": now()})
        document = certificate.certificate_document(
            claim["code"], state, volunteer, records,
            self.store.lookup_each(self.store.activities, [r["activity_id"] for r in records]),
            self.store.lookup_each(self.store.centers, [r["center_id"] for r in records]),
            claim["issued_at"])
        stored, _ = self.store.insert_or_replay(self.store.certificates, document)
        url = certificate.verification_url(
            self.config.get("PUBLIC_BASE_URL") or DEFAULT_PUBLIC_BASE_URL, stored["_id"])
        pdf = tpool.execute(certificate.render_pdf, stored, url)  # CPU: off the event loop
        return {"code": stored["_id"], "issued_at": stored["issued_at"].isoformat(),
                "verification_url": url, "pdf": base64.b64encode(pdf).decode()}

    def _approved_records_of(self, volunteer_id):
        """The volunteer's approved, non-revoked records, read through their own minutes
        tally (a stream per volunteer), so the cost follows their history only."""
        entries = self.store.service_minutes.entries_of(volunteer_id, newest_first=False)
        ids = certificate.approved_record_ids(entries)
        found = self.store.lookup_each(self.store.hours, ids)
        return [found[record_id] for record_id in ids if record_id in found]

    @rpc
    def check_certificate(self, code):
        """Anyone may check a code: what it certified, or 404 for a code never issued."""
        stored_code = certificate.normalized_code(code if isinstance(code, str) else None)
        document = stored_code and self.store.certificates.find_one({"_id": stored_code})
        if not document:
            raise NotFound("no certificate has this code", code="certificate_not_found")
        revocations = self.store.lookup_each(
            self.store.decisions,
            [f"{line['record_id']}:{domain.DECISION_STEP[domain.REVOKED]}"
             for line in document["lines"]])
        return certificate.check_answer(
            document, [decision["record_id"] for decision in revocations.values()
                       if decision["status"] == domain.REVOKED])

    # --- the center's report ---------------------------------------------------------------

    @rpc
    def center_report(self, actor, center_id, args):
        """Approved minutes of a center by month, category and volunteer (reports.py).
        Staff of that center or an admin; another community's center is unknown (404)."""
        actor = load(contracts.ActorSchema(), actor)
        query = load(contracts.ReportArgs(), args)
        center = self.store.get(self.store.centers, center_id, "center")
        domain.require_in_tenant(actor, center["community_id"], "center", center_id)
        domain.require_staff_of_center(actor, center_id, admin_too=True)
        first_day, last_day = reports.report_range(
            query["from_"], query["to"], certificate.local_date(self.clock()))
        streams = [stream for month in reports.months_between(first_day, last_day)
                   for stream in reports.month_streams(center_id, month)]
        entries = [entry for walked in self.store._each(
            self.store.center_minutes.entries_of, streams) for entry in walked]
        volunteers = self.store.lookup_each(self.store.volunteers,
                                            [entry["volunteer_id"] for entry in entries])
        return reports.build_report(center, first_day, last_day, entries,
                                    {vid: v["name"] for vid, v in volunteers.items()})

    @timer(interval=RECOVERY_INTERVAL_SECONDS, eager=True)
    def tally_earlier_decisions_for_reports(self):
        """Approvals and revocations followed before reports existed join the center tally.

        Once per database: a full read of the volunteers' minutes tally (a one-off migration,
        like AppendLog.backfill_claims), then a marker; afterwards each tick is one lookup.
        Appends are keyed by record, so a rerun (a crash half-way, another replica) adds nothing.
        """
        migrations = self.store.center_minutes.migrations
        if migrations.find_one({"_id": EARLIER_DECISIONS_TALLIED}) is not None:
            return
        for entry in self.store.service_minutes.entries.find({}):
            kind, _, record_id = entry.get("key", "").partition(":")
            if kind not in ("approve", "revoke") or entry.get("refused") or "seq" not in entry:
                continue
            record = self.store.hours.find_one({"_id": record_id})
            if record is not None and not self._tally_for_reports(record, entry["key"],
                                                                  entry["delta"]):
                return  # a busy stream: the next tick goes on
        try:
            migrations.insert_one({"_id": EARLIER_DECISIONS_TALLIED, "at": now()})
        except DuplicateKeyError:
            pass  # another replica finished it too

    def _tally_for_reports(self, record, key, minutes):
        """Add a decision's minutes to its center's month, once per key. False when that
        stream is too busy right now: the decision stays in flight and the recovery timer
        finishes it, without failing the request that made the decision."""
        stream = reports.month_stream(record["center_id"],
                                      reports.month_of(record["activity_starts_at"]),
                                      record["_id"])
        try:
            self.store.center_minutes.append(stream, minutes, key=key, floor=None,
                                             fields=reports.tally_fields(record))
        except Busy:
            log.warning("center tally %s busy; recovery will add %s", stream, key)
            return False
        return True
