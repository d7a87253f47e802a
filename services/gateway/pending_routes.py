"""The gateway's path for a center's records waiting for a decision (mixed into GatewayService).

    GET /centers/{id}/pending   staff of that center, admin: {center_id, pending}
"""
from services.gateway.downloads import NO_STORE
from services.shared.web import http, json_response

API = "/api/v1"


class PendingRoutes:

    @http("GET", f"{API}/centers/<string:center_id>/pending")
    def get_center_pending(self, request, center_id):
        actor = self.tokens.actor(request)
        # The volunteer service checks who may read it (403 other center, 404 other community).
        return json_response(200, self.volunteer.center_pending(actor, center_id),
                             headers=NO_STORE)
