"""Files the gateway hands out to be saved: certificates, reports, statements."""
from werkzeug.wrappers import Response

# Personal data and accounts: no cache on the way keeps a copy.
NO_STORE = {"Cache-Control": "no-store"}
CSV_TYPE = "text/csv; charset=utf-8"


def private_attachment(content, content_type, filename, headers=None):
    """A 200 that browsers save as ``filename`` and caches keep no copy of."""
    return Response(content, status=200, content_type=content_type, headers=dict(
        NO_STORE, **{"Content-Disposition": f'attachment; filename="{filename}"'},
        **(headers or {})))
