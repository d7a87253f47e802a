"""The gateway's lists for the admin (mixed into GatewayService), newest first, paged with
?limit=&cursor= as {items, next_cursor}:

    GET /communities                          every community
    GET /communities/{id}                     one community (its name and code)
    GET /communities/{id}/centers             a community's centers
    GET /merchants?community_id=              a community's merchants
    GET /users?center_id= | ?merchant_id=     a center's staff or a merchant's logins, with
                                              role and disabled state

Admin only; the owning services decide (403 for other roles, 404 for an unknown owner).
"""
from services.shared import listings
from services.shared.access import require_role
from services.shared.contracts import load
from services.shared.web import http, json_response

API = "/api/v1"


class AdminRoutes:

    def _admin_list(self, request, schema, call):
        """The token first (401 before 400), the query checked here (400 before the bus)."""
        actor = self.tokens.actor(request)
        args = request.args.to_dict()
        load(schema, args)
        return json_response(200, call(actor, args))

    @http("GET", f"{API}/communities")
    def list_communities(self, request):
        return self._admin_list(request, listings.PageArgs(), self.volunteer.list_communities)

    @http("GET", f"{API}/communities/<string:community_id>")
    def get_community(self, request, community_id):
        require_role(self.tokens.actor(request), "admin")
        return json_response(200, self.volunteer.get_community(community_id))

    @http("GET", f"{API}/communities/<string:community_id>/centers")
    def list_centers(self, request, community_id):
        return self._admin_list(request, listings.PageArgs(), lambda actor, args:
                                self.volunteer.list_centers(actor, community_id, args))

    @http("GET", f"{API}/merchants")
    def list_merchants(self, request):
        return self._admin_list(request, listings.MerchantListArgs(),
                                self.rewards.list_merchants)

    @http("GET", f"{API}/users")
    def list_logins(self, request):
        return self._admin_list(request, listings.LoginListArgs(), self.volunteer.list_logins)
