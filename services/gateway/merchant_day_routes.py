"""The merchant till's list of a day's redemptions (mixed into GatewayService).

    GET /merchants/{id}/redemptions?date=YYYY-MM-DD&limit=&cursor=
        that merchant, staff of its community, admin: the redemptions made that local day
        (today when left out), newest first, each with its status and until when it can be
        voided (POST /redemptions/{id}/cancel). Read off the day's own stream: the cost is the
        page, whatever else is stored (rewards/merchant_days.py).
"""
from services.gateway.downloads import NO_STORE
from services.rewards.merchant_days import MerchantDayArgs
from services.shared.contracts import load
from services.shared.web import http, json_response

API = "/api/v1"


class MerchantDayRoutes:

    @http("GET", f"{API}/merchants/<string:merchant_id>/redemptions")
    def merchant_day_redemptions(self, request, merchant_id):
        actor = self.tokens.actor(request)
        args = {key: value for key, value in request.args.items()
                if key in ("date", "limit", "cursor")}
        load(MerchantDayArgs(), args)  # 400 here, before the bus
        return json_response(200, self.rewards.merchant_day_redemptions(
            actor, merchant_id, args), headers=NO_STORE)
