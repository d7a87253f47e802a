"""RPC between services, with a deadline on every call.

nameko's RpcProxy waits for a reply forever; a caller that serves a person must give up and
say "unavailable" (503) instead. A late reply to a call we gave up on is dropped by nameko's
reply listener, and a request still queued when its caller gave up expires in the broker, so it
never starts after its deadline.
"""
import logging

import amqp.exceptions
import eventlet
import kombu.exceptions
from nameko.exceptions import RemoteError, UnknownService
from nameko.rpc import RpcProxy

from services.shared.config import gateway_rpc_timeout, rpc_timeout
from services.shared.errors import NoReply, ServiceUnavailable
from services.shared.web import dependency_unavailable

log = logging.getLogger(__name__)

# Publishing failed on the way to the broker (kombu gives up after its retries with
# OperationalError; a dropped socket may surface as itself). The request may or may not have
# been queued.
SEND_FAILURES = (kombu.exceptions.OperationalError, amqp.exceptions.ConnectionError, OSError)


class TimedRpcProxy(RpcProxy):
    """An RpcProxy whose calls give up after the services' RPC deadline."""

    @staticmethod
    def deadline(config):
        return rpc_timeout(config)

    def setup(self):
        super().setup()
        self.timeout = self.deadline(self.container.config)
        # nameko's requests carry no expiration: without one, a request whose caller gave up
        # would still run whenever a worker gets to it. kombu takes seconds.
        self.options["expiration"] = self.timeout

    def get_dependency(self, worker_ctx):
        proxy = super().get_dependency(worker_ctx)
        return TimedServiceProxy(proxy, self.target_service, self.timeout)


class GatewayRpcProxy(TimedRpcProxy):
    """The gateway's calls wait longer than the services' own calls (see config.py)."""

    @staticmethod
    def deadline(config):
        return gateway_rpc_timeout(config)


class TimedServiceProxy:
    def __init__(self, proxy, service_name, timeout):
        self._proxy = proxy
        self._service_name = service_name
        self._timeout = timeout

    def __getattr__(self, method_name):
        method = getattr(self._proxy, method_name)

        def call(*args, **kwargs):
            target = f"{self._service_name}.{method_name}"
            try:
                reply = method.call_async(*args, **kwargs)
            except UnknownService:  # returned unrouted: nothing will run it
                raise ServiceUnavailable(f"the {self._service_name} service is not running")
            except SEND_FAILURES as exc:
                log.warning("sending %s failed: %r", target, exc)
                raise NoReply("the message broker is unreachable") from exc
            try:
                with eventlet.Timeout(self._timeout):
                    return reply.result()
            except RemoteError as exc:
                if dependency_unavailable(exc):
                    # The callee's own store or broker is down. Said as ServiceUnavailable, a
                    # registered error, so the next hop (the gateway) still answers 503: a
                    # RemoteError passed on would arrive there as a bare "RemoteError" (500).
                    log.warning("%s: a dependency is down: %s", target, exc)
                    raise ServiceUnavailable(
                        f"the {self._service_name} service cannot reach its store or broker")
                raise
            except eventlet.Timeout:
                log.warning("%s did not answer within %gs", target, self._timeout)
                raise NoReply(f"the {self._service_name} service did not answer in time")

        return call
