"""The points service: credits approved hours under the scheme, debits redemptions.

Approvals arrive as events, possibly more than once; each credit is keyed by its hours record,
so it lands exactly once. Debits come by RPC from the rewards service, keyed by redemption.
"""
import contextlib
import datetime as dt
import logging

from marshmallow import ValidationError
from nameko.events import event_handler
from nameko.rpc import rpc
from nameko.timer import timer

from services.points import center_tally, scheme
from services.points.expiry import ExpiryJob
from services.points.ledger import Ledger, expires_at, is_fund
from services.points.scheme_store import SchemeLogIndexes, scheme_out, scheme_store_of
from services.points.movements import SERVICE_ACTOR, MovementStore, Movements, \
    fund_account, movement_fields, require_self
from services.shared import contracts
from services.shared.clock import now
from services.shared.contracts import load
from services.shared.errors import Forbidden, InsufficientPoints, NotFound, RuleViolation, \
    TimebankError
from services.shared.ids import id_for_request
from services.shared.inflight import RECOVERY_INTERVAL_SECONDS
from services.shared.metrics import ExposesMetrics
from services.shared.outbox import Outbox
from services.shared.rpc import TimedRpcProxy
from services.shared.storage import MongoStore

log = logging.getLogger(__name__)

EXPIRY_INTERVAL_SECONDS = 3600  # lots expire at a year's end: an hour late is soon enough


def entry_out(doc):
    # Entries written before hashes and debts existed have neither: no hash, nothing owed.
    return contracts.LedgerEntrySchema().dump({
        "id": doc["_id"], "seq": doc["seq"], "at": doc["at"], "kind": doc["kind"],
        "points": doc["delta"], "balance_after": doc["total_after"],
        "owed_after": doc.get("owed_after", 0), "reason": doc["reason"], "ref": doc["ref"],
        "rule": doc.get("rule"), "hash": doc.get("hash"),
        "owed": doc.get("owed") or None, "gross": doc.get("gross"),
        "debt_paid": doc.get("debt_paid") or None,
    })


class PointsService(ExposesMetrics):
    name = "points"

    ledger = MongoStore("points", Ledger)
    outbox = Outbox("points")  # points_expiring notices
    movement_store = MongoStore("points", MovementStore)  # gifts and fund movements
    volunteer = TimedRpcProxy("volunteer")

    # Events are requeued when handling fails for a reason that may pass (store down); a
    # payload that can never be valid is parked instead of retried forever.
    @event_handler(*contracts.HOURS_APPROVED, requeue_on_error=True)
    def on_hours_approved(self, payload):
        with self._parked_if_refused("hours_approved", payload):
            self._credit(contracts.HoursApprovedSchema().load(payload))

    scheme_indexes = SchemeLogIndexes()
    # Its start makes the center tally's unique keys; workers use center_tally_of(ledger).
    center_tally_indexes = MongoStore("points", center_tally.CenterPointsTally)

    @property
    def schemes(self):
        """Scheme versions and the daily cap's room, on the ledger's database."""
        return scheme_store_of(self.ledger)

    def _credit(self, event):
        earned, decided = self._earned(event)
        record_id = event["record_id"]
        credit_key = f"hours:{record_id}:credit"
        entry, created = self.ledger.credit(
            event["volunteer_id"], earned.points, key=credit_key,
            kind="earn", reason=scheme.credit_reason(earned),
            ref={"type": "hours", "id": record_id}, by=event["approved_by"],
            rule=scheme.rule_of(earned),
        )
        self.metrics.count("points_credited" if created else "duplicate_event_ignored")
        center_tally.tally_credit(self.ledger, event, entry)  # the center report's points
        self._send_above_cap(entry, decided.storage_cap_points, event["community_id"],
                             event["approved_by"])
        waiting = self.ledger.waiting_revocation(record_id)
        if waiting is not None:  # the revocation came first and waits for this credit
            self._reverse(entry, contracts.HoursRevokedSchema().load(waiting["payload"]))

    def _earned(self, event):
        """What the record earns under the version in force on the activity's local date,
        for the minutes left under that day's cap when its turn came (approvals are taken in
        the order they are processed). A redelivery finds the record's share of the cap and
        the version it was decided under, so it computes the same credit."""
        versions = self.schemes.versions(event["community_id"])
        starts_at = event["activity_starts_at"]
        in_force = scheme.scheme_for_activity(versions, starts_at)
        share = self.schemes.allocate(
            event["volunteer_id"], scheme.local_date(starts_at, in_force.timezone),
            event["record_id"], event["minutes"], in_force)
        decided = next((v for v in [scheme.DEFAULT_SCHEME, *versions]
                        if v.version == share["version"]), in_force)
        earned = scheme.credit(event["minutes"], event["category"], starts_at, decided,
                               creditable_minutes=share["delta"])
        if earned.rest_day_source == scheme.WEEKEND_FALLBACK:
            log.warning("the installed chinese-calendar does not cover %s: Saturday and Sunday "
                        "taken as the rest days (upgrade the package)", earned.local_date)
            self.metrics.count("rest_day_calendar_fallback")
        return earned, decided

    @event_handler(*contracts.HOURS_REVOKED, requeue_on_error=True)
    def on_hours_revoked(self, payload):
        """Reverse what the record earned. A revocation that arrives before its approval's
        credit is stored as waiting (not requeued in a loop) and the credit, when it lands,
        applies it. Each side stores its fact first, then looks for the other's, so whichever
        comes second sees the first; both may reverse, once, under the reversal's key."""
        with self._parked_if_refused("hours_revoked", payload):
            self._revoke(contracts.HoursRevokedSchema().load(payload), payload)

    def _revoke(self, event, payload):
        record_id = event["record_id"]
        credit = self.ledger.find(f"hours:{record_id}:credit")
        if credit is None:
            self.ledger.wait_for_credit(record_id, payload)
            credit = self.ledger.find(f"hours:{record_id}:credit")
            if credit is None:
                self.metrics.count("revocation_waiting_for_credit")
                return
        self._reverse(credit, event)

    def _reverse(self, credit, event):
        record_id = event["record_id"]
        # What was already spent cannot be taken back: the balance stops at zero and the rest
        # is owed, paid by the next credits (Ledger.reverse plans it against the very entry it
        # is appended after, so a balance moving meanwhile cannot breach the floor).
        entry, created = self.ledger.reverse(
            event["volunteer_id"], f"hours:{record_id}:reversal", credit, kind="reversal",
            reason=f"hours revoked: {event['reason']}", ref={"type": "hours", "id": record_id},
            by=event["revoked_by"])
        if created:
            self.metrics.count("points_reversed")
        # The record's room under the daily cap is free for later approvals (again on a
        # redelivery, so a crash between the two is finished by it); past credits stay.
        self.schemes.release(record_id)
        center_tally.tally_reversal(self.ledger, record_id)

    @contextlib.contextmanager
    def _parked_if_refused(self, event_type, payload):
        """An event that can never be handled (a payload that does not validate, or one the
        ledger refuses for good, e.g. a key already used for another amount) is parked for an
        operator instead of requeued for ever; anything else (the store away) is requeued."""
        try:
            yield
        except ValidationError as exc:
            self._park(event_type, payload, exc.messages)
        except TimebankError as exc:
            if exc.status >= 500:
                raise
            self._park(event_type, payload, {"_refused": [exc.code, exc.message]})

    def _park(self, event_type, payload, errors):
        log.error("invalid %s event parked: %s", event_type, errors)
        self.ledger.parked.insert_one({"type": event_type, "payload": payload,
                                       "errors": errors, "at": now()})
        self.metrics.count("events_parked")

    @rpc
    def debit(self, movement):
        m = load(contracts.PointsMovementSchema(), movement)
        entry, created = self.ledger.debit(
            m["account"], m["points"], m["key"], kind=m["kind"], reason=m["reason"],
            ref={"type": m["ref_type"], "id": m["ref_id"]}, by=m["by"])
        if created:
            self.metrics.count("points_debited")
        return entry_out(entry)

    @rpc
    def credit_back(self, movement, community_id=None):
        """Give points back (a cancelled or failed redemption), once per key. With
        ``refund_of`` (the debit's key) the points return with the expiry dates they left with.
        An ``earn`` (a delivered service's provider) names the community whose storage cap it
        is under: what it brings above the cap goes to that community's fund, once per key."""
        m = load(contracts.PointsMovementSchema(), movement)
        lots = None
        debit = self.ledger.find(m["refund_of"]) if m["refund_of"] else None
        if debit is not None and -debit["delta"] == m["points"] and debit.get("lots_delta"):
            lots = {date: -points for date, points in debit["lots_delta"].items()}
        entry, _ = self.ledger.credit(
            m["account"], m["points"], m["key"], lots=lots, kind=m["kind"], reason=m["reason"],
            ref={"type": m["ref_type"], "id": m["ref_id"]}, by=m["by"])
        if m["kind"] == "earn" and community_id is not None and not is_fund(m["account"]):
            # The version in force when the earning was stored: a retry finds the same cap.
            in_force = scheme.scheme_for_activity(self.schemes.versions(community_id),
                                                  entry["at"])
            self._send_above_cap(entry, in_force.storage_cap_points, community_id, m["by"])
        return entry_out(entry)

    @timer(interval=EXPIRY_INTERVAL_SECONDS)
    def expire_points(self):
        """Warn 30 days before a lot's date, expire it after; safe on every replica at once."""
        done = ExpiryJob(self.ledger, self.outbox, self.metrics, self.ledger.expiry_runs).run()
        if any(done.values()):
            log.info("points expiry: %(warned)s volunteers warned, %(expired)s lots expired",
                     done)

    @rpc
    def center_points(self, query):
        """The points of a center's records served in the given months (center_tally.py)."""
        q = load(center_tally.CenterPointsQuery(), query)
        return center_tally.center_tally_of(self.ledger).points_by_record(q["center_id"],
                                                                          q["months"])

    @timer(interval=center_tally.BACKFILL_INTERVAL_SECONDS)
    def tally_earlier_credits_for_centers(self):
        """Credits stored before the center tally join it, a page a tick, once per database."""
        center_tally.EarlierCredits(self.ledger,
                                    center_tally.records_through(self.volunteer)).tick()

    @rpc
    def get_balance(self, account):
        """The balance off the last entry, with its points by expiry date (oldest first) and
        any debt a revocation left."""
        state = self.ledger.state(account)
        expiring = [{"points": points, "expires_at": expires_at(dt.date.fromisoformat(date))}
                    for date, points in sorted(state["lots"].items())]
        return contracts.BalanceSchema().dump({
            "volunteer_id": account, "balance": state["balance"], "reserved": 0,
            "available": state["balance"], "owed": state["owed"], "expiring": expiring})

    @rpc
    def hours_credits(self, account, record_ids):
        """{record id: points its approval earned} for the records of ``account`` credited so
        far (a volunteer's notices): one lookup of the credit's key each, up to 100."""
        entries = [self.ledger.accounts.find_by_key(f"hours:{record_id}:credit")
                   for record_id in list(record_ids)[:100]]
        return {entry["ref"]["id"]: entry.get("gross", entry["delta"])
                for entry in entries if entry is not None and entry["stream"] == account}

    @rpc
    def statement(self, query):
        q = load(contracts.StatementQuery(), query)
        entries = self.ledger.statement(q["account"], limit=q["limit"],
                                        before_seq=q["before_seq"], since=q["since"],
                                        until=q["until"])
        return [entry_out(e) for e in entries]

    # --- the community's scheme --------------------------------------------------------------

    @rpc
    def get_scheme(self, actor, community_id):
        """The version in force now and every published version (domain.md's defaults when
        none is)."""
        actor = load(contracts.ActorSchema(), actor)
        self._require_member(actor, community_id)
        published = self.schemes.published(community_id)
        current = scheme.scheme_for_activity([v for v, _ in published], now())
        entry = next((e for v, e in published if v is current), None)
        return contracts.SchemeAnswer().dump({
            "current": scheme_out(current, entry),
            "versions": [scheme_out(v, e) for v, e in published]})

    @rpc
    def publish_scheme(self, actor, community_id, body, request_key=None):
        """An admin publishes a version from ``effective_from`` (today or later, in the
        community's time zone); a version in force never changes (422)."""
        actor = load(contracts.ActorSchema(), actor)
        self._require_member(actor, community_id)
        if actor["role"] != "admin":
            raise Forbidden("only an administrator sets the points scheme")
        data = load(contracts.SchemeIn(), body)
        version, entry, created = self.schemes.publish(community_id, data, by=actor["user_id"],
                                                       request_key=request_key)
        if created:
            log.info("community %s: scheme %s published from %s", community_id,
                     version.version, version.effective_from)
            self.metrics.count("scheme_published")
        return contracts.SchemeVersionOut().dump(scheme_out(version, entry))

    def _require_member(self, actor, community_id):
        """Any role of the community, or an admin; another or unknown community is 404."""
        if actor["role"] == "admin":
            self.volunteer.get_community(community_id)  # 404 when there is no such community
        elif actor.get("community_id") != community_id:
            raise NotFound(f"community {community_id} not found")

    # --- movements between two accounts: gifts of points, the community fund ---------------

    def _movements(self):
        return Movements(self.ledger, self.movement_store, self.metrics)

    def _send_above_cap(self, entry, cap, community_id, by):
        """What a credit ``entry`` brought above the community's storage ``cap`` (None: no
        cap) goes to its fund. The amount comes from the stored entry, so a redelivery or a
        retry moves the same, once per credit key."""
        if cap is not None and entry["total_after"] > cap and entry["delta"] > 0:
            above = min(entry["delta"], entry["total_after"] - cap)
            self._overflow(entry["stream"], community_id, above, entry["key"], by)

    def _overflow(self, volunteer_id, community_id, points, credit_key, by):
        """For the credit path: what a credit brought above the community's storage cap goes
        to its fund, once per credit key (see Movements.overflow)."""
        return self._movements().overflow(volunteer_id, community_id, points, credit_key, by)

    @timer(interval=RECOVERY_INTERVAL_SECONDS)
    def resume_stalled_movements(self):
        """Finish movements a crash left between their two sides."""
        self._movements().resume_stalled(log)

    def _receiver(self, volunteer_id, community_id=None):
        """The volunteer points go to: of any community (通存通兑), or of ``community_id``."""
        try:
            volunteer = self.volunteer.get_volunteer(SERVICE_ACTOR, volunteer_id)
        except NotFound:
            volunteer = None
        if volunteer is None or community_id not in (None, volunteer["community_id"]):
            raise NotFound(f"volunteer {volunteer_id} not found",
                           fields={"to_volunteer_id": ["no such volunteer"
                                                       + (" in this community" if community_id
                                                          else "")]})
        return volunteer

    def _require_fund_keeper(self, actor, community_id):
        """Staff of the community or an admin; another community's fund is unknown (404)."""
        if actor["role"] == "admin":
            self.volunteer.get_community(community_id)  # 404 when there is no such community
            return
        if actor.get("community_id") != community_id:
            raise NotFound(f"community {community_id} not found")
        if actor["role"] != "center_staff":
            raise Forbidden("only staff of this community or an admin may do that")

    @rpc
    def transfer(self, actor, body, request_key=None):
        """A volunteer gives points to another volunteer (转赠)."""
        actor = load(contracts.ActorSchema(), actor)
        data = load(contracts.TransferIn(), body)
        require_self(actor, data["from_volunteer_id"], "from_volunteer_id")
        if data["to_volunteer_id"] == data["from_volunteer_id"]:
            raise RuleViolation("points cannot be given to oneself",
                                fields={"to_volunteer_id": ["must be another volunteer"]})
        self._receiver(data["to_volunteer_id"])
        return self._movements().gift(
            id_for_request("mov", request_key), data["from_volunteer_id"],
            data["to_volunteer_id"], data["points"], by=actor["user_id"], note=data["note"])

    @rpc
    def donate(self, actor, community_id, body, request_key=None):
        """A volunteer gives points to the fund of their community."""
        actor = load(contracts.ActorSchema(), actor)
        data = load(contracts.DonationIn(), body)
        require_self(actor, data["volunteer_id"], "volunteer_id")
        if actor["community_id"] != community_id:
            raise NotFound(f"community {community_id} not found")
        return self._movements().donate(id_for_request("mov", request_key),
                                        data["volunteer_id"], community_id, data["points"],
                                        by=actor["user_id"])

    @rpc
    def grant(self, actor, community_id, body, request_key=None):
        """Staff (or an admin) grant points from the fund to a volunteer of the community,
        naming who approved it and why."""
        actor = load(contracts.ActorSchema(), actor)
        data = load(contracts.GrantIn(), body)
        self._require_fund_keeper(actor, community_id)
        self._receiver(data["to_volunteer_id"], community_id)
        return self._movements().grant(id_for_request("mov", request_key), community_id,
                                       data["to_volunteer_id"], data["points"],
                                       data["reason"], approved_by=actor["user_id"])

    @rpc
    def fund(self, actor, query):
        """A page of a community fund's entries, newest first, and its balance."""
        actor = load(contracts.ActorSchema(), actor)
        q = load(contracts.FundQuery(), query)
        self._require_fund_keeper(actor, q["community_id"])
        account = fund_account(q["community_id"])
        entries = self.ledger.statement(account, limit=q["limit"] + 1,
                                        before_seq=int(q["cursor"]) if q["cursor"] else None)
        page = entries[:q["limit"]]
        return {"balance": self.ledger.balance(account),
                "items": [dict(entry_out(e), **movement_fields(e)) for e in page],
                "next_cursor": str(page[-1]["seq"]) if len(entries) > len(page) else None}
