"""The gateway's paths for what a center hands out (mixed into GatewayService).

    GET /volunteers/{id}/certificate.pdf   self, staff of its community, admin: the certificate
    GET /certificates/{code}               anyone, no token: checks a certificate's code
    GET /centers/{id}/report?from=&to=&format=json|csv   staff of that center, admin
"""
import base64

from services.gateway.downloads import CSV_TYPE, NO_STORE, private_attachment
from services.shared import contracts
from services.shared.contracts import load
from services.shared.web import http, json_response
from services.volunteer.reports import report_csv, report_months, with_points

API = "/api/v1"


class HandoutRoutes:

    @http("GET", f"{API}/volunteers/<string:volunteer_id>/certificate.pdf")
    def get_certificate(self, request, volunteer_id):
        actor = self.tokens.actor(request)
        issued = self.volunteer.issue_certificate(actor, volunteer_id)
        return private_attachment(base64.b64decode(issued["pdf"]), "application/pdf",
                                  f"certificate-{volunteer_id}.pdf",
                                  {"X-Certificate-Code": issued["code"]})

    @http("GET", f"{API}/certificates/<string:code>")
    def check_certificate(self, request, code):
        return json_response(200, self.volunteer.check_certificate(code), headers=NO_STORE)

    @http("GET", f"{API}/centers/<string:center_id>/report")
    def get_center_report(self, request, center_id):
        actor = self.tokens.actor(request)
        args = load(contracts.ReportArgs(), request.args.to_dict())
        report = self.volunteer.center_report(actor, center_id, {
            key: value for key, value in request.args.items() if key in ("from", "to")})
        # The volunteer service checked who may see it; the points are the points service's.
        report = with_points(report, self.points.center_points({
            "center_id": report["center_id"], "months": report_months(report)}))
        if args["format"] == "csv":
            filename = f"report-{report['center_id']}-{report['from']}-{report['to']}.csv"
            return private_attachment(report_csv(report).encode("utf-8"), CSV_TYPE, filename)
        return json_response(200, report, headers=NO_STORE)
