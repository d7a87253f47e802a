"""The volunteer service: communities and centers, logins, volunteers, activities, service hours.

Entrypoints are thin: validate through the contracts, check who may act, call the store, dump
the answer. Approval and revocation of hours are published as events through the outbox.
"""
import logging
import secrets

import eventlet
from eventlet import tpool
from nameko.dependency_providers import Config
from nameko.rpc import rpc
from nameko.timer import timer

from services.shared import contracts, identity
from services.shared.listings import COMMUNITIES, centers_of
from services.shared.access import require_role
from services.shared.contracts import load
from services.shared.errors import (Conflict, Forbidden, InvalidInput, NotFound, RuleViolation,
                                    Unauthenticated)
from services.shared.ids import id_for_request
from services.shared.inflight import RECOVERY_INTERVAL_SECONDS, resume_each
from services.shared.metrics import ExposesMetrics
from services.shared.outbox import Outbox
from services.shared.rpc import TimedRpcProxy
from services.shared.storage import MongoStore
from services.shared.clock import now
from services.volunteer import domain, followups, hours, schemas, throttle
from services.volunteer.indexes import insert_each
from services.volunteer.admin_lists import AdminLists
from services.volunteer.backfill import BackfillEntrypoints
from services.volunteer.handouts import Handouts
from services.volunteer.hours_import import HoursImportEntrypoints
from services.volunteer.notices import NoticeEntrypoints
from services.volunteer.pending import PendingEntrypoints, count_decided
from services.volunteer.sign_in import SignInEntrypoints
from services.volunteer.storage import REPLAYED, VolunteerStore

log = logging.getLogger(__name__)

DEFAULT_BCRYPT_ROUNDS = 12


def bcrypt_rounds(config):
    return int(config.get("BCRYPT_ROUNDS") or DEFAULT_BCRYPT_ROUNDS)


class VolunteerDatabase(MongoStore):
    def __init__(self):
        super().__init__("volunteer", VolunteerStore)

    def start(self):
        super().start()
        self.bootstrap_admin()

    def bootstrap_admin(self):
        """The first administrator: created once, from TIMEBANK_ADMIN_PASSWORD."""
        if self.store.users.find_one({"_id": "admin"}) is not None:
            return
        password = self.container.config.get("TIMEBANK_ADMIN_PASSWORD")
        if not password:
            log.warning("no admin user and TIMEBANK_ADMIN_PASSWORD is not set: nobody can log in")
            return
        if len(password.encode()) > contracts.PASSWORD_MAX_BYTES:
            log.error("TIMEBANK_ADMIN_PASSWORD is longer than %d bytes, more than bcrypt reads: "
                      "no admin user created", contracts.PASSWORD_MAX_BYTES)
            return
        self.store.insert_or_replay(self.store.users, {
            "_id": "admin", "role": "admin", "created_at": now(),
            "password_hash": domain.hash_password(password, bcrypt_rounds(self.container.config)),
        })
        log.info("created the first administrator 'admin'")


class VolunteerService(SignInEntrypoints, HoursImportEntrypoints, Handouts, BackfillEntrypoints,
                       NoticeEntrypoints, PendingEntrypoints,
                       AdminLists, ExposesMetrics):
    name = "volunteer"

    store = VolunteerDatabase()
    outbox = Outbox("volunteer")
    config = Config()
    rewards = TimedRpcProxy("rewards")
    clock = staticmethod(now)  # tests set their own (e.g. before an activity starts)

    # --- logins ------------------------------------------------------------------------------
    # Usernames are casefolded (domain.username_key): unique without regard to case, and a login
    # in any case finds its user. Failed logins are throttled per account and per client address
    # (throttle.py); an unknown username costs one bcrypt check like a known one.

    @rpc
    def authenticate(self, username, password, client_address=None):
        if not isinstance(username, str) or not isinstance(password, str):
            raise Unauthenticated("wrong username or password", code="invalid_credentials")
        scopes = (throttle.account_scope(domain.username_key(username)),
                  throttle.address_scope(client_address))
        user = self._check_password(self.store.find_user(username), password, scopes)
        if self.store.disabled_users.find_one({"_id": user["_id"]}) is not None:
            raise Forbidden("this login has been disabled", code="account_disabled")
        return self._principal(user)

    def _check_password(self, user, password, scopes):
        """The user when ``password`` is theirs; otherwise count a failure and answer 401.

        The check runs only in one of the budget's places for the account and the address,
        taken before bcrypt (throttle.py): however many guesses race, at most a budget of wrong
        passwords is checked, and a locked account or address is refused (429) unchecked.
        """
        budgets = throttle.budgets(self.config)
        check = throttle.Throttle(self.store.login_attempts, self.clock).begin_check(
            zip(scopes, (budgets["account"], budgets["address"])))
        # An unknown user is checked against a dummy hash: both answers take one bcrypt check.
        hashed = user["password_hash"] if user is not None else self._dummy_hash()
        if tpool.execute(domain.password_matches, password, hashed) and user is not None:
            check.passed()
            return user
        check.failed()
        raise Unauthenticated("wrong username or password", code="invalid_credentials")

    def _dummy_hash(self):
        cls = type(self)
        rounds = bcrypt_rounds(self.config)
        if getattr(cls, "_dummy", (None,))[0] != rounds:
            cls._dummy = (rounds, tpool.execute(domain.hash_password, secrets.token_urlsafe(16),
                                                rounds))
        return cls._dummy[1]

    @staticmethod
    def _principal(user):
        subject = {"volunteer": user.get("volunteer_id"),
                   "merchant": user.get("merchant_id")}.get(user["role"]) or user["_id"]
        return schemas.PrincipalOut().dump(dict(user, user_id=user["_id"], subject_id=subject))

    def _password_hash(self, password):
        return tpool.execute(domain.hash_password, password, bcrypt_rounds(self.config))

    @staticmethod
    def _replayed_login(stored, username, request_key):
        """``stored``, the login that holds ``username``, when this request made it; else 409.

        A login made by a request keeps its request_key: the gateway re-runs a request whose
        outcome it lost under the same key, and that re-run must find its login, not a clash.
        """
        if stored is None or request_key is None or stored.get("request_key") != request_key:
            raise Conflict(f"username {username} is taken", code="username_taken")
        return stored

    @rpc
    def change_password(self, actor, body, client_address=None):
        """The signed-in user's new password; the old one must be given (throttled like logins).

        Returns the principal: the gateway then ends every token issued before the change.
        """
        actor = load(contracts.ActorSchema(), actor)
        data = load(contracts.PasswordChangeIn(), body)
        user = self.store.get(self.store.users, actor["user_id"], "user")
        scopes = (throttle.account_scope(domain.username_key(user["_id"])),
                  throttle.address_scope(client_address))
        try:
            self._check_password(user, data["old_password"], scopes)
        except Unauthenticated:  # the caller is signed in: it is the old password that is wrong
            raise InvalidInput("the old password is wrong",
                               fields={"old_password": ["does not match"]})
        self.store.users.update_one({"_id": user["_id"]}, {"$set": {
            "password_hash": self._password_hash(data["new_password"]),
            "password_changed_at": now()}})
        return self._principal(user)

    @rpc
    def disable_user(self, actor, username):
        """An admin disables a login: it can no longer sign in (the gateway ends its tokens)."""
        actor = load(contracts.ActorSchema(), actor)
        require_role(actor, "admin")
        user = self.store.find_user(username) if isinstance(username, str) else None
        if user is None:
            raise NotFound(f"user {username} not found")
        if user["_id"] == actor["user_id"]:
            raise RuleViolation("an administrator cannot disable their own login",
                                code="cannot_disable_self")
        self.store.insert_or_replay(self.store.disabled_users, {
            "_id": user["_id"], "by": actor["user_id"], "at": now()})
        return dict(schemas.UserOut().dump(user), disabled=True)

    @rpc
    def create_user(self, actor, body, request_key=None):
        actor = load(contracts.ActorSchema(), actor)
        require_role(actor, "admin")
        data = load(contracts.UserIn(), body)
        existing = self.store.find_user(data["username"])
        if existing is not None:
            replayed = self._replayed_login(existing, data["username"], request_key)
            self._list_login(replayed)  # a retry finishes a listing a crash left undone
            return schemas.UserOut().dump(replayed)
        user = {"_id": domain.username_key(data["username"]), "role": data["role"],
                "created_at": now(), "center_id": None, "community_id": None,
                "merchant_id": None, "request_key": request_key}
        if data["role"] == "center_staff":
            if not data["center_id"]:
                raise InvalidInput("center staff belong to a center",
                                   fields={"center_id": ["required for center_staff"]})
            center = self.store.get(self.store.centers, data["center_id"], "center")
            user.update(center_id=center["_id"], community_id=center["community_id"])
        elif data["role"] == "merchant":
            if not data["merchant_id"]:
                raise InvalidInput("a merchant login belongs to a merchant",
                                   fields={"merchant_id": ["required for merchant"]})
            merchant = self.rewards.get_merchant(data["merchant_id"])
            user.update(merchant_id=merchant["id"], community_id=merchant["community_id"])
        user["password_hash"] = self._password_hash(data["password"])
        stored, created = self.store.insert_or_replay(self.store.users, user)
        if not created:  # a concurrent request took the name, or ran this same request
            stored = self._replayed_login(stored, data["username"], request_key)
        self._list_login(stored)
        return schemas.UserOut().dump(stored)

    # --- tenancy -----------------------------------------------------------------------------

    @rpc
    def create_community(self, actor, body, request_key=None):
        actor = load(contracts.ActorSchema(), actor)
        require_role(actor, "admin")
        data = load(contracts.CommunityIn(), body)
        # Codes are one regardless of case: stored casefolded under the unique index on code.
        data["code"] = data["code"].casefold()
        doc = dict(data, _id=id_for_request("com", request_key), created_at=now())
        doc, _ = self._insert_unique(self.store.communities, doc,
                                     f"community code {data['code']} is taken", "code_taken")
        self.listings.add(COMMUNITIES, doc["_id"])
        return schemas.CommunityOut().dump(doc)

    def _insert_unique(self, collection, doc, message, code):
        """Insert; a replay of the same request returns the stored document, another clash 409."""
        stored, created = self.store.insert_or_replay(collection, doc)
        if stored is None:  # the clash was on another unique key than _id
            raise Conflict(message, code=code)
        return stored, created

    @rpc
    def get_community(self, community_id):
        return schemas.CommunityOut().dump(
            self.store.get(self.store.communities, community_id, "community"))

    @rpc
    def create_center(self, actor, body, request_key=None):
        actor = load(contracts.ActorSchema(), actor)
        require_role(actor, "admin")
        data = load(contracts.CenterIn(), body)
        self.store.get(self.store.communities, data["community_id"], "community")
        doc = dict(data, _id=id_for_request("ctr", request_key), created_at=now())
        doc, _ = self.store.insert_or_replay(self.store.centers, doc)
        self.listings.add(centers_of(doc["community_id"]), doc["_id"])
        return schemas.CenterOut().dump(doc)

    @rpc
    def get_center(self, center_id):
        return schemas.CenterOut().dump(self.store.get(self.store.centers, center_id, "center"))

    # --- volunteers --------------------------------------------------------------------------

    @rpc
    def register_volunteer(self, actor, body, request_key=None, client_address=None):
        """Staff or admin register a volunteer; with no actor, a person registers themself.

        Self-registration is throttled per client address (SELF_REGISTRATIONS_PER_ADDRESS an
        hour; 429 with Retry-After beyond it).
        """
        if actor is not None:
            actor = load(contracts.ActorSchema(), actor)
        data = load(contracts.VolunteerIn(), body)
        if actor is None:
            throttle.Throttle(self.store.login_attempts, self.clock).take_slot(
                throttle.address_scope(client_address),
                throttle.budgets(self.config)["registration"])
        else:  # a volunteer's or merchant's token registers nobody, in any community
            domain.require_staff_of_community(actor, data["community_id"])
        self.store.get(self.store.communities, data["community_id"], "community")
        volunteer_id = id_for_request("vol", request_key)
        username = domain.username_key(data["username"])
        directory = self.store.directory
        # One mobile number is one volunteer per community: decided by the insert of the
        # number's claim (its _id names community and number), so of two registrations at once
        # one wins and the other is told the winner's id.
        holder = directory.claim_phone(
            data["community_id"], data["phone"], volunteer_id,
            lambda other: self.store.volunteers.find_one({"_id": other}) is not None)
        if holder != volunteer_id:
            raise Conflict(f"phone {data['phone']} is registered in this community already",
                           code="phone_taken", fields={
                               "phone": ["registered in this community already"],
                               "volunteer_id": [holder]})
        volunteer = {"_id": volunteer_id, "name": data["name"], "phone": data["phone"],
                     "id_card": data["id_card"], "community_id": data["community_id"],
                     "username": username, "created_at": now()}
        volunteer, created = self.store.insert_or_replay(self.store.volunteers, volunteer)
        directory.add(volunteer)  # before the login: a crash after it is finished by a retry
        login = {"_id": username, "role": "volunteer", "volunteer_id": volunteer_id,
                 "community_id": data["community_id"], "created_at": now(),
                 "password_hash": self._password_hash(data["password"])}
        stored_login, _ = self.store.insert_or_replay(self.store.users, login)
        if stored_login.get("volunteer_id") != volunteer_id:
            if created:  # undo our half: the username belongs to someone else
                self.store.volunteers.delete_one({"_id": volunteer_id})
                directory.release_phone(data["community_id"], data["phone"], volunteer_id)
            raise Conflict(f"username {data['username']} is taken", code="username_taken")
        return self._volunteer_out(volunteer)

    def _volunteer_out(self, volunteer):
        minutes = self.store.service_minutes.total(volunteer["_id"])
        return schemas.VolunteerOut().dump(dict(
            volunteer, approved_minutes=minutes, star_level=domain.star_level(minutes)))

    @rpc
    def get_volunteer(self, actor, volunteer_id):
        actor = load(contracts.ActorSchema(), actor)
        volunteer = self.store.get(self.store.volunteers, volunteer_id, "volunteer")
        if not domain.may_read_volunteer(actor, volunteer):
            # Existence of a volunteer outside one's tenant does not leak.
            raise NotFound(f"volunteer {volunteer_id} not found")
        return self._volunteer_out(volunteer)

    @rpc
    def masked_volunteer_name(self, volunteer_id):
        """Only the masked name (identity.masked_name), for a merchant's till: never the name,
        phone or ID card."""
        volunteer = self.store.get(self.store.volunteers, volunteer_id, "volunteer")
        return identity.masked_name(volunteer.get("name"))

    # --- activities and hours ----------------------------------------------------------------

    @rpc
    def create_activity(self, actor, body, request_key=None):
        actor = load(contracts.ActorSchema(), actor)
        data = load(contracts.ActivityIn(), body)
        center = self._get_in_tenant(actor, self.store.centers, data["center_id"], "center")
        domain.require_staff_of_center(actor, center["_id"])
        if data["ends_at"] <= data["starts_at"]:
            raise InvalidInput("an activity ends after it starts",
                               fields={"ends_at": ["must be after starts_at"]})
        doc = dict(data, _id=id_for_request("act", request_key),
                   community_id=center["community_id"], created_by=actor["user_id"],
                   created_at=now())
        doc, _ = self.store.insert_or_replay(self.store.activities, doc)
        self.store.center_activities.add(doc)
        return schemas.ActivityOut().dump(doc)

    @rpc
    def get_activity(self, activity_id):
        return schemas.ActivityOut().dump(
            self.store.get(self.store.activities, activity_id, "activity"))

    @rpc
    def log_hours(self, actor, activity_id, body, request_key=None):
        """Log a sheet of hours as pending records: all of them, or none when one is invalid.

        The activity must have started (422 activity_not_started). Each entry names a volunteer
        of the activity's community once, with at most the activity's length in minutes (400
        naming the entries; a volunteer of another community is as unknown as a made-up id). A
        volunteer already logged on the activity by another sheet is 409 already_logged naming
        that record, unless it was rejected, revoked or voided: then the volunteer is logged
        anew. A refused sheet voids the records it had just stored (see VolunteerStore._void).
        """
        actor = load(contracts.ActorSchema(), actor)
        activity = self._get_in_tenant(actor, self.store.activities, activity_id, "activity")
        domain.require_staff_of_center(actor, activity["center_id"])
        entries = load(contracts.HoursSheetIn(), body)["entries"]
        return self._log_entries(actor, activity, entries, request_key)

    def _log_entries(self, actor, activity, entries, request_key, community_of=None):
        """The one path that creates hours records, for staff sheets, imported sheets
        (hours_import.py) and check-outs (sign_in.py): every rule on records applies to all.
        ``community_of``: {volunteer id: community id} the caller looked up in this request."""
        domain.check_activity_started(activity, self.clock())
        problems = domain.sheet_entry_problems(entries, activity)
        community_of = community_of or self.store.communities_of_volunteers(
            list(dict.fromkeys(e["volunteer_id"] for e in entries)))
        for index, entry in enumerate(entries):
            if community_of.get(entry["volunteer_id"]) != activity["community_id"]:
                problems.setdefault(str(index), {})["volunteer_id"] = ["no such volunteer"]
        if problems:
            raise InvalidInput("the sheet has faulty entries", fields={"entries": problems})
        sheet_id = id_for_request("sht", request_key)
        logged_at = self.clock()
        placed = hours.log_records(self.store, activity, [
            hours.new_record(activity, e["volunteer_id"], e["minutes"], actor["user_id"],
                             logged_at, sheet_id) for e in entries])
        # A record this sheet stored before (a retried request) answers its stored status.
        return {"records": [
            self._record_out(record) if how == REPLAYED
            else schemas.HoursRecordOut().dump(dict(record, status=domain.PENDING))
            for record, how in placed]}

    def _get_in_tenant(self, actor, collection, doc_id, what):
        """The document, or 404 when it is unknown or belongs to another community."""
        doc = self.store.get(collection, doc_id, what)
        domain.require_in_tenant(actor, doc["community_id"], what, doc_id)
        return doc

    def _record_out(self, record):
        status, decision = self.store.status_of(record["_id"])
        decision = decision or {}
        return schemas.HoursRecordOut().dump(dict(
            record, status=status, reason=decision.get("reason"),
            decided_by=decision.get("by"), decided_at=decision.get("at")))

    @rpc
    def get_hours(self, actor, record_id):
        actor = load(contracts.ActorSchema(), actor)
        record = self._get_in_tenant(actor, self.store.hours, record_id, "hours record")
        domain.require_staff_of_center(actor, record["center_id"], admin_too=True)
        return self._record_out(record)

    # --- lists, and approving an activity at once ---------------------------------------------
    # Every list walks an append-only log by _id (see indexes.py): a page costs about its
    # length in lookups, bounded by the community, center or activity it lists.

    @rpc
    def search_volunteers(self, actor, args):
        """A community's volunteers, newest first: ``q`` a mobile number (exact, the number's
        claim), else a name or its first characters (the community's per-prefix lists), else
        all of them (the community's list)."""
        actor = load(contracts.ActorSchema(), actor)
        args = load(contracts.VolunteerSearchArgs(), args)
        community = self.store.get(self.store.communities, args["community_id"], "community")
        domain.require_in_tenant(actor, community["_id"], "community", community["_id"])
        domain.require_staff_of_community(actor, community["_id"])
        directory, query = self.store.directory, args["q"].strip()
        phone = identity.mainland_mobile(query)
        if phone is not None:
            holder = directory.holder_of(community["_id"], phone)
            found, next_cursor = [holder] if holder else [], None
        else:
            key = domain.name_key(query)
            stream = domain.name_stream(community["_id"], key) if key \
                else domain.community_stream(community["_id"])
            page = directory.page(stream, args["limit"] + 1,
                                  int(args["cursor"]) if args["cursor"] else None)
            next_cursor = str(page[args["limit"] - 1][0]) if len(page) > args["limit"] else None
            found = [volunteer_id for _, volunteer_id in page[:args["limit"]]]
        volunteers = self.store._each(
            lambda volunteer_id: self.store.volunteers.find_one({"_id": volunteer_id}), found)
        # A list entry may outlive a registration undone (username taken); a query longer than
        # the indexed prefix is filtered here.
        items = [self._volunteer_out(v) for v in volunteers if v is not None and
                 domain.name_key(v["name"]).startswith(domain.name_key(query) if phone is None
                                                        else "")]
        return {"items": items, "next_cursor": next_cursor}

    @rpc
    def list_activities(self, actor, args):
        """A center's activities, most recently published first; ``from``/``to`` bound their
        start. Any signed-in role of the center's community."""
        actor = load(contracts.ActorSchema(), actor)
        args = load(contracts.ActivityListArgs(), args)
        center = self._get_in_tenant(actor, self.store.centers, args["center_id"], "center")
        items, next_cursor = [], None
        walk = self.store.center_activities.walk(
            center["_id"], int(args["cursor"]) if args["cursor"] else None)
        for seq, activity_id in walk:
            activity = self.store.activities.find_one({"_id": activity_id})
            if activity is None or (args["from_"] and activity["starts_at"] < args["from_"]) or \
                    (args["to"] and activity["starts_at"] >= args["to"]):
                continue
            if len(items) == args["limit"]:
                next_cursor = str(last_seq)
                break
            items.append(schemas.ActivityOut().dump(activity))
            last_seq = seq
        return {"items": items, "next_cursor": next_cursor}

    @rpc
    def activity_hours(self, actor, activity_id, args):
        """The activity's records with their status, newest first (a refused sheet's voided
        records were never logged and are left out)."""
        actor = load(contracts.ActorSchema(), actor)
        args = load(contracts.RosterPageArgs(), args)
        activity = self._get_in_tenant(actor, self.store.activities, activity_id, "activity")
        domain.require_staff_of_center(actor, activity["center_id"], admin_too=True)
        before = tuple(int(part) for part in args["cursor"].split(".")) \
            if args["cursor"] else None
        positions = []
        for position in self.store.rosters.records(activity_id, before):
            positions.append(position)
            if len(positions) > args["limit"]:
                break
        page = positions[:args["limit"]]
        next_cursor = f"{page[-1][0]}.{page[-1][1]}" if len(positions) > len(page) else None
        records = self.store._each(
            lambda position: self.store.hours.find_one({"_id": position[2]}), page)
        outs = self.store._each(self._record_out, [r for r in records if r is not None])
        return {"items": [out for out in outs if out["status"] != domain.VOIDED],
                "next_cursor": next_cursor}

    @rpc
    def approve_activity(self, actor, activity_id):
        """Approve every pending record of the activity at once: ``{approved: n}``, the records
        this call decided (a second call approves nothing twice).

        Each record is decided as approve_hours does it: an in-flight marker, then its step-1
        decision, one unique insert (a colleague's decision or a racing call wins or loses per
        record), then its tally and event through the outbox; the recovery timer finishes what
        a crash leaves. The steps run for all records side by side, so their events reach the
        outbox together and its relay publishes them in batches.
        """
        actor = load(contracts.ActorSchema(), actor)
        activity = self._get_in_tenant(actor, self.store.activities, activity_id, "activity")
        domain.require_staff_of_center(actor, activity["center_id"])
        record_ids = list(dict.fromkeys(
            record_id for _, _, record_id in self.store.rosters.records(activity_id)))
        statuses = self.store._each(lambda record_id: self.store.status_of(record_id)[0],
                                    record_ids)
        pending = [rid for rid, status in zip(record_ids, statuses) if status == domain.PENDING]
        step, at = domain.DECISION_STEP[domain.APPROVED], now()
        decided = [f"{record_id}:{step}" for record_id in pending]
        # Markers first (until each decision is followed), then the decisions: each an insert
        # under "<record>:1", all in one batch; a record someone decided first is not ours.
        insert_each(self.store.in_flight.collection,
                    [{"_id": decision_id, "since": at} for decision_id in decided])
        ours = insert_each(self.store.decisions, [{
            "_id": decision_id, "record_id": record_id, "status": domain.APPROVED,
            "reason": None, "by": actor["user_id"], "at": at, "via": "activity_approval"}
            for decision_id, record_id in zip(decided, pending)])
        self.metrics.count("hours_approved", len(ours))
        # The tallies and events follow after the answer (approval is asynchronous anyway):
        # a crash leaves the markers, and the recovery timer finishes them.
        self.run_after_answer(self._follow_all, pending, ours)
        return {"approved": len(ours)}

    run_after_answer = staticmethod(eventlet.spawn_n)  # unit tests run it inline

    def _follow_all(self, record_ids, ours):
        """Our decisions in batches (followups.py); records another decided, one by one."""
        try:
            followups.follow_decisions(self.store, self.outbox, ours, self._follow_decision)
            decided_by_us = {decision["record_id"] for decision in ours}
            records = self.store._each(
                lambda record_id: self.store.hours.find_one({"_id": record_id}),
                [record_id for record_id in record_ids if record_id not in decided_by_us])
            self.store._each(lambda record: self._follow_decision(
                record, domain.DECISION_STEP[domain.APPROVED]), records)
        except Exception:  # noqa: BLE001 - the markers stay; the recovery timer finishes
            log.exception("following an activity's approvals failed; recovery will finish")
            self.metrics.count("activity_approval_follow_failed")

    # approve, reject and revoke: a decision already stored (a retry, or a colleague deciding
    # the same) answers 200 with the stored status and reason, not the request's; another
    # decision than the stored one is 409 invalid_status.

    @rpc
    def approve_hours(self, actor, record_id):
        actor = load(contracts.ActorSchema(), actor)
        record, decision = self._decide(actor, record_id, domain.APPROVED, reason=None)
        self._follow_decision(record, domain.DECISION_STEP[domain.APPROVED])
        self.metrics.count("hours_approved")
        return domain.decision_answer(record_id, decision)

    @rpc
    def reject_hours(self, actor, record_id, body):
        actor = load(contracts.ActorSchema(), actor)
        reason = load(contracts.ReasonIn(), body)["reason"]
        record, decision = self._decide(actor, record_id, domain.REJECTED, reason=reason)
        self._follow_decision(record, domain.DECISION_STEP[domain.REJECTED])
        return domain.decision_answer(record_id, decision)

    @rpc
    def revoke_hours(self, actor, record_id, body):
        actor = load(contracts.ActorSchema(), actor)
        reason = load(contracts.ReasonIn(), body)["reason"]
        record, decision = self._decide(actor, record_id, domain.REVOKED, reason=reason)
        self._follow_decision(record, domain.DECISION_STEP[domain.REVOKED])
        self.metrics.count("hours_revoked")
        return domain.decision_answer(record_id, decision)

    @timer(interval=RECOVERY_INTERVAL_SECONDS)
    def settle_stalled_sheets(self):
        """Settle sheets a crash left between storing their records and taking their places
        and times (see hours.log_records)."""
        resume_each(self.store.sheets_in_flight.stalled(),
                    lambda marker: hours.settle_stalled_sheet(self.store, marker), log,
                    self.metrics)

    @timer(interval=RECOVERY_INTERVAL_SECONDS)
    def finish_stalled_decisions(self):
        """Complete decisions whose tally or event a crash left out."""
        resume_each(self.store.in_flight.stalled(), self._resume_decision, log, self.metrics)

    def _resume_decision(self, decision_id):
        record_id, step = decision_id.rsplit(":", 1)
        record = self.store.hours.find_one({"_id": record_id})
        if record is None:
            # Nothing to follow and nothing will ever be (records are not deleted now; older
            # code deleted a refused sheet's records): retrying would fail on every tick.
            log.error("decision %s has no hours record; dropping its in-flight marker",
                      decision_id)
            self.metrics.count("recovery_dropped_orphan_decision")
            self.store.in_flight.done(decision_id)
            return
        self._follow_decision(record, int(step))

    def _follow_decision(self, record, step):
        """What follows a stored decision: the minutes tally and the event.

        Each is keyed by the record, so running this again (a retried request, the recovery
        timer) completes what is missing and adds nothing.
        """
        decision_id = f"{record['_id']}:{step}"
        decision = self.store.decisions.find_one({"_id": decision_id})
        effects = domain.decision_effects(record, decision) if decision else None
        if not count_decided(self.store, record, decision):
            return  # its center's pending count is busy: the recovery timer takes it off
        if decision and decision["status"] in (domain.REJECTED, domain.REVOKED) and \
                record.get("on_roster"):
            # The volunteer no longer holds a place on the activity (its capacity).
            self.store.rosters.release(record["activity_id"], 1, key=f"release:{record['_id']}",
                                       reason=decision["reason"])
        if effects is not None:
            tally_key, minutes, event_type, event = effects
            self.store.service_minutes.append(record["volunteer_id"], minutes, key=tally_key,
                                              floor=None)
            event_id = f"{event_type}:{record['_id']}"
            self.outbox.add(event_id, event_type, contracts.EVENT_SCHEMAS[event_type]().dump(
                dict(event, event_id=event_id)))
            if not self._tally_for_reports(record, tally_key, minutes):
                return  # still in flight: the recovery timer adds it to the report's tally
        self.store.in_flight.done(decision_id)

    def _decide(self, actor, record_id, wanted, reason):
        """Store the decision ``wanted`` for a record once; returns (record, stored decision)."""
        record = self._get_in_tenant(actor, self.store.hours, record_id, "hours record")
        domain.require_staff_of_center(actor, record["center_id"],
                                       admin_too=wanted == domain.REVOKED)
        current, stored = self.store.status_of(record_id)
        if current != wanted:
            domain.check_decision(current, wanted)
            step = domain.DECISION_STEP[wanted]
            self.store.in_flight.mark(f"{record_id}:{step}")  # until _follow_decision has run
            stored, _ = self.store.record_decision(record_id, step, {
                "record_id": record_id, "status": wanted, "reason": reason,
                "by": actor["user_id"], "at": now(),
            })
            if stored["status"] != wanted:  # another member of staff decided first
                domain.check_decision(stored["status"], wanted)
        return record, stored
