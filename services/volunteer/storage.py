"""The volunteer service's database: tenancy, logins, volunteers, activities and hours.

Documents are looked up by ``_id``; uniqueness that the rules need (a username, a community
code, one decision per step of an hours record, one tally entry per decision) is a unique key,
so it holds under concurrent requests without transactions.
"""
import eventlet
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.shared.appendlog import AppendLog
from services.shared.clock import now
from services.shared.inflight import InFlight
from services.shared.errors import Conflict
from services.shared.storage import get_or_404, insert_or_replay
from services.volunteer import domain, indexes

# FerretDB pushes only ``_id`` equality down to an index (``$in`` reads the whole collection), so
# a request that needs many documents looks each up by ``_id``, this many at a time.
LOOKUP_CONCURRENCY = 16

# How a sheet's record ended up stored.
CREATED, REPLAYED, TAKEN = "created", "replayed", "taken"

VOID_REASON = "its sheet was refused: another volunteer on it was already logged"


class VolunteerStore:
    def __init__(self, db):
        self.db = db
        self.communities = db.communities
        self.centers = db.centers
        self.users = db.users              # _id = username, casefolded (domain.username_key)
        self.disabled_users = db.disabled_users  # _id = user id: an admin disabled this login
        self.login_attempts = db.login_attempts  # failures, locks, registrations (throttle.py)
        self.volunteers = db.volunteers
        self.activities = db.activities
        self.hours = db.hours              # one document per logged record, immutable facts
        self.decisions = db.hours_decisions  # _id = "<record>:<step>", see domain.DECISION_STEP
        # Approved minutes per volunteer, as an append-only tally: +minutes on approval,
        # -minutes on revocation, each once per record.
        self.service_minutes = AppendLog(db, "service_minutes")
        # Decisions whose tally and events are still to be written (see shared.inflight).
        self.in_flight = InFlight(db.decisions_in_flight)
        # Sheets whose records are stored but whose places and occupied times may not be yet:
        # the marker carries the records, so recovery settles the sheet (see hours.py).
        self.sheets_in_flight = InFlight(db.sheets_in_flight)
        # Rules and lists decided and walked by _id alone (see indexes.py).
        self.directory = indexes.VolunteerDirectory(db)
        self.occupancy = indexes.Occupancy(db)
        self.rosters = indexes.Rosters(db)
        self.center_activities = indexes.CenterActivities(db)
        # Approved minutes per center and month of service, for reports (see reports.py).
        self.center_minutes = AppendLog(db, "center_minutes")
        # Issued service certificates, insert-only: _id = the verification code; and the code
        # of each certified state (certificate.certified_state), so a state keeps its code.
        self.certificates = db.certificates
        self.certificate_states = db.certificate_states

    def ensure_indexes(self):
        self.communities.create_index("code", unique=True, name="code_unique")
        self.service_minutes.ensure_indexes()
        for log in (self.directory, self.occupancy, self.rosters, self.center_activities):
            log.ensure_indexes()
        self.center_minutes.ensure_indexes()

    # --- generic -------------------------------------------------------------------------

    get = staticmethod(get_or_404)
    insert_or_replay = staticmethod(insert_or_replay)

    def insert_new(self, collection, doc, conflict_message, code="already_exists"):
        try:
            collection.insert_one(doc)
        except DuplicateKeyError:
            raise Conflict(conflict_message, code=code)
        return doc

    def _each(self, function, items):
        """``function`` over ``items`` with bounded concurrency, results in order."""
        return list(eventlet.GreenPool(LOOKUP_CONCURRENCY).imap(function, items))

    def lookup_each(self, collection, ids):
        """{id: document} for those of ``ids`` that exist: one _id lookup each."""
        found = self._each(lambda doc_id: collection.find_one({"_id": doc_id}),
                           list(dict.fromkeys(ids)))
        return {doc["_id"]: doc for doc in found if doc}

    # --- volunteers --------------------------------------------------------------------------

    def communities_of_volunteers(self, volunteer_ids):
        """{volunteer id: its community id} for the ids that exist: one _id lookup each."""
        found = self._each(
            lambda volunteer_id: self.volunteers.find_one({"_id": volunteer_id},
                                                          {"community_id": 1}),
            volunteer_ids)
        return {volunteer["_id"]: volunteer["community_id"] for volunteer in found if volunteer}

    # --- logins ----------------------------------------------------------------------------

    def find_user(self, username):
        """The login of ``username`` in any case, or None.

        Logins made before usernames were casefolded keep their ``_id`` as typed: found by an
        exact lookup when the casefolded one misses.
        """
        key = domain.username_key(username)
        user = self.users.find_one({"_id": key})
        if user is None and username != key:
            user = self.users.find_one({"_id": username})
        return user

    def username_taken(self, username):
        return self.find_user(username) is not None

    # --- hours -----------------------------------------------------------------------------

    def insert_sheet(self, records):
        """Insert a sheet's records, all or none: a volunteer holds one live record per activity.

        Each record's ``_id`` names (activity, volunteer, generation), see domain.record_id, so
        the store's unique ``_id`` decides between sheets that log one volunteer at once.
        Returns a list of (record as stored, CREATED | REPLAYED | TAKEN): REPLAYED is a record
        this sheet stored before (a retried request), TAKEN the record of another sheet that
        holds the place. When any is TAKEN, the records created here are voided (see _void).
        """
        try:
            self.hours.insert_many(records, ordered=False)
            return [(record, CREATED) for record in records]
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != 11000 for error in errors):
                raise
            clashed = sorted(error["index"] for error in errors)
        placed = [(record, CREATED) for record in records]
        # One volunteer per record (a sheet names each once), so places are independent.
        for index, outcome in zip(clashed, self._each(self._place,
                                                      [records[i] for i in clashed])):
            placed[index] = outcome
        if any(how == TAKEN for _, how in placed):
            self._each(self._void, [record for record, how in placed if how == CREATED])
        return placed

    def _void(self, record):
        """Undo a refused sheet's fresh record by deciding it ``voided``, never by deleting it.

        Its id is derivable, so staff may have decided it already; a deleted record would leave
        that decision (and its credit) behind, and its id would come back approved. The step-1
        decision is one unique insert: if an approval landed first, the approved record stays
        (staff approved a real record, whose credit is its own minutes) and the sheet is
        refused all the same.
        """
        self.record_decision(record["_id"], domain.DECISION_STEP[domain.VOIDED],
                             domain.void_decision(record, VOID_REASON, now()))

    def _place(self, record):
        """One record whose ``_id`` is stored already: a replay, a later generation, or taken."""
        while True:
            stored, created = self.insert_or_replay(self.hours, record)
            if created:
                return record, CREATED
            if stored is None:  # records are never deleted; kept for stores written before
                continue
            status = self.status_of(stored["_id"])[0]
            # This sheet's own voided record (it was refused before) is not a replay: the retry
            # logs the volunteer anew, like any sheet after a rejection.
            if stored.get("sheet_id") == record["sheet_id"] and status != domain.VOIDED:
                return stored, REPLAYED
            if status not in domain.REOPENED_BY:
                return stored, TAKEN
            record = domain.next_generation(record)


    def status_of(self, record_id):
        """(status, decision document) derived from the record's stored decisions."""
        for step in (2, 1):
            decision = self.decisions.find_one({"_id": f"{record_id}:{step}"})
            if decision is not None:
                return decision["status"], decision
        return "pending", None

    def record_decision(self, record_id, step, decision):
        """Store a decision once; returns (stored decision, created)."""
        return self.insert_or_replay(self.decisions, dict(decision, _id=f"{record_id}:{step}"))
