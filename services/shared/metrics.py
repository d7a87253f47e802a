"""Prometheus metrics, one registry per service container.

A registry per container (not prometheus-client's global one) lets two containers of one
service run in one process, as the integration tests do, without clashing names.
Every service mixes in ``ExposesMetrics``: it counts and times every entrypoint and serves
``GET /metrics`` on a web server of its own, at ``METRICS_SERVER_ADDRESS``; a service without an
API may leave that unset and serve it at ``WEB_SERVER_ADDRESS``. The gateway's metrics stay off
its public API port: they name every entrypoint and the errors it raised.
"""
import time

from nameko.exceptions import ConfigurationError
from nameko.extensions import DependencyProvider
from nameko.web.server import parse_address
from werkzeug.wrappers import Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from services.shared.web import JsonHttpHandler, JsonWebServer

METRICS_CONFIG_KEY = "METRICS_SERVER_ADDRESS"


class ServiceMetrics:
    """What workers see: the registry and a way to count domain facts."""

    def __init__(self, service_name):
        self.registry = CollectorRegistry()
        self.calls = Counter(
            "timebank_entrypoint_calls", "Entrypoint calls by outcome",
            ["service", "entrypoint", "outcome"], registry=self.registry)
        self.latency = Histogram(
            "timebank_entrypoint_seconds", "Entrypoint duration",
            ["service", "entrypoint"], registry=self.registry)
        self.facts = Counter(
            "timebank_domain_events", "Domain facts recorded (credits, debits, approvals...)",
            ["service", "fact"], registry=self.registry)
        self.service_name = service_name

    def count(self, fact, n=1):
        self.facts.labels(self.service_name, fact).inc(n)

    def exposition(self):
        return generate_latest(self.registry)


class Metrics(DependencyProvider):
    def setup(self):
        self.metrics = ServiceMetrics(self.container.service_name)
        self.started = {}

    def get_dependency(self, worker_ctx):
        return self.metrics

    def worker_setup(self, worker_ctx):
        self.started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self.started.pop(worker_ctx, None)
        name = worker_ctx.entrypoint.method_name
        if name == "serve_metrics":
            return
        outcome = "ok" if exc_info is None else type(exc_info[1]).__name__
        self.metrics.calls.labels(self.container.service_name, name, outcome).inc()
        if started is not None:
            self.metrics.latency.labels(self.container.service_name, name).observe(
                time.perf_counter() - started)

    def worker_teardown(self, worker_ctx):
        self.started.pop(worker_ctx, None)


class MetricsWebServer(JsonWebServer):
    """A web server of its own (nameko shares one server per class in a container)."""

    @property
    def bind_addr(self):
        address = self.container.config.get(METRICS_CONFIG_KEY)
        # Unset: a service with metrics only serves them on its web address (start() refuses
        # the case where that address is an API's).
        return parse_address(address) if address else super().bind_addr

    def start(self):
        if not self.container.config.get(METRICS_CONFIG_KEY) and any(
                isinstance(e, JsonHttpHandler) and not isinstance(e, MetricsHttpHandler)
                for e in self.container.entrypoints):
            # Two servers on one port would split the requests between them (the API's
            # /healthz answering 404 half the time): refuse to start instead.
            raise ConfigurationError(f"{METRICS_CONFIG_KEY} must be set for a service that "
                                     "also serves an API: metrics stay off the public port")
        super().start()


class MetricsHttpHandler(JsonHttpHandler):
    server = MetricsWebServer()


class ExposesMetrics:
    metrics = Metrics()

    @MetricsHttpHandler.decorator("GET", "/metrics")
    def serve_metrics(self, request):
        return Response(self.metrics.exposition(), status=200, content_type=CONTENT_TYPE_LATEST)
