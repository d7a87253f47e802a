"""What the volunteer service returns over RPC (dumped to JSON-safe dicts)."""
from marshmallow import Schema, fields

from services.shared import identity


class Out(Schema):
    id = fields.String(attribute="_id")


class CommunityOut(Out):
    name = fields.String()
    code = fields.String()
    created_at = fields.AwareDateTime()


class CenterOut(Out):
    community_id = fields.String()
    name = fields.String()
    address = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()


class UserOut(Schema):
    id = fields.String(attribute="_id")
    username = fields.Function(lambda user: user["_id"])
    role = fields.String()
    center_id = fields.String(allow_none=True)
    community_id = fields.String(allow_none=True)
    merchant_id = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()


class VolunteerOut(Out):
    name = fields.String()
    community_id = fields.String()
    phone = fields.String()
    username = fields.String()
    # Only ever its last four characters (identity.masked_id_card); None when not given.
    id_card = fields.Function(lambda volunteer: identity.masked_id_card(volunteer.get("id_card")))
    approved_minutes = fields.Integer()
    star_level = fields.Integer()
    created_at = fields.AwareDateTime()


class ActivityOut(Out):
    center_id = fields.String()
    community_id = fields.String()
    title = fields.String()
    category = fields.String()
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime()
    capacity = fields.Integer(allow_none=True)
    place = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()


class HoursRecordOut(Out):
    activity_id = fields.String()
    volunteer_id = fields.String()
    minutes = fields.Integer()
    status = fields.String()
    reason = fields.String(allow_none=True)
    # Who logged it and when; who made it its status, when (and ``reason``, why).
    logged_by = fields.String()
    logged_at = fields.AwareDateTime()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.AwareDateTime(allow_none=True)


class PrincipalOut(Schema):
    """Who a login is, for the gateway to put in its token."""
    user_id = fields.String()
    role = fields.String()
    subject_id = fields.String(allow_none=True)
    community_id = fields.String(allow_none=True)
    center_id = fields.String(allow_none=True)
    merchant_id = fields.String(allow_none=True)
