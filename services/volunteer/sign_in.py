"""On-site sign-in: the center shows the activity's code (as text and QR code), a volunteer
checks in and out with it from their phone, and check-out logs the pending hours record.

When the code works (times relative to the activity, see ``check_window``):

- check-in from CHECK_IN_OPENS_BEFORE (1 h) before ``starts_at`` until ``ends_at``: people arrive
  early, and nobody starts serving after the end;
- check-out until CHECK_OUT_GRACE (2 h) after ``ends_at``: a volunteer who forgets to check out
  at the door can still do it on the way home. The minutes are bounded by the activity's times
  at both ends (``served_minutes``), so early arrivals and late check-outs earn nothing extra.

Each step is one insert under a unique ``_id``: the codes are numbered documents per activity
(services/shared/sequence.py; the highest number is the current code, so rotating is inserting
the next), a check-in and a check-out are each keyed by (activity, volunteer). Two check-outs at
once store one check-out; its record is logged through the same path as staff sheets
(``VolunteerService._log_entries``) under a request key derived from the check-out, so both
runs meet the same record and every rule on records applies.

Wrong codes are throttled per volunteer and per activity (throttle.sign_in_budgets): a code is
compared only in a place of both budgets, taken by a unique insert first, so racing guesses get
no more comparisons than the budget; past it, 429 with Retry-After, as for logins.
"""
import datetime as dt
import hmac
import secrets

from nameko.rpc import rpc

from services.shared import contracts, sequence
from services.shared.clock import now
from services.shared.contracts import load
from services.shared.errors import Conflict, Forbidden, RuleViolation
from services.shared.ids import derived_id
from services.shared.storage import insert_or_replay
from services.volunteer import domain, throttle

# Upper-case letters and digits without the look-alikes 0/O, 1/I/L: read off a screen and typed
# on a phone without doubt. 31 symbols, 6 of them: about 8.9e8 codes.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6

CHECK_IN_OPENS_BEFORE = dt.timedelta(hours=1)
CHECK_OUT_GRACE = dt.timedelta(hours=2)

CHECK_IN, CHECK_OUT = "check_in", "check_out"
RECORD_FIELDS = ("id", "activity_id", "volunteer_id", "minutes", "status")


def new_code():
    """A fresh code from the operating system's randomness (not guessable from earlier ones)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def typed_code(value):
    """A code as a person types it, in the form it is stored: case, spaces and dashes ignored."""
    return "".join(value.split()).replace("-", "").upper()


def code_matches(current, typed):
    """Compared in constant time: the answer's timing tells nothing about the code."""
    return hmac.compare_digest(current.encode(), typed_code(typed).encode("utf-8", "replace"))


def window(activity, step):
    """(opens, closes) of the code for ``step`` on ``activity``."""
    if step == CHECK_IN:
        return activity["starts_at"] - CHECK_IN_OPENS_BEFORE, activity["ends_at"]
    return activity["starts_at"] - CHECK_IN_OPENS_BEFORE, activity["ends_at"] + CHECK_OUT_GRACE


def check_window(activity, step, at):
    opens, closes = window(activity, step)
    what = step.replace("_", "-")
    if at < opens:
        raise RuleViolation(f"{what} opens at {opens.isoformat()}, an hour before the activity "
                            "starts", code="sign_in_not_open")
    if at > closes:
        raise RuleViolation(f"{what} closed at {closes.isoformat()}: the activity is over",
                            code="sign_in_closed")


def served_minutes(activity, checked_in_at, checked_out_at):
    """Whole minutes between check-in and check-out, both bounded by the activity's times."""
    start = max(checked_in_at, activity["starts_at"])
    end = min(checked_out_at, activity["ends_at"])
    return max(0, int((end - start).total_seconds() // 60))


def sign_in_id(step, activity_id, volunteer_id):
    return derived_id({CHECK_IN: "cin", CHECK_OUT: "cout"}[step], activity_id, volunteer_id)


def is_replay(stored, request_key):
    """Whether ``stored`` was written by this same request (the gateway re-running it)."""
    return request_key is not None and stored.get("request_key") == request_key


class SignInStore:
    """The codes, check-ins and check-outs of the volunteer service's database."""

    def __init__(self, db):
        self.codes = db.sign_in_codes      # _id = "<activity>:<n>": the n-th code, see sequence
        self.steps = {CHECK_IN: db.check_ins, CHECK_OUT: db.check_outs}

    def current_code(self, activity_id):
        """The activity's current code document; the first is made when first asked for."""
        number = sequence.last_number(self.codes, activity_id)
        if number == 0:
            sequence.insert_next(self.codes, activity_id,
                                 {"activity_id": activity_id, "code": new_code(),
                                  "rotated_at": now(), "by": None, "request_key": None})
            number = sequence.last_number(self.codes, activity_id)
        return self.codes.find_one({"_id": sequence.numbered_id(activity_id, number)})

    def rotate(self, activity_id, by, request_key):
        """A new current code: the one before stops working. A replayed request rotates once."""
        latest = self.current_code(activity_id)
        if is_replay(latest, request_key):
            return latest
        number = sequence.insert_next(self.codes, activity_id, {
            "activity_id": activity_id, "code": new_code(), "rotated_at": now(), "by": by,
            "request_key": request_key}, start=latest["n"])
        return self.codes.find_one({"_id": sequence.numbered_id(activity_id, number)})

    def find(self, step, activity_id, volunteer_id):
        return self.steps[step].find_one({"_id": sign_in_id(step, activity_id, volunteer_id)})

    def record(self, step, doc):
        """Store a check-in or check-out once; returns (stored, created)."""
        doc = dict(doc, _id=sign_in_id(step, doc["activity_id"], doc["volunteer_id"]))
        return insert_or_replay(self.steps[step], doc)


def code_answer(activity, code):
    return {"activity_id": activity["_id"], "code": code["code"], "number": code["n"],
            "rotated_at": code["rotated_at"].isoformat(),
            "check_in_closes_at": window(activity, CHECK_IN)[1].isoformat(),
            "check_out_closes_at": window(activity, CHECK_OUT)[1].isoformat()}


def step_answer(doc):
    answer = {"activity_id": doc["activity_id"], "volunteer_id": doc["volunteer_id"],
              "checked_in_at": doc["checked_in_at"].isoformat()}
    if "checked_out_at" in doc:
        answer.update(checked_out_at=doc["checked_out_at"].isoformat(), minutes=doc["minutes"])
    return answer


class SignInEntrypoints:
    """The volunteer service's sign-in entrypoints (mixed into VolunteerService)."""

    @property
    def sign_in(self):
        return SignInStore(self.store.db)

    def _activity_of_center(self, actor, activity_id):
        actor = load(contracts.ActorSchema(), actor)
        activity = self._get_in_tenant(actor, self.store.activities, activity_id, "activity")
        domain.require_staff_of_center(actor, activity["center_id"])
        return actor, activity

    @rpc
    def sign_in_code(self, actor, activity_id):
        """The activity's current code, for its center's staff to show."""
        _, activity = self._activity_of_center(actor, activity_id)
        return code_answer(activity, self.sign_in.current_code(activity_id))

    @rpc
    def rotate_sign_in_code(self, actor, activity_id, request_key=None):
        actor, activity = self._activity_of_center(actor, activity_id)
        code = self.sign_in.rotate(activity_id, actor["user_id"], request_key)
        self.metrics.count("sign_in_code_rotated")
        return code_answer(activity, code)

    def _volunteer_at(self, actor, activity_id, body):
        """(actor, activity, volunteer id, typed code) of a volunteer signing in."""
        actor = load(contracts.ActorSchema(), actor)
        activity = self._get_in_tenant(actor, self.store.activities, activity_id, "activity")
        if actor["role"] != "volunteer":
            raise Forbidden("only a volunteer checks in and out, from their own login")
        return actor, activity, actor["subject_id"], load(contracts.SignInCodeIn(), body)["code"]

    def _check_code(self, activity, volunteer_id, step, typed, at):
        check_window(activity, step, at)
        current = self.sign_in.current_code(activity["_id"])["code"]  # before places are held
        check = throttle.Throttle(self.store.db.sign_in_attempts, self.clock).begin_check(
            throttle.sign_in_budgets(self.config, volunteer_id, activity["_id"]))
        if code_matches(current, typed):
            check.passed()
        else:
            check.failed()
            self.metrics.count("sign_in_wrong_code")
            raise RuleViolation("this is not the activity's current code (codes change when "
                                "staff rotate them): scan the code shown now", code="wrong_code",
                                fields={"code": ["not the current sign-in code"]})

    @rpc
    def check_in(self, actor, activity_id, body, request_key=None):
        actor, activity, volunteer_id, typed = self._volunteer_at(actor, activity_id, body)
        stored = self.sign_in.find(CHECK_IN, activity_id, volunteer_id)
        if stored is None or not is_replay(stored, request_key):
            at = self.clock()
            self._check_code(activity, volunteer_id, CHECK_IN, typed, at)
            stored, created = self.sign_in.record(CHECK_IN, {
                "activity_id": activity_id, "volunteer_id": volunteer_id, "checked_in_at": at,
                "by": actor["user_id"], "request_key": request_key})
            if not created and not is_replay(stored, request_key):
                raise Conflict(f"already checked in at {stored['checked_in_at'].isoformat()}",
                               code="already_checked_in")
        return step_answer(stored)

    @rpc
    def check_out(self, actor, activity_id, body, request_key=None):
        """Check out and log the pending hours record; answers the check-out and the record."""
        actor, activity, volunteer_id, typed = self._volunteer_at(actor, activity_id, body)
        stored = self.sign_in.find(CHECK_OUT, activity_id, volunteer_id)
        ours = stored is not None and is_replay(stored, request_key)
        if not ours:
            checked_in = self.sign_in.find(CHECK_IN, activity_id, volunteer_id)
            if checked_in is None:
                raise RuleViolation("check in first: there is no check-in to end",
                                    code="not_checked_in")
            if stored is None:
                stored, ours = self._store_check_out(actor, activity, checked_in, typed,
                                                      request_key)
        record = self._log_check_out(actor, activity, stored)
        if not ours:
            # Finished all the same above: a crash may have left the record out.
            raise Conflict(f"already checked out at {stored['checked_out_at'].isoformat()}: "
                           f"hours record {record['id']}", code="already_checked_out")
        return dict(step_answer(stored), record=record)

    def _store_check_out(self, actor, activity, checked_in, typed, request_key):
        at = self.clock()
        self._check_code(activity, checked_in["volunteer_id"], CHECK_OUT, typed, at)
        minutes = served_minutes(activity, checked_in["checked_in_at"], at)
        if minutes < 1:
            raise RuleViolation("no whole minute lies between check-in and check-out within the "
                                "activity's times", code="no_minutes_served")
        stored, created = self.sign_in.record(CHECK_OUT, {
            "activity_id": activity["_id"], "volunteer_id": checked_in["volunteer_id"],
            "checked_in_at": checked_in["checked_in_at"], "checked_out_at": at,
            "minutes": minutes, "by": actor["user_id"], "request_key": request_key})
        return stored, created or is_replay(stored, request_key)

    def _log_check_out(self, actor, activity, check_out):
        """The check-out's pending record, through the path of staff sheets; its request key is
        the check-out's, so every run for this check-out meets the same record."""
        entry = {"volunteer_id": check_out["volunteer_id"], "minutes": check_out["minutes"]}
        record = self._log_entries(actor, activity, [entry], request_key=check_out["_id"])[
            "records"][0]
        # A fresh record and a replayed one answer alike (a replay also carries its reason).
        return {field: record.get(field) for field in RECORD_FIELDS}
