"""The gateway: the public HTTP API of ../shared/api.md in front of the services.

Each handler authenticates the bearer token, validates the body with the shared contract (400
with the fields at fault), and calls the owning service by RPC with a deadline. Services decide
who may act on what (they know tenancy); the gateway turns their errors into the API's error
shape and honours Idempotency-Key on every creating POST.
"""
import csv
import io
import json

from kombu import Connection
from nameko.exceptions import RemoteError
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from werkzeug.wrappers import Response

from services.gateway.auth import TokenAuthority
from services.gateway.idempotency import IdempotencyRecords, IdempotencyStore, Outcome, \
    body_fingerprint, caller_scope
from services.gateway.inputs import query_limit, read_json
from services.gateway.openapi import openapi_document
from services.gateway.admin_routes import AdminRoutes
from services.gateway.handout_routes import HandoutRoutes
from services.gateway.merchant_day_routes import MerchantDayRoutes
from services.gateway.pickup_routes import PickupRoutes
from services.gateway.pending_routes import PendingRoutes
from services.gateway.merchant_routes import MerchantRoutes
from services.gateway.notice_routes import NoticeRoutes
from services.gateway.sign_in_routes import SignInRoutes
from services.gateway.web_routes import WebRoutes
from services.shared import contracts
from services.shared.contracts import load
from services.shared.errors import InvalidInput, NoReply, TimebankError
from services.shared.inflight import RECOVERY_INTERVAL_SECONDS
from services.shared.metrics import ExposesMetrics
from services.shared.rpc import GatewayRpcProxy
from services.shared.storage import ping
from services.shared.web import http, json_response, response_for_error

API = "/api/v1"
TRANSIENT_STATUSES = {429}  # answers about the moment, never stored as a key's outcome


STATEMENT_COLUMNS = ("seq", "id", "at", "kind", "points", "balance_after", "owed_after",
                     "reason", "ref_type", "ref_id", "rule", "hash")


def statement_csv(entries):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(STATEMENT_COLUMNS)
    for e in entries:
        writer.writerow([e["seq"], e["id"], e["at"], e["kind"], e["points"], e["balance_after"],
                         e["owed_after"], e["reason"], e["ref"].get("type"), e["ref"].get("id"),
                         (e.get("rule") or {}).get("arithmetic"), e["hash"]])
    return "\ufeff" + out.getvalue()  # BOM: spreadsheet programs then read the Chinese right


class Readiness(DependencyProvider):
    """Whether the broker and the store answer, for /readyz."""

    def setup(self):
        self.amqp_uri = self.container.config["AMQP_URI"]

    def get_dependency(self, worker_ctx):
        return self

    def broker_ok(self):
        try:
            with Connection(self.amqp_uri, connect_timeout=3) as conn:
                conn.ensure_connection(max_retries=1)
            return True
        except Exception:  # any failure to connect means "not ready"
            return False


def outcome_response(outcome):
    headers = {"Idempotent-Replay": "true"} if outcome.replayed else None
    return json_response(outcome.status, outcome.body, headers=headers)


class GatewayService(SignInRoutes, HandoutRoutes, MerchantRoutes, NoticeRoutes, AdminRoutes,
                     WebRoutes, MerchantDayRoutes, PickupRoutes, PendingRoutes,
                     ExposesMetrics):
    name = "gateway"

    tokens = TokenAuthority()
    idempotency = IdempotencyRecords()
    readiness = Readiness()
    volunteer = GatewayRpcProxy("volunteer")
    points = GatewayRpcProxy("points")
    rewards = GatewayRpcProxy("rewards")

    # --- plumbing ----------------------------------------------------------------------------

    def _create(self, request, actor, body, action, status=201):
        """Run ``action(request_key)`` once per Idempotency-Key; answer JSON with ``status``."""
        key = request.headers.get("Idempotency-Key")
        if not key:
            return json_response(status, action(None))
        if len(key) > 200:
            raise InvalidInput("Idempotency-Key is too long",
                               fields={"Idempotency-Key": ["at most 200 characters"]})
        scoped = IdempotencyStore.scope(caller_scope(actor, body), request.method,
                                        request.path, key)
        claim = self.idempotency.claim(scoped, body_fingerprint(body))
        if isinstance(claim, Outcome):
            return outcome_response(claim)
        try:
            result = action(claim.request_key)
        except NoReply as exc:
            # Sent, unanswered: the work may still be running, so the claim stays until it is
            # surely over; then a retry runs it again under the same key and finishes it.
            exc.retry_after = claim.seconds_until_stale()
            raise
        except (TimebankError, RemoteError) as exc:  # the service answered: its run is over
            if getattr(exc, "status", 500) in TRANSIENT_STATUSES or \
                    getattr(exc, "status", 500) >= 500:
                # Not this request's outcome but the moment's (throttled, unavailable): a retry
                # with the same key runs again, instead of replaying "try later" for ever.
                self.idempotency.ended_without_outcome(claim)
                raise
            return outcome_response(self.idempotency.complete(
                claim, exc.status, json.loads(response_for_error(exc).data)))
        # Any other failure (the broker dropped on the way out) leaves the outcome unknown and
        # the claim in place; storing the outcome can fail too (the store dropped): the same.
        return outcome_response(self.idempotency.complete(claim, status, result))

    def _post(self, request, call, schema=None, status=201, token_required=True):
        """A POST that acts once per Idempotency-Key: the token first (401 before 400), the
        body checked against ``schema``, then ``call(actor, body, request_key)``, the RPC."""
        actor = self.tokens.actor(request, required=token_required)
        body = read_json(request, schema)
        return self._create(request, actor, body, lambda key: call(actor, body, key), status)

    def _authorize_volunteer(self, actor, volunteer_id):
        """404 unless the actor may see this volunteer (self, staff of its community, admin)."""
        if actor["role"] == "volunteer" and actor["subject_id"] == volunteer_id:
            return
        self.volunteer.get_volunteer(actor, volunteer_id)

    # --- health ------------------------------------------------------------------------------

    @http("GET", "/healthz")
    def healthz(self, request):
        return json_response(200, {"status": "ok"})

    @http("GET", "/readyz")
    def readyz(self, request):
        checks = {"broker": self.readiness.broker_ok(),
                  "store": ping(self.idempotency.requests.database.client)}
        return json_response(200 if all(checks.values()) else 503,
                             {"ready": all(checks.values()), "checks": checks})

    @http("GET", f"{API}/openapi.json")
    def openapi(self, request):
        return json_response(200, openapi_document())

    # --- auth and tenancy --------------------------------------------------------------------

    @http("POST", f"{API}/auth/token")
    def issue_token(self, request):
        body = read_json(request, contracts.LoginIn())
        # The generation is read BEFORE the password is checked: a login with the old password
        # racing a password change then carries the generation the change ends. Read after,
        # it could carry the new one and outlive the change.
        user_id = contracts.username_key(body["username"])
        generation = self.tokens.generation(user_id)
        # The socket's peer: X-Forwarded-For is anyone's to write, so it is not trusted here.
        principal = self.volunteer.authenticate(body["username"], body["password"],
                                                request.remote_addr)
        if principal["user_id"] != user_id:  # a login stored before usernames were casefolded
            generation = None
        return self._token_response(principal, generation)

    def _token_response(self, principal, generation=None):
        if generation is None:
            token, expires_at = self.tokens.issue_for(principal)
        else:
            token, expires_at = self.tokens.issue(principal, generation=generation)
        return json_response(200, {"access_token": token, "token_type": "Bearer",
                                   "role": principal["role"],
                                   "subject_id": principal["subject_id"],
                                   "expires_at": expires_at.isoformat()})

    @http("POST", f"{API}/auth/logout")
    def sign_out(self, request):
        """The presented token stops working; the user's other tokens do not."""
        self.tokens.sign_out(request)
        return json_response(200, {"signed_out": True})

    @http("POST", f"{API}/auth/password")
    def change_password(self, request):
        """A new password for the signed-in user; every token issued before ends, and the
        answer carries a fresh token like POST /auth/token."""
        actor = self.tokens.actor(request)
        body = read_json(request, contracts.PasswordChangeIn())
        with self.tokens.sessions.ending(actor["user_id"], "password_changed") as ended:
            principal = self.volunteer.change_password(actor, body, request.remote_addr)
        return self._token_response(principal, ended["generation"])

    @http("POST", f"{API}/users/<string:username>/disable")
    def disable_user(self, request, username):
        """An admin disables a login: it cannot sign in, and its tokens end now."""
        actor = self.tokens.actor(request)
        read_json(request)
        with self.tokens.sessions.ending(contracts.username_key(username), "disabled") as ended:
            user = self.volunteer.disable_user(actor, username)
            ended["user_id"] = user["id"]
        return json_response(200, user)

    @timer(interval=RECOVERY_INTERVAL_SECONDS)
    def end_stalled_token_endings(self):
        """Tokens whose ending a crash interrupted (see Sessions.ending) end now."""
        self.tokens.sessions.end_stalled()

    @http("POST", f"{API}/communities")
    def create_community(self, request):
        return self._post(request, self.volunteer.create_community, contracts.CommunityIn())

    @http("POST", f"{API}/centers")
    def create_center(self, request):
        return self._post(request, self.volunteer.create_center, contracts.CenterIn())

    @http("POST", f"{API}/users")
    def create_user(self, request):
        return self._post(request, self.volunteer.create_user, contracts.UserIn())

    @http("POST", f"{API}/merchants")
    def create_merchant(self, request):
        return self._post(request, self.rewards.create_merchant, contracts.MerchantIn())

    # --- the points scheme (owned by the points service, which knows who may see it) --------

    @http("GET", f"{API}/communities/<string:community_id>/scheme")
    def get_scheme(self, request, community_id):
        actor = self.tokens.actor(request)
        return json_response(200, self.points.get_scheme(actor, community_id))

    @http("POST", f"{API}/communities/<string:community_id>/scheme")
    def publish_scheme(self, request, community_id):
        return self._post(request, lambda actor, body, key: self.points.publish_scheme(
            actor, community_id, body, key), contracts.SchemeIn())

    # --- volunteers --------------------------------------------------------------------------

    @http("POST", f"{API}/volunteers")
    def register_volunteer(self, request):
        return self._post(request, lambda actor, body, key: self.volunteer.register_volunteer(
            actor, body, key, request.remote_addr), contracts.VolunteerIn(),
            token_required=False)  # no token: self-registration

    @http("GET", f"{API}/volunteers")
    def search_volunteers(self, request):
        """A community's volunteers by name (or its first characters) or mobile number."""
        actor = self.tokens.actor(request)
        args = request.args.to_dict()
        load(contracts.VolunteerSearchArgs(), args)  # 400 here, before the bus
        return json_response(200, self.volunteer.search_volunteers(actor, args))

    @http("GET", f"{API}/volunteers/<string:volunteer_id>")
    def get_volunteer(self, request, volunteer_id):
        actor = self.tokens.actor(request)
        return json_response(200, self.volunteer.get_volunteer(actor, volunteer_id))

    @http("GET", f"{API}/volunteers/<string:volunteer_id>/balance")
    def get_balance(self, request, volunteer_id):
        actor = self.tokens.actor(request)
        self._authorize_volunteer(actor, volunteer_id)
        return json_response(200, self.points.get_balance(volunteer_id))

    @http("GET", f"{API}/volunteers/<string:volunteer_id>/statement")
    def get_statement(self, request, volunteer_id):
        """Ledger entries newest first; ``?from=&to=`` bound them, ``format=csv`` for a sheet."""
        actor = self.tokens.actor(request)
        args = load(contracts.StatementArgs(), request.args.to_dict())
        self._authorize_volunteer(actor, volunteer_id)
        entries = self.points.statement({
            "account": volunteer_id, "limit": args["limit"] + 1,
            "before_seq": int(args["cursor"]) if args["cursor"] else None,
            "since": args["from_"] and args["from_"].isoformat(),
            "until": args["to"] and args["to"].isoformat()})
        page = entries[:args["limit"]]
        next_cursor = page[-1]["id"].rsplit(":", 1)[1] if len(entries) > len(page) else None
        if args["format"] == "csv":
            headers = {"Content-Disposition": f'attachment; filename="{volunteer_id}.csv"'}
            if next_cursor:
                headers["X-Next-Cursor"] = next_cursor
            return Response(statement_csv(page), status=200, headers=headers,
                            content_type="text/csv; charset=utf-8")
        return json_response(200, {"items": page, "next_cursor": next_cursor})

    # --- activities and hours ----------------------------------------------------------------

    @http("POST", f"{API}/activities")
    def create_activity(self, request):
        return self._post(request, self.volunteer.create_activity, contracts.ActivityIn())

    @http("GET", f"{API}/activities")
    def list_activities(self, request):
        actor = self.tokens.actor(request)
        args = request.args.to_dict()
        load(contracts.ActivityListArgs(), args)
        return json_response(200, self.volunteer.list_activities(actor, args))

    @http("GET", f"{API}/activities/<string:activity_id>/hours")
    def activity_hours(self, request, activity_id):
        actor = self.tokens.actor(request)
        args = request.args.to_dict()
        load(contracts.RosterPageArgs(), args)
        return json_response(200, self.volunteer.activity_hours(actor, activity_id, args))

    @http("POST", f"{API}/activities/<string:activity_id>/approve")
    def approve_activity(self, request, activity_id):
        return self._post(request, lambda actor, body, key: self.volunteer.approve_activity(
            actor, activity_id), status=200)

    @http("POST", f"{API}/activities/<string:activity_id>/hours")
    def log_hours(self, request, activity_id):
        return self._post(request, lambda actor, body, key: self.volunteer.log_hours(
            actor, activity_id, body, key), contracts.HoursSheetIn())

    @http("GET", f"{API}/hours/<string:record_id>")
    def get_hours(self, request, record_id):
        actor = self.tokens.actor(request)
        return json_response(200, self.volunteer.get_hours(actor, record_id))

    @http("POST", f"{API}/hours/<string:record_id>/approve")
    def approve_hours(self, request, record_id):
        return self._post(request, lambda actor, body, key: self.volunteer.approve_hours(
            actor, record_id), status=200)

    @http("POST", f"{API}/hours/<string:record_id>/reject")
    def reject_hours(self, request, record_id):
        return self._post(request, lambda actor, body, key: self.volunteer.reject_hours(
            actor, record_id, body), contracts.ReasonIn(), 200)

    @http("POST", f"{API}/hours/<string:record_id>/revoke")
    def revoke_hours(self, request, record_id):
        return self._post(request, lambda actor, body, key: self.volunteer.revoke_hours(
            actor, record_id, body), contracts.ReasonIn(), 200)

    # --- rewards -----------------------------------------------------------------------------

    @http("GET", f"{API}/rewards")
    def list_rewards(self, request):
        actor = self.tokens.actor(request)  # no community_id: the caller's community
        return json_response(200, self.rewards.list_rewards(
            request.args.get("community_id"), request.args.get("kind"),
            query_limit(request), request.args.get("cursor") or None, actor=actor))

    @http("POST", f"{API}/rewards")
    def create_reward(self, request):
        return self._post(request, self.rewards.create_reward, contracts.RewardIn())

    @http("POST", f"{API}/redemptions")
    def redeem(self, request):
        return self._post(request, self.rewards.redeem, contracts.RedemptionIn())

    @http("POST", f"{API}/redemptions/<string:redemption_id>/fulfill")
    def fulfill_redemption(self, request, redemption_id):
        return self._post(request, lambda actor, body, key: self.rewards.fulfill_redemption(
            actor, redemption_id), status=200)

    @http("POST", f"{API}/redemptions/<string:redemption_id>/cancel")
    def cancel_redemption(self, request, redemption_id):
        return self._post(request, lambda actor, body, key: self.rewards.cancel_redemption(
            actor, redemption_id), status=200)

    @http("GET", f"{API}/volunteers/<string:volunteer_id>/redemptions")
    def volunteer_redemptions(self, request, volunteer_id):
        actor = self.tokens.actor(request)
        self._authorize_volunteer(actor, volunteer_id)
        return json_response(200, self.rewards.volunteer_redemptions(
            actor, volunteer_id, query_limit(request), request.args.get("cursor") or None))

    # --- gifts of points and the community fund ----------------------------------------------

    @http("POST", f"{API}/transfers")
    def transfer(self, request):
        return self._post(request, self.points.transfer, contracts.TransferIn())

    @http("POST", f"{API}/communities/<string:community_id>/fund/donations")
    def donate(self, request, community_id):
        return self._post(request, lambda actor, body, key: self.points.donate(
            actor, community_id, body, key), contracts.DonationIn())

    @http("POST", f"{API}/communities/<string:community_id>/fund/grants")
    def grant(self, request, community_id):
        return self._post(request, lambda actor, body, key: self.points.grant(
            actor, community_id, body, key), contracts.GrantIn())

    @http("GET", f"{API}/communities/<string:community_id>/fund")
    def get_fund(self, request, community_id):
        actor = self.tokens.actor(request)
        return json_response(200, self.points.fund(actor, {
            "community_id": community_id, "limit": query_limit(request),
            "cursor": request.args.get("cursor") or None}))
