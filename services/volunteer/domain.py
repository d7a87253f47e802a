"""Volunteer-domain rules as plain functions: hours life cycle, star levels, passwords."""
import unicodedata

import bcrypt

from services.shared import contracts

from services.shared.contracts import PASSWORD_MAX_BYTES
from services.shared.errors import Conflict, Forbidden, NotFound, RuleViolation
from services.shared.ids import derived_id

# Cumulative approved service hours for each star (星级志愿者).
STAR_THRESHOLD_HOURS = (100, 300, 600, 1000, 1500)

PENDING, APPROVED, REJECTED, REVOKED = "pending", "approved", "rejected", "revoked"
# A record whose sheet was refused (all or none): never deleted, since its id is derivable and a
# decision may already be stored under it, but voided by the sheet at step 1.
VOIDED = "voided"

# Decisions are numbered steps of a record's life: step 1 approves, rejects or voids a pending
# record, step 2 revokes an approved one. Each step is stored once under "<record>:<step>", so
# two staff deciding at once (or staff and a refused sheet) cannot both win.
DECISION_STEP = {APPROVED: 1, REJECTED: 1, VOIDED: 1, REVOKED: 2}


def decision_effects(record, decision):
    """What a stored decision changes beyond itself, or None (a rejection or void changes nothing).

    Returns (tally key, minutes to add to the volunteer's approved minutes, event type, event
    body). The key and the event id are the record's, so each effect happens once.
    """
    record_id = record["_id"]
    common = {"record_id": record_id, "volunteer_id": record["volunteer_id"],
              "community_id": record["community_id"], "minutes": record["minutes"]}
    if decision["status"] == APPROVED:
        event = dict(common, center_id=record["center_id"], activity_id=record["activity_id"],
                     category=record["category"], activity_starts_at=record["activity_starts_at"],
                     approved_at=decision["at"], approved_by=decision["by"])
        return f"approve:{record_id}", record["minutes"], "hours_approved", event
    if decision["status"] == REVOKED:
        event = dict(common, reason=decision["reason"], revoked_at=decision["at"],
                     revoked_by=decision["by"])
        return f"revoke:{record_id}", -record["minutes"], "hours_revoked", event
    return None


# A record in one of these statuses no longer counts: the center may log the volunteer again on
# the same activity (the way to correct minutes, since records never change), as a new record.
REOPENED_BY = (REJECTED, REVOKED, VOIDED)


def void_decision(record, reason, at):
    """The step-1 decision a refused sheet stores for a record it had just inserted."""
    return {"record_id": record["_id"], "status": VOIDED, "reason": reason,
            "by": record["logged_by"], "at": at}


def record_id(activity_id, volunteer_id, generation):
    """The hours record of a volunteer on an activity, the ``generation``-th time it is logged.

    A volunteer is logged once per activity because this id can be inserted once: two sheets
    logging the same volunteer at the same time cannot both succeed.
    """
    return derived_id("hrs", activity_id, volunteer_id, generation)


def next_generation(record):
    """The same record, logged again after its previous generation was rejected or revoked."""
    generation = record["generation"] + 1
    return dict(record, generation=generation,
                _id=record_id(record["activity_id"], record["volunteer_id"], generation))


def activity_minutes(activity):
    """An activity's length in whole minutes: the most one volunteer can serve on it."""
    return int((activity["ends_at"] - activity["starts_at"]).total_seconds() // 60)


def check_activity_started(activity, at):
    if activity["starts_at"] > at:
        raise RuleViolation(f"activity {activity['_id']} has not started yet",
                            code="activity_not_started")


def sheet_entry_problems(entries, activity):
    """Per-entry faults a sheet shows by itself: {entry index: {field: [messages]}}."""
    longest = activity_minutes(activity)
    first_entry_of = {}
    problems = {}
    for index, entry in enumerate(entries):
        faults = {}
        earlier = first_entry_of.setdefault(entry["volunteer_id"], index)
        if earlier != index:
            faults["volunteer_id"] = [f"already in entry {earlier}: one entry per volunteer"]
        if entry["minutes"] > longest:
            faults["minutes"] = [f"at most {longest}: the activity's length in minutes"]
        if faults:
            problems[str(index)] = faults
    return problems


def star_level(approved_minutes):
    hours = approved_minutes // 60
    return sum(1 for threshold in STAR_THRESHOLD_HOURS if hours >= threshold)


def decision_answer(record_id, decision):
    """What approve, reject and revoke answer: the decision as stored, never the request's."""
    answer = {"id": record_id, "status": decision["status"]}
    if decision["status"] != APPROVED:
        answer["reason"] = decision["reason"]
    return answer


def check_decision(current, wanted):
    """Raise Conflict unless a record in status ``current`` may move to ``wanted``."""
    allowed = {APPROVED: (PENDING,), REJECTED: (PENDING,), REVOKED: (APPROVED,)}[wanted]
    if current not in allowed:
        raise Conflict(f"hours record is {current}; cannot make it {wanted}",
                       code="invalid_status")


def hash_password(password, rounds):
    """The bcrypt hash; the contracts refuse passwords bcrypt cannot take (over 72 bytes)."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def password_matches(password, hashed):
    """Whether ``password`` is the one ``hashed`` was made from; never raises on odd input.

    A password bcrypt cannot take (over 72 bytes; a lone surrogate) was never stored, so it
    matches nothing, but it still costs one bcrypt check: the answer's timing tells nothing.
    """
    encoded = password.encode("utf-8", "surrogatepass")
    if len(encoded) > PASSWORD_MAX_BYTES:
        bcrypt.checkpw(b"", hashed.encode())
        return False
    return bcrypt.checkpw(encoded, hashed.encode())


username_key = contracts.username_key


# --- who may do what (tenancy) -------------------------------------------------------------

def require_in_tenant(actor, community_id, what, doc_id):
    """Another community's documents answer as unknown ones (404): even existence must not leak.

    Checked before any role check, so a 403 only ever tells a caller of the same community that
    its role does not allow the action.
    """
    if actor["role"] != "admin" and actor.get("community_id") != community_id:
        raise NotFound(f"{what} {doc_id} not found")


def require_staff_of_center(actor, center_id, admin_too=False):
    """Center staff act on their own center only.

    Whoever records hours certifies them (谁记录谁证明): publishing activities, logging and
    deciding hours is the center's; an admin may only revoke and inspect (``admin_too``).
    """
    if admin_too and actor["role"] == "admin":
        return
    if actor["role"] != "center_staff" or actor.get("center_id") != center_id:
        raise Forbidden("only staff of this center may do that")


def require_staff_of_community(actor, community_id):
    if actor["role"] == "admin":
        return
    if actor["role"] != "center_staff" or actor.get("community_id") != community_id:
        raise Forbidden("only staff of this community may do that")


def may_read_volunteer(actor, volunteer):
    return (
        actor["role"] == "admin"
        or (actor["role"] == "volunteer" and actor.get("subject_id") == volunteer["_id"])
        or (actor["role"] == "center_staff"
            and actor.get("community_id") == volunteer["community_id"])
    )


# --- one number, one volunteer; finding volunteers -----------------------------------------

def phone_claim_id(community_id, phone):
    """The document whose unique ``_id`` makes a mobile number one volunteer per community."""
    return f"phone:{community_id}:{phone}"


# Names are indexed by their prefixes up to this many characters (Chinese names are 2 to 4;
# a longer query walks its first NAME_PREFIX_MAX characters and filters the rest).
NAME_PREFIX_MAX = 12


def name_key(name):
    """A name as searches compare it: NFKC (full-width letters), casefolded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def name_prefixes(name):
    key = name_key(name)
    return [key[:length] for length in range(1, min(len(key), NAME_PREFIX_MAX) + 1)]


def community_stream(community_id):
    """Every volunteer of a community, in registration order."""
    return f"all:{community_id}"


def name_stream(community_id, prefix):
    """The volunteers of a community whose name starts with ``prefix`` (see name_prefixes)."""
    return f"name:{community_id}:{prefix[:NAME_PREFIX_MAX]}"


# --- honest hours: capacity and overlapping activities -------------------------------------

def overlaps(a_starts, a_ends, b_starts, b_ends):
    """Whether two activities share a moment (one ending as the other starts do not)."""
    return a_starts < b_ends and b_starts < a_ends


def overlap_message(other):
    return (f"overlaps hours record {other['record_id']} (activity {other['activity_id']}, "
            f"{other['starts_at'].isoformat()} to {other['ends_at'].isoformat()})")


def capacity_message(activity, placed):
    return (f"the activity takes at most {activity['capacity']} volunteers; "
            f"{placed} are logged already")
