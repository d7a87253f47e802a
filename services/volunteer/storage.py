"""The volunteer service's database: tenancy, logins, volunteers, activities and hours.

Documents are looked up by ``_id``; uniqueness that the rules need (a username, a community
code, one decision per step of an hours record, one tally entry per decision) is a unique key,
so it holds under concurrent requests without transactions.
"""
from pymongo.errors import DuplicateKeyError

from services.shared.appendlog import AppendLog
from services.shared.inflight import InFlight
from services.shared.errors import Conflict
from services.shared.storage import get_or_404, insert_or_replay


class VolunteerStore:
    def __init__(self, db):
        self.db = db
        self.communities = db.communities
        self.centers = db.centers
        self.users = db.users              # _id = username
        self.volunteers = db.volunteers
        self.activities = db.activities
        self.hours = db.hours              # one document per logged record, immutable facts
        self.decisions = db.hours_decisions  # _id = "<record>:<step>", see domain.DECISION_STEP
        # Approved minutes per volunteer, as an append-only tally: +minutes on approval,
        # -minutes on revocation, each once per record.
        self.service_minutes = AppendLog(db, "service_minutes")
        # Decisions whose tally and events are still to be written (see shared.inflight).
        self.in_flight = InFlight(db.decisions_in_flight)

    def ensure_indexes(self):
        self.communities.create_index("code", unique=True, name="code_unique")
        self.service_minutes.ensure_indexes()

    # --- generic -------------------------------------------------------------------------

    get = staticmethod(get_or_404)
    insert_or_replay = staticmethod(insert_or_replay)

    def insert_new(self, collection, doc, conflict_message, code="already_exists"):
        try:
            collection.insert_one(doc)
        except DuplicateKeyError:
            raise Conflict(conflict_message, code=code)
        return doc

    # --- hours -----------------------------------------------------------------------------

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
