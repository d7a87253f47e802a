"""What the rewards service returns over RPC."""
from marshmallow import Schema, fields


class MerchantOut(Schema):
    id = fields.String(attribute="_id")
    community_id = fields.String()
    name = fields.String()
    address = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()


class RewardOut(Schema):
    id = fields.String(attribute="_id")
    kind = fields.String()
    title = fields.String()
    description = fields.String(allow_none=True)
    cost_points = fields.Integer()
    stock = fields.Integer(allow_none=True)
    community_id = fields.String()
    center_id = fields.String(allow_none=True)
    merchant_id = fields.String(allow_none=True)
    per_volunteer_limit = fields.Integer(allow_none=True)
    valid_from = fields.AwareDateTime(allow_none=True)
    valid_until = fields.AwareDateTime(allow_none=True)
    pickup_days = fields.Integer(allow_none=True)
    daily_quota = fields.Integer(allow_none=True)  # merchant offers: redemptions per local day
    # A service: its provider (a volunteer; none: its center), where and how long, and each
    # session with whether it is still free.
    provider_volunteer_id = fields.String(allow_none=True)
    location = fields.String(allow_none=True)
    duration_minutes = fields.Integer(allow_none=True)
    sessions = fields.List(fields.Dict(), allow_none=True)
    created_at = fields.AwareDateTime()


class RedemptionOut(Schema):
    id = fields.String(attribute="_id")
    reward_id = fields.String()
    volunteer_id = fields.String()
    quantity = fields.Integer()
    points = fields.Integer()
    status = fields.String()
    pickup_code = fields.Method("visible_pickup_code", allow_none=True)
    failure = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    # The gift shelf: the last local day to collect it, when it ended, and what it was.
    pickup_day = fields.String(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)
    reward_title = fields.String(allow_none=True)
    reward_kind = fields.String(allow_none=True)
    slot = fields.String(allow_none=True)  # a booked service: the session's start time

    def visible_pickup_code(self, redemption):
        # The code collects the gift: shown only for a redemption that took points and stock.
        return redemption.get("pickup_code") if redemption["status"] == "confirmed" else None
