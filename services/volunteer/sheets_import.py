"""Paper sheets: a CSV of (volunteer, minutes) rows imported as an activity's pending hours.

    timebank import-hours FILE.csv --activity ID [--username NAME] [--api URL]

The same rules serve the command and the web app's upload (POST /activities/{id}/hours.csv):

1. ``parse_sheet`` reads the file (UTF-8 with or without the BOM Excel writes, or GB18030, what
   Excel's plain "CSV" writes on Chinese Windows) and reports every row it cannot read.
2. ``run_import`` hands the rows to the volunteer service in parts of CHUNK_ROWS (a sheet's
   RPC stays well inside its deadline): first every part is checked (``dry_run``: unknown
   volunteers or phones, minutes longer than the activity, a volunteer on two lines, a volunteer
   already logged with other minutes) and nothing is written unless every row passed; then every
   part is logged through the path of staff sheets, so every rule on records applies.
3. A row whose volunteer already holds a live record of the same minutes on the activity is
   skipped: running the same file again adds nothing, whoever runs it. A part's request key is
   derived from its content, so a retried part replays instead of logging twice.

The command goes through the public HTTP API rather than RPC: the gateway's authentication,
tenancy and Idempotency-Key apply to it like to any client, and it needs no broker credentials.
Only a change made between the check and the writes (another sheet logging one of the
volunteers meanwhile) can stop an import part-way; running the file again then adds the rest.
"""
import csv
import dataclasses
import getpass
import hashlib
import io
import os
import re
import sys
import time
import uuid

CHUNK_ROWS = 1000          # the most rows of one check or write (the API's sheet limit)
MAX_ROWS = 50_000
PROGRESS_FROM_ROWS = 2000  # smaller files finish before a bar would tell anything
DEFAULT_API = "http://127.0.0.1:8000"

# Column names as centers write them, compared casefolded without spaces or brackets' content
# style: "时长（分钟）" and "时长(分钟)" are one name.
COLUMNS = {
    "volunteer_id": ("volunteer_id", "volunteer", "id", "志愿者编号", "志愿者id", "编号"),
    "phone": ("phone", "mobile", "手机", "手机号", "手机号码", "电话", "联系电话"),
    "minutes": ("minutes", "分钟", "时长", "时长(分钟)", "服务时长", "服务时长(分钟)",
                "分钟数"),
    "name": ("name", "姓名", "名字", "志愿者", "志愿者姓名"),
}
EXCEL_NUMBER = re.compile(r"^[0-9.]+[eE]\+?[0-9]+$")


class SheetError(Exception):
    """The file as a whole cannot be read (not text, no usable header)."""


@dataclasses.dataclass(frozen=True)
class Row:
    line: int
    volunteer_id: str | None
    phone: str | None
    minutes: int

    def as_json(self):
        return {"line": self.line, "volunteer_id": self.volunteer_id, "phone": self.phone,
                "minutes": self.minutes}


@dataclasses.dataclass(frozen=True)
class Problem:
    line: int
    reason: str

    def __str__(self):
        return f"line {self.line}: {self.reason}"


class SheetRefused(Exception):
    """Rows are bad: nothing was written. ``problems`` names each line and why."""

    def __init__(self, problems):
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__(f"{len(self.problems)} bad rows")


def decode_sheet(raw, charset=None):
    """The file's text: the ``charset`` named, else UTF-8 (BOM dropped), else GB18030."""
    encodings = [charset] if charset else ["utf-8-sig", "gb18030"]
    for encoding in encodings:
        try:
            return raw.decode("utf-8-sig" if encoding.lower().replace("-", "") == "utf8"
                              else encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    raise SheetError("the file is not text in UTF-8 or GB18030: save it as \"CSV UTF-8\"")


def _column_key(name):
    return re.sub(r"\s+", "", name).casefold().replace("（", "(").replace("）", ")")


COLUMN_OF = {_column_key(alias): column for column, aliases in COLUMNS.items()
             for alias in aliases}


def normalize_phone(text):
    """A phone number's digits, without a leading +86 / 0086: as a sheet or a login writes it."""
    digits = re.sub(r"[\s\-()]", "", text)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix):]
    return digits


def _header(cells):
    found = {}
    for index, cell in enumerate(cells):
        column = COLUMN_OF.get(_column_key(cell))
        if column is not None:
            found.setdefault(column, index)
    if "minutes" not in found or not {"volunteer_id", "phone"} & set(found):
        raise SheetError("line 1: the header must name a minutes column (minutes, 分钟, 时长) and "
                         "a volunteer_id (志愿者编号) or phone (手机号) column")
    return found


def _sniff_delimiter(text):
    first_line = text.split("\n", 1)[0]
    return max(",\t;", key=first_line.count) if first_line else ","


def _read_row(line, cells, columns):
    """(Row, None) or (None, the reason the row is bad)."""
    def cell(column):
        index = columns.get(column)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    volunteer_id, phone, minutes = cell("volunteer_id"), cell("phone"), cell("minutes")
    if not volunteer_id and not phone:
        return None, "no volunteer id and no phone number"
    if volunteer_id and len(volunteer_id) > 128:
        return None, "the volunteer id is longer than 128 characters"
    if not volunteer_id:
        if EXCEL_NUMBER.match(phone):
            return None, (f"phone {phone!r} was turned into a number by the spreadsheet: format "
                          "the column as text")
        phone = normalize_phone(phone)
        if not re.fullmatch(r"[0-9]{6,20}", phone):
            return None, f"phone {cell('phone')!r} is not a phone number"
    if not minutes:
        return None, "no minutes"
    if not re.fullmatch(r"[0-9]{1,6}", minutes):
        return None, f"minutes {minutes!r} is not a whole number of minutes"
    if not 1 <= int(minutes) <= 24 * 60:
        return None, f"minutes {minutes} is not between 1 and 1440"
    return Row(line, volunteer_id or None, None if volunteer_id else phone, int(minutes)), None


def parse_sheet(text):
    """(rows, problems) of a sheet's text; blank rows are skipped, the first row is the header."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    try:
        header = next(reader, None)
        if header is None:
            raise SheetError("the file is empty")
        columns = _header(header)
        rows, problems, first_line_of = [], [], {}
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            row, reason = _read_row(line, cells, columns)
            if row is not None:
                who = ("id", row.volunteer_id) if row.volunteer_id else ("phone", row.phone)
                earlier = first_line_of.setdefault(who, line)
                if earlier != line:
                    row, reason = None, f"volunteer {who[1]} is already on line {earlier}"
            if row is None:
                problems.append(Problem(line, reason))
            else:
                rows.append(row)
            if len(rows) + len(problems) > MAX_ROWS:
                raise SheetError(f"more than {MAX_ROWS} rows: split the sheet")
    except csv.Error as exc:
        raise SheetError(f"line {reader.line_num}: not CSV ({exc})")
    if not rows and not problems:
        raise SheetError("the sheet has no rows under its header")
    return rows, problems


def chunks(rows, size=CHUNK_ROWS):
    return [rows[start:start + size] for start in range(0, len(rows), size)]


def _problems_of(answer):
    return [Problem(p["line"], p["reason"]) for p in answer.get("problems", [])]


def check_rows(rows, send, progress=None, problems=()):
    """Check every part of ``rows`` and write nothing: (problems sorted by line, each part's
    check answer). ``problems`` are those the file showed by itself (parse_sheet): the rows it
    could read are checked all the same, so that one answer names every bad row."""
    parts = chunks([row.as_json() for row in rows])
    problems, line_of_volunteer, checks = list(problems), {}, []
    for index, part in enumerate(parts):
        answer = send(index, part, True)
        checks.append(answer)
        problems += _problems_of(answer)
        # A volunteer named by id on one line and by phone on another, in different parts.
        for line, volunteer_id in sorted((int(line), v) for line, v
                                         in answer.get("volunteers", {}).items()):
            earlier = line_of_volunteer.setdefault(volunteer_id, line)
            if earlier != line:
                problems.append(Problem(line, f"volunteer {volunteer_id} is already on line "
                                              f"{earlier}"))
        if progress:
            progress.update(len(part))
    return sorted(problems, key=lambda p: p.line), checks


def run_import(rows, send, progress=None, problems=()):
    """Check every part of ``rows`` (check_rows), then log every part; SheetRefused when any
    row is bad. ``send(index, rows as JSON, dry_run)`` answers the service's import_hours
    answer. Returns {"rows", "added", "already_logged"}.
    """
    problems, checks = check_rows(rows, send, progress, problems)
    if problems:
        raise SheetRefused(problems)
    parts = chunks([row.as_json() for row in rows])
    totals = {"rows": len(rows), "added": 0, "already_logged": 0}
    for index, part in enumerate(parts):
        # A part whose every row is logged already (the same file again) needs no write.
        answer = send(index, part, False) if checks[index].get("new") != 0 else checks[index]
        totals["added"] += answer.get("added", 0)
        totals["already_logged"] += answer["already_logged"]
        if progress:
            progress.update(len(part))
    return totals


def part_key(file_digest, activity_id, index, run_id):
    """The Idempotency-Key of a part's write: a retried request of this run replays it. Another
    run of the file has keys of its own (a replay would answer the first run's "added"); it
    adds nothing since its rows are logged already, and the service keys records by content."""
    return f"import-hours:{activity_id}:{file_digest}:{run_id}:{index}"


# --- the command ---------------------------------------------------------------------------


class HttpClient:
    """The public API, retrying what the API says to retry (429, 503 with Retry-After)."""

    RETRIES = 5

    def __init__(self, base_url, session=None):
        import requests  # only the command needs it
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()

    def post(self, path, json, token=None, key=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if key:
            headers["Idempotency-Key"] = key
        for attempt in range(self.RETRIES):
            response = self.session.post(f"{self.base_url}{path}", json=json, headers=headers,
                                         timeout=120)
            retry_after = response.headers.get("Retry-After")
            if response.status_code not in (409, 429, 503) or retry_after is None or \
                    attempt == self.RETRIES - 1:
                return response
            # 409 with Retry-After: the same key's first run is still in progress.
            time.sleep(min(float(retry_after), 10))
        return response


class CommandFailed(Exception):
    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def error_text(response):
    try:
        error = response.json()["error"]
        fields = "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                           for k, v in error.get("fields", {}).items())
        return f"{response.status_code} {error['code']}: {error['message']}" + \
            (f" ({fields})" if fields else "")
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code}: {response.text[:200]}"


def sign_in(client, username, password):
    response = client.post("/api/v1/auth/token", {"username": username, "password": password})
    if response.status_code != 200:
        raise CommandFailed(f"cannot sign in as {username}: {error_text(response)}", status=2)
    return response.json()["access_token"]


def http_sender(client, token, activity_id, file_digest):
    path = f"/api/v1/activities/{activity_id}/hours/import"
    run_id = uuid.uuid4().hex[:12]

    def send(index, part, dry_run):
        key = None if dry_run else part_key(file_digest, activity_id, index, run_id)
        response = client.post(path, {"rows": part, "dry_run": dry_run}, token=token, key=key)
        if response.status_code == 400 and "fields" in response.json().get("error", {}):
            fields = response.json()["error"]["fields"]
            lined = [Problem(int(k.split()[1]), "; ".join(v)) for k, v in fields.items()
                     if k.startswith("line ")]
            if lined:  # a part refused at write time: a change since the check
                raise SheetRefused(lined)
        if response.status_code not in (200, 201):
            raise CommandFailed(("" if dry_run else
                                 f"part {index + 1} (from line {part[0]['line']}) refused; parts "
                                 "before it were imported and running the file again skips "
                                 "them: ") + error_text(response))
        return response.json()
    return send


def read_password(username):
    password = os.environ.get("TIMEBANK_PASSWORD")
    if password:
        return password
    if not sys.stdin.isatty():
        raise CommandFailed("set TIMEBANK_PASSWORD or run in a terminal to be asked", status=2)
    return getpass.getpass(f"password for {username}: ")


def cmd_import_hours(args, out=sys.stdout, err=sys.stderr):
    try:
        raw = open(args.file, "rb").read()
        rows, problems = parse_sheet(decode_sheet(raw))
        if not rows:
            raise SheetRefused(problems)
        client = HttpClient(args.api)
        token = sign_in(client, args.username, read_password(args.username))
        send = http_sender(client, token, args.activity, hashlib.sha256(raw).hexdigest()[:32])
        from tqdm import tqdm
        with tqdm(total=2 * len(rows), unit="row", file=err, desc="check, then import",
                  disable=len(rows) < PROGRESS_FROM_ROWS) as progress:
            totals = run_import(rows, send, progress, problems)
    except OSError as exc:
        print(f"import-hours: {exc}", file=err)
        return 2
    except SheetError as exc:
        print(f"import-hours: {args.file}: {exc}; nothing was written", file=err)
        return 1
    except SheetRefused as refused:
        for problem in refused.problems:
            print(problem, file=err)
        print(f"import-hours: {len(refused.problems)} bad rows; nothing was written", file=err)
        return 1
    except CommandFailed as exc:
        print(f"import-hours: {exc}", file=err)
        return exc.status
    print(f"import-hours: {totals['rows']} rows: {totals['added']} added, "
          f"{totals['already_logged']} already logged", file=out)
    return 0


def add_command(commands):
    """``timebank import-hours``, added to services/cli.py's subcommands."""
    command = commands.add_parser(
        "import-hours", help="import a paper sheet (CSV: volunteer_id or phone, minutes) as "
                             "an activity's pending hours; every row is checked first")
    command.add_argument("file", metavar="FILE.csv")
    command.add_argument("--activity", required=True, help="the activity's id")
    command.add_argument("--username", default=os.environ.get("TIMEBANK_USERNAME"),
                         required=not os.environ.get("TIMEBANK_USERNAME"),
                         help="a staff login of the activity's center (or TIMEBANK_USERNAME); "
                              "the password is read from TIMEBANK_PASSWORD or asked for")
    command.add_argument("--api", default=os.environ.get("TIMEBANK_API") or DEFAULT_API,
                         help=f"the API's base URL (default {DEFAULT_API})")
    command.set_defaults(run=cmd_import_hours)
