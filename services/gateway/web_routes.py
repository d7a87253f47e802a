"""The web app's files, served by the gateway itself (mixed into GatewayService).

    GET /                 the app's page (index.html); the app routes by the URL's #fragment
    GET /web/<path>       its scripts, styles and images (services/gateway/web/)
    GET /verify/<code>    a certificate's verification, as a link to print or put in a QR code

No build step and no CDN: plain HTML, ES modules and CSS from this folder, nothing fetched from
anywhere else (the machines that run it may have no internet). Every answer carries an ETag
and ``Cache-Control: no-cache``: a browser keeps its copy but asks each time whether it is still
current (a 304 when it is), so a deploy never leaves it running yesterday's scripts.
"""
import hashlib
import pathlib
from urllib.parse import quote

from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join
from werkzeug.utils import redirect
from werkzeug.wrappers import Response

from services.shared.web import http

WEB_ROOT = pathlib.Path(__file__).resolve().parent / "web"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",  # module scripts are refused under any other type
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
# The page loads only what this gateway serves and talks only to its API; the QR image and the
# files a page downloads are blob: URLs it made from the API's answers.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                               "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def web_file_response(request, relative_path):
    """A file of the web folder, or the API's 404 for anything else (a path outside it, a
    folder, a type the app does not serve)."""
    joined = safe_join(str(WEB_ROOT), relative_path)
    path = pathlib.Path(joined) if joined else None
    if path is None or not path.is_file() or path.suffix not in CONTENT_TYPES:
        raise NotFound()
    content = path.read_bytes()
    response = Response(content, status=200, content_type=CONTENT_TYPES[path.suffix],
                        headers=dict(SECURITY_HEADERS, **{"Cache-Control": "no-cache"}))
    response.set_etag(hashlib.sha256(content).hexdigest()[:32])
    return response.make_conditional(request)


class WebRoutes:

    @http("GET", "/")
    def web_app(self, request):
        return web_file_response(request, "index.html")

    @http("GET", "/web/<path:relative_path>")
    def web_file(self, request, relative_path):
        return web_file_response(request, relative_path)

    @http("GET", "/verify/<string:code>")
    def web_verify(self, request, code):
        return redirect(f"/#/verify/{quote(code, safe='')}", code=302)
