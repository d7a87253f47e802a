"""HTTP entrypoints that always answer JSON, errors included.

Every service's web server (``/metrics``) and the gateway's API share this handler class, so
they share one server per container, and an unknown path or a wrong method gets the API's error
shape instead of werkzeug's HTML page.
"""
import json
import logging
import math
import re
import socket
from http import HTTPStatus

import amqp.exceptions
import kombu.exceptions
import pymongo.errors
from eventlet.wsgi import MAX_HEADER_LINE, MAX_TOTAL_HEADER_SIZE, HeaderLineTooLong, \
    HeadersTooLarge
from nameko.exceptions import RemoteError
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from services.shared.errors import InvalidInput, ServiceUnavailable, TimebankError

log = logging.getLogger(__name__)

# A store or broker that cannot be reached, here or inside a service: the request could not be
# served now (503), it was not wrong (4xx) and nothing broke in our code (500).
UNAVAILABLE_ERRORS = (
    kombu.exceptions.OperationalError, amqp.exceptions.ConnectionError,  # broker
    pymongo.errors.ConnectionFailure, pymongo.errors.ExecutionTimeout,     # store
    pymongo.errors.WTimeoutError, ConnectionError, TimeoutError, socket.gaierror,
)
# The same, arrived from a service as a RemoteError (by type name). Contended: a hot account or
# item, until every writer answers Busy for it.
UNAVAILABLE_REMOTE_ERRORS = {
    "ServerSelectionTimeoutError", "AutoReconnect", "NetworkTimeout", "ConnectionFailure",
    "NotPrimaryError", "WaitQueueTimeoutError", "ExecutionTimeout", "WTimeoutError",
    "OperationalError", "RecoverableConnectionError", "ConnectionForced", "ConnectionError",
    "ConnectionRefusedError", "ConnectionResetError", "TimeoutError", "gaierror",
    "ServiceUnavailable", "UnknownService", "Contended",
}
# When a 503 says nothing more precise: about the time a broker, store or service restarts.
DEFAULT_RETRY_AFTER_SECONDS = ServiceUnavailable.retry_after


def dependency_unavailable(exc):
    if isinstance(exc, RemoteError):
        return exc.exc_type in UNAVAILABLE_REMOTE_ERRORS
    return isinstance(exc, UNAVAILABLE_ERRORS)


def retry_after_header(seconds):
    return {"Retry-After": str(max(1, math.ceil(seconds)))} if seconds is not None else None


def json_response(status, body, headers=None):
    response = Response(json.dumps(body, ensure_ascii=False), status=status,
                        headers=headers, mimetype="application/json")
    if status == 503:  # every "unavailable" tells the client when to come back
        response.headers.setdefault("Retry-After", str(DEFAULT_RETRY_AFTER_SECONDS))
    return response


def error_body(code, message, fields=None):
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def response_for_error(exc):
    if isinstance(exc, TimebankError):
        return json_response(exc.status, error_body(exc.code, exc.message, exc.fields),
                             headers=retry_after_header(exc.retry_after))
    if isinstance(exc, HTTPException):
        code = (exc.name or "http_error").lower().replace(" ", "_")
        # Keep werkzeug's headers that matter to clients, e.g. Allow on a 405.
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return json_response(exc.code or 400, error_body(code, exc.description or exc.name),
                             headers=headers)
    if dependency_unavailable(exc):
        log.warning("dependency unavailable: %r", exc)
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


def read_body(request, max_bytes):
    """The raw request body, sent with Content-Length or chunked; 400 past ``max_bytes``."""
    too_large = InvalidInput("the body is too large",
                             fields={"_body": [f"at most {max_bytes} bytes"]})
    if request.content_length is not None:
        request.max_content_length = max_bytes
        try:
            return request.get_data()
        except RequestEntityTooLarge:
            raise too_large
    # Chunked: werkzeug only stops reading at its limit, so a longer body would be cut short
    # and served. Read one byte past the limit: if it comes, the body is refused whole.
    chunks, size = [], 0
    while size <= max_bytes:
        chunk = request.stream.read(max_bytes + 1 - size)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    raise too_large


CONTENT_LENGTH = re.compile(r"[0-9]{1,18}")


class JsonHttpProtocol(HttpOnlyProtocol):
    """eventlet's HTTP protocol, answering in the API's error shape what it refuses before any
    app sees the request (it would answer an over-long URL or header with an empty body, and a
    malformed request line with http.server's HTML page)."""

    def _read_request_line(self):
        line = super()._read_request_line()
        if len(line) >= self.server.url_length_limit:
            self.send_json_error(414, "uri_too_long",
                                 f"the URL is longer than {self.server.url_length_limit} bytes")
            return b""  # handle_one_request then closes the connection
        return line

    def parse_request(self):
        try:
            if not super().parse_request():
                return False
        except (HeaderLineTooLong, HeadersTooLarge):
            self.send_json_error(
                431, "headers_too_large", f"a header line is longer than {MAX_HEADER_LINE} bytes "
                f"or the headers are longer than {MAX_TOTAL_HEADER_SIZE} bytes")
            return False
        # eventlet answers these with empty bodies after parse_request; answer them here.
        length = self.headers.get("content-length")
        encoding = self.headers.get("transfer-encoding")
        if length is not None and not CONTENT_LENGTH.fullmatch(length.strip()):
            self.send_json_error(400, "bad_request", "Content-Length must be a number of bytes")
            return False
        if encoding is not None and (length is not None or encoding.lower() != "chunked"):
            self.send_json_error(400, "bad_request", "Transfer-Encoding must be chunked alone, "
                                 "without Content-Length")
            return False
        return True

    def send_error(self, code, message=None, explain=None):
        """http.server's error page (malformed request line, bad version...), as JSON."""
        phrase = HTTPStatus(code).phrase
        self.send_json_error(code, phrase.lower().replace(" ", "_"), message or phrase)

    def send_json_error(self, status, code, message):
        body = json.dumps(error_body(code, message)).encode()
        self.wfile.write(
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n".encode() + body)
        self.close_connection = True

    def get_environ(self):
        environ = super().get_environ()
        if self.headers.get("content-type") is None:
            # eventlet fills in email's default (text/plain); PEP 3333 lets it be absent, and a
            # request that names no type differs from one that names the wrong type.
            environ.pop("CONTENT_TYPE", None)
        if environ["eventlet.input"].chunked_input:
            # eventlet's input ends a chunked body itself: werkzeug may then read it (bounded
            # by Request.max_content_length) instead of taking it as empty.
            environ["wsgi.input_terminated"] = True
        return environ


class JsonWebServer(WebServer):
    def get_wsgi_app(self):
        return JsonWsgiApp(self)

    def get_wsgi_server(self, sock, wsgi_app, protocol=JsonHttpProtocol, debug=False):
        return super().get_wsgi_server(sock, wsgi_app, protocol=protocol, debug=debug)


class JsonHttpHandler(HttpRequestHandler):
    server = JsonWebServer()

    def response_from_exception(self, exc):
        return response_for_error(exc)


http = JsonHttpHandler.decorator
