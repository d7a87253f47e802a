"""Prometheus metrics, one registry per service container.

A registry per container (not prometheus-client's global one) lets two containers of one
service run in one process, as the integration tests do, without clashing names.
Every service mixes in ``ExposesMetrics``: it counts and times every entrypoint and serves
``GET /metrics`` on the service's own web server.
"""
import time

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from services.shared.web import http


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


class ExposesMetrics:
    metrics = Metrics()

    @http("GET", "/metrics")
    def serve_metrics(self, request):
        return Response(self.metrics.exposition(), status=200, content_type=CONTENT_TYPE_LATEST)
