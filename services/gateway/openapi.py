"""The API as an OpenAPI 3 document, built from the same contracts the gateway validates with."""
import functools
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from services.gateway.notice_routes import NOTICES_ANSWER
from services.gateway.pickup_routes import PickupIn
from services.shared import contracts

API = "/api/v1"

# (method, path, summary, request body schema or None, success status, public?)
ROUTES = [
    ("post", "/auth/token", "Exchange a username and password for a bearer token",
     contracts.LoginIn, 200, True),
    ("post", "/auth/logout", "Sign out: the presented token stops working", None, 200, False),
    ("post", "/auth/password", "Change one's password: every earlier token ends; answers a "
     "fresh token", contracts.PasswordChangeIn, 200, False),
    ("post", "/users/{username}/disable", "Disable a login and end its tokens (admin)", None,
     200, False),
    ("post", "/communities", "Create a community (admin)", contracts.CommunityIn, 201, False),
    ("get", "/communities", "Every community, newest first (admin)", None, 200, False),
    ("get", "/communities/{community_id}", "One community: {id, name, code, created_at} "
     "(admin)", None, 200, False),
    ("get", "/communities/{community_id}/centers", "A community's centers, newest first "
     "(admin)", None, 200, False),
    ("get", "/merchants", "A community's merchants, newest first (admin)", None, 200, False),
    ("get", "/users", "The logins of a center (its staff) or of a merchant, newest first, with "
     "role and disabled: give center_id or merchant_id (admin)", None, 200, False),
    ("get", "/communities/{community_id}/scheme", "The points scheme: the version in force "
     "now and every published version (any role of the community, admin)", None, 200, False),
    ("post", "/communities/{community_id}/scheme", "Publish a scheme version from a date, "
     "today or later; a version in force never changes (admin)", contracts.SchemeIn, 201,
     False),
    ("post", "/centers", "Create a community center (admin)", contracts.CenterIn, 201, False),
    ("post", "/users", "Create a staff, merchant or admin login (admin)", contracts.UserIn,
     201, False),
    ("post", "/merchants", "Admit a partner merchant (admin)", contracts.MerchantIn, 201, False),
    ("post", "/volunteers", "Register a volunteer (staff, admin, or self-registration)",
     contracts.VolunteerIn, 201, True),
    ("get", "/volunteers", "A community's volunteers by name, its first characters, or mobile "
     "number, newest first (staff of the community, admin)", None, 200, False),
    ("get", "/volunteers/{volunteer_id}", "A volunteer with approved minutes and star level",
     None, 200, False),
    ("get", "/volunteers/{volunteer_id}/balance", "Points balance, reserved and available",
     None, 200, False),
    ("get", "/volunteers/{volunteer_id}/statement", "Ledger entries, newest first",
     None, 200, False),
    ("get", "/volunteers/{volunteer_id}/certificate.pdf", "The service certificate (志愿服务证明) "
     "as application/pdf: approved hours by activity, center and date, star level, issuing "
     "centers, verification code (also in X-Certificate-Code); 422 no_approved_hours",
     None, 200, False),
    ("get", "/certificates/{code}", "Check a certificate's code (anyone): {valid, "
     "volunteer_name, approved_minutes, star_level, issued_at, issued_by}; 404 for a code "
     "never issued; valid is false once hours on it were revoked", None, 200, True),
    ("get", "/centers/{center_id}/report", "Approved minutes and points of a center by month "
     "(of service), category and volunteer (points: what the records earned, net of "
     "revocations; they follow an approval within moments); from and to are local dates, both "
     "included (default: the year to date); format=csv: UTF-8 with BOM for Excel (staff of the "
     "center, admin)",
     None, 200, False),
    ("get", "/centers/{center_id}/pending", "How many of the center's records wait for a "
     "decision, across its activities: {center_id, pending} (staff of the center, admin)",
     None, 200, False),
    ("post", "/activities", "Publish an activity (center staff)", contracts.ActivityIn,
     201, False),
    ("post", "/activities/{activity_id}/hours", "Log hours for up to 1000 volunteers",
     contracts.HoursSheetIn, 201, False),
    ("get", "/activities", "A center's activities, most recently published first", None, 200,
     False),
    ("get", "/activities/{activity_id}/hours", "The activity's hours records with status, who "
     "logged and decided them, when and why (staff of the center)", None, 200, False),
    ("post", "/activities/{activity_id}/approve", "Approve every pending record of the "
     "activity at once: {approved: n}", None, 200, False),
    ("get", "/activities/{activity_id}/sign-in-code", "The activity's current on-site sign-in "
     "code, with the URLs of its QR image (staff of its center)", None, 200, False),
    ("get", "/activities/{activity_id}/sign-in-code.svg", "The sign-in code as a QR code "
     "(image/svg+xml; .png for image/png)", None, 200, False),
    ("post", "/activities/{activity_id}/sign-in-code/rotate", "A new sign-in code; the old one "
     "stops working", None, 200, False),
    ("post", "/activities/{activity_id}/check-in", "Check in on site with the code shown "
     "(the volunteer)", contracts.SignInCodeIn, 201, False),
    ("post", "/activities/{activity_id}/check-out", "Check out: logs the pending hours record "
     "of the minutes in between, within the activity's times", contracts.SignInCodeIn, 201,
     False),
    ("post", "/activities/{activity_id}/hours/import", "Check (dry_run) or log up to 1000 rows "
     "of a paper sheet; bad rows are named by line", contracts.SheetImportIn, 201, False),
    ("post", "/activities/{activity_id}/hours.csv", "Import a whole paper sheet sent as text/csv "
     "(volunteer_id or phone, minutes): 400 naming every bad line and nothing written, or all "
     "rows logged; rows already logged are skipped. ?dry_run=true writes nothing and answers "
     "200 {rows: [{line, volunteer_id, phone, minutes}], problems: [{line, reason}], new, "
     "already_logged}: every row and every bad line's reason, for a check before the write",
     None, 201, False),
    ("get", "/hours/{record_id}", "One hours record and its status", None, 200, False),
    ("post", "/hours/{record_id}/approve", "Approve pending hours; points follow", None,
     200, False),
    ("post", "/hours/{record_id}/reject", "Reject pending hours with a reason",
     contracts.ReasonIn, 200, False),
    ("post", "/hours/{record_id}/revoke", "Revoke approved hours; their points are reversed",
     contracts.ReasonIn, 200, False),
    ("get", "/rewards", "The catalog of gifts, services and merchant offers", None, 200, False),
    ("post", "/rewards", "Add a gift, service or merchant offer", contracts.RewardIn, 201, False),
    ("post", "/redemptions", "Redeem a gift or service: points and stock are taken at once",
     contracts.RedemptionIn, 201, False),
    ("post", "/redemptions/{redemption_id}/fulfill", "Hand a gift over (staff of its center) "
     "or mark a service delivered (its provider); again: the same answer", None, 200, False),
    ("get", "/centers/{center_id}/pickups", "The center's gifts redeemed and waiting for "
     "pickup, newest first, without their codes (staff of that center); a page may hold fewer "
     "than limit: next_cursor goes on", None, 200, False),
    ("post", "/centers/{center_id}/pickups", "Hand over the gift a volunteer's pickup code "
     "names: its redemption fulfilled (staff of that center); again: the same answer",
     PickupIn, 200, False),
    ("post", "/redemptions/{redemption_id}/cancel", "Cancel before pickup (the volunteer, staff, "
     "admin): points and stock come back as new entries, once; again: the same answer", None,
     200, False),
    ("get", "/volunteers/{volunteer_id}/redemptions", "A volunteer's redemptions, newest first, "
     "with status pending|confirmed|failed|fulfilled|cancelled|expired (completed: at a "
     "merchant), reward title, points and (to the volunteer only) the pickup code (self, "
     "staff of its community, admin)",
     None, 200, False),
    ("get", "/volunteers/{volunteer_id}/notices", "A volunteer's notices, newest first: hours "
     "approved (with the points once credited), rejected or revoked; points credited or "
     "reversed; a gift ready for pickup; on the first page, points expiring within 30 days "
     "(self, staff of its community, admin)", None, 200, False),
    ("post", "/volunteers/{volunteer_id}/redeem-codes", "A one-time code for a partner "
     "merchant (the volunteer): {code, expires_at, qr_svg_url}; 7 characters without look-alikes, "
     "valid 5 minutes, used once", None, 201, False),
    ("get", "/volunteers/{volunteer_id}/redeem-codes/{code}.svg", "The code as a QR code "
     "(image/svg+xml; .png for image/png), the volunteer only", None, 200, False),
    ("post", "/merchant/redemptions", "Redeem a volunteer's code for one of the merchant's "
     "offers: the points are debited and owed to the merchant; void with "
     "/redemptions/{id}/cancel within 24 hours", contracts.MerchantRedemptionIn, 201, False),
    ("get", "/merchants/{merchant_id}/statement", "What the merchant redeemed and voided per "
     "local day and offer, and the total owed (that merchant, staff of its community, admin)",
     None, 200, False),
    ("get", "/merchants/{merchant_id}/redemptions", "The merchant's redemptions of one local "
     "day (?date=YYYY-MM-DD, today when left out), newest first, each with its status and "
     "voidable_until (that merchant, staff of its community, admin)", None, 200, False),
    ("post", "/transfers", "Give points to another volunteer (转赠): both sides or neither",
     contracts.TransferIn, 201, False),
    ("post", "/communities/{community_id}/fund/donations",
     "Donate points to the community fund (the volunteer)", contracts.DonationIn, 201, False),
    ("post", "/communities/{community_id}/fund/grants",
     "Grant points from the community fund, with who approved it and why (staff, admin)",
     contracts.GrantIn, 201, False),
    ("get", "/communities/{community_id}/fund",
     "The community fund's balance and entries, newest first (staff, admin)", None, 200, False),
]

PAGE = [("limit", "integer"), ("cursor", "string")]
QUERY = {
    "/volunteers/{volunteer_id}/statement": [("from", "string"), ("to", "string"),
                                             ("format", "string")] + PAGE,
    "/rewards": [("community_id", "string"), ("kind", "string")] + PAGE,
    "/volunteers": [("community_id", "string"), ("q", "string")] + PAGE,
    "/activities": [("center_id", "string"), ("from", "string"), ("to", "string")] + PAGE,
    "/activities/{activity_id}/hours": PAGE,
    "/communities": PAGE,
    "/communities/{community_id}/centers": PAGE,
    "/merchants": [("community_id", "string")] + PAGE,
    "/users": [("center_id", "string"), ("merchant_id", "string")] + PAGE,
    "/communities/{community_id}/fund": PAGE,
    "/volunteers/{volunteer_id}/redemptions": PAGE,
    "/centers/{center_id}/pickups": PAGE,
    "/volunteers/{volunteer_id}/notices": PAGE,
    "/merchants/{merchant_id}/statement": [("from", "string"), ("to", "string"),
                                           ("format", "string")],
    "/merchants/{merchant_id}/redemptions": [("date", "string")] + PAGE,
    "/centers/{center_id}/report": [("from", "string"), ("to", "string"), ("format", "string")],
    "/activities/{activity_id}/hours.csv": [("dry_run", "boolean")],
}


def _answer(**fields):
    """A JSON object answer with these fields, each present and of this JSON type (api.md)."""
    return {"type": "object", "required": list(fields),
            "properties": {name: {"type": kind} for name, kind in fields.items()}}


def _json(schema):
    return {"content": {"application/json": {"schema": schema}}}


CREATED = _answer(id="string")
PAGE_ANSWER = {"type": "object", "required": ["items", "next_cursor"], "properties": {
    "items": {"type": "array", "items": {"type": "object"}},
    "next_cursor": {"type": "string", "nullable": True}}}
TOKEN = _answer(access_token="string", role="string", subject_id="string",
                expires_at="string")
QR_IMAGE = {"content": {"image/svg+xml": {"schema": {"type": "string"}}}}
# What a merchant's till sees of the volunteer: the name masked (张*明, 李*, W**g), never more;
# null on redemptions stored before names were kept.
MASKED_NAME = {"type": "string", "nullable": True}
TILL_ANSWER = {"type": "object", "required": ["id", "status", "points", "volunteer_name"],
               "properties": {"id": {"type": "string"}, "status": {"type": "string"},
                              "points": {"type": "integer"}, "volunteer_name": MASKED_NAME}}
TILL_DAY_ANSWER = {"type": "object", "required": ["items", "next_cursor"], "properties": {
    "items": {"type": "array", "items": {"type": "object", "required": ["volunteer_name"],
                                         "properties": {"volunteer_name": MASKED_NAME}}},
    "next_cursor": {"type": "string", "nullable": True}}}
# The success answers api.md gives a shape to; any other answers a JSON object.
SHAPES = {
    ("post", "/auth/token"): TOKEN,
    ("post", "/auth/password"): TOKEN,
    **{("post", path): CREATED for path in (
        "/communities", "/centers", "/merchants", "/volunteers", "/activities", "/rewards")},
    ("get", "/volunteers/{volunteer_id}"): _answer(
        id="string", name="string", community_id="string", approved_minutes="integer",
        star_level="integer"),
    ("get", "/volunteers/{volunteer_id}/balance"): _answer(
        volunteer_id="string", balance="integer", reserved="integer", available="integer",
        expiring="array"),
    ("get", "/certificates/{code}"): _answer(
        valid="boolean", volunteer_name="string", approved_minutes="integer",
        star_level="integer", issued_at="string", issued_by="string"),
    ("post", "/activities/{activity_id}/hours"): _answer(records="array"),
    ("post", "/activities/{activity_id}/approve"): _answer(approved="integer"),
    ("post", "/hours/{record_id}/approve"): _answer(id="string", status="string"),
    ("post", "/hours/{record_id}/reject"): _answer(id="string", status="string"),
    ("post", "/redemptions"): _answer(id="string", status="string", points="integer"),
    ("post", "/merchant/redemptions"): TILL_ANSWER,
    ("post", "/volunteers/{volunteer_id}/redeem-codes"): _answer(code="string",
                                                                 expires_at="string"),
    ("get", "/communities/{community_id}/scheme"): _answer(current="object",
                                                           versions="array"),
    ("post", "/communities/{community_id}/scheme"): _answer(version="integer"),
    **{("get", path): PAGE_ANSWER for path in (
        "/volunteers", "/activities", "/activities/{activity_id}/hours", "/rewards",
        "/volunteers/{volunteer_id}/redemptions", "/communities",
        "/communities/{community_id}/centers", "/merchants", "/users")},
    ("get", "/merchants/{merchant_id}/redemptions"): TILL_DAY_ANSWER,
    ("get", "/communities/{community_id}/fund"): _answer(balance="integer", items="array"),
    ("get", "/centers/{center_id}/pending"): _answer(center_id="string", pending="integer"),
}


# Success answers described field by field, for clients that parse them.
ANSWERS = {
    ("get", "/volunteers/{volunteer_id}/statement"): {"content": {
        "application/json": {"schema": {"type": "object", "properties": {
            "items": {"type": "array", "items": contracts.LedgerEntrySchema},
            "next_cursor": {"type": "string", "nullable": True}}}},
        "text/csv": {"schema": {"type": "string"}}}},
    ("get", "/volunteers/{volunteer_id}/certificate.pdf"): {"content": {
        "application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
    ("get", "/centers/{center_id}/report"): {"content": {
        "application/json": {"schema": {"type": "object"}},
        "text/csv": {"schema": {"type": "string"}}}},
    ("get", "/merchants/{merchant_id}/statement"): {"content": {
        "application/json": {"schema": {"type": "object"}},
        "text/csv": {"schema": {"type": "string"}}}},
    ("get", "/activities/{activity_id}/sign-in-code.svg"): QR_IMAGE,
    ("get", "/volunteers/{volunteer_id}/notices"): _json(NOTICES_ANSWER),
    ("get", "/volunteers/{volunteer_id}/redeem-codes/{code}.svg"): QR_IMAGE,
}

ERRORS = {"400": "invalid input", "401": "no or bad token", "403": "not allowed",
          "404": "not found", "409": "conflict",
          "415": "a body sent as another type than application/json",
          "422": "refused by the rules",
          "429": "too many attempts: wait Retry-After seconds",
          "503": "a dependency is down"}


# A second success status of one path: a dry run writes nothing and answers 200, not 201.
def _dry_run_answer(rows):
    return {"200": {"description": "dry_run: every row checked, nothing written", **_json(
        _answer(rows=rows, already_logged="integer", new="integer", problems="array"))}}


OTHER_SUCCESSES = {
    ("post", "/activities/{activity_id}/hours/import"): _dry_run_answer(rows="integer"),
    ("post", "/activities/{activity_id}/hours.csv"): _dry_run_answer(rows="array")}


# What an error means on one path, beside the general ERRORS.
ERROR_NOTES = {
    ("post", "/volunteers"): {
        "409": "phone_taken: the mobile number is a volunteer of this community already; "
               "error.fields.volunteer_id = [that volunteer's id] (or username_taken)"},
    ("post", "/activities/{activity_id}/hours"): {
        "409": "already_logged: error.fields.entries.<index>.volunteer_id names the record",
        "422": "capacity_exceeded (error.fields.capacity), overlapping_hours "
               "(error.fields.entries.<index>.volunteer_id names the other record), "
               "activity_not_started"},
    ("post", "/redemptions"): {
        "422": "not_yet_valid / no_longer_valid: outside the gift's validity window; "
               "limit_reached: over the gift's limit per volunteer (live redemptions); "
               "own_service: a provider booking their own service",
        "400": "a service with slots is booked with slot = one of its slots' start times "
               "(any offset: the same instant is the same slot) and quantity 1",
        "409": "insufficient_points; out_of_stock: the gift is gone, or the service's slot is "
               "booked already (of two bookings of one slot exactly one wins)"},
    ("post", "/rewards"): {
        "400": "a service (以服务换服务) is offered by a volunteer (its provider: themselves) or "
               "by center staff (their center): title, cost_points per session, location, "
               "duration_minutes, and its sessions as slots (up to 100 distinct future start "
               "times, each bookable once, answered as sessions [{starts_at, free}]) or as a "
               "stock of sessions booked without a time, not both"},
    ("post", "/redemptions/{redemption_id}/fulfill"): {
        "404": "no such redemption, or not one of this center's (or provider's)",
        "403": "a service's receiver: only its provider marks it delivered. Delivered, the "
               "provider earns the booking's points (an earn entry with ref {type: booking, "
               "id}); a center's service earns for its community fund (fund:<community_id>)",
        "409": "already_cancelled / already_expired, or redemption_pending / _failed"},
    ("post", "/volunteers/{volunteer_id}/redeem-codes"): {
        "422": "not_enough_hours: the community's minimum of approved hours for merchants; the "
               "message says how many hours and minutes are missing"},
    ("post", "/merchant/redemptions"): {
        "409": "insufficient_points (the code stays usable), code_used, daily_quota_reached",
        "422": "invalid_code, code_mismatch (another volunteer's code), code_expired, code_burnt "
               "(after 3 wrong tries), not_enough_hours",
        "429": "too_many_wrong_codes: 10 wrong codes per merchant per 15 minutes; Retry-After"},
    ("post", "/centers/{center_id}/pickups"): {
        "404": "unknown_pickup_code: no gift of this center has this code "
               "(error.fields.pickup_code); not_found: another center",
        "409": "already_cancelled / already_expired: that gift was not collected in time or "
               "was cancelled"},
    ("post", "/redemptions/{redemption_id}/cancel"): {
        "409": "already_fulfilled, or redemption_pending / _failed"},
    **{("post", f"/activities/{{activity_id}}/{step}"): {
        "422": "wrong_code: not the activity's current code; sign_in_not_open, sign_in_closed; "
               "check-out: not_checked_in, no_minutes_served",
        "429": "too_many_attempts: 5 wrong codes per volunteer in 15 minutes lock them out for "
               "5 minutes (twice as long each time within a day); 30 wrong codes at one "
               "activity lock its code for a minute, the right code included; Retry-After"}
       for step in ("check-in", "check-out")},
}


@functools.lru_cache(maxsize=1)
def openapi_document():
    spec = APISpec(title="Timebank API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"})
    spec.components.schema("Error", {"type": "object", "properties": {"error": {
        "type": "object", "required": ["code", "message", "fields"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"},
            "fields": {"type": "object"}}}}})
    for method, path, summary, body, status, public in ROUTES:
        operation = {
            "summary": summary,
            "responses": {str(status): {"description": "success", **ANSWERS.get(
                (method, path), _json(SHAPES.get((method, path), {"type": "object"})))}, **{
                code: {"description": text, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"}}}}
                for code, text in dict(ERRORS, **ERROR_NOTES.get((method, path), {})).items()},
                **OTHER_SUCCESSES.get((method, path), {})},
            "parameters": [{"in": "path", "name": name, "required": True,
                            "schema": {"type": "string"}}
                           for name in _path_params(path)] + [
                {"in": "query", "name": name, "required": False, "schema": {"type": kind}}
                for name, kind in QUERY.get(path, [])],
        }
        if method == "post":
            operation["parameters"].append({"in": "header", "name": "Idempotency-Key",
                                             "required": False, "schema": {"type": "string"}})
        if body is not None:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": body}}}
        if not public:
            operation["security"] = [{"bearer": []}]
        spec.path(path=API + path, operations={method: operation})
    for path in ("/healthz", "/readyz"):
        spec.path(path=path, operations={"get": {"summary": "health check", "responses": {
            "200": {"description": "healthy", **_json({"type": "object"})},
            "503": {"description": "not ready", **_json({"type": "object"})}}}})
    spec.path(path=f"{API}/openapi.json", operations={"get": {
        "summary": "this document", "responses": {"200": {"description": "OpenAPI 3",
                                                           **_json({"type": "object"})}}}})
    return spec.to_dict()


def _path_params(path):
    return re.findall(r"\{(\w+)\}", path)  # "{code}.svg" names the parameter code
