"""A merchant's redemptions of one local day, for the till's list (GET /merchants/{id}/redemptions).

Kept as an append-only log per merchant and local day (``merchant_days``, stream
``<merchant>@<day>``, the day the redemption was made in the community's zone): the counter saga
appends +points under ``<redemption>:day`` where it settles a completed redemption, and a void
appends −points under ``<redemption>:day_void`` where it finishes (both idempotent under their
keys, so a rerun by recovery writes nothing twice). A day's list reads only that stream by
``_id`` (entry n is ``<stream>:n``) and a few ``_id`` lookups per row: its cost is the page,
whatever the merchant redeemed on other days. The stream's total is what the day left owed.
A redemption's entry carries the volunteer's masked name (asked of the volunteer service once,
when the redemption was stored), so a row asks no other service.
"""
import datetime as dt

from marshmallow import EXCLUDE, Schema, fields, validate
from nameko.rpc import rpc

from services.shared import contracts
from services.shared.contracts import CalendarDate, QueryInteger, load
from services.shared.clock import now

MAX_PAGE = 200


class MerchantDayArgs(Schema):
    """The query string of GET /merchants/{id}/redemptions: one local day (today when left
    out), a page of it newest first."""
    class Meta:
        unknown = EXCLUDE

    date = CalendarDate(load_default=None)
    limit = QueryInteger(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE))
    cursor = fields.String(load_default=None, validate=validate.Regexp(
        r"^[1-9][0-9]{0,17}\Z", error="as returned in next_cursor"))


def day_stream(merchant_id, day):
    return f"{merchant_id}@{day}"


def record_completed(days, redemption):
    """The redemption on its day's list; called where the counter saga settles it."""
    rid = redemption["_id"]
    days.append(day_stream(redemption["merchant_id"], redemption["day"]), redemption["points"],
                key=f"{rid}:day", floor=None,
                fields={"redemption_id": rid,
                        "volunteer_name": redemption.get("volunteer_name")})


def record_voided(days, redemption):
    """Its void on the same day's list (the day it was made, not the day of the void)."""
    rid = redemption["_id"]
    days.append(day_stream(redemption["merchant_id"], redemption["day"]), -redemption["points"],
                key=f"{rid}:day_void", floor=None, fields={"redemption_id": rid})


class MerchantDays:
    """Mixed into RewardsService after MerchantRedemptions: uses ``store.merchant``,
    ``readable_merchant`` and ``merchant_row``."""

    @rpc
    def merchant_day_redemptions(self, actor, merchant_id, args):
        actor = load(contracts.ActorSchema(), actor)
        query = load(MerchantDayArgs(), args)
        merchant, zone = self.readable_merchant(actor, merchant_id)
        day = query["date"] or now().astimezone(zone).date()
        m = self.store.merchant
        limit = query["limit"]
        # A void's entry is skipped (its redemption's row shows it). A redemption has at most
        # two entries, so the walk reads at most 2 * limit + 1 of them: a page after a run of
        # voids may hold fewer rows than ``limit``, and next_cursor says more may follow.
        window = 2 * limit + 1
        entries = m.days.entries_of(
            day_stream(merchant_id, day.isoformat()), limit=window,
            before_seq=int(query["cursor"]) if query["cursor"] else None)
        items, read = [], 0
        for entry in entries:
            if len(items) == limit:
                break
            read += 1
            if entry["delta"] > 0:
                items.append(dict(self.merchant_row(entry["redemption_id"]),
                                  volunteer_name=entry.get("volunteer_name")))
        more = read < len(entries) or len(entries) == window
        next_cursor = entries[read - 1]["seq"] if more and read else None
        return {"merchant_id": merchant_id, "merchant_name": merchant["name"],
                "date": day.isoformat(), "timezone": zone.key, "items": items,
                "next_cursor": str(next_cursor) if next_cursor else None}


def voidable_until(outcome, void, window):
    """When a completed redemption can no longer be voided; None once voided."""
    if void is not None or outcome.get("status") != "completed":
        return None
    return (outcome["at"] + window).astimezone(dt.timezone.utc).isoformat()
