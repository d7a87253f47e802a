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

    def visible_pickup_code(self, redemption):
        # The code collects the gift: shown only for a redemption that took points and stock.
        return redemption.get("pickup_code") if redemption["status"] == "confirmed" else None
