"""The gateway's paths for partner merchants (mixed into GatewayService).

    POST /volunteers/{id}/redeem-codes                 the volunteer: {code, expires_at, qr_svg_url}
    GET  /volunteers/{id}/redeem-codes/{code}.svg|.png the volunteer: the code as a QR image
    POST /merchant/redemptions {code, reward_id, volunteer_id?}   merchant: debits the code's
                                                       volunteer for one of its offers
    GET  /merchants/{id}/statement?from=&to=&format=json|csv   that merchant, staff, admin

Voids go through POST /redemptions/{id}/cancel (the rewards service dispatches on the kind).
"""
from urllib.parse import quote, urlencode

from werkzeug.wrappers import Response

from services.gateway.downloads import CSV_TYPE, NO_STORE, private_attachment
from services.gateway.sign_in_routes import IMAGE_TYPES, qr_image
from services.rewards.merchants import statement_csv
from services.shared import contracts
from services.shared.contracts import load
from services.shared.web import http, json_response

API = "/api/v1"
CODES = f"{API}/volunteers/<string:volunteer_id>/redeem-codes"


def redeem_qr_content(code):
    """What the QR code holds: the till reads the code and the volunteer it is bound to."""
    return "timebank:redeem?" + urlencode({"code": code["code"],
                                           "volunteer": code["volunteer_id"]})


class MerchantRoutes:

    def _redeem_code_answer(self, code):
        base = f"{API}/volunteers/{quote(code['volunteer_id'], safe='')}/redeem-codes/" \
               f"{code['code']}"
        return dict(code, qr_content=redeem_qr_content(code), qr_svg_url=f"{base}.svg",
                    qr_png_url=f"{base}.png")

    @http("POST", CODES)
    def issue_redeem_code(self, request, volunteer_id):
        return self._post(request, lambda actor, body, key: self._redeem_code_answer(
            self.rewards.issue_redeem_code(actor, volunteer_id, key)))

    @http("GET", f"{CODES}/<string:code>.<any(svg, png):kind>")
    def redeem_code_image(self, request, volunteer_id, code, kind):
        actor = self.tokens.actor(request)
        stored = self.rewards.get_redeem_code(actor, volunteer_id, code)
        return Response(qr_image(redeem_qr_content(stored), kind), status=200,
                        headers=NO_STORE, content_type=IMAGE_TYPES[kind])

    @http("POST", f"{API}/merchant/redemptions")
    def redeem_at_merchant(self, request):
        return self._post(request, self.rewards.redeem_at_merchant,
                          contracts.MerchantRedemptionIn())

    @http("GET", f"{API}/merchants/<string:merchant_id>/statement")
    def merchant_statement(self, request, merchant_id):
        actor = self.tokens.actor(request)
        args = request.args.to_dict()
        query = load(contracts.MerchantStatementArgs(), args)  # 400 here, before the bus
        statement = self.rewards.merchant_statement(actor, merchant_id, {
            key: value for key, value in args.items() if key in ("from", "to", "format")})
        if query["format"] == "csv":
            filename = f"statement-{merchant_id}-{statement['from']}-{statement['to']}.csv"
            return private_attachment(statement_csv(statement).encode("utf-8"), CSV_TYPE,
                                      filename)
        return json_response(200, statement, headers=NO_STORE)
