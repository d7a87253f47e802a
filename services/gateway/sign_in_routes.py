"""The gateway's paths for on-site sign-in and paper sheets (mixed into GatewayService).

    GET  /activities/{id}/sign-in-code            staff: {code, rotated_at, qr_svg_url, ...}
    GET  /activities/{id}/sign-in-code.svg|.png   staff: the code as a QR image
    POST /activities/{id}/sign-in-code/rotate     staff: a new code; the old one stops working
    POST /activities/{id}/check-in  {code}        the volunteer
    POST /activities/{id}/check-out {code}        the volunteer: logs the pending record
    POST /activities/{id}/hours/import            staff: part of a sheet as JSON rows (the CLI)
    POST /activities/{id}/hours.csv               staff: a whole sheet as text/csv (the web app)
    POST /activities/{id}/hours.csv?dry_run=true  staff: every row checked, nothing written
"""
import hashlib
import io
from urllib.parse import quote, urlencode

import segno
from marshmallow import EXCLUDE, Schema, fields
from werkzeug.wrappers import Response

from services.gateway.inputs import UnsupportedMediaType, read_json
from services.shared import contracts
from services.shared.contracts import load
from services.shared.errors import InvalidInput
from services.shared.web import http, json_response, read_body
from services.volunteer import sheets_import

API = "/api/v1"
ACTIVITY = f"{API}/activities/<string:activity_id>"
MAX_SHEET_BYTES = 4 * 1024 * 1024  # 50,000 rows of id, name and minutes
# What browsers label a .csv file with: Windows names it after Excel.
CSV_TYPES = ("text/csv", "application/vnd.ms-excel", "text/plain")
IMAGE_TYPES = {"svg": "image/svg+xml", "png": "image/png"}
# The code changes when staff rotate it: nothing on the way may keep an old one.
NO_STORE = {"Cache-Control": "no-store"}


def qr_content(activity_id, code):
    """What the QR code holds: the phone app reads the activity and the code from it."""
    return "timebank:check-in?" + urlencode({"activity": activity_id, "code": code})


def qr_image(content, kind):
    out = io.BytesIO()
    # Error correction M (segno raises it while the size allows): readable off a screen.
    segno.make(content, error="m", micro=False).save(out, kind=kind, scale=10, border=4)
    return out.getvalue()


def sheet_refused_error(refused):
    return InvalidInput(f"{len(refused.problems)} rows of the sheet are bad; nothing was written",
                        code="invalid_sheet",
                        fields={f"line {p.line}": [p.reason] for p in refused.problems})


class SheetCheckArgs(Schema):
    class Meta:
        unknown = EXCLUDE  # a cache-buster or tracking parameter is no error

    dry_run = fields.Boolean(load_default=False)


def sheet_check_answer(rows, problems, checks):
    """A dry run's answer: each readable row with the volunteer it names (once found), every
    bad line's reason, and how many rows a write would add or find logged already."""
    volunteer_of = {int(line): v for check in checks
                    for line, v in check.get("volunteers", {}).items()}
    return {"rows": [dict(row.as_json(), volunteer_id=volunteer_of.get(row.line, row.volunteer_id))
                     for row in rows],
            "problems": [{"line": p.line, "reason": p.reason} for p in problems],
            "new": 0 if problems else sum(check.get("new", 0) for check in checks),
            "already_logged": sum(check.get("already_logged", 0) for check in checks)}


class SignInRoutes:

    def _code_answer(self, activity_id, answer):
        base = f"{API}/activities/{quote(activity_id, safe='')}/sign-in-code"
        return dict(answer, qr_content=qr_content(activity_id, answer["code"]),
                    qr_svg_url=f"{base}.svg", qr_png_url=f"{base}.png")

    @http("GET", f"{ACTIVITY}/sign-in-code")
    def sign_in_code(self, request, activity_id):
        actor = self.tokens.actor(request)
        answer = self.volunteer.sign_in_code(actor, activity_id)
        return json_response(200, self._code_answer(activity_id, answer), headers=NO_STORE)

    @http("GET", f"{ACTIVITY}/sign-in-code.<any(svg, png):kind>")
    def sign_in_code_image(self, request, activity_id, kind):
        actor = self.tokens.actor(request)
        answer = self.volunteer.sign_in_code(actor, activity_id)
        return Response(qr_image(qr_content(activity_id, answer["code"]), kind), status=200,
                        headers=NO_STORE, content_type=IMAGE_TYPES[kind])

    @http("POST", f"{ACTIVITY}/sign-in-code/rotate")
    def rotate_sign_in_code(self, request, activity_id):
        return self._post(request, lambda actor, body, key: self._code_answer(
            activity_id, self.volunteer.rotate_sign_in_code(actor, activity_id, key)), status=200)

    @http("POST", f"{ACTIVITY}/check-in")
    def check_in(self, request, activity_id):
        return self._post(request, lambda actor, body, key: self.volunteer.check_in(
            actor, activity_id, body, key), contracts.SignInCodeIn())

    @http("POST", f"{ACTIVITY}/check-out")
    def check_out(self, request, activity_id):
        return self._post(request, lambda actor, body, key: self.volunteer.check_out(
            actor, activity_id, body, key), contracts.SignInCodeIn())

    @http("POST", f"{ACTIVITY}/hours/import")
    def import_hours(self, request, activity_id):
        actor = self.tokens.actor(request)
        body = read_json(request, contracts.SheetImportIn())
        status = 200 if body.get("dry_run") else 201
        return self._create(request, actor, body, lambda key: self.volunteer.import_hours(
            actor, activity_id, body, key), status)

    @http("POST", f"{ACTIVITY}/hours.csv")
    def import_hours_csv(self, request, activity_id):
        """A whole sheet: every row checked before any is written (sheets_import.run_import);
        201 {rows, added, already_logged}: the same file again adds nothing (added 0).
        ?dry_run=true: 200 sheet_check_answer, bad rows included, nothing written."""
        actor = self.tokens.actor(request)
        dry_run = load(SheetCheckArgs(), request.args.to_dict())["dry_run"]
        raw = read_body(request, MAX_SHEET_BYTES)
        if request.mimetype not in CSV_TYPES:
            raise UnsupportedMediaType("send the sheet as text/csv", fields={
                "Content-Type": [f"text/csv, not {request.content_type}"]})
        try:
            rows, problems = sheets_import.parse_sheet(sheets_import.decode_sheet(
                raw, request.mimetype_params.get("charset")))
            if not rows and not dry_run:
                raise sheets_import.SheetRefused(problems)
        except sheets_import.SheetError as exc:
            raise InvalidInput(f"the sheet cannot be read: {exc}", code="invalid_sheet",
                               fields={"_body": [str(exc)]})
        except sheets_import.SheetRefused as refused:
            raise sheet_refused_error(refused)
        fingerprint = {"sheet_sha256": hashlib.sha256(raw).hexdigest()}

        def send(index, part, dry_run):
            return self.volunteer.import_hours(actor, activity_id,
                                               {"rows": part, "dry_run": dry_run})

        if dry_run:
            return json_response(200, sheet_check_answer(
                rows, *sheets_import.check_rows(rows, send, problems=problems)))

        def run(_key):
            try:
                return sheets_import.run_import(rows, send, problems=problems)
            except sheets_import.SheetRefused as refused:
                raise sheet_refused_error(refused)

        return self._create(request, actor, fingerprint, run)
