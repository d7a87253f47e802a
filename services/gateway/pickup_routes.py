"""The gateway's paths for a center's gift pickups (mixed into GatewayService).

    GET  /centers/{id}/pickups?limit=&cursor=   staff of that center: gifts waiting, newest first
    POST /centers/{id}/pickups {pickup_code}    staff of that center: hand over the gift the
                                                volunteer's code names (fulfilled)
"""
from marshmallow import fields, validate

from services.gateway.inputs import query_limit
from services.shared.contracts import Contract
from services.shared.web import http, json_response

API = "/api/v1"
PICKUPS = f"{API}/centers/<string:center_id>/pickups"


class PickupIn(Contract):
    # The six digits a volunteer's redemption shows (rewards/domain.py pickup_code).
    pickup_code = fields.String(required=True, validate=validate.Regexp(
        r"^[0-9]{6}$", error="six digits, as the volunteer's redemption shows"))


class PickupRoutes:

    @http("GET", PICKUPS)
    def center_pickups(self, request, center_id):
        actor = self.tokens.actor(request)
        return json_response(200, self.rewards.center_pickups(
            actor, center_id, query_limit(request), request.args.get("cursor") or None))

    @http("POST", PICKUPS)
    def hand_over_gift(self, request, center_id):
        return self._post(request, lambda actor, body, key: self.rewards.hand_over_gift(
            actor, center_id, body["pickup_code"]), PickupIn(), status=200)
