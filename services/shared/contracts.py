"""The payloads that cross the bus between services: event bodies and RPC arguments/results.

Both sides load and dump through these schemas, so a producer and its consumers cannot drift
apart. A service's own HTTP-facing or storage shapes stay in that service.
"""
import datetime as dt
import decimal
import re
import unicodedata
import zoneinfo

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from services.shared import identity
from services.shared.errors import InvalidInput

ROLES = ("admin", "center_staff", "merchant", "volunteer")
CATEGORIES = (
    "elder_care", "disability_care", "professional", "environment", "culture_sports", "other",
)

# Events: (source service, event type). Consumers bind with nameko's event_handler.
HOURS_APPROVED = ("volunteer", "hours_approved")
HOURS_REVOKED = ("volunteer", "hours_revoked")
POINTS_EXPIRING = ("points", "points_expiring")  # 30 days before, once per volunteer and date

# Bounds on what clients may send, far inside what the store holds (int64) and what converts
# to UTC without overflow (a year 1 or 9999 time with a +14:00 / -14:00 offset does not).
MAX_COST_POINTS = 1_000_000
MAX_QUANTITY = 100
MAX_POINTS = MAX_COST_POINTS * MAX_QUANTITY  # the largest single movement: a whole redemption
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
# Query-string numbers: ASCII digits only (int() also takes "٣" and str.isdigit() takes "²").
ASCII_INTEGER = re.compile(r"[0-9]{1,18}")

Id = lambda **kw: fields.String(validate=validate.Length(min=1, max=128), **kw)  # noqa: E731
Points = lambda **kw: fields.Integer(  # noqa: E731
    strict=True, validate=validate.Range(min=1, max=MAX_POINTS), **kw)


class Moment(fields.AwareDateTime):
    """An aware time in the years EARLIEST_YEAR..LATEST_YEAR, checked before any conversion."""
    default_error_messages = {
        "out_of_range": f"a time in the years {EARLIEST_YEAR} to {LATEST_YEAR}"}

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
            raise self.make_error("out_of_range")
        return moment


MAX_SLOTS = 100


class SlotTime(Moment):
    """A session's start time, loaded as its UTC ISO text: one instant, one spelling, so a slot
    offered as +08:00 and booked as Z is the same slot (and the same stock stream)."""

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        return moment.astimezone(dt.timezone.utc).isoformat()


class QueryInteger(fields.Integer):
    """An integer as a query string carries it: ASCII digits only."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not ASCII_INTEGER.fullmatch(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Contract(Schema):
    class Meta:
        unknown = RAISE


def load(schema, data):
    """Validate ``data`` with ``schema``; bad input becomes InvalidInput naming the fields."""
    from marshmallow import ValidationError
    try:
        return schema.load(data)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise InvalidInput("invalid input", fields=messages)


class ActorSchema(Contract):
    """Who is acting, as the gateway authenticated it. Services authorise against it."""
    user_id = Id(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    subject_id = Id(load_default=None, allow_none=True)
    community_id = Id(load_default=None, allow_none=True)
    center_id = Id(load_default=None, allow_none=True)
    merchant_id = Id(load_default=None, allow_none=True)


class HoursApprovedSchema(Contract):
    event_id = Id(required=True)
    record_id = Id(required=True)
    volunteer_id = Id(required=True)
    community_id = Id(required=True)
    center_id = Id(required=True)
    activity_id = Id(required=True)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    minutes = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))
    activity_starts_at = fields.AwareDateTime(required=True)
    approved_at = fields.AwareDateTime(required=True)
    approved_by = Id(required=True)


class HoursRevokedSchema(Contract):
    event_id = Id(required=True)
    record_id = Id(required=True)
    volunteer_id = Id(required=True)
    community_id = Id(required=True)
    minutes = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))
    reason = fields.String(required=True)
    revoked_at = fields.AwareDateTime(required=True)
    revoked_by = Id(required=True)


class PointsExpiringSchema(Contract):
    event_id = fields.String(required=True, validate=validate.Length(min=1, max=256))
    volunteer_id = Id(required=True)
    points = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))
    expires_at = fields.AwareDateTime(required=True)
    warned_at = fields.AwareDateTime(required=True)


EVENT_SCHEMAS = {HOURS_APPROVED[1]: HoursApprovedSchema, HOURS_REVOKED[1]: HoursRevokedSchema,
                 POINTS_EXPIRING[1]: PointsExpiringSchema}


class PointsMovementSchema(Contract):
    """RPC points.debit / points.credit_back: one movement, once per ``key``."""
    account = Id(required=True)
    points = Points(required=True)
    key = fields.String(required=True, validate=validate.Length(min=1, max=256))
    kind = fields.String(required=True, validate=validate.Length(min=1, max=64))
    reason = fields.String(required=True, validate=validate.Length(max=500))
    ref_type = fields.String(required=True, validate=validate.Length(min=1, max=64))
    ref_id = Id(required=True)
    by = Id(required=True)
    # credit_back: the debit being given back, whose expiry dates the points return with.
    refund_of = fields.String(load_default=None, validate=validate.Length(min=1, max=256))


class LedgerEntrySchema(Contract):
    """A ledger entry as the statement shows it; ``points`` is signed."""
    id = fields.String(required=True)
    # The entry's place in its account (1, 2, ...) and its SHA-256 over its content and the
    # previous entry's hash: a history changed later no longer matches a statement taken before.
    seq = fields.Integer(strict=True, required=True)
    at = fields.AwareDateTime(required=True)
    kind = fields.String(required=True)
    points = fields.Integer(strict=True, required=True)
    balance_after = fields.Integer(strict=True, required=True)
    # Points a revocation could not take back (already spent), still to be paid by credits.
    owed_after = fields.Integer(strict=True, load_default=0)
    # Both sides of a debt: on a reversal, what it left owed; on a credit, what it brought in
    # (gross) and how much of that paid the debt first (points = gross - debt_paid).
    owed = fields.Integer(strict=True, load_default=None, allow_none=True)
    gross = fields.Integer(strict=True, load_default=None, allow_none=True)
    debt_paid = fields.Integer(strict=True, load_default=None, allow_none=True)
    reason = fields.String(required=True)
    ref = fields.Dict(required=True)
    # For credits: the scheme rule version and the arithmetic that produced the points.
    rule = fields.Dict(load_default=None, allow_none=True)
    # None for entries written before entries were hashed.
    hash = fields.String(required=True, allow_none=True)


class StatementQuery(Contract):
    """RPC points.statement: a page of an account's entries, newest first."""
    account = Id(required=True)
    # One more than a page of StatementArgs: the gateway asks for it to know if a page follows.
    limit = fields.Integer(strict=True, load_default=50, validate=validate.Range(min=1, max=1001))
    before_seq = fields.Integer(strict=True, load_default=None, allow_none=True,
                                validate=validate.Range(min=1))
    since = Moment(load_default=None, allow_none=True)
    until = Moment(load_default=None, allow_none=True)


class ExpiringSchema(Contract):
    points = fields.Integer(strict=True, required=True)
    expires_at = fields.AwareDateTime(required=True)


class BalanceSchema(Contract):
    volunteer_id = Id(required=True)
    balance = fields.Integer(strict=True, required=True)
    reserved = fields.Integer(strict=True, required=True)
    available = fields.Integer(strict=True, required=True)
    # Points a revocation could not take back (already spent); the next credits pay them.
    owed = fields.Integer(strict=True, load_default=0, dump_default=0)
    expiring = fields.List(fields.Nested(ExpiringSchema), required=True)


# --- Requests the gateway hands to a service (the HTTP bodies of ../shared/api.md) ----------
# The gateway validates them to answer 400 early and to publish them in OpenAPI; the owning
# service validates them again, since it is the authority on its own data.

# What a name must not hold, by Unicode category: controls (Cc: NUL, line breaks, escapes), the
# line and paragraph separators (Zl, Zp), lone surrogates (Cs), and format characters (Cf), which
# are invisible: zero-width spaces, direction marks, the byte-order mark, and the bidirectional
# embeddings, overrides and isolates that make a name display as another. Only the two joiners
# are kept: emoji sequences and Persian or Indic spellings need them.
NOT_IN_NAMES = {"Cc", "Zl", "Zp", "Cs", "Cf"}
JOINERS = {"\u200c", "\u200d"}
# Letters that render as blank space (the Hangul fillers): they make a name look empty too.
BLANK_LETTERS = {"\u115f", "\u1160", "\u3164", "\uffa0"}


def username_key(username):
    """Usernames are one regardless of case: ``Li`` and ``li`` are the same login (the user's id)."""
    return username.casefold()


def printable(value):
    found = next((char for char in value
                  if unicodedata.category(char) in NOT_IN_NAMES and char not in JOINERS), None)
    if found is not None:
        raise ValidationError("must not contain control, invisible or bidirectional formatting "
                              f"characters (U+{ord(found):04X})")
    # A letter, digit, punctuation mark or symbol: whitespace, joiners and marks alone show nothing.
    if not any(unicodedata.category(char)[0] in "LNPS" and char not in BLANK_LETTERS
               for char in value):
        raise ValidationError("must contain a visible character")


# bcrypt reads 72 bytes of a password: a longer one is refused, never silently cut.
PASSWORD_MAX_BYTES = 72


def fits_bcrypt(value):
    if len(value.encode("utf-8", "surrogatepass")) > PASSWORD_MAX_BYTES:
        raise ValidationError(f"at most {PASSWORD_MAX_BYTES} bytes in UTF-8 (72 Latin letters, "
                              "24 Chinese characters): bcrypt reads no further")


Name = lambda **kw: fields.String(  # noqa: E731
    validate=[validate.Length(min=1, max=200), printable], **kw)
# \Z, not $: "$" also matches before a final line break, so "li\n" would pass.
USERNAME = validate.Regexp(r"^[A-Za-z0-9_.\-]{3,64}\Z",
                           error="3 to 64 letters, digits, '_', '.' or '-'")
PASSWORD = [validate.Length(min=8), fits_bcrypt]


class CommunityIn(Contract):
    name = Name(required=True)
    code = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Za-z0-9_\-]{1,64}\Z", error="1 to 64 letters, digits, '_' or '-'"))


class CenterIn(Contract):
    community_id = Id(required=True)
    name = Name(required=True)
    address = fields.String(load_default=None, allow_none=True,
                            validate=validate.Length(max=500))


class UserIn(Contract):
    username = fields.String(required=True, validate=USERNAME)
    password = fields.String(required=True, validate=PASSWORD, load_only=True)
    role = fields.String(required=True,
                         validate=validate.OneOf(("admin", "center_staff", "merchant")))
    center_id = Id(load_default=None, allow_none=True)
    merchant_id = Id(load_default=None, allow_none=True)


class Normalized(fields.String):
    """A string that ``normalize`` turns into its one stored form (None: invalid)."""

    def __init__(self, normalize, error, **kwargs):
        super().__init__(**kwargs)
        self.normalize, self.error_text = normalize, error

    def _deserialize(self, value, attr, data, **kwargs):
        normalized = self.normalize(super()._deserialize(value, attr, data, **kwargs))
        if normalized is None:
            raise ValidationError(self.error_text)
        return normalized


MainlandMobile = lambda **kw: Normalized(  # noqa: E731
    identity.mainland_mobile, "a mainland China mobile number, 11 digits (e.g. 13800000000)",
    **kw)


class VolunteerIn(Contract):
    community_id = Id(required=True)
    name = Name(required=True)
    # Stored as its 11 national digits: one number is one volunteer per community.
    phone = MainlandMobile(required=True)
    username = fields.String(required=True, validate=USERNAME)
    password = fields.String(required=True, validate=PASSWORD, load_only=True)
    # Optional; stored, and only ever answered masked (identity.masked_id_card).
    id_card = Normalized(identity.resident_id, "an 18-character resident ID card number "
                         "(GB 11643) with a valid birth date and check digit",
                         load_default=None, allow_none=True, load_only=True)


class VolunteerSearchArgs(Schema):
    """The query string of GET /volunteers: a community's volunteers by name or phone."""
    class Meta:
        unknown = EXCLUDE

    community_id = Id(required=True)
    q = fields.String(load_default="", validate=validate.Length(max=200))
    limit = QueryInteger(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None, validate=validate.Regexp(
        r"^[1-9][0-9]{0,17}\Z", error="as returned in next_cursor"))


class ActivityListArgs(Schema):
    """The query string of GET /activities: a center's activities, newest first."""
    class Meta:
        unknown = EXCLUDE

    center_id = Id(required=True)
    from_ = Moment(data_key="from", load_default=None)
    to = Moment(load_default=None)
    limit = QueryInteger(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None, validate=validate.Regexp(
        r"^[1-9][0-9]{0,17}\Z", error="as returned in next_cursor"))


class RosterPageArgs(Schema):
    """The query string of GET /activities/{id}/hours: the cursor is "<sheet seq>.<index>"."""
    class Meta:
        unknown = EXCLUDE

    limit = QueryInteger(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None, validate=validate.Regexp(
        r"^[1-9][0-9]{0,17}\.[0-9]{1,6}\Z", error="as returned in next_cursor"))


class ActivityIn(Contract):
    center_id = Id(required=True)
    title = Name(required=True)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    starts_at = Moment(required=True)
    ends_at = Moment(required=True)
    capacity = fields.Integer(strict=True, load_default=None, allow_none=True,
                              validate=validate.Range(min=1, max=100000))
    place = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


MAX_MINUTES_PER_ENTRY = 24 * 60


class HoursEntryIn(Contract):
    volunteer_id = Id(required=True)
    minutes = fields.Integer(strict=True, required=True,
                             validate=validate.Range(min=1, max=MAX_MINUTES_PER_ENTRY))


class HoursSheetIn(Contract):
    entries = fields.List(fields.Nested(HoursEntryIn), required=True,
                          validate=validate.Length(min=1, max=1000))


class SignInCodeIn(Contract):
    """POST /activities/{id}/check-in and check-out: the code the center shows."""
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))


class SheetRowIn(Contract):
    """One row of an imported paper sheet (services/volunteer/sheets_import.py): its line in
    the file, the volunteer by id or by phone, and the minutes."""
    line = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))
    volunteer_id = Id(load_default=None, allow_none=True)
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(
        r"^[0-9]{6,20}\Z", error="6 to 20 digits"))
    minutes = fields.Integer(strict=True, required=True,
                             validate=validate.Range(min=1, max=MAX_MINUTES_PER_ENTRY))


class SheetImportIn(Contract):
    """POST /activities/{id}/hours/import: a part of a sheet, checked (``dry_run``) or logged."""
    rows = fields.List(fields.Nested(SheetRowIn), required=True,
                       validate=validate.Length(min=1, max=1000))
    dry_run = fields.Boolean(load_default=False)


class ReasonIn(Contract):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


REWARD_KINDS = ("gift", "service", "merchant_offer")


class RewardIn(Contract):
    kind = fields.String(required=True, validate=validate.OneOf(REWARD_KINDS))
    title = Name(required=True)
    cost_points = fields.Integer(strict=True, required=True,
                                 validate=validate.Range(min=1, max=MAX_COST_POINTS))
    stock = fields.Integer(strict=True, load_default=None, allow_none=True,
                           validate=validate.Range(min=0, max=1_000_000))
    center_id = Id(load_default=None, allow_none=True)
    merchant_id = Id(load_default=None, allow_none=True)
    description = fields.String(load_default=None, allow_none=True,
                                validate=validate.Length(max=2000))
    # Gifts (爱心超市): how many one volunteer may hold at once (live redemptions), when it may
    # be redeemed (422 outside), and the days a redemption waits for pickup before it expires.
    per_volunteer_limit = fields.Integer(strict=True, load_default=None, allow_none=True,
                                         validate=validate.Range(min=1, max=MAX_QUANTITY))
    valid_from = Moment(load_default=None, allow_none=True)
    valid_until = Moment(load_default=None, allow_none=True)
    pickup_days = fields.Integer(strict=True, load_default=None, allow_none=True,
                                 validate=validate.Range(min=1, max=365))
    # Services (以服务换服务): where and how long a session is, and its sessions as start times,
    # each bookable once (without slots, ``stock`` counts sessions booked without a time).
    location = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(min=1, max=200))
    duration_minutes = fields.Integer(strict=True, load_default=None, allow_none=True,
                                      validate=validate.Range(min=1, max=24 * 60))
    slots = fields.List(SlotTime(), load_default=None, allow_none=True,
                        validate=validate.Length(min=1, max=MAX_SLOTS))
    # Merchant offers (爱心商家): redemptions per local day, none when unset.
    daily_quota = fields.Integer(strict=True, load_default=None, allow_none=True,
                                 validate=validate.Range(min=1, max=100_000))


class RedemptionIn(Contract):
    reward_id = Id(required=True)
    volunteer_id = Id(required=True)
    quantity = fields.Integer(strict=True, load_default=1,
                              validate=validate.Range(min=1, max=MAX_QUANTITY))
    slot = SlotTime(load_default=None, allow_none=True)  # a service's session: its start time


class MerchantRedemptionIn(Contract):
    """POST /merchant/redemptions: the code the volunteer shows, one of the merchant's offers,
    and the volunteer the QR code names (when the till scanned it rather than typed the code)."""
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    reward_id = Id(required=True)
    volunteer_id = Id(load_default=None, allow_none=True)


class TransferIn(Contract):
    """A gift of points (转赠) to another volunteer, of any community (通存通兑)."""
    from_volunteer_id = Id(required=True)
    to_volunteer_id = Id(required=True)
    points = Points(required=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class DonationIn(Contract):
    volunteer_id = Id(required=True)
    points = Points(required=True)


class GrantIn(Contract):
    """Points from a community's fund; every grant says why."""
    to_volunteer_id = Id(required=True)
    points = Points(required=True)
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=500), printable])


class FundQuery(Contract):
    """RPC points.fund: a page of a community fund's entries, newest first."""
    community_id = Id(required=True)
    limit = fields.Integer(strict=True, load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(
        r"^[1-9][0-9]{0,17}\Z", error="as returned in next_cursor"))


class MerchantIn(Contract):
    community_id = Id(required=True)
    name = Name(required=True)
    address = fields.String(load_default=None, allow_none=True,
                            validate=validate.Length(max=500))


class Multiplier(fields.Field):
    """A scheme multiplier, kept as its exact decimal text ("1.5"): a JSON number or a numeric
    string from 0 to 10 with at most 4 decimal places. A JSON number is read through its
    shortest text, which for such numbers is the text that was sent: 1.2 stays 1.2 exactly."""
    default_error_messages = {"invalid": "a number from 0 to 10 with at most 4 decimal places"}

    def __init__(self, **kwargs):  # OpenAPI: a number (a numeric string is taken too)
        kwargs.setdefault("metadata", {"type": "number", "minimum": 0, "maximum": 10})
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise self.make_error("invalid")
        try:
            number = decimal.Decimal(str(value))
        except decimal.InvalidOperation:
            raise self.make_error("invalid") from None
        if not number.is_finite() or not 0 <= number <= 10 or \
                number.normalize().as_tuple().exponent < -4:
            raise self.make_error("invalid")
        return format(number.normalize(), "f")


class CalendarDate(fields.Date):
    """A date (YYYY-MM-DD) in the years EARLIEST_YEAR..LATEST_YEAR."""
    default_error_messages = {
        "out_of_range": f"a date in the years {EARLIEST_YEAR} to {LATEST_YEAR}"}

    def _deserialize(self, value, attr, data, **kwargs):
        day = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
            raise self.make_error("out_of_range")
        return day


class MerchantStatementArgs(Schema):
    """The query string of GET /merchants/{id}/statement: local calendar days, both included."""
    class Meta:
        unknown = EXCLUDE

    from_ = CalendarDate(data_key="from", load_default=None)
    to = CalendarDate(load_default=None)
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))


def iana_zone(value):
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError("an IANA time zone name, e.g. Asia/Shanghai") from None


class SchemeIn(Contract):
    """POST /communities/{id}/scheme: a version of the points scheme from ``effective_from``.
    Categories left out of ``category_multipliers`` keep domain.md's defaults; ``timezone``
    (the community's local dates) defaults to the zone of the version in force."""
    effective_from = CalendarDate(required=True)
    base_points_per_hour = fields.Integer(strict=True, required=True,
                                          validate=validate.Range(min=0, max=1000))
    category_multipliers = fields.Dict(keys=fields.String(validate=validate.OneOf(CATEGORIES)),
                                       values=Multiplier(), required=True)
    weekend_holiday_multiplier = Multiplier(required=True)
    daily_cap_minutes = fields.Integer(strict=True, required=True,
                                       validate=validate.Range(min=1, max=24 * 60))
    storage_cap_points = fields.Integer(strict=True, load_default=None, allow_none=True,
                                        validate=validate.Range(min=1, max=MAX_POINTS))
    min_minutes_for_merchants = fields.Integer(strict=True, load_default=None, allow_none=True,
                                               validate=validate.Range(min=0, max=10_000_000))
    timezone = fields.String(load_default=None, allow_none=True,
                             validate=[validate.Length(max=64), iana_zone])


class SchemeVersionOut(Contract):
    """One version as points.get_scheme / publish_scheme answer it (multipliers as numbers)."""
    version = fields.String(required=True)
    effective_from = fields.String(required=True, allow_none=True)  # None: domain.md defaults
    base_points_per_hour = fields.Integer(required=True)
    category_multipliers = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)
    weekend_holiday_multiplier = fields.Raw(required=True)
    daily_cap_minutes = fields.Integer(required=True)
    storage_cap_points = fields.Integer(allow_none=True)
    min_minutes_for_merchants = fields.Integer(allow_none=True)
    timezone = fields.String(required=True)
    published_at = fields.String(allow_none=True)
    published_by = fields.String(allow_none=True)


class SchemeAnswer(Contract):
    """GET /communities/{id}/scheme: the version in force now, and every published version."""
    current = fields.Nested(SchemeVersionOut, required=True)
    versions = fields.List(fields.Nested(SchemeVersionOut), required=True)


class LoginIn(Contract):
    # Not the rules of a new password: a login that cannot match answers 401 like any other.
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=128))


class PasswordChangeIn(Contract):
    old_password = fields.String(required=True, validate=validate.Length(min=1, max=128),
                                 load_only=True)
    new_password = fields.String(required=True, validate=PASSWORD, load_only=True)


class StatementArgs(Schema):
    """The query string of GET /volunteers/{id}/statement (strings, as URLs carry them)."""
    class Meta:
        unknown = EXCLUDE  # a cache-buster or tracking parameter is no error

    from_ = Moment(data_key="from", load_default=None)
    to = Moment(load_default=None)
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))
    limit = QueryInteger(load_default=50, validate=validate.Range(min=1, max=1000))
    cursor = fields.String(load_default=None, validate=validate.Regexp(
        r"^[1-9][0-9]{0,17}$", error="as returned in next_cursor"))


class ReportArgs(Schema):
    """The query string of GET /centers/{id}/report: local calendar days, both included."""
    class Meta:
        unknown = EXCLUDE  # a cache-buster or tracking parameter is no error

    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))
