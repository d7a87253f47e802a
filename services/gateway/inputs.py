"""What a client sends, read and refused at the gateway before anything else sees it.

A body that passes ``read_json`` is UTF-8 JSON of bounded size and depth whose strings all
encode (a lone surrogate such as "\\ud800" is valid JSON but neither UTF-8 nor BSON can carry
it), so the contracts, the bus, the store and our own JSON answers can take it.

Content types: a body is JSON, sent as ``application/json`` (a charset, if named, is UTF-8).
A body sent without a Content-Type is read as JSON too, since JSON is all this API speaks; any
other type (``text/plain``, the form encoding ``curl -d`` sends) is 415. An empty body needs
no type.
"""
import json

from services.shared.contracts import ASCII_INTEGER, load
from services.shared.errors import InvalidInput, TimebankError
from services.shared.web import read_body

MAX_BODY_BYTES = 2 * 1024 * 1024  # a sheet of 1000 hours entries is about 100 KB
MAX_DEPTH = 32  # our bodies nest three deep: {"entries": [{...}]}
MAX_LIMIT = 200
JSON_TYPE = "application/json"


class UnsupportedMediaType(TimebankError):
    status = 415
    default_code = "unsupported_media_type"


def read_json(request, schema=None):
    """The request body as a JSON object, checked against ``schema`` when given."""
    raw = read_body(request, MAX_BODY_BYTES)
    if not raw.strip():
        body = {}
    else:
        check_content_type(request)
        body = parse_json(raw)
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", fields={"_body": ["not an object"]})
    if schema is not None:
        load(schema, body)
    return body


def check_content_type(request):
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if request.mimetype not in ("", JSON_TYPE) or charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(
            f"send the body as {JSON_TYPE}",
            fields={"Content-Type": [f"{JSON_TYPE}, not {request.content_type}"]})


def parse_json(raw):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the body is not UTF-8 text",
                           fields={"_body": [f"invalid UTF-8 at byte {exc.start}"]})
    try:
        body = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InvalidInput("the body is not valid JSON", fields={"_body": [
            f"{exc.msg} at line {exc.lineno}, column {exc.colno}"]})
    except RecursionError:
        raise _too_deep()
    except ValueError:  # the only other: an integer of more digits than Python converts
        raise InvalidInput("the body is not valid JSON",
                           fields={"_body": ["a number has too many digits"]})
    check_tree(body)
    return body


def _refuse_constant(name):
    """Python reads NaN and Infinity; JSON has no such numbers."""
    raise InvalidInput("the body is not valid JSON",
                       fields={"_body": [f"{name} is not a JSON number"]})


def _too_deep():
    return InvalidInput("the body nests too deeply",
                        fields={"_body": [f"at most {MAX_DEPTH} levels of objects and lists"]})


def check_tree(body):
    """Refuse deep nesting and strings that cannot be encoded, naming the field at fault."""
    pending = [(body, ())]
    while pending:
        value, path = pending.pop()
        if len(path) > MAX_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            for key, item in value.items():
                if not _encodes(key):
                    raise _not_text(path + (key,))
                pending.append((item, path + (key,)))
        elif isinstance(value, list):
            pending.extend((item, path + (index,)) for index, item in enumerate(value))
        elif isinstance(value, str) and not _encodes(value):
            raise _not_text(path)


def _encodes(text):
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _not_text(path):
    """InvalidInput naming ``path`` the way marshmallow names nested fields."""
    message = ["not valid Unicode text (it holds a lone surrogate)"]
    fields = message
    for part in reversed(path or ("_body",)):
        name = str(part).encode("utf-8", "backslashreplace").decode("utf-8")
        fields = {name: fields}
    return InvalidInput("invalid input", fields=fields)


def query_limit(request):
    raw = request.args.get("limit", "50")
    if not ASCII_INTEGER.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidInput("bad limit", fields={"limit": [f"an integer from 1 to {MAX_LIMIT}"]})
    return int(raw)
