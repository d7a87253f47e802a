"""Partner merchants (爱心商家): one-time codes, redemption at the counter, voids, statements.

The flow, each step decided once by an insert under a unique key (no updates, no transactions):

- A volunteer asks for a code (``issue_redeem_code``): 7 characters from an alphabet without
  look-alikes, from ``secrets``, valid CODE_LIFETIME, stored with ``_id`` = the code and bound to
  the volunteer. Its state never changes in place: the code's fate is the one document
  ``<code>:used`` in ``redeem_code_states``, inserted either by the redemption that uses it
  (``redemption_id``) or by the wrong try that burns it (``burnt``), whichever comes first.
- The merchant enters the code with one of its offers (``redeem_at_merchant``). What is checked
  before anything is stored: the offer is this merchant's, the code is known (an unknown code is a
  wrong try against the merchant), bound to the volunteer the till names when it scanned the QR
  code (another volunteer is a wrong try against the code and the merchant), neither used, burnt
  nor expired, the volunteer has the approved hours the merchant's community asks for (422 with
  the hours missing) and the points (409 insufficient_points: the code is not consumed).
- Then the saga, run by the shelf's runner (rewards/saga.py): an in-flight marker, the redemption
  stored, the offer's daily quota taken (a per-(offer, local day) append-only log with a floor),
  the code used, the points debited (``redemption:<id>``, kind redeem), the outcome stored once
  (``merchant_redemption_outcomes``) before any compensation (the day's quota given back), and
  the points recorded as owed to the merchant: +points on the merchant's own append-only log
  ``merchant_owed`` (stream = the merchant). Not a points account: what a merchant is owed is a
  settlement debt of the community, not spendable points that expire. The recovery timer reruns
  marked sagas. A debit refused after the balance check passed (the volunteer spent the points
  meanwhile) leaves the code used: the volunteer asks for a new one.
- The merchant may void a completed redemption within VOID_WINDOW (``void_merchant_redemption``):
  marker, then the void decided by an insert under the redemption's id, the points credited
  back once (``refund_of`` the debit: with their expiry dates), −points on the owed log. A marker
  without a decision is a void that passed every check: recovery decides and finishes it. A void
  does not give the day's quota back: the offer was handed over at the counter.
- Guessing: a merchant holds one of WRONG_CODES_PER_MERCHANT places per window while a code is
  checked (taken by a unique insert before the lookup, given back when the code was right), so
  concurrent guesses cannot pass the budget; past it 429 with Retry-After. A code is burnt at its
  WRONG_TRIES_PER_CODE-th wrong try (numbered inserts). Each wrong try counts in the metric
  ``redeem_code_wrong`` and is logged. A known code refused for the volunteer's sake (points,
  hours, expiry) is no wrong try.
- ``merchant_statement`` reads the merchant's owed log between two local days only: per day and
  offer what was redeemed and voided, and the total owed.
"""
import csv
import datetime as dt
import io
import logging
import math
import random
import re
import secrets
import zoneinfo

from marshmallow import Schema, fields
from nameko.exceptions import RemoteError
from nameko.rpc import rpc
from nameko.timer import timer
from pymongo.errors import DuplicateKeyError

from services.rewards import merchant_days, saga
from services.shared import contracts
from services.shared.access import require_role
from services.shared.appendlog import AppendLog
from services.shared.clock import now
from services.shared.contracts import load
from services.shared.errors import Conflict, Forbidden, InsufficientPoints, InvalidInput, \
    NotFound, RuleViolation, ServiceUnavailable, TooManyAttempts
from services.shared.ids import id_for_request
from services.shared.inflight import RECOVERY_INTERVAL_SECONDS, InFlight, resume_each
from services.shared.sequence import insert_next, numbered_id
from services.shared.storage import insert_or_replay

log = logging.getLogger(__name__)

# No 0/O, 1/I/L: read aloud or typed off a phone screen, no two characters are confused.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 7  # 31**7 ≈ 2.7e10 codes; a merchant gets WRONG_CODES_PER_MERCHANT guesses a window
CODE_LIFETIME = dt.timedelta(minutes=5)
TYPED_CODE = re.compile(f"[{CODE_ALPHABET}]{{6,8}}")
WRONG_TRIES_PER_CODE = 3
WRONG_CODES_PER_MERCHANT = 10
GUESS_WINDOW_SECONDS = 15 * 60
VOID_WINDOW = dt.timedelta(hours=24)
MAX_STATEMENT_DAYS = 366
DEFAULT_ZONE = "Asia/Shanghai"

COMPLETED, FAILED, CANCELLED, PENDING = "completed", "failed", "cancelled", "pending"
FAILURES = {  # failure -> (error, what the till shows)
    "insufficient_points": (InsufficientPoints, "Not enough points"),
    "daily_quota_reached": (Conflict, "This offer's redemptions for today are used up"),
    "code_used": (Conflict, "This code was used already; ask for a new one"),
    "code_burnt": (RuleViolation, "This code was blocked after wrong tries; ask for a new one"),
}


# --- rules as plain functions ------------------------------------------------------------------

def new_code():
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def typed_code(value):
    """The code as typed at the till, in its one stored form; None when it cannot be a code.
    Case and the spaces or dashes a person types between groups do not matter."""
    code = re.sub(r"[\s\-]", "", value or "").upper()
    return code if TYPED_CODE.fullmatch(code) else None


def hours_and_minutes(minutes):
    hours, rest = divmod(minutes, 60)
    chinese = f"{hours} 小时" + (f" {rest} 分钟" if rest else "")
    english = f"{hours} h" + (f" {rest} min" if rest else "")
    return chinese, english


def missing_hours_error(approved, minimum):
    """422 saying how much approved service is missing, as a person reads hours."""
    chinese, english = hours_and_minutes(minimum - approved)
    return RuleViolation(
        f"志愿服务时长不足：还差 {chinese} / Not enough approved service hours for partner "
        f"merchants: {english} more needed", code="not_enough_hours",
        fields={"approved_minutes": [f"{approved} of the {minimum} required"]})


def zone_of(scheme_answer):
    name = ((scheme_answer or {}).get("current") or {}).get("timezone") or DEFAULT_ZONE
    return zoneinfo.ZoneInfo(name)


def local_day(moment, zone):
    return moment.astimezone(zone).date().isoformat()


def quota_stream(reward_id, day):
    return f"{reward_id}@{day}"


def summarize(entries, zone):
    """Statement rows per local day and offer (oldest first) and their totals."""
    rows = {}
    for e in entries:
        day = local_day(e["at"], zone)
        row = rows.setdefault((day, e["reward_id"]), {
            "day": day, "reward_id": e["reward_id"], "title": e.get("title"), "redeemed": 0,
            "redeemed_points": 0, "voided": 0, "voided_points": 0, "owed_points": 0})
        kind = "redeemed" if e["delta"] > 0 else "voided"
        row[kind] += 1
        row[f"{kind}_points"] += abs(e["delta"])
        row["owed_points"] += e["delta"]
    items = [rows[k] for k in sorted(rows)]
    totals = {k: sum(r[k] for r in items)
              for k in ("redeemed", "redeemed_points", "voided", "voided_points", "owed_points")}
    return items, totals


STATEMENT_COLUMNS = ("day", "reward_id", "title", "redeemed", "redeemed_points", "voided",
                     "voided_points", "owed_points")


def statement_csv(statement):
    """One sheet Excel opens with its Chinese intact: UTF-8 with a BOM, CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(STATEMENT_COLUMNS)
    for row in statement["items"]:
        writer.writerow([row[c] if row[c] is not None else "" for c in STATEMENT_COLUMNS])
    t = statement["totals"]
    writer.writerow(["total", "", "", t["redeemed"], t["redeemed_points"], t["voided"],
                     t["voided_points"], t["owed_points"]])
    writer.writerow(["owed_all_time", "", "", "", "", "", "", statement["total_owed"]])
    return "\ufeff" + out.getvalue()


# --- what is stored ----------------------------------------------------------------------------

class GuessGuard:
    """Wrong codes per merchant (places per window) and wrong tries per code (numbered inserts),
    all by inserts under unique ``_id``s in one collection."""

    def __init__(self, collection, clock=now):
        self.attempts = collection
        self.clock = clock

    def window(self, at):
        return int(at.timestamp()) // GUESS_WINDOW_SECONDS

    def take_place(self, merchant_id):
        """A place to check one code; 429 with the seconds to the window's end when none is."""
        at = self.clock()
        window = self.window(at)
        start = random.randrange(WRONG_CODES_PER_MERCHANT)  # racing tries rarely collide
        for k in range(WRONG_CODES_PER_MERCHANT):
            place = numbered_id(f"place:{merchant_id}:{window}",
                                (start + k) % WRONG_CODES_PER_MERCHANT + 1)
            try:
                self.attempts.insert_one({"_id": place, "at": at})
                return place
            except DuplicateKeyError:
                continue
        ends = (window + 1) * GUESS_WINDOW_SECONDS
        raise TooManyAttempts("too many wrong codes from this till: try again later",
                              code="too_many_wrong_codes",
                              retry_after=max(1, math.ceil(ends - at.timestamp())))

    def give_back(self, place):
        """The code was right (or the check never ran): the place is free again."""
        self.attempts.delete_one({"_id": place})

    def wrong_try_on(self, code):
        """Count a wrong try against ``code``; True when this one reaches the limit."""
        return insert_next(self.attempts, f"wrong:{code}", {"at": self.clock()}) \
            == WRONG_TRIES_PER_CODE


class MerchantStore:
    def __init__(self, db):
        self.codes = db.redeem_codes                      # _id = the code: never changed
        self.code_requests = db.redeem_code_requests      # _id = request id -> its code
        self.code_states = db.redeem_code_states          # _id = "<code>:used": the code's fate
        self.guard = GuessGuard(db.redeem_code_attempts)
        self.redemptions = db.merchant_redemptions        # what was asked: never changed
        self.outcomes = db.merchant_redemption_outcomes   # _id = redemption: decided once
        self.voids = db.merchant_voids                    # _id = redemption: decided once
        self.pending = InFlight(db.pending_merchant_redemptions)
        self.pending_voids = InFlight(db.pending_merchant_voids)
        self.owed = AppendLog(db, "merchant_owed")        # stream = merchant: what it is owed
        self.quota = AppendLog(db, "offer_quota")         # stream = "<offer>@<local day>"
        self.days = AppendLog(db, "merchant_days")        # stream = "<merchant>@<local day>"

    def ensure_indexes(self):
        self.owed.ensure_indexes()
        self.quota.ensure_indexes()
        self.days.ensure_indexes()

    def code_fate(self, code):
        return self.code_states.find_one({"_id": f"{code}:used"})

    def decide_code(self, code, **fate):
        """Use or burn ``code``: the first insert decides; returns the code's fate."""
        doc, _ = insert_or_replay(self.code_states, dict(fate, _id=f"{code}:used", at=now()))
        return doc


class MerchantRedemptionOut(Schema):
    id = fields.String(attribute="_id")
    kind = fields.Constant("merchant_offer")
    reward_id = fields.String()
    merchant_id = fields.String()
    volunteer_id = fields.String()
    volunteer_name = fields.String(allow_none=True)  # masked: the merchant sees no more
    points = fields.Integer()
    status = fields.String()
    failure = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    voided_at = fields.AwareDateTime(allow_none=True)


MERCHANT_SOURCE = "merchant"  # a volunteer's listing entry that names a merchant redemption


def as_listed(store, rid):
    """A merchant redemption as a volunteer's list of redemptions shows it (the fields of
    schemas.RedemptionOut), or None when it was never stored (or recovery found it listed but
    not stored, and stored it as abandoned: nothing was taken)."""
    redemption = store.merchant.redemptions.find_one({"_id": rid})
    if redemption is None or redemption.get("abandoned"):
        return None
    outcome = store.merchant.outcomes.find_one({"_id": rid}) or {}
    void = store.merchant.voids.find_one({"_id": rid})
    return dict(redemption, quantity=1, reward_title=redemption["title"],
                reward_kind="merchant_offer", failure=outcome.get("failure"),
                status=CANCELLED if void else outcome.get("status", PENDING),
                closed_at=void["at"] if void else None)


def answer(redemption, outcome, void=None):
    outcome = outcome or {}
    status = CANCELLED if void else outcome.get("status", PENDING)
    # A redemption stored before names were kept answers null, as the field is always there.
    return MerchantRedemptionOut().dump(dict(
        redemption, status=status, failure=outcome.get("failure"),
        voided_at=void["at"] if void else None,
        volunteer_name=redemption.get("volunteer_name")))


# --- the service's part ------------------------------------------------------------------------

class MerchantRedemptions:
    """Mixed into RewardsService: uses its ``store`` (``store.merchant``), ``points``,
    ``volunteer`` and ``metrics``."""

    # --- codes -------------------------------------------------------------------------------

    @rpc
    def issue_redeem_code(self, actor, volunteer_id, request_key=None):
        actor = load(contracts.ActorSchema(), actor)
        if actor["role"] != "volunteer" or actor["subject_id"] != volunteer_id:
            raise Forbidden("a volunteer asks for codes for themselves only")
        m = self.store.merchant
        request_id = id_for_request("rcq", request_key, volunteer_id)
        request = m.code_requests.find_one({"_id": request_id})
        if request is None:
            volunteer = self.volunteer.get_volunteer(actor, volunteer_id)
            self._check_hours(actor, volunteer["community_id"], volunteer["approved_minutes"])
            issued = now()
            request, _ = insert_or_replay(m.code_requests, {
                "_id": request_id, "code": new_code(), "volunteer_id": volunteer_id,
                "community_id": volunteer["community_id"],
                "approved_minutes": volunteer["approved_minutes"],
                "issued_at": issued, "expires_at": issued + CODE_LIFETIME})
        # The code is stored after its request, so a retry after a crash stores the same code.
        code = {k: v for k, v in request.items() if k != "_id"}
        stored, _ = insert_or_replay(m.codes, dict(code, _id=request["code"],
                                                   request_id=request_id))
        if stored is None or stored.get("request_id") != request_id:
            raise ServiceUnavailable("a code clashed with another; ask again", code="busy")
        return self._code_out(stored)

    @staticmethod
    def _code_out(code):
        return {"code": code["_id"], "volunteer_id": code["volunteer_id"],
                "issued_at": code["issued_at"].isoformat(),
                "expires_at": code["expires_at"].isoformat()}

    @rpc
    def get_redeem_code(self, actor, volunteer_id, code):
        """The volunteer's own code (for its QR image); 404 for anyone else's."""
        actor = load(contracts.ActorSchema(), actor)
        stored = self.store.merchant.codes.find_one({"_id": typed_code(code) or ""})
        if actor["role"] != "volunteer" or actor["subject_id"] != volunteer_id or \
                stored is None or stored["volunteer_id"] != volunteer_id:
            raise NotFound("no such code")
        return self._code_out(stored)

    def _check_hours(self, actor, community_id, approved_minutes):
        """422 when the community asks for more approved minutes before merchant redemption.
        Returns the scheme answer (its time zone decides local days)."""
        scheme = self.points.get_scheme(actor, community_id)
        minimum = (scheme.get("current") or {}).get("min_minutes_for_merchants")
        if minimum and approved_minutes < minimum:
            raise missing_hours_error(approved_minutes, minimum)
        return scheme

    # --- redemption at the counter -----------------------------------------------------------

    @rpc
    def redeem_at_merchant(self, actor, body, request_key=None):
        actor = load(contracts.ActorSchema(), actor)
        require_role(actor, "merchant")
        data = load(contracts.MerchantRedemptionIn(), body)
        m = self.store.merchant
        rid = id_for_request("mrd", request_key, actor["merchant_id"])
        runner = self._merchant_saga()
        redemption = runner.begin(rid, lambda: self._new_merchant_redemption(actor, data, rid),
                                self._list_merchant_redemption)
        if (redemption["reward_id"], redemption["code"]) != (data["reward_id"],
                                                             typed_code(data["code"])):
            raise Conflict("this Idempotency-Key was used for another redemption",
                           code="idempotency_key_reused")
        outcome = runner.outcome(redemption)
        if outcome["status"] == FAILED:
            error, text = FAILURES[outcome["failure"]]
            raise error(text, code=outcome["failure"])
        return answer(redemption, outcome, m.voids.find_one({"_id": rid}))

    def _new_merchant_redemption(self, actor, data, rid):
        """The redemption the till asks for, after every check; nothing of it stored yet."""
        reward = self.store.get(self.store.rewards, data["reward_id"], "reward")
        if reward["kind"] != "merchant_offer" or reward["merchant_id"] != actor["merchant_id"]:
            raise Forbidden("a merchant redeems its own offers only")
        code = self._known_code(actor["merchant_id"], data)
        fate = self.store.merchant.code_fate(code["_id"])
        if fate is not None:
            failure = "code_burnt" if fate.get("burnt") else "code_used"
            error, text = FAILURES[failure]
            raise error(text, code=failure)
        if now() >= code["expires_at"]:
            raise RuleViolation("This code has expired; ask for a new one", code="code_expired")
        scheme = self._check_hours(actor, reward["community_id"], code["approved_minutes"])
        balance = self.points.get_balance(code["volunteer_id"])
        if balance["available"] < reward["cost_points"]:
            raise InsufficientPoints(
                f"Not enough points: {reward['cost_points'] - balance['available']} more needed")
        at = now()
        zone = zone_of(scheme)
        return {
            "_id": rid, "code": code["_id"], "reward_id": reward["_id"],
            "title": reward["title"], "merchant_id": actor["merchant_id"],
            "volunteer_id": code["volunteer_id"],
            # Asked once, before the redemption is stored: a replay answers the stored name.
            "volunteer_name": self._masked_name(code["volunteer_id"]),
            "points": reward["cost_points"],
            "daily_quota": reward.get("daily_quota"), "day": local_day(at, zone),
            "timezone": zone.key, "by": actor["user_id"], "created_at": at}

    def _masked_name(self, volunteer_id):
        """The name the till shows. A volunteer service of an older release (during a rolling
        upgrade) has no such method: the redemption goes on without the name."""
        try:
            return self.volunteer.masked_volunteer_name(volunteer_id)
        except RemoteError as exc:
            if exc.exc_type != "MethodNotFound":
                raise
            log.warning("the volunteer service answers no masked names yet: till without name")
            return None

    def _list_merchant_redemption(self, redemption):
        """On the volunteer's own list of redemptions (GET /volunteers/{id}/redemptions) before
        it is stored, keyed by it: a retry lists it once; a listing never stored is skipped."""
        rid = redemption["_id"]
        self.store.gifts.listings.append(
            redemption["volunteer_id"], 1, key=f"{rid}:listed", floor=None,
            fields={"redemption_id": rid, "source": MERCHANT_SOURCE})

    def _known_code(self, merchant_id, data):
        """The code as stored, checked under one of the merchant's places; a wrong code keeps
        its place (the merchant's budget) and counts."""
        code_text = typed_code(data["code"])
        if code_text is None:
            raise InvalidInput("not a code", fields={"code": [
                f"6 to 8 of the characters {CODE_ALPHABET}"]})
        guard = self.store.merchant.guard
        place = guard.take_place(merchant_id)
        wrong = None
        try:
            code = self.store.merchant.codes.find_one({"_id": code_text})
            if code is None:
                wrong = RuleViolation("This code is not valid; ask the volunteer to show it "
                                      "again", code="invalid_code")
            elif data.get("volunteer_id") not in (None, code["volunteer_id"]):
                wrong = RuleViolation("This code belongs to another volunteer",
                                      code="code_mismatch")
                if guard.wrong_try_on(code_text):
                    self.store.merchant.decide_code(code_text, burnt=True)
                    log.warning("redeem code %s… burnt after %d wrong tries", code_text[:2],
                                WRONG_TRIES_PER_CODE)
        finally:
            if wrong is None:
                guard.give_back(place)
        if wrong is not None:
            self.metrics.count("redeem_code_wrong")
            log.warning("wrong redeem code from merchant %s: %s", merchant_id, wrong.code)
            raise wrong
        return code

    def _merchant_saga(self):
        """At the counter: the day's quota, the code, the debit; then what the merchant is
        owed. A debit refused after the balance check passed (the volunteer spent the points
        meanwhile) leaves the code used: the volunteer asks for a new one."""
        m = self.store.merchant
        return saga.Saga(m.redemptions, m.outcomes, m.pending, self._merchant_steps,
                         COMPLETED, "merchant_redemption_", self.metrics)

    def _merchant_steps(self, redemption):
        m = self.store.merchant
        rid = redemption["_id"]
        steps = []
        quota = redemption.get("daily_quota")
        if quota:
            steps.append(saga.log_step(
                m.quota, quota_stream(redemption["reward_id"], redemption["day"]), 1,
                key=f"{rid}:quota", floor=-quota, failure="daily_quota_reached",
                fields={"redemption_id": rid}, back_key=f"{rid}:quota_back"))

        def use_code():
            fate = m.decide_code(redemption["code"], redemption_id=rid)
            if fate.get("redemption_id") != rid:
                return "code_burnt" if fate.get("burnt") else "code_used"
            return None
        steps.append(saga.Step(use_code, ("code_burnt", "code_used")))
        steps.append(saga.debit_step(self.points, {
            "account": redemption["volunteer_id"], "points": redemption["points"],
            "key": f"redemption:{rid}", "ref_type": "merchant_redemption", "ref_id": rid,
            "by": redemption["by"], "kind": "redeem",
            "reason": f"redeemed at a partner merchant: {redemption['title']}"},
            settle=lambda: self._settle_merchant_redemption(redemption)))
        return steps

    def _settle_merchant_redemption(self, redemption):
        """Owed to the merchant, and on its till's list of the day."""
        m = self.store.merchant
        m.owed.append(redemption["merchant_id"], redemption["points"],
                      key=f"{redemption['_id']}:owed", floor=None,
                      fields=self._owed_fields(redemption))
        merchant_days.record_completed(m.days, redemption)

    @staticmethod
    def _owed_fields(redemption):
        return {"redemption_id": redemption["_id"], "reward_id": redemption["reward_id"],
                "title": redemption["title"]}

    # --- voids -------------------------------------------------------------------------------

    def is_merchant_redemption(self, rid):
        return self.store.merchant.redemptions.find_one({"_id": rid}) is not None

    def void_merchant_redemption(self, actor, rid):
        """Within VOID_WINDOW of its completion, by its merchant: the points go back, once."""
        actor = load(contracts.ActorSchema(), actor)
        m = self.store.merchant
        redemption = m.redemptions.find_one({"_id": rid})
        if redemption is None or redemption.get("abandoned"):
            raise NotFound(f"redemption {rid} not found")
        if actor["role"] != "merchant" or actor["merchant_id"] != redemption["merchant_id"]:
            raise Forbidden("only the merchant that redeemed it voids a merchant redemption")
        void = m.voids.find_one({"_id": rid})
        if void is None:
            outcome = m.outcomes.find_one({"_id": rid})
            if outcome is None or outcome["status"] != COMPLETED:
                raise Conflict("only a completed redemption can be voided",
                               code="not_completed")
            if now() - outcome["at"] > VOID_WINDOW:
                raise RuleViolation("a redemption can be voided within 24 hours only",
                                    code="void_window_passed")
            # Marked with what deciding needs: from here the void happens, whoever decides it.
            m.pending_voids.mark(rid, by=actor["user_id"])
            void, _ = insert_or_replay(m.voids, {"_id": rid, "by": actor["user_id"],
                                                 "at": now()})
        self._finish_void(redemption, void)
        return answer(redemption, m.outcomes.find_one({"_id": rid}), void)

    def _finish_void(self, redemption, void):
        m = self.store.merchant
        rid = redemption["_id"]
        self.points.credit_back({
            "account": redemption["volunteer_id"], "points": redemption["points"],
            "key": f"redemption:{rid}:void", "refund_of": f"redemption:{rid}",
            "ref_type": "merchant_redemption", "ref_id": rid, "by": void["by"],
            "kind": "refund", "reason": f"voided by the merchant: {redemption['title']}"})
        m.owed.append(redemption["merchant_id"], -redemption["points"], key=f"{rid}:void",
                      floor=None, fields=self._owed_fields(redemption))
        merchant_days.record_voided(m.days, redemption)
        m.pending_voids.done(rid)

    # --- recovery ----------------------------------------------------------------------------

    @timer(interval=RECOVERY_INTERVAL_SECONDS)
    def resume_merchant_sagas(self):
        m = self.store.merchant
        resume_each(m.pending.stalled(), self._merchant_saga().resume, log, self.metrics)
        resume_each(m.pending_voids.stalled(), self._resume_void, log, self.metrics)

    def _resume_void(self, rid):
        m = self.store.merchant
        marker = m.pending_voids.details(rid)
        if marker is None:
            return
        void, _ = insert_or_replay(m.voids, {"_id": rid, "by": marker.get("by", "recovery"),
                                             "at": marker.get("since") or now()})
        self._finish_void(m.redemptions.find_one({"_id": rid}), void)

    # --- statement ---------------------------------------------------------------------------

    def readable_merchant(self, actor, merchant_id):
        """(merchant, its community's zone) for that merchant, its community's staff or an
        admin; 404 for anyone else, as if it did not exist."""
        merchant = self.store.merchants.find_one({"_id": merchant_id})
        allowed = merchant is not None and (
            actor["role"] == "admin"
            or (actor["role"] == "merchant" and actor["merchant_id"] == merchant_id)
            or (actor["role"] == "center_staff"
                and actor["community_id"] == merchant["community_id"]))
        if not allowed:
            raise NotFound(f"merchant {merchant_id} not found")
        return merchant, zone_of(self.points.get_scheme(actor, merchant["community_id"]))

    def merchant_row(self, rid):
        """A redemption as the till lists it: its answer, the offer's title, and until when it
        can be voided (None once voided or if it did not complete)."""
        m = self.store.merchant
        redemption = m.redemptions.find_one({"_id": rid})
        outcome = m.outcomes.find_one({"_id": rid}) or {}
        void = m.voids.find_one({"_id": rid})
        return dict(answer(redemption, outcome, void), title=redemption["title"],
                    voidable_until=merchant_days.voidable_until(outcome, void, VOID_WINDOW))

    @rpc
    def merchant_statement(self, actor, merchant_id, args):
        actor = load(contracts.ActorSchema(), actor)
        query = load(contracts.MerchantStatementArgs(), args)
        merchant, zone = self.readable_merchant(actor, merchant_id)
        today = now().astimezone(zone).date()
        last = query["to"] or today
        first = query["from_"] or last.replace(day=1)
        if first > last or (last - first).days >= MAX_STATEMENT_DAYS:
            raise InvalidInput("from is on or before to, at most a year apart",
                               fields={"from": [f"at most {MAX_STATEMENT_DAYS} days before to"]})
        since = dt.datetime.combine(first, dt.time(), zone)
        until = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone) \
            - dt.timedelta(milliseconds=1)
        owed = self.store.merchant.owed
        entries = owed.entries_of(merchant_id, since=since, until=until)
        items, totals = summarize(entries, zone)
        return {"merchant_id": merchant_id, "merchant_name": merchant["name"],
                "from": first.isoformat(), "to": last.isoformat(), "timezone": zone.key,
                "items": items, "totals": totals, "total_owed": owed.total(merchant_id)}
