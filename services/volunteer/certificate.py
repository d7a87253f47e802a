"""The service certificate (志愿服务证明): what it certifies, its verification code, its PDF.

Decisions (see ../shared/domain.md, 《志愿服务记录与证明出具办法》):
- What it certifies: the volunteer's approved, non-revoked hours records, each line naming its
  activity, date and the center that recorded it.
- Who issues it (谁记录谁证明): the centers that recorded those hours, each for its own lines.
  A volunteer who served at several centers gets one certificate on which every recording center
  is named as an issuer (``issued_by``, in the order of first service) and every line names its
  center: no center certifies hours it did not record.
- Codes: one per certified state. Downloading again while the approved records (and the name)
  are unchanged answers the same code and date issued; an approval or a revocation makes the
  next download a new certificate with a new code. The old code stays genuine and answers
  ``valid: false`` once a record it certified has been revoked.
- A code is 120 random bits (``secrets``) in base32: unguessable, printed in groups of four.
"""
import base64
import datetime as dt
import hashlib
import io
import json
import re
import secrets
import threading
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import segno
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from services.volunteer.domain import star_level

# Debian's fonts-wqy-zenhei (installed by scripts/stack.sh and the Dockerfile). Not Noto CJK:
# Debian ships it with PostScript (CFF) outlines, which reportlab cannot embed; WenQuanYi Zen
# Hei has TrueType outlines, of which reportlab embeds the subset the document uses.
FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
FONT = "WenQuanYiZenHei"

# Dates on the certificate are the activity's local date (the communities' default zone).
LOCAL_ZONE = ZoneInfo("Asia/Shanghai")

CODE_BYTES = 15  # 120 bits, 24 base32 characters
CODE_PATTERN = re.compile(r"[A-Z2-7]{24}")

CATEGORY_NAMES = {
    "elder_care": "为老服务", "disability_care": "助残服务", "professional": "专业服务",
    "environment": "环境卫生", "culture_sports": "文体活动", "other": "其他",
}


def new_code():
    return base64.b32encode(secrets.token_bytes(CODE_BYTES)).decode()


def normalized_code(text):
    """The code as stored, from what a person typed (any case, with dashes or spaces), or None
    when it cannot be one."""
    code = re.sub(r"[\s-]", "", text or "").upper()
    return code if CODE_PATTERN.fullmatch(code) else None


def printed_code(code):
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def verification_url(base_url, code):
    """The web app's public check page (which asks GET /api/v1/certificates/{code}): a person
    who scans the printed QR code reads a page, not JSON."""
    return f"{base_url.rstrip('/')}/verify/{code}"


# --- what it certifies -------------------------------------------------------------------

def approved_record_ids(tally_entries):
    """The records approved and not revoked since, from a volunteer's minutes tally (oldest
    first): its entries are keyed ``approve:<record>`` and ``revoke:<record>`` (see
    domain.decision_effects), so the tally alone names them."""
    approved = {}
    for entry in tally_entries:
        kind, _, record_id = entry["key"].partition(":")
        if kind == "approve":
            approved[record_id] = True
        elif kind == "revoke":
            approved.pop(record_id, None)
    return list(approved)


def local_date(moment):
    return moment.astimezone(LOCAL_ZONE).date()


def certified_state(volunteer, records):
    """The key of what a certificate certifies: the same state is certified under one code."""
    facts = json.dumps([volunteer["_id"], volunteer["name"],
                        sorted([r["_id"], r["minutes"]] for r in records)], ensure_ascii=False)
    return f"{volunteer['_id']}:{hashlib.sha256(facts.encode()).hexdigest()}"


def certificate_document(code, state, volunteer, records, activities, centers, issued_at):
    """The stored certificate (``_id`` = its code): everything it certified, so a check of the
    code answers from this document alone. ``activities`` and ``centers`` map id -> document."""
    lines = sorted(({
        "record_id": r["_id"],
        "date": local_date(r["activity_starts_at"]).isoformat(),
        "activity_id": r["activity_id"],
        "activity_title": activities.get(r["activity_id"], {}).get("title", r["activity_id"]),
        "category": r["category"],
        "center_id": r["center_id"],
        "center_name": centers.get(r["center_id"], {}).get("name", r["center_id"]),
        "minutes": r["minutes"],
    } for r in records), key=lambda line: (line["date"], line["activity_title"],
                                          line["record_id"]))
    issuers = {}
    for line in lines:  # in the order of first service
        issuers.setdefault(line["center_id"], line["center_name"])
    minutes = sum(line["minutes"] for line in lines)
    return {
        "_id": code, "state": state, "volunteer_id": volunteer["_id"],
        "volunteer_name": volunteer["name"], "lines": lines, "approved_minutes": minutes,
        "star_level": star_level(minutes), "issued_at": issued_at,
        "issued_by": [{"id": center_id, "name": name} for center_id, name in issuers.items()],
    }


def check_answer(certificate, revoked_record_ids):
    """What GET /certificates/{code} answers for a genuine code. ``valid`` turns false once a
    record it certified has been revoked: the paper then claims more than the records hold."""
    revoked = [line["record_id"] for line in certificate["lines"]
               if line["record_id"] in set(revoked_record_ids)]
    return {
        "code": certificate["_id"],
        "valid": not revoked,
        "volunteer_name": certificate["volunteer_name"],
        "approved_minutes": certificate["approved_minutes"],
        "star_level": certificate["star_level"],
        "issued_at": certificate["issued_at"].isoformat(),
        "issued_by": "、".join(center["name"] for center in certificate["issued_by"]),
        "issuing_centers": certificate["issued_by"],
        "revoked_since_issue": revoked,
    }


# --- how it reads ------------------------------------------------------------------------

def hours_text(minutes):
    """Hours as people read them (ui.md): "3 小时 30 分钟", never a decimal."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} 分钟"
    return f"{hours} 小时" + (f" {rest} 分钟" if rest else "")


def chinese_date(day):
    return f"{day.year}年{day.month}月{day.day}日"


def star_text(level):
    return "★" * level + "☆" * (5 - level) + f"（{level} 星级志愿者）" if level else "未达星级"


def certificate_paragraphs(certificate):
    """The certificate's sentences, in order (tested without rendering)."""
    name = certificate["volunteer_name"]
    total = hours_text(certificate["approved_minutes"])
    issuers = "、".join(center["name"] for center in certificate["issued_by"])
    issued = certificate["issued_at"].astimezone(LOCAL_ZONE).date()
    return {
        "statement": f"兹证明 {name}（志愿者编号 {certificate['volunteer_id']}）参加了下列志愿"
                     f"服务，经记录单位审核通过，累计志愿服务时长 {total}。",
        "statement_en": f"This certifies that {name} served the approved volunteer hours listed "
                        f"below, {certificate['approved_minutes']} minutes in total.",
        "star": f"星级 Star level：{star_text(certificate['star_level'])}",
        "issuers": f"出具单位 Issued by：{issuers}（谁记录谁证明：各单位证明其记录的服务时长）",
        "issued": f"出具日期 Date issued：{chinese_date(issued)}（{issued.isoformat()}）",
        "code": f"验证码 Verification code：{printed_code(certificate['_id'])}",
        "basis": "依据民政部《志愿服务记录与证明出具办法》免费出具。"
                 "Issued free of charge under the Ministry of Civil Affairs' rules on volunteer "
                 "service records and certificates.",
    }


def table_rows(certificate):
    rows = [["日期 Date", "活动 Activity", "类别 Category", "记录单位 Recorded by",
             "时长 Hours"]]
    for line in certificate["lines"]:
        rows.append([chinese_date(dt.date.fromisoformat(line["date"])), line["activity_title"],
                     CATEGORY_NAMES.get(line["category"], line["category"]),
                     line["center_name"], hours_text(line["minutes"])])
    rows.append(["合计 Total", "", "", "", hours_text(certificate["approved_minutes"])])
    return rows


# --- the PDF -----------------------------------------------------------------------------

_font_lock = threading.Lock()
_render_lock = threading.Lock()  # reportlab keeps module-level caches: one document at a time


def _register_font():
    with _font_lock:
        if FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(FONT, FONT_PATH, subfontIndex=0))


class QrCode(Flowable):
    """A QR code drawn as vector squares (crisp at any zoom, no image library)."""

    def __init__(self, text, size):
        super().__init__()
        self.qr = segno.make(text, error="m", micro=False)
        self.size = size
        self.width = self.height = size

    def draw(self):
        rows = list(self.qr.matrix_iter(border=4))
        module = self.size / len(rows)
        self.canv.setFillColor(colors.black)
        for y, row in enumerate(rows):
            for x, dark in enumerate(row):
                if dark:
                    self.canv.rect(x * module, self.size - (y + 1) * module, module, module,
                                   stroke=0, fill=1)


def render_pdf(certificate, verify_url):
    """The certificate as PDF bytes: A4, Chinese first and English second, set in a CJK font."""
    _register_font()
    text = certificate_paragraphs(certificate)
    body = ParagraphStyle("body", fontName=FONT, fontSize=10.5, leading=16, wordWrap="CJK")
    small = ParagraphStyle("small", parent=body, fontSize=8.5, leading=12,
                           textColor=colors.HexColor("#555555"))
    title = ParagraphStyle("title", parent=body, fontSize=24, leading=32, alignment=TA_CENTER)
    subtitle = ParagraphStyle("subtitle", parent=small, fontSize=11, alignment=TA_CENTER)
    cell = ParagraphStyle("cell", parent=body, fontSize=9, leading=12)

    def para(value, style=body):
        return Paragraph(escape(value), style)

    rows = [[para(value, cell) for value in row] for row in table_rows(certificate)]
    table = Table(rows, colWidths=[34 * mm, 50 * mm, 22 * mm, 42 * mm, 32 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f6f6f6")),
        ("SPAN", (0, -1), (3, -1)),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    verify = Table([[QrCode(verify_url, 32 * mm), [
        para(text["code"]),
        para("扫描二维码或访问下列网址核验本证明 Scan the code or visit to verify:", small),
        para(verify_url, small),
    ]]], colWidths=[36 * mm, 144 * mm])
    verify.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    story = [
        para("志愿服务证明", title), para("Certificate of Volunteer Service", subtitle),
        Spacer(1, 8 * mm), para(text["statement"]), para(text["statement_en"], small),
        Spacer(1, 2 * mm), para(text["star"]), Spacer(1, 5 * mm), table, Spacer(1, 6 * mm),
        para(text["issuers"]), para(text["issued"]), Spacer(1, 4 * mm), verify,
        Spacer(1, 4 * mm), para(text["basis"], small),
    ]
    out = io.BytesIO()
    with _render_lock:
        SimpleDocTemplate(
            out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=18 * mm,
            bottomMargin=18 * mm, title="志愿服务证明 Certificate of Volunteer Service",
            author="、".join(center["name"] for center in certificate["issued_by"]),
            subject=printed_code(certificate["_id"]),
        ).build(story)
    return out.getvalue()
