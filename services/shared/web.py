"""HTTP entrypoints that always answer JSON, errors included.

Every service's web server (``/metrics``) and the gateway's API share this handler class, so
they share one server per container, and an unknown path or a wrong method gets the API's error
shape instead of werkzeug's HTML page.
"""
import json
import logging

from nameko.exceptions import RemoteError
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from services.shared.errors import TimebankError

log = logging.getLogger(__name__)

# A store or broker that cannot be reached from inside a service arrives as a RemoteError of
# one of these types: the request could not be served now (503), it was not wrong (4xx) and
# nothing broke in our code (500).
UNAVAILABLE_REMOTE_ERRORS = {
    "ServerSelectionTimeoutError", "AutoReconnect", "NetworkTimeout", "ConnectionFailure",
    "NotPrimaryError", "ExecutionTimeout", "ServiceUnavailable", "UnknownService",
}


def json_response(status, body, headers=None):
    return Response(json.dumps(body, ensure_ascii=False), status=status,
                    headers=headers, mimetype="application/json")


def error_body(code, message, fields=None):
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def response_for_error(exc):
    if isinstance(exc, TimebankError):
        return json_response(exc.status, error_body(exc.code, exc.message, exc.fields))
    if isinstance(exc, HTTPException):
        code = (exc.name or "http_error").lower().replace(" ", "_")
        # Keep werkzeug's headers that matter to clients, e.g. Allow on a 405.
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return json_response(exc.code or 400, error_body(code, exc.description or exc.name),
                             headers=headers)
    if isinstance(exc, RemoteError) and exc.exc_type in UNAVAILABLE_REMOTE_ERRORS:
        log.warning("dependency unavailable: %s", exc)
        return json_response(503, error_body("service_unavailable", "a dependency is down"))
    log.error("unexpected error", exc_info=(type(exc), exc, exc.__traceback__))
    return json_response(500, error_body("internal_error", "unexpected error"))


class JsonWsgiApp(WsgiApp):
    """nameko's WsgiApp, with routing errors (404, 405) answered in the API's error shape."""

    def __call__(self, environ, start_response):
        request = Request(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
            request.path_values = values
            response = provider.handle_request(request)
        except HTTPException as exc:
            response = response_for_error(exc)
        return response(environ, start_response)


class JsonWebServer(WebServer):
    def get_wsgi_app(self):
        return JsonWsgiApp(self)


class JsonHttpHandler(HttpRequestHandler):
    server = JsonWebServer()

    def response_from_exception(self, exc):
        return response_for_error(exc)


http = JsonHttpHandler.decorator
