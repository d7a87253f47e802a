"""A volunteer's notices (mixed into GatewayService).

    GET /volunteers/{id}/notices?limit=&cursor=   self, staff of its community, admin

Composed here from bounded reads the services already offer, each walked by ``_id`` from its own
position (the cursor holds one per source), never a filter:

- the volunteer's hours records, newest logged first (volunteer.hours_notices):
  hours_approved (with the points it earned once credited: points.hours_credits, one key
  lookup each), hours_rejected, hours_revoked (with the reason);
- the statement, newest first: points_credited (gifts received, grants, refunds, a service
  delivered; points earned by hours are told by hours_approved) and points_reversed;
- the redemptions, newest first: redemption_ready (a gift waiting at the center, with its
  pickup code);
- on the first page only, points_expiring: the balance's lots that expire within 30 days
  (domain.md warns a volunteer 30 days before; the home page's amber line shows 60).

A page merges the sources' windows (limit + 1 items each) newest first. A source whose window
may go on bounds the merge: nothing older than its window's last item is told on this page, so
no notice is skipped; a page may then be short, with a next_cursor.
"""
import datetime as dt

from marshmallow import EXCLUDE, Schema, fields, validate

from services.shared.clock import now
from services.shared.contracts import QueryInteger, load
from services.shared.web import http, json_response

API = "/api/v1"
EXPIRY_WARNING = dt.timedelta(days=30)
TOP, DONE = "-", "0"  # a source's position: from its newest item; nothing left
POSITION = r"(-|0|[1-9][0-9]{0,17})"
CREDIT_KINDS = ("earn", "gift_in", "grant", "refund")
HOURS_KINDS = {"approved": "hours_approved", "rejected": "hours_rejected",
               "revoked": "hours_revoked"}


class NoticeArgs(Schema):
    """The query string: the cursor is "<hours>.<statement>.<redemptions>" positions."""
    class Meta:
        unknown = EXCLUDE

    limit = QueryInteger(load_default=20, validate=validate.Range(min=1, max=50))
    cursor = fields.String(load_default=None, validate=validate.Regexp(
        rf"^{POSITION}\.{POSITION}\.{POSITION}\Z", error="as returned in next_cursor"))


def parse_at(value):
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def window_item(at, resume, notice=None):
    """One item of a source's window: when, where the source goes on after it, what it tells
    (None: nothing, e.g. a pending record or a debit)."""
    return {"at": parse_at(at), "resume": str(resume), "notice": notice}


def hours_notice(item, points):
    kind = HOURS_KINDS.get(item["status"])
    if kind is None:
        return None
    notice = {"kind": kind, "at": item["at"], "record_id": item["record_id"],
              "activity_title": item["activity_title"], "category": item["category"],
              "minutes": item["minutes"]}
    if kind == "hours_approved":
        notice["points"] = points.get(item["record_id"])
    else:
        notice["reason"] = item["reason"]
    return notice


def statement_notice(entry):
    if entry["kind"] == "reversal":
        kind = "points_reversed"
    elif entry["kind"] in CREDIT_KINDS and entry["points"] > 0 and \
            (entry["ref"] or {}).get("type") != "hours":
        kind = "points_credited"
    else:
        return None
    return {"kind": kind, "at": entry["at"], "points": abs(entry["points"]),
            "ledger_kind": entry["kind"], "reason": entry["reason"]}


def redemption_notice(redemption):
    if redemption["status"] != "confirmed" or redemption.get("reward_kind") != "gift":
        return None
    return {"kind": "redemption_ready", "at": redemption["created_at"],
            "redemption_id": redemption["id"], "reward_title": redemption.get("reward_title"),
            "quantity": redemption.get("quantity"), "pickup_code": redemption.get("pickup_code"),
            "pickup_day": redemption.get("pickup_day")}


def merge(windows, limit):
    """(notices, positions, more) from {source: (items newest first, more, position)}.

    Each source's items are ordered by a key that never grows down the window (the running
    minimum of ``at``), so a source is always resumed right after what the page told of it."""
    bounds, merged = [], []
    for name, (items, more, _) in windows.items():
        key = None
        for order, item in enumerate(items):
            key = item["at"] if key is None else min(key, item["at"])
            merged.append((key, name, order, item))
        if more and items:
            bounds.append(key)
    bound = max(bounds) if bounds else None
    merged.sort(key=lambda m: (m[0], m[1], -m[2]), reverse=True)
    positions = {name: position for name, (_, _, position) in windows.items()}
    notices, left = [], False
    for key, name, _, item in merged:
        if (bound is not None and key < bound) or len(notices) == limit:
            left = True
            break
        positions[name] = item["resume"]
        if item["notice"] is not None:
            notices.append(item["notice"])
    for name, (items, more, _) in windows.items():
        if not more and items and positions[name] == items[-1]["resume"]:
            positions[name] = DONE  # told to its end
    more = left or any(more for _, more, _ in windows.values())
    return notices, positions, more


class NoticeRoutes:

    @http("GET", f"{API}/volunteers/<string:volunteer_id>/notices")
    def volunteer_notices(self, request, volunteer_id):
        actor = self.tokens.actor(request)
        args = load(NoticeArgs(), request.args.to_dict())
        self._authorize_volunteer(actor, volunteer_id)
        limit = args["limit"]
        hours_at, statement_at, redemptions_at = (args["cursor"] or "-.-.-").split(".")
        windows = {
            "hours": self._hours_window(actor, volunteer_id, limit, hours_at),
            "statement": self._statement_window(volunteer_id, limit, statement_at),
            "redemptions": self._redemptions_window(actor, volunteer_id, limit, redemptions_at),
        }
        notices, positions, more = merge(windows, limit)
        if args["cursor"] is None:
            notices = self._expiring_notices(volunteer_id) + notices
        if positions["redemptions"] not in (TOP, DONE, redemptions_at):
            positions["redemptions"] = self._redemptions_cursor(
                actor, volunteer_id, redemptions_at, positions["redemptions"])
        next_cursor = ".".join(positions[name] for name in ("hours", "statement", "redemptions"))
        if next_cursor == f"{DONE}.{DONE}.{DONE}":
            more = False
        return json_response(200, {"items": [jsonable(n) for n in notices],
                                   "next_cursor": next_cursor if more else None})

    def _hours_window(self, actor, volunteer_id, limit, position):
        if position == DONE:
            return [], False, DONE
        page = self.volunteer.hours_notices(actor, volunteer_id, limit + 1,
                                            None if position == TOP else int(position))
        approved = [item["record_id"] for item in page["items"] if item["status"] == "approved"]
        points = self.points.hours_credits(volunteer_id, approved) if approved else {}
        return [window_item(item["at"], item["seq"], hours_notice(item, points))
                for item in page["items"]], page["more"], position

    def _statement_window(self, volunteer_id, limit, position):
        if position == DONE:
            return [], False, DONE
        entries = self.points.statement({
            "account": volunteer_id, "limit": limit + 1,
            "before_seq": None if position == TOP else int(position)})
        return [window_item(e["at"], e["seq"], statement_notice(e)) for e in entries], \
            bool(entries) and entries[-1]["seq"] > 1, position

    def _redemptions_window(self, actor, volunteer_id, limit, position):
        """Items resume as "<cursor>+<items told>": the rewards list gives a cursor only at a
        page's end, so _redemptions_cursor turns it into one (see volunteer_notices)."""
        if position == DONE:
            return [], False, DONE
        page = self.rewards.volunteer_redemptions(
            actor, volunteer_id, limit + 1, None if position == TOP else position)
        return [window_item(r["created_at"], f"{position}+{order + 1}", redemption_notice(r))
                for order, r in enumerate(page["items"])], \
            page["next_cursor"] is not None, position

    def _redemptions_cursor(self, actor, volunteer_id, start, resume):
        """The rewards list's cursor right after the first ``n`` items from ``start``."""
        told = int(resume.rsplit("+", 1)[1])
        page = self.rewards.volunteer_redemptions(actor, volunteer_id, told,
                                                  None if start == TOP else start)
        return page["next_cursor"] or DONE

    def _expiring_notices(self, volunteer_id):
        balance = self.points.get_balance(volunteer_id)
        moment = now()
        return [{"kind": "points_expiring", "at": moment, "points": lot["points"],
                 "expires_at": lot["expires_at"]}
                for lot in balance["expiring"]
                if parse_at(lot["expires_at"]) - moment <= EXPIRY_WARNING and lot["points"] > 0]


def jsonable(notice):
    return {key: value.isoformat() if isinstance(value, dt.datetime) else value
            for key, value in notice.items()}


# The answer's shape, for the OpenAPI document (the fuzzer checks answers against it).
_TEXT = {"type": "string", "nullable": True}
_COUNT = {"type": "integer", "nullable": True}
NOTICE_SCHEMA = {"type": "object", "required": ["kind", "at"], "properties": {
    "kind": {"type": "string", "enum": sorted(set(HOURS_KINDS.values()) | {
        "points_credited", "points_reversed", "points_expiring", "redemption_ready"})},
    "at": {"type": "string", "format": "date-time"},
    "record_id": {"type": "string"}, "activity_title": _TEXT, "category": _TEXT,
    "minutes": {"type": "integer"}, "points": _COUNT, "reason": _TEXT,
    "ledger_kind": {"type": "string"}, "expires_at": {"type": "string"},
    "redemption_id": {"type": "string"}, "reward_title": _TEXT, "quantity": _COUNT,
    "pickup_code": _TEXT, "pickup_day": _TEXT}}
NOTICES_ANSWER = {"type": "object", "required": ["items", "next_cursor"], "properties": {
    "items": {"type": "array", "items": NOTICE_SCHEMA},
    "next_cursor": {"type": "string", "nullable": True}}}
