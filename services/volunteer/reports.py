"""A center's report: approved service minutes by month, by category and by volunteer.

Cost: a report reads the center's own records in its range, never the whole store. Each
approval and revocation is also appended to a tally per center and month of service
(``center_minutes``, AppendLog streams ``<center>:<YYYY-MM>:<shard>``, keyed ``approve:<record>``
/ ``revoke:<record>`` like the volunteer's own tally, so each record counts once however often
its decision is followed). A report walks the streams of the months in its range by ``_id``.
The month is the activity's local month: hours belong to when they were served, and a record
approved or revoked later changes that month's figures.

Points are decided and tallied by the points service (services/points/center_tally.py, the same
streams by center and month, keyed by record); the gateway asks it for the report's months and
``with_points`` adds them beside the minutes. They follow an approval within moments (the
credit is asynchronous), and count what each record earned, net of revocations. Credits stored
before that tally existed are brought into it once by the points service's backfill.

A month is split into SHARDS streams by record (services/shared/center_months.py).
"""
import csv
import datetime as dt
import io

# Re-exported: the volunteer service's callers name a month's streams from here.
from services.shared.center_months import month_stream, month_streams  # noqa: F401
from services.shared.errors import InvalidInput
from services.volunteer.certificate import CATEGORY_NAMES, hours_text, local_date

CATEGORIES = tuple(CATEGORY_NAMES)
MAX_MONTHS = 60  # a report covers at most five years: each month is SHARDS streams to walk


def month_of(moment):
    return local_date(moment).strftime("%Y-%m")


def tally_fields(record):
    """What a center tally entry carries besides its minutes: enough to group it."""
    return {"record_id": record["_id"], "volunteer_id": record["volunteer_id"],
            "activity_id": record["activity_id"], "category": record["category"],
            "activity_starts_at": record["activity_starts_at"]}


def report_range(first_day, last_day, today):
    """(first day, last day) of a report, both included. By default the year up to today."""
    last_day = last_day or today
    first_day = first_day or last_day.replace(month=1, day=1)
    if first_day > last_day:
        raise InvalidInput("the report's range is empty",
                           fields={"from": ["must not be after to"]})
    if len(months_between(first_day, last_day)) > MAX_MONTHS:
        raise InvalidInput("the report's range is too long",
                           fields={"to": [f"at most {MAX_MONTHS} months after from"]})
    return first_day, last_day


def months_between(first_day, last_day):
    months, year, month = [], first_day.year, first_day.month
    while (year, month) <= (last_day.year, last_day.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def build_report(center, first_day, last_day, entries, names):
    """The report from the center's tally entries of the months in range; ``names`` maps
    volunteer id -> name. Minutes are net of revocations."""
    by_month = dict.fromkeys(months_between(first_day, last_day), 0)
    by_category = dict.fromkeys(CATEGORIES, 0)
    by_volunteer = {}
    for entry in entries:
        day = local_date(entry["activity_starts_at"])
        if not first_day <= day <= last_day:
            continue
        by_month[day.strftime("%Y-%m")] += entry["delta"]
        by_category[entry["category"]] = by_category.get(entry["category"], 0) + entry["delta"]
        volunteer = entry["volunteer_id"]
        by_volunteer[volunteer] = by_volunteer.get(volunteer, 0) + entry["delta"]
    volunteers = sorted(((minutes, volunteer) for volunteer, minutes in by_volunteer.items()
                         if minutes), key=lambda item: (-item[0], names.get(item[1], ""), item[1]))
    return {
        "center_id": center["_id"], "center_name": center["name"],
        "from": first_day.isoformat(), "to": last_day.isoformat(),
        "approved_minutes": sum(by_month.values()),
        "by_month": [{"month": month, "approved_minutes": minutes}
                     for month, minutes in by_month.items()],
        "by_category": [{"category": category, "name": CATEGORY_NAMES.get(category, category),
                         "approved_minutes": minutes}
                        for category, minutes in by_category.items()],
        "volunteers": [{"volunteer_id": volunteer, "name": names.get(volunteer),
                        "approved_minutes": minutes} for minutes, volunteer in volunteers],
    }


def report_months(report):
    """The months a report covers, for the points service's tally."""
    return months_between(dt.date.fromisoformat(report["from"]),
                          dt.date.fromisoformat(report["to"]))


def with_points(report, point_records):
    """The report with the points of its records (points.center_points: one item per record,
    net of revocations) beside the minutes: in total, by month, category and volunteer. Only
    records served within the report's days count, as for the minutes."""
    first_day, last_day = (dt.date.fromisoformat(report[end]) for end in ("from", "to"))
    by_month, by_category, by_volunteer = {}, {}, {}
    for record in point_records:
        day = local_date(dt.datetime.fromisoformat(record["activity_starts_at"]))
        if not first_day <= day <= last_day:
            continue
        for tally, name in ((by_month, day.strftime("%Y-%m")), (by_category, record["category"]),
                            (by_volunteer, record["volunteer_id"])):
            tally[name] = tally.get(name, 0) + record["points"]
    return dict(
        report, points=sum(by_month.values()),
        by_month=[dict(m, points=by_month.get(m["month"], 0)) for m in report["by_month"]],
        by_category=[dict(c, points=by_category.get(c["category"], 0))
                     for c in report["by_category"]],
        volunteers=[dict(v, points=by_volunteer.get(v["volunteer_id"], 0))
                    for v in report["volunteers"]])


def _cell(value):
    """A spreadsheet shows text, never runs it: a cell that would start a formula is quoted."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def report_csv(report):
    """The report as one sheet that Excel opens with its Chinese intact: UTF-8 with a BOM
    (without it Excel guesses the ANSI code page), rows ended by CRLF, sections apart."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def rows(*lines):
        writer.writerows([_cell(value) for value in line] for line in lines)

    rows(["中心 Center", report["center_name"], report["center_id"]],
         ["起 From", report["from"], "止 To", report["to"]],
         ["合计分钟 Total minutes", report["approved_minutes"],
          hours_text(report["approved_minutes"])],
         ["合计积分 Total points", report["points"]],
         [],
         ["月份 Month", "分钟 Minutes", "时长 Hours", "积分 Points"],
         *[[m["month"], m["approved_minutes"], hours_text(m["approved_minutes"]),
            m["points"]] for m in report["by_month"]],
         [],
         ["类别 Category", "名称 Name", "分钟 Minutes", "时长 Hours", "积分 Points"],
         *[[c["category"], c["name"], c["approved_minutes"], hours_text(c["approved_minutes"]),
            c["points"]] for c in report["by_category"]],
         [],
         ["志愿者编号 Volunteer ID", "姓名 Name", "分钟 Minutes", "时长 Hours", "积分 Points"],
         *[[v["volunteer_id"], v["name"], v["approved_minutes"],
            hours_text(v["approved_minutes"]), v["points"]]
           for v in report["volunteers"]])
    return "\ufeff" + out.getvalue()
